#!/usr/bin/env python3
"""Choose the musicnn-based default offline, from ``research/musicnn_features.py`` files.

usage: python research/musicnn_choose.py --train FEATS/train3.npz [--train MORE.npz]
                                         --eval NAME=FEATS/x.npz ...
                                         [--heads] [--epochs 30] [--fit-on-eval]

For each evaluation set and each recipe it prints cosine-Normalizer odd-one-out (5,000 album
triplets, seed 0, as ``musicsim bench``), the best of the 27 cells, P@1 and MAP@R — the same
scorer as the bench (``trainer.evaluate``).  Recipes: excerpt layouts (4 / 8 / 16 excerpts),
raw or standardised pooled layers, and — with ``--heads`` — heads trained on the training set's
cached excerpt vectors with the thesis's losses (triplet on folder labels, NT-Xent on song
identity, both), exactly the ``MusicnnHead.head`` the app trains.  Selection sets only: the
held-out sets are scored once, by ``musicsim bench``, after the choice.

Where the standardisation's statistics come from is a choice too: every ``--train`` file is
pooled (e.g. the training games and the fresh pool), and ``--fit-on-eval`` adds a line per set
standardised on that set's own excerpts — what a library-fitted scaler would give, which no model
can know when it embeds one song.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.evaluate import album_triplets, retrieval_report, triplet_correct, triplet_scores  # noqa: E402
from trainer.losses import make_loss  # noqa: E402
from trainer.models.musicnn import MUSICNN_FEATURES  # noqa: E402
from trainer.models.musicnn_heads import BlockStandardiser, MusicnnHead  # noqa: E402


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as d:
        return d["features"].astype(np.float32), d["albums"]


def subset(feats: np.ndarray, n: int) -> np.ndarray:
    step = feats.shape[1] // n
    return feats[:, step // 2 :: step][:, :n]


def song_vectors(excerpt_vectors: np.ndarray) -> np.ndarray:
    """The indexer's aggregate: mean of L2-normalised excerpt vectors."""
    e = excerpt_vectors / np.maximum(np.linalg.norm(excerpt_vectors, axis=-1, keepdims=True), 1e-12)
    return e.mean(axis=1)


def score(X: np.ndarray, albums: np.ndarray, best: bool = True) -> str:
    idx, odd = album_triplets(albums, 5000, seed=0)
    cos = 100 * triplet_correct(X, idx, odd, "cosine", "Normalizer").mean()
    text = f"cosN {cos:5.1f}"
    if best:
        rows = triplet_scores(X, idx, odd)
        b = max(rows, key=lambda r: r.score_percent)
        text += f"  best {b.score_percent:5.1f} ({b.distance}-{b.scaler})"
    r = retrieval_report(X, albums)
    return text + f"  P@1 {100 * r.p_at_1:5.1f}  MAP@R {100 * r.map_at_r:5.1f}"


def train_head(
    train: np.ndarray,
    albums: np.ndarray,
    loss: str,
    epochs: int,
    dim: int,
    lr: float,
    seed: int = 0,
    hidden: int = 512,
) -> MusicnnHead:
    """``train`` is ``(songs, crops, 1506)``; batches of P albums × K songs (triplet) or of songs
    × 2 crops (contrastive), as the app's sources draw them."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MusicnnHead(MUSICNN_FEATURES, embedding_dim=dim, hidden=hidden, pretrained=False)
    model.fit_statistics(torch.from_numpy(train.reshape(-1, train.shape[-1])))
    params = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    opt = torch.optim.Adam(params, lr=lr)
    names, lab = np.unique(albums, return_inverse=True)
    fns = {k: make_loss(k, margin=0.2, temperature=0.1) for k in ("triplet", "contrastive")}
    n_songs, n_crops = train.shape[:2]
    model.train()
    for _epoch in range(epochs):
        for _ in range(max(1, n_songs * n_crops // 64)):
            losses = []
            if loss in ("triplet", "both"):
                classes = rng.choice(len(names), size=min(len(names), 16), replace=False)
                songs = np.concatenate([rng.choice(np.flatnonzero(lab == c), 4) for c in classes])
                x = torch.from_numpy(train[songs, rng.integers(n_crops, size=len(songs))])
                losses.append(fns["triplet"](model.head(x), torch.from_numpy(lab[songs])))
            if loss in ("contrastive", "both"):
                songs = rng.choice(n_songs, size=32, replace=False)
                a = train[songs, rng.integers(n_crops, size=32)]
                b = train[songs, rng.integers(n_crops, size=32)]
                x = torch.from_numpy(np.concatenate([a, b]))
                labels = torch.from_numpy(np.concatenate([songs, songs]))
                losses.append(fns["contrastive"](model.head(x), labels))
            total = sum(losses)
            opt.zero_grad()
            total.backward()
            opt.step()
    return model.eval()


def head_vectors(model: MusicnnHead, excerpt_feats: np.ndarray) -> np.ndarray:
    s, e, d = excerpt_feats.shape
    with torch.no_grad():
        out = model.head(torch.from_numpy(excerpt_feats.reshape(-1, d))).numpy()
    return song_vectors(out.reshape(s, e, -1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=Path, action="append", required=True, help="repeat to pool")
    ap.add_argument("--eval", action="append", default=[])
    ap.add_argument("--heads", action="store_true")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--excerpts", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--losses", default="triplet,contrastive,both")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layouts", default="4,8,16")
    ap.add_argument("--fit-on-eval", action="store_true", help="also standardise each set on itself")
    args = ap.parse_args()
    torch.set_num_threads(1)
    loaded = [load(path) for path in args.train]
    n_excerpts = min(f.shape[1] for f, _ in loaded)
    train = np.concatenate([subset(f, n_excerpts) for f, _ in loaded])
    train_albums = np.concatenate([a for _, a in loaded])
    std = BlockStandardiser()
    std.fit(torch.from_numpy(train.reshape(-1, train.shape[-1])))
    sets = {"train": (train, train_albums)}
    for spec in args.eval:
        name, path = spec.split("=", 1)
        sets[name] = load(Path(path))
    if not args.heads:
        for n in [int(v) for v in args.layouts.split(",")]:
            for name, (feats, albums) in sets.items():
                f = subset(feats, n)
                raw = f.mean(axis=1)
                with torch.no_grad():
                    z = std(torch.from_numpy(f.reshape(-1, f.shape[-1]))).numpy().reshape(f.shape[0], n, -1)
                print(f"{n:2d} excerpts  {name:9s} raw mean      {score(raw, albums)}")
                print(
                    f"{n:2d} excerpts  {name:9s} standardised  {score(song_vectors(z), albums)}", flush=True
                )
                if args.fit_on_eval and name != "train":
                    own = BlockStandardiser()
                    flat = torch.from_numpy(f.reshape(-1, f.shape[-1]))
                    own.fit(flat)
                    with torch.no_grad():
                        z = own(flat).numpy().reshape(f.shape[0], n, -1)
                    own_line = score(song_vectors(z), albums)
                    print(f"{n:2d} excerpts  {name:9s} on itself     {own_line}", flush=True)
        return
    for loss in args.losses.split(","):
        if args.epochs == 0 and loss != args.losses.split(",")[0]:
            break
        model = train_head(
            subset(train, 16) if train.shape[1] >= 16 else train,
            train_albums,
            loss,
            args.epochs,
            args.dim,
            args.lr,
            hidden=args.hidden,
        )
        for name, (feats, albums) in sets.items():
            X = head_vectors(model, subset(feats, args.excerpts))
            line = f"head {loss:11s} {args.epochs:3d} ep dim {args.dim}  {name:9s}"
            print(line, score(X, albums, best=False), flush=True)


if __name__ == "__main__":
    main()
