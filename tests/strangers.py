"""What a stranger hands MusicSim, made for tests (issue 19): a shared folder's embeddings file
with poisoned vectors or metadata, model folders with absurd or malformed configs, impostor
weights, and index files with poisoned rows or damaged pages.

Everything is real: real safetensors files, real SQLite files edited with SQLite, real bytes
overwritten on disk; only the content is hostile.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from clirun import run_cli
from synth import write_library
from trainer.precomputed import FILE_NAME


def small_library(root: Path) -> Path:
    """Three albums of three 3-s songs (nine in all): quick to index, enough to rank."""
    write_library(root, songs_per_album=3, seconds=3.0)
    return root.resolve()


def copy_library(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst.resolve()


def index(home: Path, lib: Path, model: str = "classic") -> tuple[int, str, str]:
    return run_cli("--home", home, "--quiet", "index", lib, "--model", model, "--workers", "0")


def query(home: Path, song: Path, model: str = "classic", k: int = 5) -> list[str]:
    """The lines ``musicsim query`` prints (asserting it succeeded)."""
    rc, out, err = run_cli("--home", home, "query", song, "--model", model, "--k", k)
    assert rc == 0 and "Traceback" not in err, err
    return out.splitlines()


# -- a shared folder's precomputed embeddings ------------------------------------------------------
def read_shipped(lib: Path) -> tuple[dict, np.ndarray]:
    with safe_open(str(lib / FILE_NAME), framework="numpy") as f:
        return json.loads(f.metadata()["musicsim"]), f.get_tensor("embeddings")


def write_shipped(lib: Path, meta: dict | str, vectors: np.ndarray) -> Path:
    """Rewrite the folder's file: ``meta`` is the metadata (a dict, or raw JSON text as a
    stranger may write it), ``vectors`` the embeddings tensor."""
    raw = meta if isinstance(meta, str) else json.dumps(meta)
    save_file({"embeddings": np.ascontiguousarray(vectors)}, str(lib / FILE_NAME), metadata={"musicsim": raw})
    return lib / FILE_NAME


def song_index(meta: dict, rel: str) -> int:
    return next(i for i, s in enumerate(meta["songs"]) if s["rel"] == rel)


# -- the index file --------------------------------------------------------------------------------
def embedding_rows(db: Path) -> dict[str, bytes]:
    """``{relative-ish path: vector bytes}`` of every stored embedding (paths as stored)."""
    con = sqlite3.connect(db)
    try:
        return {
            bytes(p).decode("utf-8", "surrogateescape"): v
            for p, v in con.execute(
                "SELECT s.path, e.vector FROM embeddings e JOIN songs s ON s.id = e.song_id"
            )
        }
    finally:
        con.close()


def set_vector(db: Path, path: Path, vector: bytes) -> None:
    con = sqlite3.connect(db)
    try:
        with con:
            n = con.execute(
                "UPDATE embeddings SET vector = ? WHERE song_id = (SELECT id FROM songs WHERE path = ?)",
                (vector, bytes(path)),
            ).rowcount
        assert n == 1, path
    finally:
        con.close()


def execute(db: Path, sql: str, *args: object) -> None:
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute(sql, args)
    finally:
        con.close()


def checkpoint(db: Path) -> None:
    """Fold the WAL into the main file, so that bytes on disk are all there is."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def damage_table(db: Path, table: str) -> int:
    """Overwrite one leaf page of ``table``'s b-tree with garbage, as a bad sector or a torn write
    would; returns the page number.  Rows on the other pages stay readable."""
    checkpoint(db)
    con = sqlite3.connect(db)
    try:
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    finally:
        con.close()
    data = bytearray(db.read_bytes())

    def page(n: int) -> bytes:
        return bytes(data[(n - 1) * page_size : n * page_size])

    target = root
    while page(target)[0] == 0x05:  # an interior table page: follow its right-most child
        target = struct.unpack(">I", page(target)[8:12])[0]
    offset = (target - 1) * page_size
    data[offset : offset + page_size] = np.random.default_rng(target).bytes(page_size)
    db.write_bytes(bytes(data))
    return target
