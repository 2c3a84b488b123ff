#!/usr/bin/env python3
"""Top-10 query latency at 1k, 10k, 100k and 1M songs, cosine and euclidean, exact and approximate.

Measures the app's own search (``trainer.search.SearchIndex``) on synthetic 128-D embeddings:

* ``exact``  -- ``SearchIndex(..., ann="never")``: one float32 matrix-vector product, a partial
                sort and an exact float64 re-rank of the candidates.
* ``ann``    -- ``SearchIndex(..., ann="always")``: the faiss HNSW graph (``AnnIndex``); its build
                time and its recall@10 against ``exact`` for the same queries.
* ``auto``   -- what the app picks by itself at that size (``ANN_THRESHOLD``) and the reason it shows.
* ``why``   -- the results' "Alike in: …" line (``trainer.aspects.AspectRanker``): each result's
                place among the library in each part of the default's vector; and ranking the
                whole library by one part alone (a click on a part).
* baselines in the same run: ``scipy cdist`` + ``argpartition`` on the raw matrix (the naive
  exact search), and faiss ``IndexFlat`` (a well-kept library's exact brute force).

Queries are library songs (the app's "songs like this one"), the song itself excluded, one query
per call, the scaler ``Normalizer`` (the app's default).

Synthetic data (``--data clustered``, the default): songs are drawn around ``n/200`` album-like
centres in a 16-dimensional latent space and mapped linearly into 128-D with a little isotropic
noise, like learnt embeddings, whose variance sits in a few directions.  ``--data iid`` is
isotropic Gaussian noise: the hardest case for a graph index (no structure at all).

usage: python benchmarks/bench_query.py [--sizes 1000,10000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Report, base_parser, percentile  # noqa: E402

EXACT_GOAL_MS_100K = 5.0
ANN_GOAL_MS_1M = 1.0
ANN_RECALL_GOAL = 0.95
ANN_BUILD_GOAL_S_100K = 10.0


def synthetic(n: int, d: int = 128, *, kind: str = "clustered", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "iid":
        return rng.standard_normal((n, d), dtype=np.float32)
    latent, n_centres = 16, max(10, n // 200)
    centres = rng.standard_normal((n_centres, latent), dtype=np.float32)
    W = rng.standard_normal((latent, d), dtype=np.float32) / np.sqrt(latent)
    out = np.empty((n, d), np.float32)
    for s in range(0, n, 100_000):  # in chunks: no float64 / full-size temporaries at 1M
        m = min(n, s + 100_000) - s
        z = centres[rng.integers(0, n_centres, m)] + 0.35 * rng.standard_normal((m, latent), dtype=np.float32)
        out[s : s + m] = z @ W + 0.05 * rng.standard_normal((m, d), dtype=np.float32)
    return out


_CONTROLLER = None


def one_thread():
    """Context manager: BLAS and OpenMP pools (numpy, scipy, faiss) at one thread, ~0.04 ms."""
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


def latencies(fn, rows: np.ndarray, *, single_thread: bool = False) -> tuple[list[float], list[np.ndarray]]:
    """Milliseconds of each single query; ``single_thread`` wraps every call in :func:`one_thread`
    (its cost included), as the search could do itself."""
    from contextlib import nullcontext

    ctx = one_thread if single_thread else nullcontext
    with ctx():
        fn(int(rows[0]))  # warm
    times, results = [], []
    for r in rows:
        t = time.perf_counter()
        with ctx():
            idx = fn(int(r))
        times.append((time.perf_counter() - t) * 1e3)
        results.append(idx)
    return times, results


def recall(approx: list[np.ndarray], exact: list[np.ndarray], k: int) -> float:
    return float(
        np.mean([len(set(a.tolist()) & set(e.tolist())) / k for a, e in zip(approx, exact, strict=False)])
    )


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000,100000,1000000")
    p.add_argument("--metrics", default="cosine,euclidean")
    p.add_argument("--queries", type=int, default=200, help="timed queries per size and backend")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--data", choices=("clustered", "iid"), default="clustered")
    p.add_argument(
        "--ann-from", type=int, default=100_000, help="also measure the approximate index from this size"
    )
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument(
        "--ef",
        default="32,64,128",
        help="also query the graph with these ef_search values (recall/latency trade-off); '' for none",
    )
    args = p.parse_args()

    import faiss
    from scipy.spatial.distance import cdist

    from trainer import search
    from trainer.aspects import REFERENCE_SONGS, AspectRanker
    from trainer.parts import COMPONENTS_PER_BLOCK, STATISTICS_BLOCKS, aspects_for

    STATS_PARTS = COMPONENTS_PER_BLOCK * len(STATISTICS_BLOCKS)  # noqa: N806 - the default's statistics width

    rep = Report("bench_query: top-k latency, exact vs approximate", args)
    rep.log(
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads; ANN_THRESHOLD = "
        f"{search.ANN_THRESHOLD}; data: {args.data}, d={args.dim}, k={args.k}, scaler Normalizer"
    )
    k = args.k
    sizes = [int(s) for s in args.sizes.split(",")]
    metrics = args.metrics.split(",")
    rng = np.random.default_rng(1)
    for n in sizes:
        X = synthetic(n, args.dim, kind=args.data)
        rows = rng.choice(n, size=min(args.queries, n), replace=False)
        t = time.perf_counter()
        exact_index = search.SearchIndex(X, "Normalizer", ann="never")
        t_setup = time.perf_counter() - t
        auto_ann = n > search.ANN_THRESHOLD and search.faiss_available()  # SearchIndex's "auto" policy
        rep.log(
            f"n={n:,}: SearchIndex setup (scale, norms) {t_setup * 1e3:.0f} ms; the app would use "
            f"{'the approximate index' if auto_ann else 'exact search'} at this size"
        )
        rep.add(
            f"{n:,} songs: SearchIndex setup (exact)",
            t_setup * 1e3,
            "ms",
            note="scale + norms, once per scaler",
        )
        for metric in metrics:

            def q_exact(r: int, metric: str = metric, index=exact_index, X=X) -> np.ndarray:
                return index.query(X[r], k, metric, exclude_ids=[r])[0]

            ex_t, ex_res = latencies(q_exact, rows)
            p50, p95 = percentile(ex_t, 50), percentile(ex_t, 95)
            ex1_t, _ = latencies(q_exact, rows, single_thread=True)
            s50, s95 = percentile(ex1_t, 50), percentile(ex1_t, 95)
            goal = f"< {EXACT_GOAL_MS_100K:g} ms" if n == 100_000 else ""
            base_txt, ratio_txt = "", ""
            if not args.no_baselines:
                nb = min(len(rows), 200 if n <= 10_000 else 20 if n <= 100_000 else 5)
                scaled_raw = X.astype(np.float64) if n <= 100_000 else X
                cd_metric = "sqeuclidean" if metric == "euclidean" else metric

                def q_cdist(r: int, cd_metric: str = cd_metric, raw=scaled_raw) -> np.ndarray:
                    D = cdist(raw[r : r + 1], raw, cd_metric)[0]
                    D[r] = np.inf
                    part = np.argpartition(D, k)[:k]
                    return part[np.argsort(D[part])]

                cd_t, _ = latencies(q_cdist, rows[:nb])
                flat = (faiss.IndexFlatIP if metric == "cosine" else faiss.IndexFlatL2)(args.dim)
                base = exact_index._unit if metric == "cosine" else exact_index.scaled
                flat.add(np.ascontiguousarray(base))

                def q_flat(r: int, base=base, flat=flat) -> np.ndarray:
                    return flat.search(base[r : r + 1], k + 1)[1][0]

                fl_t, _ = latencies(q_flat, rows[:nb])
                base_txt = f"cdist {percentile(cd_t, 50):.2f} ms, faiss Flat {percentile(fl_t, 50):.2f} ms"
                ratio_txt = f"{percentile(cd_t, 50) / p50:.1f}× faster than cdist"
                del flat
            rep.add(
                f"{n:,} songs {metric}: exact p50",
                p50,
                "ms",
                goal=goal,
                baseline=base_txt,
                ratio=ratio_txt,
                note=f"p95 {p95:.2f} ms; as shipped",
                ok=(p50 < EXACT_GOAL_MS_100K) if n == 100_000 else None,
            )
            rep.add(
                f"{n:,} songs {metric}: exact p50, 1 thread",
                s50,
                "ms",
                goal=goal,
                baseline=f"as shipped {p50:.2f} ms",
                ratio=f"{p50 / s50:.1f}× faster",
                note=f"p95 {s95:.2f} ms; BLAS/OpenMP limited to 1 thread per query",
                ok=(s50 < EXACT_GOAL_MS_100K) if n == 100_000 else None,
            )

            if n >= args.ann_from:
                ann_index = search.SearchIndex(X, "Normalizer", ann="always")
                t = time.perf_counter()
                c = time.process_time()
                ann_index.prepare(metric)
                t_build, c_build = time.perf_counter() - t, time.process_time() - c

                def q_ann(r: int, metric: str = metric, index=ann_index, X=X) -> np.ndarray:
                    return index.query(X[r], k, metric, exclude_ids=[r])[0]

                an_t, an_res = latencies(q_ann, rows)
                rec = recall(an_res, ex_res, k)
                a50, a95 = percentile(an_t, 50), percentile(an_t, 95)
                an1_t, _ = latencies(q_ann, rows, single_thread=True)
                b50, b95 = percentile(an1_t, 50), percentile(an1_t, 95)
                build_goal = n == 100_000
                rep.add(
                    f"{n:,} songs {metric}: ANN build",
                    t_build,
                    "s",
                    goal=f"< {ANN_BUILD_GOAL_S_100K:g} s" if build_goal else "",
                    note=f"{c_build:.1f} CPU s",
                    ok=(t_build < ANN_BUILD_GOAL_S_100K) if build_goal else None,
                )
                rep.add(
                    f"{n:,} songs {metric}: ANN p50",
                    a50,
                    "ms",
                    goal=f"< {ANN_GOAL_MS_1M:g} ms" if n >= 1_000_000 else "",
                    baseline=f"exact {p50:.2f} ms",
                    ratio=f"{p50 / a50:.1f}× faster than exact",
                    note=f"p95 {a95:.2f} ms; as shipped",
                    ok=(a50 < ANN_GOAL_MS_1M) if n >= 1_000_000 else None,
                )
                rep.add(
                    f"{n:,} songs {metric}: ANN p50, 1 thread",
                    b50,
                    "ms",
                    goal=f"< {ANN_GOAL_MS_1M:g} ms" if n >= 1_000_000 else "",
                    baseline=f"as shipped {a50:.2f} ms",
                    ratio=f"{a50 / b50:.1f}× faster",
                    note=f"p95 {b95:.2f} ms; OpenMP limited to 1 thread per query",
                    ok=(b50 < ANN_GOAL_MS_1M) if n >= 1_000_000 else None,
                )
                rep.add(
                    f"{n:,} songs {metric}: ANN recall@{k}",
                    rec,
                    "",
                    goal=f">= {ANN_RECALL_GOAL}" if n >= 1_000_000 else "",
                    baseline="exact = 1.0",
                    ok=(rec >= ANN_RECALL_GOAL) if n >= 1_000_000 else None,
                )
                graph = ann_index._ann[metric]
                for ef in [int(e) for e in args.ef.split(",")] if args.ef else []:

                    def q_ef(r: int, ef: int = ef, graph=graph, index=ann_index, X=X) -> np.ndarray:
                        q = index.transform(X[r : r + 1])
                        return graph.query(q, k, ef_search=ef, exclude_ids=[r])[0][0]

                    ef_t, ef_res = latencies(q_ef, rows, single_thread=True)
                    ef_rec, e50 = recall(ef_res, ex_res, k), percentile(ef_t, 50)
                    ok = (e50 < ANN_GOAL_MS_1M and ef_rec >= ANN_RECALL_GOAL) if n >= 1_000_000 else None
                    rep.add(
                        f"{n:,} songs {metric}: ANN ef_search={ef}, 1 thread",
                        e50,
                        "ms",
                        goal=f"< {ANN_GOAL_MS_1M:g} ms, recall >= {ANN_RECALL_GOAL}"
                        if n >= 1_000_000
                        else "",
                        baseline=f"default ef {graph.ef_search}: {b50:.2f} ms",
                        ratio=f"recall {ef_rec:.3f}",
                        note=f"p95 {percentile(ef_t, 95):.2f} ms",
                        ok=ok,
                    )
                del ann_index, graph  # free the graph before the next one is built
        if args.dim > STATS_PARTS:
            t = time.perf_counter()
            ranker = AspectRanker(X, aspects_for("musicnet-stats-small", args.dim))
            t_ranker = time.perf_counter() - t
            shown = rng.choice(n, size=min(k, n), replace=False)
            why_t, _ = latencies(lambda r, ranker=ranker, shown=shown: ranker.percentiles(r, shown), rows)
            rep.add(
                f"{n:,} songs: 'why' line p50 ({k} results x 5 parts)",
                percentile(why_t, 50),
                "ms",
                note=f"p95 {percentile(why_t, 95):.2f} ms; after the search, per query; built once per "
                f"model in {t_ranker * 1e3:.0f} ms (against at most {REFERENCE_SONGS:,} songs)",
            )
            t = time.perf_counter()
            ranker.nearest(int(rows[0]), 0, k)  # the first click on a part also computes its row norms
            t_first = time.perf_counter() - t
            part_t, _ = latencies(lambda r, ranker=ranker: ranker.nearest(r, 0, k), rows)
            rep.add(
                f"{n:,} songs: rank by one part p50 (the {args.dim - STATS_PARTS}-d learnt part)",
                percentile(part_t, 50),
                "ms",
                note=f"p95 {percentile(part_t, 95):.2f} ms; the first click on a part {t_first * 1e3:.0f} ms",
            )
        del exact_index
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
