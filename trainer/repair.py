"""``musicsim check [--repair]``: is the library index sound, and what in it cannot be used.

The index is a cache of what the music folders and the models say: everything in it can be made
again by ``musicsim index``.  So repairing never guesses: rows that cannot be trusted are dropped
(their songs are scanned or embedded anew by the next index), fields of the wrong type are
cleared or cleaned, and a file SQLite finds damaged is rebuilt from every row that can still be
read -- the damaged file is kept beside it, renamed, for whoever wants to look at it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import filelock

from .errors import LibraryBusyError, StorageError
from .library import SCHEMA, Library
from .paths import home_dir
from .safetext import MAX_TAG_CHARS, clean_tag, has_unsafe

#: The columns copied when a damaged file is rebuilt, per table.
_TABLES = {
    "roots": ("path", "added"),
    "songs": (
        "id",
        "path",
        "root",
        "size",
        "mtime",
        "duration",
        "sample_rate",
        "channels",
        "title",
        "artist",
        "album",
        "genre",
        "error",
        "probed",
    ),
    "models": ("key", "name", "features", "dim"),
    "embeddings": ("song_id", "model_key", "vector"),
    "failures": ("song_id", "model_key", "reason"),
}
_TAG_COLUMNS = ("title", "artist", "album", "genre")


@dataclass
class CheckReport:
    db_path: Path
    exists: bool = True
    #: what SQLite's integrity check found (empty: sound)
    damage: list[str] = field(default_factory=list)
    songs: int = 0
    #: model key -> embeddings that cannot be used (NaN, inf, absurd, all zeros, the wrong size)
    bad_embeddings: dict[str, int] = field(default_factory=dict)
    #: model keys whose record (feature settings, width) cannot be read
    bad_models: list[str] = field(default_factory=list)
    #: songs with a field of the wrong type or size (a duration that is text, a path that is text…)
    bad_songs: int = 0
    #: embeddings and failure notes of songs that are not in the index
    orphans: int = 0
    repaired: bool = False
    #: after rebuilding a damaged file: rows copied per table, and where the damaged file went
    salvaged: dict[str, int] = field(default_factory=dict)
    damaged_copy: Path | None = None

    @property
    def problems(self) -> int:
        return (
            len(self.damage)
            + sum(self.bad_embeddings.values())
            + len(self.bad_models)
            + self.bad_songs
            + self.orphans
        )


def check_index(home: str | os.PathLike[str] | None = None, *, repair: bool = False) -> CheckReport:
    """Check ``<home>/index.db``; with ``repair``, rebuild a damaged file and drop or clean every
    row that cannot be used.  Holds the writer lock throughout (another writer: ``LibraryBusyError``)."""
    home_path = home_dir(home)
    db = home_path / "index.db"
    rep = CheckReport(db)
    if not db.is_file():
        rep.exists = False
        return rep
    lock = filelock.FileLock(str(home_path / "index.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout as exc:
        raise LibraryBusyError(
            f"another MusicSim process is updating the library in '{home_path}'; "
            "wait for it to finish (or use another --home)"
        ) from exc
    except OSError as exc:
        raise StorageError(f"cannot lock the library in '{home_path}': {exc.strerror or exc}") from exc
    try:
        rep.damage = _integrity(db)
        if rep.damage and repair:
            rep.salvaged, rep.damaged_copy = _rebuild(db)
            rep.repaired = True
    finally:
        lock.release()
    if rep.damage and not repair:
        return rep  # the rows of a damaged file cannot all be read; a rebuild comes first
    with Library(home_path, lock_timeout=0) as lib:  # its writes take the writer lock again
        _check_rows(lib, rep, repair)
    rep.repaired = rep.repaired or (repair and rep.problems > 0)
    return rep


def _integrity(db: Path) -> list[str]:
    try:
        con = sqlite3.connect(str(db), timeout=30.0)
        try:
            rows = con.execute("PRAGMA integrity_check(20)").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [str(r[0]) for r in rows if r[0] != "ok"]


def _check_rows(lib: Library, rep: CheckReport, repair: bool) -> None:
    con = lib.conn
    rep.songs = con.execute("SELECT COUNT(*) FROM songs").fetchone()[0]
    for key, features, dim in con.execute("SELECT key, features, dim FROM models").fetchall():
        try:
            ok = isinstance(json.loads(features), dict) and isinstance(dim, int)
        except (TypeError, ValueError, RecursionError):
            ok = False
        if not ok:
            rep.bad_models.append(str(key))
    for key in sorted(lib.model_keys()):
        if key in rep.bad_models:
            continue
        _, _, bad = lib._embedding_rows(key)
        if bad:
            rep.bad_embeddings[key] = len(bad)
            if repair:
                with lib.writing():
                    con.executemany(
                        "DELETE FROM embeddings WHERE song_id = ? AND model_key = ?",
                        [(sid, key) for sid in bad],
                    )
                    con.commit()
    rep.orphans = sum(
        con.execute(f"SELECT COUNT(*) FROM {t} WHERE song_id NOT IN (SELECT id FROM songs)").fetchone()[0]
        for t in ("embeddings", "failures")
    )
    bad_paths = [
        r[0]
        for r in con.execute("SELECT id FROM songs WHERE typeof(path) != 'blob' OR typeof(root) != 'blob'")
    ]
    fixes: list[tuple[int, dict[str, object]]] = []
    for sid, duration, *tags in con.execute(f"SELECT id, duration, {', '.join(_TAG_COLUMNS)} FROM songs"):
        fix: dict[str, object] = {}
        if duration is not None and not (isinstance(duration, (int, float)) and 0 <= duration <= 1e7):
            fix["duration"] = None
        for name, value in zip(_TAG_COLUMNS, tags, strict=True):
            if value is not None and (
                not isinstance(value, str)
                or len(value) > MAX_TAG_CHARS
                or has_unsafe(value)
                or value != value.strip()
            ):
                fix[name] = clean_tag(value)
        if fix:
            fixes.append((sid, fix))
    rep.bad_songs = len(bad_paths) + len(fixes)
    if not repair:
        return
    with lib.writing():
        for key in rep.bad_models:
            for table, column in (("embeddings", "model_key"), ("failures", "model_key"), ("models", "key")):
                con.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
        for table in ("embeddings", "failures"):
            con.execute(f"DELETE FROM {table} WHERE song_id NOT IN (SELECT id FROM songs)")
        con.executemany("DELETE FROM songs WHERE id = ?", [(sid,) for sid in bad_paths])
        for sid, fix in fixes:
            con.execute(
                f"UPDATE songs SET {', '.join(f'{k} = ?' for k in fix)} WHERE id = ?", (*fix.values(), sid)
            )
        con.commit()


def _rebuild(db: Path) -> tuple[dict[str, int], Path]:
    """Copy every row that can still be read into a new file, keep the damaged one beside it as
    ``index.db.damaged-<time>``, and put the new one in its place."""
    new = db.with_name("index.db.rebuilt")
    for suffix in ("", "-wal", "-shm", "-journal"):
        new.with_name(new.name + suffix).unlink(missing_ok=True)
    copied: dict[str, int] = {}
    dst = sqlite3.connect(str(new))
    try:
        dst.executescript(SCHEMA)
        try:
            src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)
        except sqlite3.DatabaseError:
            src = None
        if src is not None:
            try:
                for table, columns in _TABLES.items():
                    copied[table] = _copy_table(src, dst, table, columns)
            finally:
                src.close()
        for table in ("embeddings", "failures"):
            dst.execute(f"DELETE FROM {table} WHERE song_id NOT IN (SELECT id FROM songs)")
        dst.commit()
    finally:
        dst.close()
    kept = db.with_name(f"index.db.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(db, kept)
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    os.replace(new, db)
    return copied, kept


def _copy_table(
    src: sqlite3.Connection, dst: sqlite3.Connection, table: str, columns: tuple[str, ...]
) -> int:
    """Copy ``table`` in rowid order, stepping over stretches that cannot be read."""
    cols = ", ".join(columns)
    insert = f"INSERT OR IGNORE INTO {table}({cols}) VALUES ({', '.join('?' for _ in columns)})"
    select = f"SELECT rowid, {cols} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 256"
    last, copied = -(2**63), 0
    while True:
        try:
            rows = src.execute(select, (last,)).fetchall()
        except sqlite3.DatabaseError:
            step = 1
            while step < 2**62 and last + step < 2**62:  # the next rowid past the damage that can be read
                try:
                    src.execute(
                        f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1", (last + step,)
                    ).fetchall()
                    break
                except sqlite3.DatabaseError:
                    step *= 2
            else:
                return copied
            last += step
            continue
        if not rows:
            return copied
        for row in rows:
            try:
                dst.execute(insert, row[1:])
                copied += 1
            except sqlite3.Error:
                continue  # a row that breaks the schema's rules (NULL path, duplicate…) is not kept
        last = rows[-1][0]
