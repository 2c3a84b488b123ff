"""The library page's state: folders, songs, the chosen model's embeddings, the query and results.

Views take a ``LibrarySession`` and listen to its signals (napari's ``QtDims(dims)`` habit).
It is longer than most modules because it is the one state every view of the library page
observes (folders, snapshots, options, query, results); the work it schedules is elsewhere.
Embedding matrices are kept per model (``trainer.query.LibraryVectors``) and search indexes in a
bounded ``trainer.search_cache.SearchCache``, so changing model, distance, scaler or k re-ranks at
once without reading audio; the query itself is ``trainer.query.nearest``, as on the command
line.  What is Qt's here: signals, and when work goes to a worker -- library writes (scan,
index) and big search indexes, one at a time through a ``JobQueue``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer import search_cache
from trainer.paths import graphs_dir
from trainer.query import LibraryVectors, nearest
from trainer.search_cache import SearchCache

from . import engine_jobs
from .engine_jobs import Snapshot
from .workers import JobQueue, JobRunner, run_task

log = logging.getLogger(__name__)

#: Libraries up to this many songs get their search index built on the GUI thread at the first
#: query (tens of milliseconds); bigger ones on a worker (seconds, and the HNSW graph above
#: ANN_THRESHOLD: docs/PERFORMANCE.md), the results following when it is done.
SYNC_SEARCH_ROWS = 10_000
#: How long the models folder must be quiet before the model picker is refreshed (a model being
#: saved writes several files).
MODELS_SETTLE_MS = 400


@dataclass(frozen=True)
class Result:
    rank: int
    song: Any  # trainer.library.Song
    distance: float
    #: (aspect, share of the library less alike the query in it), for models with named parts
    alike: tuple[tuple[str, float], ...] = ()


class LibrarySession(QObject):
    songsChanged = Signal()
    embeddingsChanged = Signal()
    resultsChanged = Signal()
    queryChanged = Signal(object)  #: Song or None
    modelsChanged = Signal()
    optionsChanged = Signal()  #: model, distance, scaler or k
    jobStarted = Signal(object, str)  #: Worker, label
    message = Signal(str)
    errorOccurred = Signal(str)
    searchReady = Signal()  #: a worker finished preparing the search index of the current options
    #: an index job embedded this many songs with the current model (precomputed ones not
    #: counted), said once the table and the embeddings show them
    songsEmbedded = Signal(int)

    def __init__(
        self, home: Path, runner: JobRunner, *, device: str = "auto", parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        from trainer.distances import DISTANCES, SCALERS

        self.home = Path(home)
        self.runner = runner
        self.device = device
        self.decode_workers: int | None = None  #: decoder processes for indexing (0: in-process)
        self.roots: list[Path] = []
        self.songs: list = []
        self._song_by_id: dict[int, Any] = {}
        self.failures: dict[int, str] = {}
        #: files the last scan found but could not take (empty, unreadable…): no row in the table
        self.skipped_files: list[tuple[Path, str]] = []
        #: every folder the index knows, open or not (the training and benchmark pickers list them)
        self.known_roots: list[Path] = []
        self.model_refs: list = []
        self.model_name = "default"
        self.distance = "cosine" if "cosine" in DISTANCES else DISTANCES[0]
        self.scaler = "Normalizer" if "Normalizer" in SCALERS else SCALERS[0]
        self.k = 10
        #: rank by this one named part of the model's vector alone ("more like this in rhythm"),
        #: or by the whole vector (None); see trainer.aspects
        self.alike_in: str | None = None
        self.query_id: int | None = None
        #: a query song from outside the library (*Find songs like a file*; its id is
        #: trainer.query.OUTSIDE_ID), or None while the query is a library song or none
        self.outside: Any = None  # trainer.library.Song
        self._outside_vectors: dict[str, np.ndarray] = {}  # model key -> the outside song's vector
        self._outside_asked: Path | None = None  # the outside file asked for last (None: a library song)
        self.results: list[Result] = []
        #: when the distance cannot separate the songs (every one at the same distance from the
        #: query), why -- shown instead of results listed in table order
        self.unseparated = ""
        self._emb: dict[str, LibraryVectors] = {}
        self.searches = SearchCache()
        self._preparing: set[tuple[str, str, str]] = set()  # (model key, scaler, distance) on a worker
        self.jobs = JobQueue(runner, self)
        self.jobs.started.connect(self.jobStarted)
        self.jobs.failed.connect(self.errorOccurred)
        self.jobs.cancelled.connect(self.message)
        self._loading_generation = 0
        self.refresh_models()

    # -- models ---------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """Read the installed models again; ``modelsChanged`` only when they changed.  A current
        model that is gone gives way to the default; one retrained under its name is re-indexed."""
        from trainer.modelstore import available_models

        old_key = self.model_key
        refs = available_models(self.home)
        if [(r.name, r.info.key) for r in refs] == [(r.name, r.info.key) for r in self.model_refs]:
            return
        self.model_refs = refs
        names = [r.name for r in refs]
        self.modelsChanged.emit()
        if self.model_name not in names and names:
            fallback = "default" if "default" in names else names[0]
            if self.roots:
                self.set_model(fallback)
            else:
                self.model_name = fallback
        elif old_key and self.model_key != old_key and self.roots:
            self.results = []
            self.resultsChanged.emit()
            self._reload(then_index=True)

    def watch_models(self) -> None:
        """Refresh the model picker when the home's ``models/`` folder changes, e.g. when
        ``musicsim train`` in a terminal saves a model, or one is copied in."""
        from PySide6.QtCore import QFileSystemWatcher, QTimer

        self._models_watcher = QFileSystemWatcher(self)
        self._models_settle = QTimer(self, singleShot=True, interval=MODELS_SETTLE_MS)
        self._models_settle.timeout.connect(self._on_models_folder_changed)
        self._models_watcher.directoryChanged.connect(lambda _path: self._models_settle.start())
        self._watch_model_folders()

    def _watch_model_folders(self) -> None:
        from trainer.paths import models_dir

        # the home (models/ may not exist yet), models/ and each model's folder (its config.json
        # may be written after the folder appears)
        folder = models_dir(self.home)
        wanted = [self.home, folder]
        if folder.is_dir():
            wanted += [p for p in folder.iterdir() if p.is_dir()]
        watched = set(self._models_watcher.directories())
        missing = [str(p) for p in wanted if p.is_dir() and str(p) not in watched]
        if missing:
            self._models_watcher.addPaths(missing)

    def _on_models_folder_changed(self) -> None:
        self._watch_model_folders()
        self.refresh_models()

    def model_ref(self, name: str | None = None):
        name = name or self.model_name
        return next((r for r in self.model_refs if r.name == name), None)

    @property
    def model_key(self) -> str:
        ref = self.model_ref()
        return ref.info.key if ref is not None else ""

    @property
    def features(self):
        ref = self.model_ref()
        return ref.info.features if ref is not None else None

    # -- folders --------------------------------------------------------------------------------
    def open_library(self, roots: list[Path]) -> None:
        """Show these folders: what the index knows at once, then an incremental rescan + index."""
        self.roots = [Path(r).expanduser().resolve() for r in roots]
        self._emb.clear()
        self.searches.clear()
        self.query_id = None
        self.results = []
        self.queryChanged.emit(None)
        self.resultsChanged.emit()
        self._reload(then_update=True)

    def add_root(self, path: Path) -> None:
        """Add a folder to the open ones (the demo too stays until removed), as ``musicsim index``
        adds a folder to the index without forgetting the others."""
        path = Path(path).expanduser().resolve()
        if not path.is_dir():
            self.errorOccurred.emit(f"'{path}' is not a folder")
            return
        if path in self.roots:
            self.message.emit(f"'{path}' is in the library already")
            return
        self.open_library([*self.roots, path])

    def remove_root(self, path: Path) -> None:
        self.open_library([r for r in self.roots if r != Path(path).resolve()])

    def main_root(self) -> Path | None:
        """The open folder with the most songs, the demo only when nothing else is open: what
        "this library" means to *Adapt the model to this library*."""
        from collections import Counter

        from trainer.paths import demo_library_dir

        counts = Counter(Path(s.root) for s in self.songs)
        mine = [r for r in self.roots if r != demo_library_dir()] or list(self.roots)
        return max(mine, key=lambda r: counts.get(r, 0), default=None)

    def folders_to_pick(self) -> list[Path]:
        """For the training and benchmark pickers: the open folders first, then the other
        folders the index holds that still exist."""
        return list(dict.fromkeys([*self.roots, *(r for r in self.known_roots if r.is_dir())]))

    def rescan(self) -> None:
        self._queue_update()

    def _queue_update(self) -> None:
        roots = [r for r in self.roots if r.is_dir()]
        missing = [r for r in self.roots if not r.is_dir()]
        if missing:
            self.errorOccurred.emit("library folder not found: " + ", ".join(str(m) for m in missing))
        if not roots:
            return
        self.enqueue(
            "Scanning library",
            engine_jobs.scan_roots,
            (self.home, roots),
            {},
            lambda reports: self._after_scan(reports),
        )

    def _after_scan(self, reports: list) -> None:
        new = sum(r.new + r.changed for r in reports)
        removed = sum(r.removed for r in reports)
        self.skipped_files = [(Path(p), reason) for r in reports for p, reason in r.skipped]
        self._reload(
            then_index=True,
            then_say=lambda: f"Scan finished: {new} new or changed, {removed} removed" + self.unusable_text(),
        )

    def ensure_index(self) -> None:
        """Embed the songs the current model has not seen yet (background job with progress)."""
        roots = [r for r in self.roots if r.is_dir()]
        if not roots:
            return
        name = self.model_name
        self.enqueue(
            f"Indexing with {name}",
            engine_jobs.index_roots,
            (self.home, roots, name),
            {"device": self.device, "workers": self.decode_workers},
            lambda reports: self._after_index(reports),
        )

    def _after_index(self, reports: list) -> None:
        precomputed = sum(r.precomputed for r in reports)
        indexed = sum(r.indexed for r in reports) + precomputed
        notes = [note for r in reports for note in r.notes]
        model = self.model_name
        self.skipped_files = [(Path(p), reason) for r in reports for p, reason in r.scan.skipped]
        self._emb.pop(self.model_key, None)
        self.searches.drop(self.model_key)
        embedded = indexed - precomputed

        def say() -> str:  # once the table shows the same songs, so that both give the same count
            if embedded:
                self.songsEmbedded.emit(embedded)
            return (
                f"Indexed {indexed} songs with {model}"
                + (f", {precomputed} of them precomputed" if precomputed else "")
                + self.unusable_text()
                + (f" ({notes[0]})" if notes else "")
            )

        self._reload(then_say=say)

    def unusable(self) -> list[tuple[Path, str]]:
        """Every file of the open folders that cannot be searched, with why: the songs that
        failed to decode (red rows of the table) and the files the scan could not take (no row:
        an empty or unreadable file).  The table's count, the status bar and the list all read this."""
        rows = [
            (s.path, self.failures.get(s.id) or s.error)
            for s in self.songs
            if self.failures.get(s.id) or s.error
        ]
        seen = {p for p, _ in rows}
        return rows + [(p, reason) for p, reason in self.skipped_files if p not in seen]

    def unusable_text(self) -> str:
        n = len(self.unusable())
        return f"; {n} could not be used (listed under the library)" if n else ""

    # -- loading snapshots ------------------------------------------------------------------------
    def _reload(
        self,
        *,
        then_update: bool = False,
        then_index: bool = False,
        then_say: Callable[[], str] | None = None,
    ) -> None:
        """Load the songs and embeddings on a worker; then rescan (``then_update``), index what is
        missing (``then_index``), or else say ``then_say()`` in the status bar."""
        self._loading_generation += 1
        gen = self._loading_generation
        home, roots, key = self.home, list(self.roots), self.model_key
        run_task(
            lambda: engine_jobs.load_snapshot(home, roots, key),
            lambda snap: self._on_snapshot(gen, snap, then_update, then_index, then_say),
            self.errorOccurred.emit,
            owner=self,
        )

    def _on_snapshot(
        self,
        gen: int,
        snap: Snapshot,
        then_update: bool,
        then_index: bool,
        then_say: Callable[[], str] | None = None,
    ) -> None:
        if gen != self._loading_generation:
            return
        self.apply_snapshot(snap)
        if then_update:
            self._queue_update()
        elif then_index and self.needs_index():
            self.ensure_index()
        elif then_say is not None:
            self.message.emit(then_say())

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Show these songs and (for ``snap.model_key``) embeddings; re-rank the current query."""
        self.songs = snap.songs
        self._song_by_id = {s.id: s for s in snap.songs}
        self.failures = snap.failures
        self.known_roots = list(snap.known_roots)
        # a removed folder's skipped files are no longer the library's
        self.skipped_files = [
            (p, r) for p, r in self.skipped_files if any(p.is_relative_to(root) for root in self.roots)
        ]
        self.songsChanged.emit()
        if snap.model_key:
            ref = next((r for r in self.model_refs if r.info.key == snap.model_key), None)
            arch = ref.info.arch if ref is not None else ""
            self._emb[snap.model_key] = LibraryVectors.of_model(snap.ids, snap.matrix, arch)
            self.searches.drop(snap.model_key)
            self.embeddingsChanged.emit()
        if self.query_id is not None and self.query_id not in self._song_by_id:
            self.query_id = None
            self.queryChanged.emit(None)
        self._rerank()

    def needs_index(self) -> bool:
        emb = self._emb.get(self.model_key)
        done = (len(emb.ids) if emb else 0) + len(self.failures)
        return done < len(self.songs)

    # -- jobs -----------------------------------------------------------------------------------
    def enqueue(
        self,
        label: str,
        fn: Callable[..., Any],
        args: tuple = (),
        kwargs: dict | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        """Queue a library job after the ones waiting (:meth:`JobQueue.enqueue`)."""
        self.jobs.enqueue(label, fn, args, kwargs, on_done, on_end)

    def cancel_jobs(self) -> None:
        self.jobs.cancel_all()

    def busy(self) -> bool:
        return self.jobs.busy()

    # -- options --------------------------------------------------------------------------------
    def set_model(self, name: str) -> None:
        if name == self.model_name or self.model_ref(name) is None:
            return
        self.model_name = name
        if self.alike_in not in self.aspect_labels():
            self.alike_in = None
        self.optionsChanged.emit()
        if self.model_key in self._emb:
            self.embeddingsChanged.emit()
            self._rerank()
            if self.needs_index():
                self.ensure_index()
        else:
            self.results = []
            self.resultsChanged.emit()
            self._reload(then_index=True)
        if self.outside is not None and self.model_key not in self._outside_vectors:
            self._embed_outside(self.outside.path)  # a vector of the new model's, then the results

    def set_distance(self, distance: str) -> None:
        if distance != self.distance:
            self.distance = distance
            self.optionsChanged.emit()
            self._rerank()

    def set_scaler(self, scaler: str) -> None:
        if scaler != self.scaler:
            self.scaler = scaler
            self.optionsChanged.emit()
            self._rerank()

    def aspect_labels(self) -> list[str]:
        """The named parts of the current model's vector (none for an opaque code)."""
        from trainer.parts import aspects_for

        ref = self.model_ref()
        return [a.label for a in aspects_for(ref.info.arch, ref.info.embedding_dim)] if ref else []

    def set_alike_in(self, label: str | None) -> None:
        """Rank by one named part alone, or (None) by the whole vector again."""
        if label is not None and label not in self.aspect_labels():
            return
        if label != self.alike_in:
            self.alike_in = label
            self.optionsChanged.emit()
            self._rerank()

    def set_k(self, k: int) -> None:
        if int(k) != self.k:
            self.k = int(k)
            self.optionsChanged.emit()
            self._rerank()

    # -- query ----------------------------------------------------------------------------------
    def song(self, song_id: int | None):
        return self._song_by_id.get(song_id) if song_id is not None else None

    @property
    def query_song(self):
        """The library song queried, or the song from outside the library, or None."""
        return self.outside if self.outside is not None else self.song(self.query_id)

    def set_query(self, song_id: int | None) -> None:
        self.outside = None
        self._outside_vectors = {}
        self._outside_asked = None
        self.query_id = song_id
        self.queryChanged.emit(self.query_song)
        self._rerank()

    def others(self) -> int:
        """How many songs a result is placed among: the library's, less the query if it is one."""
        n = len(self.embeddings()[0])
        return n if self.outside is not None else max(n - 1, 0)

    def query_file(self, path: Path) -> None:
        """*Find songs like a file*: the library's songs nearest the audio file ``path``.  A file
        of the open library is queried as its song; any other is decoded and embedded with the
        current model on a worker (a second or two; progress and Cancel as for any job), then
        ranked like a library song, and re-embedded when the model changes.  Which it is, the
        worker asks the index (a scan of a million songs here took 2 s on the GUI thread)."""
        path = Path(path).expanduser()
        try:
            path = path.resolve()
        except OSError:
            pass
        self._embed_outside(path)

    def _embed_outside(self, path: Path) -> None:
        self._outside_asked = path

        def done(outside) -> None:
            if self._outside_asked != path:  # another query was asked for meanwhile
                return
            if isinstance(outside, int):  # a song of the open library: its own row
                self.set_query(outside)
                return
            if self.outside is None or self.outside.path != path:
                self._outside_vectors = {}
            self._outside_vectors[outside.model_key] = outside.vector
            self.outside = outside.song
            self.query_id = None
            self.queryChanged.emit(self.outside)
            self._rerank()

        # one job per (file, model): switching models twice queues two, and both vectors are kept
        self.enqueue(
            "Finding songs like a file",
            engine_jobs.embed_outside_file,
            (self.home, self.model_name, path, list(self.roots)),
            {"device": self.device},
            on_done=done,
        )

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """``(song_ids (n,), matrix (n, d))`` of the current model (empty before indexing)."""
        emb = self._emb.get(self.model_key)
        if emb is None:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return emb.ids, emb.matrix

    def search_index(self):
        """The cached ``SearchIndex`` of the current model and scaler; built here on first use only
        for a library of at most ``SYNC_SEARCH_ROWS`` songs, else ``None`` until
        :meth:`ready_search_index` has had a worker build it."""
        from trainer.search import SearchIndex

        key = (self.model_key, self.scaler)
        vectors = self._emb.get(self.model_key)
        if vectors is None or len(vectors) == 0:
            return None
        if key not in self.searches and len(vectors) <= SYNC_SEARCH_ROWS:
            self.searches.put(key, SearchIndex(vectors.matrix, self.scaler))
        return self.searches.get(key)

    def ready_search_index(self):
        """The search index for the current model, scaler *and distance*, or ``None`` while a
        worker prepares it (``searchReady`` follows); ``None`` too before anything is indexed."""
        vectors = self._emb.get(self.model_key)
        if vectors is None or len(vectors) == 0:
            return None
        index = self.search_index()
        if index is not None and index.ready(self.distance):
            return index
        self._prepare_search(vectors, index)
        return None

    def approximate_search(self) -> bool:
        """Whether the current query is answered by the HNSW graph rather than exactly."""
        index = self.searches.get((self.model_key, self.scaler))
        return index is not None and index.backend_for(self.distance) == "ann"

    def search_backend(self) -> str:
        """How the current query is answered, in one line for the status bar ("" before any)."""
        index = self.searches.get((self.model_key, self.scaler))
        if index is None:
            return ""
        if self.approximate_search():
            return index.backend_reason
        return f"exact search over {index.n:,} songs ({self.distance}, {self.scaler})"

    def _prepare_search(self, vectors: LibraryVectors, index) -> None:
        """Scale the embeddings and build the HNSW graph of the current distance on a worker: at a
        million songs that takes a minute, which must not freeze the window."""
        job = (self.model_key, self.scaler, self.distance)
        if job in self._preparing:
            return
        self._preparing.add(job)

        def finished(result) -> None:
            self._preparing.discard(job)
            if self._emb.get(job[0]) is vectors:  # not replaced by a newer snapshot meanwhile
                self.searches.put(job[:2], result)
                self.searchReady.emit()
            self._rerank()  # a stale result starts a build for the new embeddings

        self.message.emit(f"Preparing search over {len(vectors):,} songs…")
        self.enqueue(
            f"Preparing search over {len(vectors):,} songs",
            search_cache.prepare_search,
            (vectors.matrix, job[1], job[2], index),
            {"graph_dir": graphs_dir(self.home)},
            on_done=finished,
            on_end=lambda: self._preparing.discard(job),
        )

    def _rerank(self) -> None:
        self.unseparated = ""
        self.results = self._search()
        self.resultsChanged.emit()

    def _search(self) -> list[Result]:
        song = self.query_song
        if song is None:
            return []
        vectors = self._emb.get(self.model_key)
        query: int | np.ndarray | None
        if self.outside is not None:
            query = self._outside_vectors.get(self.model_key)
            if query is None or not vectors:  # its vector, or the library's, is on its way
                return []
        else:
            query = vectors.row_of.get(song.id) if vectors else None
        if query is None:
            reason = self.failures.get(song.id) or song.error
            if reason:
                self.message.emit(f"'{song.display_title}' could not be used: {reason}")
            elif vectors is None or self.busy():
                self.message.emit(f"'{song.display_title}' is not indexed with {self.model_name} yet")
            return []
        part = self.alike_in if self.alike_in in vectors.part_labels else None  # (the model may have changed)
        index = None
        if part is None:
            index = self.ready_search_index()
            if index is None:  # a worker is preparing it; _rerank runs again when it is done
                return []
        try:
            answer = nearest(
                vectors, query, k=self.k, distance=self.distance, scaler=self.scaler, part=part, index=index
            )
        except Exception as exc:  # noqa: BLE001 - e.g. ParameterError for a degenerate metric
            self.errorOccurred.emit(f"search failed: {exc}")
            return []
        if answer.unseparated:
            self.unseparated = answer.unseparated
            return []
        found = [(m, self._song_by_id.get(m.song_id)) for m in answer.matches]
        return [
            Result(rank, song, m.distance, m.alike)
            for rank, (m, song) in enumerate(((m, s) for m, s in found if s is not None), start=1)
        ]
