"""The library index: one SQLite database (WAL) with every song's file facts, tags and embeddings.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import numpy as np

from .audio import AUDIO_EXTENSIONS
from .errors import LibraryBusyError, ModelError, MusicSimError, ParameterError, StorageError
from .jobs import ProgressFn, StopFn, check_stop, report
from .modelstore import LazyModel, LoadedModel, sha256_file
from .paths import home_dir
from .precomputed import FILE_NAME as PRECOMPUTED_FILE
from .precomputed import PrecomputedEmbeddings, PrecomputedSong, read_precomputed, write_precomputed

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
CREATE TABLE IF NOT EXISTS models (key TEXT PRIMARY KEY, name TEXT, features TEXT NOT NULL, dim INTEGER NOT NULL);
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
        """Album by folder layout (parent folder): the label folder-based training and benchmarks use."""
        return self.path.parent.name

    @property
    def folder_artist(self) -> str:
        return self.path.parent.parent.name


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


def _root_path(root: str | os.PathLike[str]) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise ParameterError(f"library folder '{path}' does not exist")
    if not path.is_dir():
        raise ParameterError(f"library path '{path}' is a file, not a folder")
    return path.resolve()


def walk_audio(root: Path, skipped: list[tuple[Path, str]],
               should_stop: StopFn | None = None) -> Iterator[tuple[Path, os.stat_result]]:
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
            raise ParameterError(f"cannot open the library index '{self.db_path}': {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Library":
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
                "wait for it to finish (or use another --home)") from exc
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
        return StorageError(f"cannot write the library index '{self.db_path}': {exc}; "
                            "songs finished before this are kept")

    # -- reading --------------------------------------------------------------------------------
    def roots(self) -> list[Path]:
        return [_p(r[0]) for r in self.conn.execute("SELECT path FROM roots ORDER BY added")]

    def songs(self, root: str | os.PathLike[str] | None = None) -> list[Song]:
        sql = ("SELECT id, path, root, size, mtime, duration, title, artist, album, genre, error "
               "FROM songs")
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
            r = self.conn.execute("SELECT id, path, root, size, mtime, duration, title, artist, album, genre,"
                                  " error FROM songs WHERE id = ?", (i,)).fetchone()
            if r:
                out.append(Song(r[0], _p(r[1]), _p(r[2]), r[3], r[4], r[5], *r[6:11]))
        return out

    def embeddings(self, model_key: str, root: str | os.PathLike[str] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """``(song_ids (n,), matrix (n, d) float32)`` of every song embedded with ``model_key``."""
        sql = "SELECT e.song_id, e.vector FROM embeddings e JOIN songs s ON s.id = e.song_id WHERE e.model_key = ?"
        args: tuple[object, ...] = (model_key,)
        if root is not None:
            sql += " AND s.root = ?"
            args += (_b(Path(root).expanduser().resolve()),)
        rows = self.conn.execute(sql + " ORDER BY s.path", args).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1).copy()
        return ids, matrix

    def failures(self, model_key: str) -> dict[int, str]:
        return dict(self.conn.execute("SELECT song_id, reason FROM failures WHERE model_key = ?", (model_key,)))

    # -- scanning -------------------------------------------------------------------------------
    def scan(self, root: str | os.PathLike[str], *, progress: ProgressFn | None = None,
             should_stop: StopFn | None = None) -> ScanReport:
        """Register new/changed files (by size and mtime) and drop removed ones.  Reads no audio."""
        root_path = _root_path(root)
        report_ = ScanReport(root_path)
        with self.writing():
            known = {r[0]: (r[1], r[2], r[3]) for r in self.conn.execute(
                "SELECT path, id, size, mtime FROM songs WHERE root = ?", (_b(root_path),))}
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
                    self.conn.execute("UPDATE songs SET size=?, mtime=?, probed=0, error=NULL WHERE id=?",
                                      (st.st_size, st.st_mtime, old[0]))
                else:
                    report_.new += 1
                    self.conn.execute("INSERT INTO songs(path, root, size, mtime) VALUES (?, ?, ?, ?)",
                                      (raw, _b(root_path), st.st_size, st.st_mtime))
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
        keys = {k: "" for (k,) in self.conn.execute(
            "SELECT DISTINCT model_key FROM embeddings UNION SELECT DISTINCT model_key FROM failures")}
        keys.update({k: name or "" for k, name in self.conn.execute("SELECT key, name FROM models")})
        return keys

    def forget_models(self, keep: set[str], *, dry_run: bool = False) -> PruneReport:
        """Delete the embeddings and failure notes of every model key not in ``keep``, then compact.

        Why: each retrained or updated model gets a new key (name + weights hash), and the rows of
        the old one are never read again -- 512 bytes per song per key.  A forgotten model that is
        used again is simply embedded again, so nothing is lost but time.
        """
        rep = PruneReport(bytes_before=self._file_bytes())
        for key, name in sorted(self.model_keys().items(), key=lambda kv: (kv[1], kv[0])):
            if key in keep:
                continue
            n_emb, n_fail = (self.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE model_key = ?",
                                               (key,)).fetchone()[0] for table in ("embeddings", "failures"))
            rep.models.append((name, key, n_emb))
            rep.embeddings += n_emb
            rep.failures += n_fail
            if dry_run:
                continue
            with self.writing():
                for table, column in (("embeddings", "model_key"), ("failures", "model_key"),
                                      ("models", "key")):
                    self.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
                self.conn.commit()
        if rep.models and not dry_run:
            with self.writing():
                self.conn.execute("VACUUM")  # in WAL mode it writes to the log: fold that back
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rep.bytes_after = self._file_bytes()
        return rep

    def _file_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.db_path, self.db_path.with_name("index.db-wal"))
                   if p.is_file())

    def register_model(self, loaded: LoadedModel | LazyModel) -> None:
        """Remember which representation a model key was embedded with; refuse a mismatch."""
        info = loaded.info
        features = info.features.to_dict()
        import json

        row = self.conn.execute("SELECT features, dim FROM models WHERE key = ?", (info.key,)).fetchone()
        if row is None:
            try:
                self.conn.execute("INSERT INTO models(key, name, features, dim) VALUES (?, ?, ?, ?)",
                                  (info.key, info.name, json.dumps(features, sort_keys=True),
                                   info.embedding_dim))
                self.conn.commit()
            except sqlite3.DatabaseError as exc:
                raise self._storage_error(exc) from exc
            return
        stored = json.loads(row[0])
        if stored != features or int(row[1]) != info.embedding_dim:
            diff = sorted(k for k in set(stored) | set(features) if stored.get(k) != features.get(k))
            raise ModelError(f"model '{info.name}' does not match the embeddings already in this index "
                             f"(representation differs in: {', '.join(diff) or 'embedding size'}); "
                             "rename the model or delete its embeddings")

    def index(self, root: str | os.PathLike[str], loaded: LoadedModel | LazyModel, *,
              device: str | None = None, workers: int | None = None, progress: ProgressFn | None = None,
              should_stop: StopFn | None = None) -> IndexReport:
        """Scan ``root`` and embed every song that has no embedding for this model yet."""
        started = time.perf_counter()
        scan = self.scan(root, progress=progress, should_stop=should_stop)
        rep = IndexReport(scan, skipped=list(scan.skipped))
        self.register_model(loaded)
        key = loaded.info.key
        root_b = _b(scan.root)
        todo = self.conn.execute(
            "SELECT s.id, s.path FROM songs s WHERE s.root = ? AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.song_id = s.id AND e.model_key = ?) AND NOT EXISTS "
            "(SELECT 1 FROM failures f WHERE f.song_id = s.id AND f.model_key = ?)",
            (root_b, key, key)).fetchall()
        total_songs = self.conn.execute("SELECT COUNT(*) FROM songs WHERE root = ?", (root_b,)).fetchone()[0]
        for sid, reason in self.conn.execute(
                "SELECT f.song_id, f.reason FROM failures f JOIN songs s ON s.id = f.song_id "
                "WHERE s.root = ? AND f.model_key = ?", (root_b, key)).fetchall():
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
            for batch in embedder.embed_files(list(ids_by_path), workers=workers, progress=progress,
                                              should_stop=should_stop):
                for res in batch:
                    sid = ids_by_path[res.path]
                    d = res.decoded
                    info, t = d.info, d.tags
                    self._store_probe(sid, info.duration_s if info else None,
                                      info.sample_rate if info else None, info.channels if info else None,
                                      t.title if t else None, t.artist if t else None,
                                      t.album if t else None, t.genre if t else None)
                    if res.embedding is not None:
                        self._store_embedding(sid, key, res.embedding)
                        rep.indexed += 1
                        rep.audio_seconds += info.duration_s if info else 0.0
                    else:
                        reason = d.error or "unknown error"
                        self.conn.execute("INSERT OR REPLACE INTO failures(song_id, model_key, reason) "
                                          "VALUES (?, ?, ?)", (sid, key, reason))
                        self.conn.execute("UPDATE songs SET error=? WHERE id=?", (reason, sid))
                        rep.skipped.append((res.path, reason))
                self.conn.commit()
        rep.seconds = time.perf_counter() - started
        return rep

    def _store_probe(self, sid: int, duration_s: float | None, sample_rate: int | None, channels: int | None,
                     title: str | None, artist: str | None, album: str | None, genre: str | None) -> None:
        self.conn.execute(
            "UPDATE songs SET duration=COALESCE(?, duration), sample_rate=COALESCE(?, sample_rate),"
            " channels=COALESCE(?, channels), title=COALESCE(?, title), artist=COALESCE(?, artist),"
            " album=COALESCE(?, album), genre=COALESCE(?, genre), probed=1 WHERE id=?",
            (duration_s, sample_rate, channels, title, artist, album, genre, sid))

    def _store_embedding(self, sid: int, key: str, vector: np.ndarray) -> None:
        self.conn.execute("INSERT OR REPLACE INTO embeddings(song_id, model_key, vector) VALUES (?, ?, ?)",
                          (sid, key, np.asarray(vector, np.float32).tobytes()))
        self.conn.execute("UPDATE songs SET error=NULL WHERE id=?", (sid,))

    # -- precomputed embeddings shipped in a folder ---------------------------------------------
    def _take_precomputed(self, root: Path, loaded: LoadedModel | LazyModel, todo: dict[Path, int],
                          rep: IndexReport) -> None:
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
        if (shipped.model_key != info.key or shipped.features != info.features.to_dict()
                or shipped.vectors.shape[1] != info.embedding_dim):
            return
        by_rel = shipped.by_rel()
        taken: list[Path] = []
        changed = 0
        with self.writing():
            for path, sid in todo.items():
                hit = by_rel.get(path.relative_to(root).as_posix())
                if hit is None:
                    continue
                song, vector = hit
                try:
                    same = path.stat().st_size == song.size and sha256_file(path) == song.sha256
                except OSError:
                    same = False
                if not same:
                    changed += 1
                    continue
                self._store_probe(sid, song.duration_s, song.sample_rate, song.channels, song.title,
                                  song.artist, song.album, song.genre)
                self._store_embedding(sid, info.key, vector)
                taken.append(path)
            self.conn.commit()
        for path in taken:
            del todo[path]
        rep.precomputed = len(taken)
        if changed:
            rep.notes.append(f"{changed} song(s) differ from the ones '{PRECOMPUTED_FILE}' was made from; "
                             "they are embedded anew")

    def write_precomputed(self, root: str | os.PathLike[str],
                          loaded: LoadedModel | LazyModel) -> tuple[Path, int]:
        """Write ``root``'s embeddings for ``loaded`` into ``root/musicsim-embeddings.safetensors``.

        Index ``root`` with ``loaded`` first; songs without an embedding are left out.  Each song
        is recorded with its size and SHA-256 so that a later reader uses it only for the same bytes.
        """
        root_path = _root_path(root)
        key = loaded.info.key
        ids, matrix = self.embeddings(key, root=root_path)
        if len(ids) == 0:
            raise ParameterError(f"no song in '{root_path}' is indexed with model '{loaded.info.name}'")
        rows = {r[0]: r[1:] for r in self.conn.execute(
            "SELECT id, path, size, duration, sample_rate, channels, title, artist, album, genre FROM songs "
            "WHERE root = ?", (_b(root_path),))}
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
        out = write_precomputed(root_path / PRECOMPUTED_FILE, PrecomputedEmbeddings(
            key, loaded.info.name, loaded.info.features.to_dict(), songs, matrix))
        return out, len(songs)
