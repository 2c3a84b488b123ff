#!/usr/bin/env python3
"""Rescan of a library of 10,000 unchanged files.

A synthetic library of ``--files`` short audio files (hard links to a few distinct WAVs, 100 per
``artist/album`` folder, in a temporary folder) is indexed once with the ``classic`` model; then:

* ``rescan``    -- ``Library.index`` again on the unchanged folder, as the app does on start or on
                   "Rescan": walk, stat, compare size and mtime with the database, embed nothing.
* ``scan only`` -- ``Library.scan`` (the walk and the comparison without the embedding query).
* ``1% touched``-- the same after changing the mtime of 1 % of the files: only those are re-embedded.
* baselines in the same run: ``os.walk`` + ``os.stat`` of every file (the floor any rescan that
  looks at every file pays) and the first full index (what a rescan without the size/mtime
  comparison would cost).

usage: python benchmarks/bench_rescan.py [--files 10000] [--keep DIR]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Report, base_parser, median, synth_library  # noqa: E402

GOAL_S = 3.0


def walk_stat(root: Path) -> int:
    n = 0
    for folder, _dirs, files in os.walk(root):
        for f in files:
            os.stat(os.path.join(folder, f))
            n += 1
    return n


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=0.5, help="length of each synthetic file")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", metavar="DIR", help="build (or reuse) the library and index here, keep them")
    args = p.parse_args()

    from trainer.library import Library
    from trainer.modelstore import load_model

    rep = Report("bench_rescan: rescan of an unchanged library", args)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_rescan_"))
    try:
        t = time.perf_counter()
        lib_dir = synth_library(
            base / "library", args.files, seconds=args.seconds, distinct=20, sample_rate=22050, fmt_="WAV"
        )
        rep.log(f"library of {args.files:,} files in {lib_dir} ready in {time.perf_counter() - t:.1f} s")
        home = base / "home"
        loaded = load_model("classic")
        with Library(home) as lib:
            t = time.perf_counter()
            first = lib.index(lib_dir, loaded)
            t_first = time.perf_counter() - t
        rep.log(
            f"first index: {first.indexed:,} indexed, {first.unchanged:,} already there, "
            f"{len(first.skipped)} skipped in {t_first:.1f} s"
        )

        walk, scan, rescan = [], [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            n_walk = walk_stat(lib_dir)
            walk.append(time.perf_counter() - t)
            with Library(home) as lib:
                t = time.perf_counter()
                sr = lib.scan(lib_dir)
                scan.append(time.perf_counter() - t)
            t = time.perf_counter()
            with Library(home) as lib:  # as the app: open the index, then rescan
                ir = lib.index(lib_dir, loaded)
            rescan.append(time.perf_counter() - t)
            assert ir.indexed == 0 and ir.scan.unchanged == args.files, (ir.indexed, ir.scan.unchanged)
        rep.log(
            f"walk+stat saw {n_walk:,} files; scan: {sr.unchanged:,} unchanged, {sr.new} new, "
            f"{sr.changed} changed"
        )

        touched = sorted(lib_dir.rglob("*.wav"))[::100]
        later = time.time() + 5
        for f in touched:  # a copy (own inode) with a new mtime: the hard-linked siblings stay unchanged
            data = f.read_bytes()
            f.unlink()
            f.write_bytes(data)
            os.utime(f, (later, later))
        t = time.perf_counter()
        with Library(home) as lib:
            tr = lib.index(lib_dir, loaded)
        t_touch = time.perf_counter() - t

        r, s, w = median(rescan), median(scan), median(walk)
        rep.add(
            f"rescan {args.files:,} unchanged files",
            r,
            "s",
            goal=f"< {GOAL_S:g} s",
            baseline=f"full index {t_first:.1f} s; walk+stat {w:.2f} s",
            ratio=f"{t_first / r:.0f}× faster than indexing",
            ok=r < GOAL_S,
            note="Library open + index(): walk, stat, compare, nothing to embed",
        )
        rep.add(
            "scan only (walk + compare)",
            s,
            "s",
            baseline=f"walk+stat {w:.2f} s",
            ratio=f"{s / w:.1f}× the bare walk",
        )
        rep.add(
            f"rescan with {len(touched)} touched files",
            t_touch,
            "s",
            note=f"{tr.scan.changed} changed, {tr.indexed} re-embedded",
        )
        rep.add(
            "first index (classic model)",
            t_first,
            "s",
            note=f"{args.files / t_first:.0f} files/s, {args.seconds:g}-s files",
        )
        rep.extra.update({"rescan_s": rescan, "scan_s": scan, "walk_s": walk, "first_s": t_first})
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
