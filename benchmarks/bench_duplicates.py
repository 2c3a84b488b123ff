#!/usr/bin/env python3
"""Finding duplicates (``trainer.duplicates.find_duplicates``) at 10,000 and 100,000 songs.

Synthetic 128-d embeddings around album-like centres (``bench_query.synthetic``) with 1 % of the
songs copied once more at a distance a re-encode has (noise of 0.2 % of a vector's length), so the
run also says whether every copy was found and nothing else was.  Baseline in the same run:
scikit-learn's brute-force ``NearestNeighbors(metric="cosine").kneighbors`` for each song's
nearest other song -- a part of what ``find_duplicates`` computes (it also gathers every pair
under its threshold and groups them).

usage: python benchmarks/bench_duplicates.py [--songs 10000 100000] [--skip-baseline-above 20000]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import synthetic  # noqa: E402
from common import Report, base_parser  # noqa: E402

#: The window runs it as a job with progress and Cancel; past this it should say so beforehand.
GOAL_S_AT_100K = 120.0


def library_with_copies(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, set[frozenset[int]]]:
    rng = np.random.default_rng(seed)
    base = synthetic(n, dim, seed=seed)
    originals = rng.choice(n, size=max(1, n // 100), replace=False)
    copies = base[originals] + 0.002 * np.linalg.norm(base[originals], axis=1, keepdims=True) * (
        rng.standard_normal((len(originals), dim)).astype(np.float32) / np.sqrt(dim)
    )
    X = np.concatenate([base, copies]).astype(np.float32)
    truth = {frozenset((int(o), n + i)) for i, o in enumerate(originals)}
    return X, truth


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--songs", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--dim", type=int, default=128)
    p.add_argument(
        "--skip-baseline-above", type=int, default=20_000, help="scikit-learn's pass only up to here"
    )
    args = p.parse_args()

    from trainer.duplicates import find_duplicates

    rep = Report("bench_duplicates: every song against every other, then the groups", args)
    for n in args.songs:
        X, truth = library_with_copies(n, args.dim)
        t = time.perf_counter()
        found = find_duplicates(X)
        ours = time.perf_counter() - t
        pairs = {frozenset(g) for g in found.groups if len(g) == 2}
        hit = len(truth & pairs)
        extra = len(found.groups) - hit
        rep.log(
            f"{len(X):,} songs: {ours:.1f} s, {hit}/{len(truth)} copies found, {extra} other groups, "
            f"threshold {found.max_distance:.4g} (median nearest {found.typical_distance:.4g})"
        )
        baseline, ratio = "", ""
        if len(X) <= args.skip_baseline_above:
            from sklearn.neighbors import NearestNeighbors

            t = time.perf_counter()
            nn = NearestNeighbors(n_neighbors=2, metric="cosine", algorithm="brute").fit(X)
            nn.kneighbors(X)
            theirs = time.perf_counter() - t
            baseline, ratio = f"scikit-learn kneighbors {theirs:.1f} s", f"{theirs / ours:.1f}× faster"
        rep.add(
            f"{len(X):,} songs: find duplicates",
            ours,
            "s",
            goal=f"< {GOAL_S_AT_100K:g} s at 100k" if n >= 100_000 else "",
            baseline=baseline,
            ratio=ratio,
            note=f"{hit}/{len(truth)} copies, {extra} false groups",
            ok=(ours < GOAL_S_AT_100K if n >= 100_000 else None),
        )
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
