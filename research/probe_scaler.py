#!/usr/bin/env python3
"""Whether queries should standardise on the library (cosine-StandardScaler) instead of
normalising each song (cosine-Normalizer, what the app and every table lead with).

Reads the vectors a ``musicsim bench`` run left in a home's index (no audio is decoded), and per
``--set`` and ``--model`` scores both cells on the same 5,000 album odd-one-out triplets as the
bench (seed 0), leave-one-out P@1 under each scaler, and the paired difference with intervals
from resampling whole albums (``trainer.bootstrap``).  docs/QUALITY.md, "Standardising on the
library at query time": not adopted.

    python research/probe_scaler.py --home BENCH_HOME --set unseen59=UNSEEN59 --set demo=resources/demo \\
        --model default --model musicnn-msd --model classic
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.bootstrap import bootstrap_replicates, interval95  # noqa: E402
from trainer.evaluate import album_triplets, retrieval_report, triplet_correct  # noqa: E402
from trainer.labels import folder_album  # noqa: E402
from trainer.modelstore import available_models  # noqa: E402

SCALERS = ("Normalizer", "StandardScaler")


def stored_vectors(db: sqlite3.Connection, root: Path, key: str) -> tuple[list[str], np.ndarray]:
    """The songs below ``root`` (paths relative to it, sorted) and their vectors under ``key``."""
    rows = db.execute(
        "SELECT s.path, e.vector FROM embeddings e JOIN songs s ON s.id = e.song_id "
        "WHERE s.root = ? AND e.model_key = ?",
        (str(root).encode(), key),
    ).fetchall()
    by_rel = {}
    for path, blob in rows:
        path = path.decode() if isinstance(path, bytes) else path
        by_rel[Path(path).relative_to(root).as_posix()] = np.frombuffer(blob, dtype=np.float32)
    rels = sorted(by_rel)
    return rels, (np.stack([by_rel[r] for r in rels]) if rels else np.zeros((0, 0), np.float32))


def compare(X: np.ndarray, labels: np.ndarray) -> str:
    idx, odd = album_triplets(labels, 5000, seed=0)
    scored = {}
    for scaler in SCALERS:
        correct = triplet_correct(X, idx, odd, "cosine", scaler)
        report = retrieval_report(X, labels, metric="cosine", scaler=scaler)
        draws = bootstrap_replicates(len(X), idx, correct, report.queries, report.hits, seed=0, albums=labels)
        scored[scaler] = (100 * correct.mean(), 100 * report.p_at_1, draws)
    (on, pn, dn), (os_, ps, ds) = scored["Normalizer"], scored["StandardScaler"]
    lo, hi = interval95(ds[0] - dn[0])
    plo, phi = interval95(ds[1] - dn[1])
    return (
        f"odd-one-out N {on:5.1f} S {os_:5.1f} S-N {os_ - on:+5.1f} ({lo:+.1f}, {hi:+.1f}) | "
        f"P@1 N {pn:5.1f} S {ps:5.1f} S-N {ps - pn:+5.1f} ({plo:+.1f}, {phi:+.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a home a musicsim bench run indexed")
    parser.add_argument("--set", action="append", required=True, metavar="NAME=FOLDER")
    parser.add_argument("--model", action="append", default=None, help="installed model (default: default)")
    args = parser.parse_args()
    keys = {ref.name: ref.info.key for ref in available_models(args.home)}
    db = sqlite3.connect(args.home / "index.db")
    for spec in args.set:
        name, _, folder = spec.partition("=")
        root = Path(folder).expanduser().resolve()
        for model in args.model or ["default"]:
            rels, X = stored_vectors(db, root, keys[model])
            if len(rels) == 0:
                print(f"{name:11s} {model:21s} no vectors under {keys[model]}")
                continue
            labels = np.array([folder_album(r) for r in rels])
            albums = len(set(labels))
            print(f"{name:11s} {model:21s} {len(rels):3d} songs {albums:2d} albums  {compare(X, labels)}")


if __name__ == "__main__":
    main()
