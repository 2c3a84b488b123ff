"""The library index: one SQLite database (WAL) with every song's file facts, tags and embeddings.

Longer than most modules on purpose: :class:`Library` is the one owner of the schema, so every
statement that reads or writes the index -- scanning, embedding, shipped embeddings, pruning --
lives here and nowhere else (the repair of a damaged file is ``trainer.repair``).

Paths are stored as bytes (``os.fsencode``) so names that are not valid UTF-8 survive.  A scan
only stats files; files that are new or changed (size or mtime) are decoded and embedded in
worker processes, and results are committed every few songs, so a killed index keeps all
finished songs and the next run picks up the rest.  A cross-process lock file serialises writers
(the GUI and the CLI on the same home): the second one is told who holds it instead of waiting
forever or corrupting anything.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat as _stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import numpy as np

from . import bounds
from .audio import AUDIO_EXTENSIONS
from .errors import LibraryBusyError, ModelError, MusicSimError, ParameterError, StorageError
from .jobs import ProgressFn, StopFn, check_stop, report
from .labels import folder_album, folder_artist
from .modelstore import LazyModel, LoadedModel, sha256_file
from .paths import home_dir
from .precomputed import FILE_NAME as PRECOMPUTED_FILE
from .precomputed import PrecomputedEmbeddings, PrecomputedSong, read_precomputed, write_precomputed
from .safetext import MAX_TAG_CHARS, clean_tag, shown

SCHEMA = """
CREATE TABLE IF NOT EXISTS roots (path BLOB PRIMARY KEY, added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS songs (
    id INTEGER PRIMARY KEY,
    path BLOB UNIQUE NOT NULL,
    root BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    duration REAL,
    sample_rate INTEGER,
    channels INTEGER,
    title TEXT, artist TEXT, album TEXT, genre TEXT,
    error TEXT,
    probed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS songs_root ON songs(root);
CREATE TABLE IF NOT EXISTS models (
    key TEXT PRIMARY KEY, name TEXT, features TEXT NOT NULL, dim INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    model_key TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (song_id, model_key)
);
CREATE TABLE IF NOT EXISTS failures (
    song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    model_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (song_id, model_key)
);
"""


#: The songs columns a ``Song`` is made of.  Values of the wrong type (an older version, a stranger's
#: file or a damaged index may have stored a title as a blob or a duration as text) read as NULL,
#: so no view ever gets a string where it expects seconds.
_TAGS_SQL = ", ".join(
    f"CASE WHEN typeof({c}) = 'text' THEN substr({c}, 1, {MAX_TAG_CHARS}) END"
    for c in ("title", "artist", "album", "genre")
)
SONG_COLUMNS = (
    "id, path, root, size, mtime, CASE WHEN typeof(duration) IN ('real', 'integer') AND duration "
    f"BETWEEN 0 AND 1e7 THEN duration END, {_TAGS_SQL}, "
    "CASE WHEN typeof(error) = 'text' THEN substr(error, 1, 1000) END"
)


@dataclass(frozen=True)
class Song:
    id: int
    path: Path
    root: Path
    size: int
    mtime: float
    duration_s: float | None
    title: str | None
    artist: str | None
    album: str | None
    genre: str | None
    error: str | None

    @property
    def rel(self) -> str:
        try:
            return self.path.relative_to(self.root).as_posix()
        except ValueError:
            return self.path.as_posix()

    @property
    def display_title(self) -> str:
        return self.title or self.path.stem

    @property
    def folder_album(self) -> str:
        """The album label folder-based training and benchmarks use (:func:`trainer.labels.folder_album`)."""
        return folder_album(self.rel)

    @property
    def folder_artist(self) -> str:
        return folder_artist(self.rel)


@dataclass
class ScanReport:
    root: Path
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class IndexReport:
    scan: ScanReport
    #: songs decoded and embedded by this run
    indexed: int = 0
    #: songs whose embeddings came from the folder's precomputed file (nothing decoded)
    precomputed: int = 0
    unchanged: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    #: things the user may want to know that are not about one song (e.g. an unusable shipped file)
    notes: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return self.scan.removed


@dataclass
class PruneReport:
    """What :meth:`Library.forget_models` removed (or, on a dry run, would remove)."""

    #: (model name, key, songs it had embedded) of every model forgotten
    models: list[tuple[str, str, int]] = field(default_factory=list)
    embeddings: int = 0
    failures: int = 0
    bytes_before: int = 0
    bytes_after: int = 0


def _b(path: Path) -> bytes:
    return os.fsencode(path)


def _p(raw: bytes) -> Path:
    return Path(os.fsdecode(raw))


def _most_common(values: Iterable[int]) -> int:
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=lambda v: (counts[v], v)) if counts else 0


def _root_path(root: str | os.PathLike[str]) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise ParameterError(f"library folder '{path}' does not exist")
    if not path.is_dir():
        raise ParameterError(f"library path '{path}' is a file, not a folder")
    return path.resolve()


def walk_audio(
    root: Path, skipped: list[tuple[Path, str]], should_stop: StopFn | None = None
) -> Iterator[tuple[Path, os.stat_result]]:
    """Yield (path, stat) of candidate audio files; everything odd lands in ``skipped`` with a reason.

    Symlinked folders are not followed (no loops); symlinked files are, if they resolve.
    """
    stack = [root]
    while stack:
        check_stop(should_stop)
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skipped.append((folder, f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    if path.suffix.lower() in AUDIO_EXTENSIONS:
                        skipped.append((path, "is a folder, not a file"))
                    stack.append(path)
                    continue
                if path.suffix.lower() not in AUDIO_EXTENSIONS:
                    continue
                try:
                    st = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    if entry.is_symlink():
                        reason = "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
                    else:
                        reason = f"cannot stat: {exc.strerror or exc}"
                    skipped.append((path, reason))
                    continue
                if _stat.S_ISDIR(st.st_mode):
                    skipped.append((path, "is a folder, not a file"))
                elif not _stat.S_ISREG(st.st_mode):
                    skipped.append((path, "not a regular file"))
                elif st.st_size == 0:
                    skipped.append((path, "empty file (0 bytes)"))
                else:
                    yield path, st
            except OSError as exc:
                skipped.append((path, f"cannot read: {exc.strerror or exc}"))


class Library:
    """The index of every folder the user added, in ``<home>/index.db``."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *, lock_timeout: float = 0.0) -> None:
        self.home = home_dir(home)
        self.db_path = self.home / "index.db"
        self.lock_timeout = lock_timeout
        self._lock = filelock.FileLock(str(self.home / "index.lock"))
        try:
            self.conn = sqlite3.connect(str(self.db_path), timeout=30.0, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
            self.conn.commit()
        except sqlite3.DatabaseError as exc:
            damaged = "malformed" in str(exc) or "not a database" in str(exc)
            raise ParameterError(
                f"cannot open the library index '{self.db_path}': {exc}"
                + ("; 'musicsim check --repair' repairs it" if damaged else "")
            ) from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer lock ----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the cross-process writer lock; a failed write (disk full, read-only) becomes a
        ``StorageError`` after rolling back, so every song committed before it is kept."""
        try:
            self._lock.acquire(timeout=self.lock_timeout)
        except filelock.Timeout as exc:
            raise LibraryBusyError(
                f"another MusicSim process is updating the library in '{self.home}'; "
                "wait for it to finish (or use another --home)"
            ) from exc
        except OSError as exc:
            raise StorageError(f"cannot lock the library in '{self.home}': {exc.strerror or exc}") from exc
        try:
            try:
                (self.home / "index.lock.pid").write_text(str(os.getpid()))
            except OSError:
                pass  # only informative
            yield
        except sqlite3.DatabaseError as exc:
            raise self._storage_error(exc) from exc
        finally:
            self._lock.release()

    def _storage_error(self, exc: sqlite3.DatabaseError) -> StorageError:
        try:
            self.conn.rollback()
        except sqlite3.Error:
            pass
        return StorageError(
            f"cannot write the library index '{self.db_path}': {exc}; songs finished before this are kept"
        )

    # -- reading --------------------------------------------------------------------------------
    def roots(self) -> list[Path]:
        return [_p(r[0]) for r in self.conn.execute("SELECT path FROM roots ORDER BY added")]

    def songs(self, root: str | os.PathLike[str] | None = None) -> list[Song]:
        sql = f"SELECT {SONG_COLUMNS} FROM songs"
        args: tuple[object, ...] = ()
        if root is not None:
            sql += " WHERE root = ?"
            args = (_b(Path(root).expanduser().resolve()),)
        rows = self.conn.execute(sql + " ORDER BY path", args).fetchall()
        return [Song(r[0], _p(r[1]), _p(r[2]), r[3], r[4], r[5], *r[6:11]) for r in rows]

    def song_by_path(self, path: str | os.PathLike[str]) -> Song | None:
        raw = _b(Path(path).expanduser().resolve())
        for s in self.songs_by_ids(self._ids_where("path = ?", (raw,))):
            return s
        return None

    def _ids_where(self, cond: str, args: tuple[object, ...]) -> list[int]:
        return [r[0] for r in self.conn.execute(f"SELECT id FROM songs WHERE {cond}", args)]

    def songs_by_ids(self, ids: list[int]) -> list[Song]:
        by_id = {s.id: s for s in self.songs()} if len(ids) > 50 else None
        if by_id is not None:
            return [by_id[i] for i in ids if i in by_id]
        out = []
        for i in ids:
            r = self.conn.execute(f"SELECT {SONG_COLUMNS} FROM songs WHERE id = ?", (i,)).fetchone()
            if r:
                out.append(Song(r[0], _p(r[1]), _p(r[2]), r[3], r[4], r[5], *r[6:11]))
        return out

    def embeddings(
        self, model_key: str, root: str | os.PathLike[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(song_ids (n,), matrix (n, d) float32)`` of every song embedded with ``model_key``.

        Rows that cannot be embeddings -- the wrong size, NaN or inf, absurd or all-zero values,
        as an older version or a damaged or foreign index may hold -- are left out, so search and
        the map never see them; the next ``index`` embeds those songs anew."""
        ids, matrix, _ = self._embedding_rows(model_key, root)
        return ids, matrix

    def _embedding_rows(
        self, model_key: str, root: str | os.PathLike[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """:meth:`embeddings` plus the ids of the rows that were left out as unusable."""
        sql = (
            "SELECT e.song_id, e.vector FROM embeddings e JOIN songs s ON s.id = e.song_id "
            "WHERE e.model_key = ?"
        )
        args: tuple[object, ...] = (model_key,)
        if root is not None:
            sql += " AND s.root = ?"
            args += (_b(Path(root).expanduser().resolve()),)
        rows = self.conn.execute(sql + " ORDER BY s.path", args).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), []
        nbytes = 4 * (
            self.model_dim(model_key)
            or _most_common(len(r[1]) if isinstance(r[1], bytes) else 0 for r in rows) // 4
        )
        sized = [r for r in rows if isinstance(r[1], bytes) and len(r[1]) == nbytes and nbytes]
        bad = [r[0] for r in rows if not (isinstance(r[1], bytes) and len(r[1]) == nbytes and nbytes)]
        if not sized:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), bad
        ids = np.fromiter((r[0] for r in sized), np.int64, len(sized))
        matrix = np.frombuffer(b"".join(r[1] for r in sized), np.float32).reshape(len(sized), -1).copy()
        ok = bounds.usable_rows(matrix)
        if not ok.all():
            bad += ids[~ok].tolist()
            ids, matrix = ids[ok], matrix[ok]
        return ids, matrix, bad

    def model_dim(self, model_key: str) -> int | None:
        """The embedding width recorded for ``model_key`` (``None`` when unknown or malformed)."""
        row = self.conn.execute("SELECT dim FROM models WHERE key = ?", (model_key,)).fetchone()
        dim = row[0] if row else None
        return dim if isinstance(dim, int) and 1 <= dim <= bounds.MAX_EMBEDDING_DIM else None

    def failures(self, model_key: str) -> dict[int, str]:
        return dict(
            self.conn.execute("SELECT song_id, reason FROM failures WHERE model_key = ?", (model_key,))
        )

    # -- scanning -------------------------------------------------------------------------------
    def scan(
        self,
        root: str | os.PathLike[str],
        *,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> ScanReport:
        """Register new/changed files (by size and mtime) and drop removed ones.  Reads no audio."""
        root_path = _root_path(root)
        report_ = ScanReport(root_path)
        with self.writing():
            known = {
                r[0]: (r[1], r[2], r[3])
                for r in self.conn.execute(
                    "SELECT path, id, size, mtime FROM songs WHERE root = ?", (_b(root_path),)
                )
            }
            seen: set[bytes] = set()
            now = time.time()
            self.conn.execute("INSERT OR IGNORE INTO roots(path, added) VALUES (?, ?)", (_b(root_path), now))
            for i, (path, st) in enumerate(walk_audio(root_path, report_.skipped, should_stop)):
                raw = _b(path)
                seen.add(raw)
                old = known.get(raw)
                if old is not None and old[1] == st.st_size and old[2] == st.st_mtime:
                    report_.unchanged += 1
                elif old is not None:
                    report_.changed += 1
                    self.conn.execute("DELETE FROM embeddings WHERE song_id = ?", (old[0],))
                    self.conn.execute("DELETE FROM failures WHERE song_id = ?", (old[0],))
                    self.conn.execute(
                        "UPDATE songs SET size=?, mtime=?, probed=0, error=NULL WHERE id=?",
                        (st.st_size, st.st_mtime, old[0]),
                    )
                else:
                    report_.new += 1
                    self.conn.execute(
                        "INSERT INTO songs(path, root, size, mtime) VALUES (?, ?, ?, ?)",
                        (raw, _b(root_path), st.st_size, st.st_mtime),
                    )
                if i % 500 == 0:
                    report(progress, i, 0, f"scanning… {i} files")
            gone = [known[raw][0] for raw in known.keys() - seen]
            report_.removed = len(gone)
            self.conn.executemany("DELETE FROM songs WHERE id = ?", [(g,) for g in gone])
            self.conn.commit()
        return report_

    # -- embedding ------------------------------------------------------------------------------
    def model_keys(self) -> dict[str, str]:
        """key → model name of every model with embeddings or failure notes in the index."""
        keys = {
            k: ""
            for (k,) in self.conn.execute(
                "SELECT DISTINCT model_key FROM embeddings UNION SELECT DISTINCT model_key FROM failures"
            )
        }
        keys.update({k: name or "" for k, name in self.conn.execute("SELECT key, name FROM models")})
        return keys

    def forget_models(
        self, keep: set[str], *, dry_run: bool = False, keep_names: Iterable[str] = ()
    ) -> PruneReport:
        """Delete the embeddings and failure notes of every model key not in ``keep``, then compact.

        Why: each retrained or updated model gets a new key (name + weights hash), and the rows of
        the old one are never read again -- 512 bytes per song per key.  A forgotten model that is
        used again is simply embedded again, so nothing is lost but time.  Keys recorded under a
        name in ``keep_names`` (a model folder that is there but unusable now) are kept too.  A
        damaged index is not pruned: what it says about keys cannot be trusted.
        """
        why = self.damaged()
        if why:
            raise StorageError(
                f"the library index '{self.db_path}' is damaged ({why}); run 'musicsim check --repair' first"
            )
        keep_names = set(keep_names)
        rep = PruneReport(bytes_before=self._file_bytes())
        for key, name in sorted(self.model_keys().items(), key=lambda kv: (str(kv[1]), kv[0])):
            if key in keep or name in keep_names:
                continue
            n_emb, n_fail = (
                self.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE model_key = ?", (key,)).fetchone()[0]
                for table in ("embeddings", "failures")
            )
            rep.models.append((name, key, n_emb))
            rep.embeddings += n_emb
            rep.failures += n_fail
            if dry_run:
                continue
            with self.writing():
                for table, column in (
                    ("embeddings", "model_key"),
                    ("failures", "model_key"),
                    ("models", "key"),
                ):
                    self.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
                self.conn.commit()
        if rep.models and not dry_run:
            with self.writing():
                self.conn.execute("VACUUM")  # in WAL mode it writes to the log: fold that back
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rep.bytes_after = self._file_bytes()
        return rep

    def damaged(self) -> str | None:
        """``None`` when SQLite's quick check finds the index sound, else what it complains of."""
        try:
            rows = self.conn.execute("PRAGMA quick_check(3)").fetchall()
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return "; ".join(str(r[0]) for r in rows if r[0] != "ok")[:300] or None

    def _file_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in (self.db_path, self.db_path.with_name("index.db-wal")) if p.is_file()
        )

    def register_model(self, loaded: LoadedModel | LazyModel) -> bool:
        """Remember which representation a model key was embedded with; refuse a mismatch.

        A record that cannot be read (not JSON, a width that is not a number: a damaged or foreign
        index) vouches for nothing: the key's embeddings are dropped, to be made anew, and the
        result is True (read them again)."""
        import json

        info = loaded.info
        features = info.features.to_dict()
        row = self.conn.execute("SELECT features, dim FROM models WHERE key = ?", (info.key,)).fetchone()
        stored, dropped = None, False
        if row is not None:
            try:
                # as the key compares them: fields added since the record was written count at their defaults
                stored = bounds.check_features(json.loads(row[0])).identity_dict()
            except (TypeError, ValueError, RecursionError):
                stored = None
            if stored is None or not isinstance(row[1], int):
                self.drop_model(info.key)
                dropped, row = True, None
        if row is None:
            try:
                self.conn.execute(
                    "INSERT OR REPLACE INTO models(key, name, features, dim) VALUES (?, ?, ?, ?)",
                    (info.key, info.name, json.dumps(features, sort_keys=True), info.embedding_dim),
                )
                self.conn.commit()
            except sqlite3.DatabaseError as exc:
                raise self._storage_error(exc) from exc
            return dropped
        assert stored is not None
        features = info.features.identity_dict()
        if stored != features or int(row[1]) != info.embedding_dim:
            diff = sorted(k for k in set(stored) | set(features) if stored.get(k) != features.get(k))
            raise ModelError(
                f"model '{shown(info.name)}' does not match the embeddings already in this index "
                f"(representation differs in: {', '.join(map(shown, diff)) or 'embedding size'}); "
                "rename the model or delete its embeddings"
            )
        return False

    def drop_model(self, key: str) -> None:
        """Forget every embedding, failure note and record of one model key."""
        with self.writing():
            for table, column in (("embeddings", "model_key"), ("failures", "model_key"), ("models", "key")):
                self.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
            self.conn.commit()

    def _drop_unusable(self, key: str, dim: int, root: Path, rep: IndexReport) -> None:
        """Delete this key's stored embeddings under ``root`` that cannot be embeddings (NaN, inf,
        absurd, all-zero, the wrong size), so that those songs are embedded anew from their audio.
        (No join or sort, so it stays cheap on every index.)"""
        rows = self.conn.execute(
            "SELECT song_id, vector FROM embeddings WHERE model_key = ? AND song_id IN "
            "(SELECT id FROM songs WHERE root = ?)",
            (key, _b(root)),
        ).fetchall()
        nbytes = 4 * dim
        sized = [r for r in rows if isinstance(r[1], bytes) and len(r[1]) == nbytes]
        bad = [r[0] for r in rows if not (isinstance(r[1], bytes) and len(r[1]) == nbytes)]
        if sized:
            matrix = np.frombuffer(b"".join(r[1] for r in sized), np.float32).reshape(len(sized), -1)
            bad += [r[0] for r, ok in zip(sized, bounds.usable_rows(matrix), strict=True) if not ok]
        if not bad:
            return
        with self.writing():
            self.conn.executemany(
                "DELETE FROM embeddings WHERE song_id = ? AND model_key = ?", [(sid, key) for sid in bad]
            )
            self.conn.commit()
        rep.notes.append(
            f"{len(bad)} stored embedding(s) were unusable (not finite, absurd or the wrong "
            "size); those songs are embedded anew"
        )

    def index(
        self,
        root: str | os.PathLike[str],
        loaded: LoadedModel | LazyModel,
        *,
        device: str | None = None,
        workers: int | None = None,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> IndexReport:
        """Scan ``root`` and embed every song that has no embedding for this model yet."""
        started = time.perf_counter()
        scan = self.scan(root, progress=progress, should_stop=should_stop)
        rep = IndexReport(scan, skipped=list(scan.skipped))
        self.register_model(loaded)
        key = loaded.info.key
        dim = loaded.info.embedding_dim
        self._drop_unusable(key, dim, scan.root, rep)
        root_b = _b(scan.root)
        todo = self.conn.execute(
            "SELECT s.id, s.path FROM songs s WHERE s.root = ? AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.song_id = s.id AND e.model_key = ?) AND NOT EXISTS "
            "(SELECT 1 FROM failures f WHERE f.song_id = s.id AND f.model_key = ?)",
            (root_b, key, key),
        ).fetchall()
        total_songs = self.conn.execute("SELECT COUNT(*) FROM songs WHERE root = ?", (root_b,)).fetchone()[0]
        for sid, reason in self.conn.execute(
            "SELECT f.song_id, f.reason FROM failures f JOIN songs s ON s.id = f.song_id "
            "WHERE s.root = ? AND f.model_key = ?",
            (root_b, key),
        ).fetchall():
            for song in self.songs_by_ids([sid]):
                rep.skipped.append((song.path, reason))
        rep.unchanged = total_songs - len(todo) - (len(rep.skipped) - len(scan.skipped))
        ids_by_path = {_p(r[1]): r[0] for r in todo}
        if ids_by_path:
            self._take_precomputed(scan.root, loaded, ids_by_path, rep)
        if not ids_by_path:
            rep.seconds = time.perf_counter() - started
            return rep
        from .device import resolve_device  # torch: only when something must be embedded
        from .embed import Embedder

        report(progress, 0, 0, f"loading model {loaded.info.name}…")
        if device == "auto":
            device = str(resolve_device(device))
        embedder = Embedder(loaded.get() if isinstance(loaded, LazyModel) else loaded, device=device)
        with self.writing():
            for batch in embedder.embed_files(
                list(ids_by_path), workers=workers, progress=progress, should_stop=should_stop
            ):
                for res in batch:
                    sid = ids_by_path[res.path]
                    d = res.decoded
                    info, t = d.info, d.tags
                    self._store_probe(
                        sid,
                        info.duration_s if info else None,
                        info.sample_rate if info else None,
                        info.channels if info else None,
                        t.title if t else None,
                        t.artist if t else None,
                        t.album if t else None,
                        t.genre if t else None,
                    )
                    problem = None if res.embedding is None else bounds.vector_problem(res.embedding, dim)
                    if res.embedding is not None and problem is None:
                        self._store_embedding(sid, key, res.embedding)
                        rep.indexed += 1
                        rep.audio_seconds += info.duration_s if info else 0.0
                    else:
                        reason = (
                            f"the model gave an unusable embedding ({problem})"
                            if problem
                            else d.error or "unknown error"
                        )
                        self.conn.execute(
                            "INSERT OR REPLACE INTO failures(song_id, model_key, reason) VALUES (?, ?, ?)",
                            (sid, key, reason),
                        )
                        self.conn.execute("UPDATE songs SET error=? WHERE id=?", (reason, sid))
                        rep.skipped.append((res.path, reason))
                self.conn.commit()
        rep.seconds = time.perf_counter() - started
        return rep

    def _store_probe(
        self,
        sid: int,
        duration_s: float | None,
        sample_rate: int | None,
        channels: int | None,
        title: str | None,
        artist: str | None,
        album: str | None,
        genre: str | None,
    ) -> None:
        """Store what probing a file found; tags are cleaned (``clean_tag``) and numbers that are
        not finite and in range are left out, whoever supplied them."""

        def num(value: object, high: float) -> float | None:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= high
            return value if ok else None  # NaN fails the comparison

        self.conn.execute(
            "UPDATE songs SET duration=COALESCE(?, duration), sample_rate=COALESCE(?, sample_rate),"
            " channels=COALESCE(?, channels), title=COALESCE(?, title), artist=COALESCE(?, artist),"
            " album=COALESCE(?, album), genre=COALESCE(?, genre), probed=1 WHERE id=?",
            (
                num(duration_s, 1e7),
                num(sample_rate, 1e7),
                num(channels, 1024),
                clean_tag(title),
                clean_tag(artist),
                clean_tag(album),
                clean_tag(genre),
                sid,
            ),
        )

    def _store_embedding(self, sid: int, key: str, vector: np.ndarray) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO embeddings(song_id, model_key, vector) VALUES (?, ?, ?)",
            (sid, key, np.asarray(vector, np.float32).tobytes()),
        )
        self.conn.execute("UPDATE songs SET error=NULL WHERE id=?", (sid,))

    # -- precomputed embeddings shipped in a folder ---------------------------------------------
    def _take_precomputed(
        self, root: Path, loaded: LoadedModel | LazyModel, todo: dict[Path, int], rep: IndexReport
    ) -> None:
        """Store the folder's precomputed embeddings for the songs in ``todo`` whose bytes match,
        and drop those songs from ``todo``.  A file for another model is the normal case when the
        user picks their own model, so it is ignored silently; an unreadable one gets a note."""
        file = root / PRECOMPUTED_FILE
        if not file.is_file():
            return
        try:
            shipped = read_precomputed(file)
        except MusicSimError as exc:
            rep.notes.append(f"{exc}; indexing as usual")
            return
        info = loaded.info
        if shipped.model_key != info.key:
            return
        try:  # the same representation (fields added since the file was written count at their defaults)
            same_features = (
                bounds.check_features(shipped.features).identity_dict() == info.features.identity_dict()
            )
        except ValueError:
            same_features = False
        if not same_features or shipped.vectors.shape[1] != info.embedding_dim:
            rep.notes.append(
                f"'{PRECOMPUTED_FILE}' names model '{shown(info.name)}' but not its settings or "
                "embedding size; indexing as usual"
            )
            return
        if shipped.problems:
            n = len(shipped.problems)
            rep.notes.append(
                f"{n} {'entry' if n == 1 else 'entries'} of '{PRECOMPUTED_FILE}' "
                f"{'is' if n == 1 else 'are'} malformed (first: {shipped.problems[0]}); "
                "those songs are embedded anew"
            )
        by_rel = shipped.by_rel()
        taken: list[Path] = []
        changed = 0
        unusable: list[str] = []
        with self.writing():
            for path, sid in todo.items():
                rel = path.relative_to(root).as_posix()
                hit = by_rel.get(rel)
                if hit is None:
                    continue
                song, vector = hit
                problem = bounds.vector_problem(vector, info.embedding_dim)
                if problem is not None:
                    unusable.append(f"{shown(rel, 80)}: {problem}")
                    continue
                try:
                    same = path.stat().st_size == song.size and sha256_file(path) == song.sha256
                except OSError:
                    same = False
                if not same:
                    changed += 1
                    continue
                self._store_probe(
                    sid,
                    song.duration_s,
                    song.sample_rate,
                    song.channels,
                    song.title,
                    song.artist,
                    song.album,
                    song.genre,
                )
                self._store_embedding(sid, info.key, vector)
                taken.append(path)
            self.conn.commit()
        for path in taken:
            del todo[path]
        rep.precomputed = len(taken)
        if unusable:
            rep.notes.append(
                f"{len(unusable)} song(s) in '{PRECOMPUTED_FILE}' have unusable embeddings "
                f"(first: {unusable[0]}); they are embedded from their audio"
            )
        if changed:
            rep.notes.append(
                f"{changed} song(s) differ from the ones '{PRECOMPUTED_FILE}' was made from; "
                "they are embedded anew"
            )

    def write_precomputed(
        self, root: str | os.PathLike[str], loaded: LoadedModel | LazyModel
    ) -> tuple[Path, int]:
        """Write ``root``'s embeddings for ``loaded`` into ``root/musicsim-embeddings.safetensors``.

        Index ``root`` with ``loaded`` first; songs without an embedding are left out.  Each song
        is recorded with its size and SHA-256 so that a later reader uses it only for the same bytes.
        """
        root_path = _root_path(root)
        key = loaded.info.key
        ids, matrix = self.embeddings(key, root=root_path)
        if len(ids) == 0:
            raise ParameterError(f"no song in '{root_path}' is indexed with model '{loaded.info.name}'")
        rows = {
            r[0]: r[1:]
            for r in self.conn.execute(
                "SELECT id, path, size, duration, sample_rate, channels, title, artist, album, genre "
                "FROM songs WHERE root = ?",
                (_b(root_path),),
            )
        }
        songs = []
        for sid in ids.tolist():
            raw, indexed_size, *facts = rows[sid]
            path = _p(raw)
            try:
                size, digest = path.stat().st_size, sha256_file(path)
            except OSError as exc:
                raise StorageError(f"cannot read '{path}': {exc.strerror or exc}") from exc
            if size != indexed_size:
                raise ParameterError(f"'{path}' changed after it was indexed; index '{root_path}' again")
            songs.append(PrecomputedSong(path.relative_to(root_path).as_posix(), size, digest, *facts))
        out = write_precomputed(
            root_path / PRECOMPUTED_FILE,
            PrecomputedEmbeddings(key, loaded.info.name, loaded.info.features.to_dict(), songs, matrix),
        )
        return out, len(songs)
