#!/usr/bin/env python3
"""A kept HNSW graph against building it: what the next session of a big library saves.

For each size: the first session scales the library and builds the cosine graph, then keeps it
in a graphs folder (``SearchIndex(..., graph_dir=...)``); the next session scales again, hashes
its rows (``trainer.ann.graph_file``) and reads the kept graph instead of building one.  Both
answer 20 queries, which must be the same.  Synthetic data as ``bench_query.py``'s.

usage: python benchmarks/bench_graphs.py [--sizes 100000,250000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import synthetic  # noqa: E402
from trainer.ann import graph_file  # noqa: E402
from trainer.search import SearchIndex  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="100000,250000")
    args = p.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        X = synthetic(n)
        folder = Path(tempfile.mkdtemp(prefix="graphs-"))
        first = SearchIndex(X, "Normalizer", ann="always", graph_dir=folder)
        started = time.perf_counter()
        first.prepare("cosine")
        build = time.perf_counter() - started
        path = graph_file(folder, first.scaled, "cosine", {})
        started = time.perf_counter()
        graph_file(folder, first.scaled, "cosine", {})
        hashing = time.perf_counter() - started
        again = SearchIndex(X, "Normalizer", ann="always", graph_dir=folder)
        started = time.perf_counter()
        again.prepare("cosine")
        read = time.perf_counter() - started
        q = X[:20]
        same = all(np.array_equal(a, b) for a, b in zip(first.query(q, 10), again.query(q, 10), strict=True))
        print(
            f"{n:,} songs: build + keep {build:.2f} s; next session: hash + read {read:.2f} s "
            f"(hash {hashing:.2f} s), {build / read:.0f}x faster; file {path.stat().st_size / 1e6:.0f} MB; "
            f"same answers: {same}"
        )


if __name__ == "__main__":
    main()
