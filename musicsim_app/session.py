"""The library page's state: folders, songs, the chosen model's embeddings, the query and results.

Views take a ``LibrarySession`` and listen to its signals (napari's ``QtDims(dims)`` habit).
Embedding matrices are cached per model and a ``trainer.search.SearchIndex`` per (model, scaler),
so changing model, distance, scaler or k re-ranks at once without reading audio.  Library
writes (scan, index) run one at a time on worker threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from . import engine_jobs
from .engine_jobs import Snapshot
from .workers import JobRunner, Worker, run_task

log = logging.getLogger(__name__)

#: Libraries up to this many songs get their search index built on the GUI thread at the first
#: query (about 40 ms at 10,000 songs); bigger ones on a worker (0.5 s at 100k, 6-11 s plus a minute
#: of HNSW graph at a million: docs/PERFORMANCE.md), the results following when it is done.
SYNC_SEARCH_ROWS = 10_000
#: How long the models folder must be quiet before the model picker is refreshed (a model being
#: saved writes several files).
MODELS_SETTLE_MS = 400

#: Why a distance gives every song the same distance from a query, where we know.
BINARY_DISTANCES = {
    "hamming": "hamming counts the coordinates that differ, and real-valued embeddings differ in all of them",
    "kulsinski": "kulsinski compares which coordinates are nonzero, and in real-valued embeddings all "
    "of them are",
}


@dataclass(frozen=True)
class Result:
    rank: int
    song: Any  # trainer.library.Song
    distance: float
    #: (aspect, share of the library less alike the query in it), for models with named parts
    alike: tuple[tuple[str, float], ...] = ()


@dataclass
class _Embeddings:
    ids: np.ndarray
    matrix: np.ndarray
    row_of: dict[int, int]
    aspects: Any = None  #: trainer.aspects.AspectRanker, built at the first query that needs it


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

    def __init__(
        self, home: Path, runner: JobRunner, *, device: str = "auto", parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        from trainer.search import DISTANCES, SCALERS

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
        self.results: list[Result] = []
        #: when the distance cannot separate the songs (every one at the same distance from the
        #: query), why -- shown instead of results listed in table order
        self.unseparated = ""
        self._emb: dict[str, _Embeddings] = {}
        self._indexes: dict[tuple[str, str], Any] = {}
        self._preparing: set[tuple[str, str, str]] = set()  # (model key, scaler, distance) on a worker
        # (label, fn, args, kwargs, on_done, on_end) of the jobs waiting for the one running
        self._queue: list[
            tuple[
                str, Callable[..., Any], tuple, dict, Callable[[Any], None] | None, Callable[[], None] | None
            ]
        ] = []
        self._current: Worker | None = None
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
        self._indexes.clear()
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
        self._drop_indexes(self.model_key)
        # said once the table shows the same songs, so that both give the same count
        self._reload(
            then_say=lambda: (
                f"Indexed {indexed} songs with {model}"
                + (f", {precomputed} of them precomputed" if precomputed else "")
                + self.unusable_text()
                + (f" ({notes[0]})" if notes else "")
            )
        )

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
            self._emb[snap.model_key] = _Embeddings(
                snap.ids, snap.matrix, {int(i): r for r, i in enumerate(snap.ids)}
            )
            self._drop_indexes(snap.model_key)
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
        """Queue a job; ``on_done(result)`` when it succeeds, ``on_end()`` whatever the outcome
        (after ``on_done``; also when it is cancelled before it starts)."""
        self._queue.append((label, fn, args, kwargs or {}, on_done, on_end))
        self._start_next()

    def _start_next(self) -> None:
        if self._current is not None or not self._queue:
            return
        label, fn, args, kwargs, on_done, on_end = self._queue.pop(0)
        worker = Worker(fn, *args, name=label, **kwargs)
        self._current = worker
        if on_done is not None:
            worker.finished.connect(on_done)
        if on_end is not None:
            worker.done.connect(on_end)
        worker.failed.connect(lambda msg, label=label: self.errorOccurred.emit(f"{label} failed: {msg}"))
        worker.cancelled.connect(lambda label=label: self.message.emit(f"{label}: cancelled"))
        worker.done.connect(self._on_job_done)
        self.runner.start(worker)
        self.jobStarted.emit(worker, label)

    def _on_job_done(self) -> None:
        self._current = None
        self._start_next()

    def cancel_jobs(self) -> None:
        for *_, on_end in self._queue:
            if on_end is not None:
                on_end()
        self._queue.clear()
        if self._current is not None:
            self._current.cancel()

    def busy(self) -> bool:
        return self._current is not None

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
        from trainer.aspects import aspects_for

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
        return self.song(self.query_id)

    def set_query(self, song_id: int | None) -> None:
        self.query_id = song_id
        self.queryChanged.emit(self.query_song)
        self._rerank()

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
        emb = self._emb.get(self.model_key)
        if emb is None or len(emb.ids) == 0:
            return None
        if key not in self._indexes and len(emb.ids) <= SYNC_SEARCH_ROWS:
            self._indexes[key] = SearchIndex(emb.matrix, self.scaler)
        return self._indexes.get(key)

    def ready_search_index(self):
        """The search index for the current model, scaler *and distance*, or ``None`` while a
        worker prepares it (``searchReady`` follows); ``None`` too before anything is indexed."""
        emb = self._emb.get(self.model_key)
        if emb is None or len(emb.ids) == 0:
            return None
        index = self.search_index()
        if index is not None and index.ready(self.distance):
            return index
        self._prepare_search(emb, index)
        return None

    def approximate_search(self) -> bool:
        """Whether the current query is answered by the HNSW graph rather than exactly."""
        index = self._indexes.get((self.model_key, self.scaler))
        return index is not None and index.backend_for(self.distance) == "ann"

    def search_backend(self) -> str:
        """How the current query is answered, in one line for the status bar ("" before any)."""
        index = self._indexes.get((self.model_key, self.scaler))
        if index is None:
            return ""
        if self.approximate_search():
            return index.backend_reason
        return f"exact search over {index.n:,} songs ({self.distance}, {self.scaler})"

    def _prepare_search(self, emb: _Embeddings, index) -> None:
        """Scale the embeddings and build the HNSW graph of the current distance on a worker: at a
        million songs that takes a minute, which must not freeze the window."""
        job = (self.model_key, self.scaler, self.distance)
        if job in self._preparing:
            return
        self._preparing.add(job)

        def finished(result) -> None:
            self._preparing.discard(job)
            if self._emb.get(job[0]) is emb:  # not replaced by a newer snapshot meanwhile
                self._indexes[job[:2]] = result
                self.searchReady.emit()
            self._rerank()  # a stale result starts a build for the new embeddings

        self.message.emit(f"Preparing search over {len(emb.ids):,} songs…")
        self.enqueue(
            f"Preparing search over {len(emb.ids):,} songs",
            engine_jobs.prepare_search,
            (emb.matrix, job[1], job[2], index),
            on_done=finished,
            on_end=lambda: self._preparing.discard(job),
        )

    def _drop_indexes(self, model_key: str) -> None:
        for key in [k for k in self._indexes if k[0] == model_key]:
            del self._indexes[key]

    def _rerank(self) -> None:
        self.unseparated = ""
        self.results = self._search()
        self.resultsChanged.emit()

    def _search(self) -> list[Result]:
        song = self.query_song
        if song is None:
            return []
        emb = self._emb.get(self.model_key)
        row = emb.row_of.get(song.id) if emb else None
        if row is None:
            reason = self.failures.get(song.id) or song.error
            if reason:
                self.message.emit(f"'{song.display_title}' could not be used: {reason}")
            elif emb is None or self.busy():
                self.message.emit(f"'{song.display_title}' is not indexed with {self.model_name} yet")
            return []
        ranker = self._ranker(emb) if self.alike_in else None
        if ranker is not None and self.alike_in in ranker.labels:  # (the model may have changed)
            idx, dist = ranker.nearest(row, ranker.labels.index(self.alike_in), self.k)
        else:
            index = self.ready_search_index()
            if index is None:  # a worker is preparing it; _rerank runs again when it is done
                return []
            try:
                idx, dist = index.query(emb.matrix[row], self.k, self.distance, exclude_ids=[row])
                if self._cannot_separate(index, emb, row, dist):
                    return []
            except Exception as exc:  # noqa: BLE001 - e.g. ParameterError for a degenerate metric
                self.errorOccurred.emit(f"search failed: {exc}")
                return []
        found = [
            (int(i), float(d), self._song_by_id.get(int(emb.ids[int(i)])))
            for i, d in zip(idx, dist, strict=True)
        ]
        found = [(i, d, s) for i, d, s in found if s is not None]
        alike = self._alike(emb, row, [i for i, _, _ in found]) or [()] * len(found)
        return [
            Result(rank, s, d, why)
            for rank, ((_, d, s), why) in enumerate(zip(found, alike, strict=True), start=1)
        ]

    def _cannot_separate(self, index, emb: _Embeddings, row: int, dist: np.ndarray) -> bool:
        """Whether every song is at the same distance from the query (hamming and kulsinski on
        real-valued embeddings), so that the "nearest" would be table order; says why in
        ``unseparated``.  Only checked when the top k tie, and never over an HNSW graph."""
        if len(dist) < 2 or dist[0] != dist[-1] or index.backend_for(self.distance) == "ann":
            return False
        if len(dist) < len(emb.ids) - 1:
            _, dist = index.query(emb.matrix[row], len(emb.ids) - 1, self.distance, exclude_ids=[row])
        if dist[0] != dist[-1]:
            return False
        why = BINARY_DISTANCES.get(self.distance, "")
        self.unseparated = (
            f"{self.distance} puts every song at the same distance ({dist[0]:.4g}) from this query, so "
            f"it cannot tell them apart" + (f": {why}" if why else "") + ". Pick another distance."
        )
        return True

    def _alike(
        self, emb: _Embeddings, query_row: int, rows: list[int]
    ) -> list[tuple[tuple[str, float], ...]]:
        """Per result, how it ranks in the library in each named part of the embedding (the "why");
        empty for models whose vector is one opaque code."""
        ranker = self._ranker(emb) if rows else None
        if ranker is None or not ranker.aspects:
            return []
        return [
            tuple(zip(ranker.labels, map(float, p), strict=True)) for p in ranker.percentiles(query_row, rows)
        ]

    def _ranker(self, emb: _Embeddings):
        """The current model's ``AspectRanker`` over these embeddings, built at first use."""
        from trainer.aspects import AspectRanker, aspects_for

        ref = self.model_ref()
        if ref is None:
            return None
        if emb.aspects is None:
            emb.aspects = AspectRanker(emb.matrix, aspects_for(ref.info.arch, emb.matrix.shape[1]))
        return emb.aspects
