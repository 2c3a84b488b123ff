#!/usr/bin/env python3
"""How large a difference can a held-out set resolve?  95 % intervals for ``musicsim bench`` figures.

For each model: album odd-one-out accuracy at cosine-Normalizer and precision@1, as ``musicsim
bench`` computes them (same triplets, same labels: the album folder), with a 95 % interval from a
song-level bootstrap — songs are drawn with replacement, a triplet counts as often as the product
of its three songs' draws and a query as often as it was drawn.  For every model after the first,
the paired difference to the first, on the same draws: an interval that holds 0 means the set
cannot tell the two apart.

    python benchmarks/bootstrap_scores.py --library HELDOUT --model default --model classic

Why: several model changes moved the held-out figures by 1-4 points in opposite directions on
different sets (docs/QUALITY.md); these intervals say which of them the sets can resolve at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from trainer.evaluate import album_triplets, triplet_correct
from trainer.library import Library
from trainer.modelstore import load_model
from trainer.paths import home_dir


def nearest_other_hits(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query rows, whether each one's nearest other song by cosine shares its label); songs whose
    label has no other member are not queries, as in ``retrieval_report``."""
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    names, counts = np.unique(labels, return_counts=True)
    size = dict(zip(names, counts, strict=True))
    queries = np.array([i for i, lab in enumerate(labels) if size[lab] > 1])
    return queries, labels[sim[queries].argmax(axis=1)] == labels[queries]


def interval(values: np.ndarray) -> str:
    low, high = np.percentile(values, [2.5, 97.5])
    return f"[{low:5.1f}, {high:5.1f}]"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--library", type=Path, required=True)
    p.add_argument("--model", action="append", required=True, help="repeatable; the first is the reference")
    p.add_argument("--home", help="MusicSim home (as for musicsim)")
    p.add_argument("--n-triplets", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0, help="the triplets' seed, as musicsim bench --seed")
    p.add_argument("--draws", type=int, default=2000)
    args = p.parse_args()

    home = home_dir(args.home)
    models = [load_model(m, home) for m in args.model]
    with Library(home) as lib:
        embedded = []
        for lm in models:
            lib.index(args.library, lm, workers=0)
            embedded.append(lib.embeddings(lm.info.key, root=args.library))
        songs = {s.id: s for s in lib.songs(args.library)}
    common = sorted(set.intersection(*(set(ids.tolist()) for ids, _ in embedded)), key=lambda i: songs[i].rel)
    labels = np.array(["/".join(Path(songs[i].rel).parts[-3:-1]) or "(root)" for i in common])
    idx, odd = album_triplets(labels, args.n_triplets, seed=args.seed)

    rng = np.random.default_rng(12345)
    draws = rng.multinomial(len(common), np.full(len(common), 1 / len(common)), size=args.draws)  # (B, n)
    tri_weight = draws[:, idx[:, 0]] * draws[:, idx[:, 1]] * draws[:, idx[:, 2]]  # (B, triplets)
    figures = {}
    for lm, (ids, matrix) in zip(models, embedded, strict=True):
        pos = {sid: r for r, sid in enumerate(ids.tolist())}
        X = matrix[[pos[i] for i in common]]
        correct = triplet_correct(X, idx, odd, "cosine", "Normalizer").astype(float)
        queries, hits = nearest_other_hits(X, labels)
        q_weight = draws[:, queries]
        figures[lm.info.name] = {
            "cosN": (100 * correct.mean(), 100 * (tri_weight @ correct) / tri_weight.sum(1)),
            "P@1": (100 * hits.mean(), 100 * (q_weight @ hits) / np.maximum(q_weight.sum(1), 1)),
        }

    print(f"python benchmarks/bootstrap_scores.py --library {args.library} "
          + " ".join(f"--model {m}" for m in args.model))
    print(f"{len(common)} songs, {len(set(labels.tolist()))} albums, {len(idx)} triplets, "
          f"{args.draws} song-level bootstrap draws; 95 % intervals\n")
    reference = models[0].info.name
    width = max(len(f"{reference} - {name}:") for name in figures) + 2
    print(f"{'model':<{width}}{'cosine-Normalizer':<30}{'P@1':<30}")
    for name, fig in figures.items():
        cells = [f"{fig[k][0]:5.1f} % {interval(fig[k][1])}" for k in ("cosN", "P@1")]
        print(f"{name:<{width}}{cells[0]:<30}{cells[1]:<30}")
    for name, fig in list(figures.items())[1:]:
        diffs = []
        for k in ("cosN", "P@1"):
            d = figures[reference][k][1] - fig[k][1]
            diffs.append(f"{figures[reference][k][0] - fig[k][0]:+5.1f} {interval(d)}")
        print(f"{reference} - {name}:".ljust(width) + f"{diffs[0]:<30}{diffs[1]:<30}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
