#!/usr/bin/env python3
"""Re-ranking when the user changes the distance or the scaler, at 10,000 songs.

What the GUI does (``musicsim_app/session.py``): a ``trainer.search.SearchIndex`` is cached per
(model, scaler).  Changing the *scaler* builds a new one from the cached embedding matrix and
queries it (``scaler change``); changing the *distance* queries the cached one (``distance
change``).  Both are timed for every one of the 9 distances x 3 scalers, top-10 for a library
song, the song itself excluded.  Baseline in the same run: ``trainer.search.top_k``, the plain
function that rescales the whole library on every call.

usage: python benchmarks/bench_rerank.py [--songs 10000] [--repeat 5]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import synthetic  # noqa: E402
from common import Report, base_parser  # noqa: E402

GOAL_MS = 100.0


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--songs", type=int, default=10_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeat", type=int, default=5, help="timings per combination (the median is used)")
    args = p.parse_args()

    from trainer import distances, search

    rep = Report("bench_rerank: re-rank from cached embeddings after a distance or scaler change", args)
    X = synthetic(args.songs, args.dim)
    rng = np.random.default_rng(0)
    rows = rng.choice(args.songs, size=args.repeat, replace=False)
    k = args.k
    worst_cold = worst_warm = worst_base = (0.0, "")
    per_combo = {}
    for scaler in distances.SCALERS:
        for metric in distances.DISTANCES:
            cold, warm, base = [], [], []
            for r in rows:
                r = int(r)
                t = time.perf_counter()
                index = search.SearchIndex(X, scaler)  # scaler change: build, then query
                index.query(X[r], k, metric, exclude_ids=[r])
                cold.append((time.perf_counter() - t) * 1e3)
                t = time.perf_counter()
                index.query(X[r], k, metric, exclude_ids=[r])  # distance change: cached index
                warm.append((time.perf_counter() - t) * 1e3)
                t = time.perf_counter()
                search.top_k(X[r], X, k, metric=metric, scaler=scaler, exclude=[r])
                base.append((time.perf_counter() - t) * 1e3)
            c, w, b = float(np.median(cold)), float(np.median(warm)), float(np.median(base))
            per_combo[f"{metric}/{scaler}"] = {"scaler_change_ms": c, "distance_change_ms": w, "top_k_ms": b}
            name = f"{metric} + {scaler}"
            worst_cold = max(worst_cold, (c, name))
            worst_warm = max(worst_warm, (w, name))
            worst_base = max(worst_base, (b, name))
            rep.log(f"{name:32s} scaler change {c:7.1f} ms   distance change {w:7.1f} ms   top_k {b:7.1f} ms")
    all_cold = [v["scaler_change_ms"] for v in per_combo.values()]
    all_warm = [v["distance_change_ms"] for v in per_combo.values()]
    all_base = [v["top_k_ms"] for v in per_combo.values()]
    n = f"{args.songs:,} songs"
    rep.add(
        f"{n}: distance change, worst of 27",
        worst_warm[0],
        "ms",
        goal=f"< {GOAL_MS:g} ms",
        baseline=f"top_k worst {worst_base[0]:.1f} ms",
        ratio=f"{worst_base[0] / worst_warm[0]:.1f}× faster",
        note=worst_warm[1],
        ok=worst_warm[0] < GOAL_MS,
    )
    rep.add(
        f"{n}: distance change, median of 27",
        float(np.median(all_warm)),
        "ms",
        goal=f"< {GOAL_MS:g} ms",
        baseline=f"top_k median {np.median(all_base):.1f} ms",
        ok=float(np.median(all_warm)) < GOAL_MS,
    )
    rep.add(
        f"{n}: scaler change (new index + query), worst",
        worst_cold[0],
        "ms",
        goal=f"< {GOAL_MS:g} ms",
        baseline=f"top_k worst {worst_base[0]:.1f} ms",
        note=worst_cold[1],
        ok=worst_cold[0] < GOAL_MS,
    )
    rep.add(
        f"{n}: scaler change, median of 27",
        float(np.median(all_cold)),
        "ms",
        goal=f"< {GOAL_MS:g} ms",
        ok=float(np.median(all_cold)) < GOAL_MS,
    )
    rep.extra["per_combination"] = per_combo
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
