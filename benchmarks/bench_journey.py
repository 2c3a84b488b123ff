#!/usr/bin/env python3
"""Journeys and radio (``trainer.playlists``): how good a journey is on real music, and how fast.

**Quality** (``--library FOLDER``, indexed beforehand with ``musicsim --home HOME index FOLDER``):
for ``--pairs`` random pairs of songs (A, B) and ``--steps`` steps, each way of building a
journey, with the figures averaged over the pairs:

* ``mean step`` / ``longest step``: the distance between consecutive songs, under the app's
  default cosine distance and Normalizer scaler (or ``--distance`` / ``--scaler``);
* ``closer``: the share of steps that end closer to B than they started; ``largest fall``: the
  biggest single fall in distance to B as a share of the distance from A to B (1 / steps when the
  fall is perfectly even, 1.0 when one step does it all);
* ``same album``: the share of consecutive songs from the same album folder (``game/album``);
* ``songs``: the songs the journey has (``steps + 1`` when enough songs lie between A and B).

Ways compared: the shipped path (``journey``: fewest-cost path over songs each closer to B, cost
= sum of step²), the same with step¹ and step⁴, with a term for an even fall in distance to B
(``evenness``), limited to the candidates' 10-nearest-neighbour graph, Dijkstra on that graph (its
own length), and points evenly spaced on the A-B line snapped to the nearest unused song (with and
without the closer-to-B rule).  Baselines in the same
run: **random orders of the same songs** as the shipped journey (A first, B last, the middle
shuffled, 20 shuffles per pair) and the **greedy nearest-neighbour chain from A** of the same
length (each next song the nearest not yet used; it never aims at B).  Radio figures follow: 20
songs from each A, with and without the album/artist rule.

**Speed** (``--sizes``, synthetic clustered 128-D embeddings as in ``bench_query.py``): a journey
of 10, 30 and 100 steps between random songs on the search index the app keeps (exact search up to
``ANN_THRESHOLD`` songs, as the app; ``--ann`` adds the HNSW index at the same sizes), radio of 20
songs, beside one top-10 query of the same run; and how much a journey loses by looking only at
``POOL_SIZE`` candidates near the A-B line: its cost against a journey from 4x as many.

usage: python benchmarks/bench_journey.py [--sizes 100000] [--home HOME --library FOLDER ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import synthetic  # noqa: E402
from common import Report, base_parser, percentile  # noqa: E402

JOURNEY_GOAL_S_100K = 1.0


# -- the ways compared ----------------------------------------------------------------------------
def line_snapped(index, a: int, b: int, steps: int, metric: str, *, closer_only: bool) -> np.ndarray:
    """Points evenly spaced on the line from A to B, each replaced by the nearest unused song
    (with ``closer_only``: the nearest that is also closer to B than the song before)."""
    from trainer.playlists import distances_to

    A, B = index.scaled[a].astype(np.float64), index.scaled[b].astype(np.float64)
    rows, prev = [a], float(distances_to(index, [a], b, metric)[0])
    for j in range(1, steps):
        target = A + (j / steps) * (B - A)
        cand, _ = index.query_scaled(target[None, :], 64, metric, exclude_ids=rows + [b])
        cand = cand[0]
        if closer_only:
            d_b = distances_to(index, cand, b, metric)
            ok = np.flatnonzero(d_b < prev)
            if ok.size == 0:
                continue
            rows.append(int(cand[ok[0]]))
            prev = float(d_b[ok[0]])
        else:
            rows.append(int(cand[0]))
    return np.array(rows + [b])


def knn_dijkstra(index, a: int, b: int, steps: int, metric: str, knn: int = 10) -> np.ndarray:
    """Shortest path (weights step²) from A to B on the journey candidates' kNN graph."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    from trainer.distances import pairwise_distances
    from trainer.playlists import _knn_edges, journey_pool

    pool = journey_pool(index, a, b, metric)
    X = index.scaled[pool]
    D = pairwise_distances(X, X, metric, variances=index.variances)
    W = np.where(_knn_edges(D, knn), np.maximum(D, 1e-12) ** 2, 0.0)
    s, e = int(np.searchsorted(pool, a)), int(np.searchsorted(pool, b))
    _, pred = dijkstra(csr_matrix(W), indices=s, return_predecessors=True)
    if pred[e] < 0:
        return np.array([a, b])
    path = [e]
    while path[-1] != s:
        path.append(int(pred[path[-1]]))
    return pool[np.array(path[::-1])]


def nn_chain(index, a: int, count: int, metric: str) -> np.ndarray:
    """Greedy: from A, the nearest song not used yet, ``count`` songs in all."""
    rows = [a]
    while len(rows) < count:
        idx, _ = index.query_scaled(index.scaled[[rows[-1]]], 1, metric, exclude_ids=rows)
        rows.append(int(idx[0, 0]))
    return np.array(rows)


# -- figures --------------------------------------------------------------------------------------
def figures(index, rows: np.ndarray, b: int, metric: str, albums: np.ndarray) -> dict[str, float]:
    from trainer.playlists import distances_to, step_distances

    steps = step_distances(index, rows, metric)
    to_b = distances_to(index, rows, b, metric)
    fall = to_b[:-1] - to_b[1:]
    whole = to_b[0] if to_b[0] > 0 else 1.0
    return {
        "mean step": float(steps.mean()),
        "longest step": float(steps.max()),
        "closer": float(np.mean(fall > 0)),
        "largest fall": float(fall.max() / whole),
        "same album": float(np.mean(albums[rows[:-1]] == albums[rows[1:]])),
        "songs": float(len(rows)),
        "reaches B": float(rows[-1] == b),
        "repeats": float(len(rows) - len(set(rows.tolist()))),
    }


COLUMNS = ("mean step", "longest step", "closer", "largest fall", "same album", "songs", "ms")


def print_table(title: str, table: dict[str, list[dict[str, float]]]) -> None:
    print(f"\n{title}")
    print(f"  {'way':<44}" + "".join(f"{c:>14}" for c in COLUMNS))
    for name, rows in table.items():
        cells = []
        for c in COLUMNS:
            v = [r[c] for r in rows if c in r]
            if not v:
                cells.append(f"{'-':>14}")
            elif c in ("closer", "same album", "largest fall"):
                cells.append(f"{100 * np.mean(v):>12.1f} %")
            else:
                cells.append(f"{np.mean(v):>14.4g}" if c != "songs" else f"{np.mean(v):>14.1f}")
        print(f"  {name:<44}" + "".join(cells))


def quality(args, rep: Report) -> None:
    from trainer import playlists as pl
    from trainer.library import Library
    from trainer.modelstore import load_model
    from trainer.search import SearchIndex

    loaded = load_model(args.model, Path(args.home))
    key = loaded.info.key
    with Library(Path(args.home)) as lib:
        parts = [lib.embeddings(key, root=f) for f in args.library]
        songs = {s.id: s for f in args.library for s in lib.songs(f)}
    ids = np.concatenate([p[0] for p in parts])
    X = np.vstack([p[1] for p in parts if p[1].size])
    if len(ids) < args.steps + 1:
        raise SystemExit(f"only {len(ids)} songs are indexed with '{args.model}' under {args.library}")
    song_list = [songs[int(i)] for i in ids]
    folder_album = np.array([str(Path(s.path).parent) for s in song_list], dtype=object)
    tag_albums, artists = pl.song_labels(song_list)
    index = SearchIndex(X, args.scaler)
    metric = args.distance
    rng = np.random.default_rng(args.seed)
    n = len(ids)
    rep.log(
        f"{n} songs, {len(set(folder_album))} album folders; model {loaded.info.name}, {metric}, "
        f"{args.scaler}; {args.pairs} pairs, {args.steps} steps"
    )
    ways = {
        "journey (shipped): sum of step², closer each step": lambda a, b: (
            pl.journey(index, a, b, args.steps, metric=metric).rows
        ),
        "same, sum of step¹ (plain shortest path)": lambda a, b: (
            pl.journey(index, a, b, args.steps, metric=metric, power=1.0).rows
        ),
        "same, sum of step⁴": lambda a, b: pl.journey(index, a, b, args.steps, metric=metric, power=4.0).rows,
        "same + evenness 1 (distance to B falls evenly)": lambda a, b: (
            pl.journey(index, a, b, args.steps, metric=metric, evenness=1.0).rows
        ),
        "same, steps on the 10-NN graph only": lambda a, b: (
            pl.journey(index, a, b, args.steps, metric=metric, knn=10).rows
        ),
        "Dijkstra on the 10-NN graph, step² (free length)": lambda a, b: knn_dijkstra(
            index, a, b, args.steps, metric
        ),
        "line points snapped to nearest unused song": lambda a, b: line_snapped(
            index, a, b, args.steps, metric, closer_only=False
        ),
        "same, only songs closer to B": lambda a, b: line_snapped(
            index, a, b, args.steps, metric, closer_only=True
        ),
    }
    table: dict[str, list[dict[str, float]]] = {name: [] for name in ways}
    table["baseline: random orders of the shipped journey's songs"] = []
    table["baseline: nearest-neighbour chain from A, same length"] = []
    pairs = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(args.pairs)]
    for a, b in pairs:
        shipped = None
        for name, fn in ways.items():
            t = time.perf_counter()
            rows = np.asarray(fn(a, b))
            ms = (time.perf_counter() - t) * 1e3
            f = figures(index, rows, b, metric, folder_album)
            f["ms"] = ms
            table[name].append(f)
            shipped = rows if shipped is None else shipped
            assert f["repeats"] == 0 or "snapped" in name, (name, rows)
        for _ in range(20):
            middle = rng.permutation(shipped[1:-1])
            order = np.concatenate([[a], middle, [b]])
            table["baseline: random orders of the shipped journey's songs"].append(
                figures(index, order, b, metric, folder_album)
            )
        table["baseline: nearest-neighbour chain from A, same length"].append(
            figures(index, nn_chain(index, a, len(shipped), metric), b, metric, folder_album)
        )
    print_table(
        f"journeys of {args.steps} steps between {args.pairs} random pairs ({n} songs; distance "
        f"and steps in {metric} units; 'closer' and 'largest fall' towards B)",
        table,
    )
    full = np.mean([r["songs"] == args.steps + 1 for r in table[next(iter(ways))]])
    print(f"  pairs whose shipped journey has all {args.steps + 1} songs: {100 * full:.0f} %")
    rep.extra["journey_quality"] = {
        k: {c: float(np.mean([r[c] for r in v])) for c in COLUMNS if c in v[0]} for k, v in table.items()
    }
    shipped_rows, rand, chain = (
        table[next(iter(ways))],
        table["baseline: random orders of the shipped journey's songs"],
        table["baseline: nearest-neighbour chain from A, same length"],
    )
    m = lambda rows, c: float(np.mean([r[c] for r in rows]))  # noqa: E731
    rep.add(
        f"{n} songs: journey mean step",
        m(shipped_rows, "mean step"),
        metric,
        baseline=f"random order {m(rand, 'mean step'):.3f}, NN chain {m(chain, 'mean step'):.3f}",
        ratio=f"{m(shipped_rows, 'mean step') / m(rand, 'mean step'):.2f}× random",
    )
    rep.add(
        f"{n} songs: journey longest step",
        m(shipped_rows, "longest step"),
        metric,
        baseline=f"random order {m(rand, 'longest step'):.3f}, NN chain {m(chain, 'longest step'):.3f}",
        ratio=f"{m(shipped_rows, 'longest step') / m(rand, 'longest step'):.2f}× random",
    )

    radio_table: dict[str, list[dict[str, float]]] = {
        "radio, album/artist rule (shipped)": [],
        "radio, no album/artist rule": [],
    }
    for a, _ in pairs[: args.radio]:
        for name, kw in (
            ("radio, album/artist rule (shipped)", {"albums": tag_albums, "artists": artists}),
            ("radio, no album/artist rule", {}),
        ):
            t = time.perf_counter()
            rows = pl.radio(index, a, 20, metric=metric, **kw).rows
            f = figures(index, rows, int(rows[-1]), metric, folder_album)
            f["ms"] = (time.perf_counter() - t) * 1e3
            radio_table[name].append(f)
        radio_table.setdefault("baseline: nearest-neighbour chain, 20 songs", []).append(
            figures(index, nn_chain(index, a, 20, metric), 0, metric, folder_album)
        )
    print_table(
        f"radio of 20 songs from {args.radio} of those A ('closer'/'largest fall' do not apply)", radio_table
    )


def speed(args, rep: Report) -> None:
    from trainer import playlists as pl
    from trainer.search import ANN_THRESHOLD, SearchIndex

    rng = np.random.default_rng(3)
    for n in [int(s) for s in args.sizes.split(",") if s]:
        X = synthetic(n)
        backends = ["auto"] + (["always"] if args.ann else [])
        for ann in backends:
            t = time.perf_counter()
            index = SearchIndex(X, "Normalizer", ann=ann)
            index.prepare("cosine")  # the app keeps this index; a graph is built once per scaler
            build = time.perf_counter() - t
            what = "HNSW" if index.use_ann else "exact"
            rep.log(f"n={n:,} {what}: index ready in {build:.2f} s ({index.backend_reason})")
            pairs = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(args.journeys)]
            q_ms = []
            for a, _ in pairs:
                t = time.perf_counter()
                index.query(X[a], 10, "cosine", exclude_ids=[a])
                q_ms.append((time.perf_counter() - t) * 1e3)
            for steps in (10, 30, 100):
                times, means = [], []
                pl.journey(index, *pairs[0], steps)  # warm
                for a, b in pairs:
                    t = time.perf_counter()
                    j = pl.journey(index, a, b, steps)
                    times.append(time.perf_counter() - t)
                    means.append(j.mean_step)
                p50, worst = percentile(times, 50), max(times)
                rep.add(
                    f"{n:,} songs, {what}: journey of {steps} steps",
                    p50 * 1e3,
                    "ms",
                    goal=f"< {JOURNEY_GOAL_S_100K:g} s" if n == 100_000 else "",
                    baseline=f"one top-10 query {percentile(q_ms, 50):.1f} ms",
                    ratio=f"{p50 * 1e3 / percentile(q_ms, 50):.0f} queries",
                    note=f"p95 {percentile(times, 95) * 1e3:.0f} ms, worst {worst * 1e3:.0f} ms; "
                    f"mean step {np.mean(means):.3f}; index {build:.1f} s once",
                    ok=(worst < JOURNEY_GOAL_S_100K) if n == 100_000 else None,
                )
            if not index.use_ann:  # the candidates' share of the optimum: against 4x as many candidates
                ours, more = [], []
                saved = pl.POOL_SIZE
                for a, b in pairs[:5]:
                    ours.append(pl.journey(index, a, b, 10).steps)
                    pl.POOL_SIZE = 4 * saved
                    more.append(pl.journey(index, a, b, 10).steps)
                    pl.POOL_SIZE = saved
                cost = [np.sum(x**2) / np.sum(y**2) for x, y in zip(ours, more, strict=True)]
                rep.add(
                    f"{n:,} songs: journey cost (sum of step²) vs {4 * saved:,} candidates",
                    float(np.mean(cost)),
                    "×",
                    note=f"mean step {np.mean([x.mean() for x in ours]):.4f} vs "
                    f"{np.mean([y.mean() for y in more]):.4f}, longest "
                    f"{np.mean([x.max() for x in ours]):.4f} vs {np.mean([y.max() for y in more]):.4f}; "
                    f"{pl.POOL_SIZE:,} candidates as shipped",
                )
            times = []
            for a, _ in pairs[: max(3, args.journeys // 4)]:
                t = time.perf_counter()
                pl.radio(index, a, 20)
                times.append(time.perf_counter() - t)
            rep.add(
                f"{n:,} songs, {what}: radio of 20 songs",
                percentile(times, 50) * 1e3,
                "ms",
                baseline=f"one top-10 query {percentile(q_ms, 50):.1f} ms",
                note=f"worst {max(times) * 1e3:.0f} ms",
            )
        rep.log(f"the app answers exactly up to ANN_THRESHOLD = {ANN_THRESHOLD:,} songs")


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes", default="100000", help="synthetic library sizes for the speed figures ('' for none)"
    )
    p.add_argument("--journeys", type=int, default=20, help="timed journeys per size")
    p.add_argument("--ann", action="store_true", help="also time journeys on the HNSW index at each size")
    p.add_argument("--home", help="MusicSim home holding the indexed --library folders")
    p.add_argument("--library", action="append", default=[], help="indexed music folder (repeatable)")
    p.add_argument("--model", default="default")
    p.add_argument("--distance", default="cosine")
    p.add_argument("--scaler", default="Normalizer")
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--radio", type=int, default=50, help="radio playlists measured (from the first pairs' A)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rep = Report("bench_journey: journeys and radio", args)
    if args.library:
        if not args.home:
            p.error("--library needs --home")
        quality(args, rep)
    speed(args, rep)
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
