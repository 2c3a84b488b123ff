"""Fast recipe experiments for the default model (docs/QUALITY.md): minutes per recipe, not hours.

Decodes every song once into a cache of log-mel excerpts (``--excerpts`` per song), then trains a
model in memory and scores it on the held-out games after every ``--eval-every`` epochs: album
odd-one-out at cosine-Normalizer and the best of the 27 cells (the same 5,000 triplets each time),
P@1 and MAP@R.  ``musicsim bench`` stays the authoritative measurement; this is for choosing.

    python research/quality_lab.py --corpus CORPUS --held-out warzone2100,nexuiz [recipe options]
    python research/quality_lab.py ... --init default --train-on held-out --neighbours 0.5

Recipe options: ``--album W`` adds a SupCon term on folder labels, ``--set-size S`` makes each
view the mean of S excerpts, ``--neighbours P`` uses nearest-neighbour positives, ``--extra DIR``
adds training music (e.g. from build_extra_corpus.py), ``--pitch-shift`` augments.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_metric_learning.losses import SupConLoss

from trainer.augment import LIGHT, Augmenter
from trainer.config import FeatureConfig
from trainer.data import library_songs, nearest_others
from trainer.decode import decode_many
from trainer.evaluate import album_triplets, retrieval_scores, triplet_scores
from trainer.features import LogMel
from trainer.models import build_model
from trainer.modelstore import load_model


def cached_excerpts(root: Path, n_excerpts: int, cache: Path) -> tuple[list[str], np.ndarray]:
    """``(paths, mels (songs, excerpts, n_mels, frames) float16)``, decoded once per corpus."""
    if cache.is_file():
        with np.load(cache) as data:
            return [str(p) for p in data["paths"]], data["mels"]
    cfg = replace(FeatureConfig(), n_excerpts=n_excerpts)
    logmel, out = LogMel(cfg), {}
    for dec in decode_many([s.path for s in library_songs(root)], cfg, want_tags=False):
        if dec.waves is not None:
            with torch.no_grad():
                out[str(dec.path)] = logmel(torch.from_numpy(dec.waves))[:, 0].numpy().astype(np.float16)
    paths = sorted(out)
    mels = np.stack([out[p] for p in paths])
    np.savez(cache, paths=np.array(paths), mels=mels)
    return paths, mels


@torch.no_grad()
def song_embeddings(model: torch.nn.Module, mels: np.ndarray, batch: int = 256) -> np.ndarray:
    """Mean of L2-normalised excerpt embeddings per song, as the indexer aggregates."""
    model.eval()
    n, e = mels.shape[:2]
    flat = torch.from_numpy(mels.reshape(n * e, 1, *mels.shape[2:]).astype(np.float32))
    out = torch.cat([F.normalize(model(flat[i : i + batch]), dim=1) for i in range(0, len(flat), batch)])
    return out.reshape(n, e, -1).mean(1).numpy()


def report(tag: str, X: np.ndarray, labels: np.ndarray, idx: np.ndarray, odd: np.ndarray) -> None:
    rows = triplet_scores(X, idx, odd)
    cos_n = next(r.score_percent for r in rows if (r.distance, r.scaler) == ("cosine", "Normalizer"))
    best = max(rows, key=lambda r: r.score_percent)
    p1, mapr = retrieval_scores(X, labels)
    print(
        f"{tag:12s} cosine-Normalizer {cos_n:5.1f} %  best {best.score_percent:5.1f} % "
        f"({best.distance}-{best.scaler})  P@1 {100 * p1:5.1f} %  MAP@R {100 * mapr:5.1f} %",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--held-out", default="warzone2100,nexuiz", help="games (top folders) never trained on")
    p.add_argument("--extra", type=Path, help="more training music (never evaluated)")
    p.add_argument(
        "--extra-held-out",
        default="",
        help="games of --extra never trained on, scored as a second held-out set",
    )
    p.add_argument(
        "--no-extra-training",
        action="store_true",
        help="train on none of --extra (a baseline for --extra-held-out)",
    )
    p.add_argument("--excerpts", type=int, default=32)
    p.add_argument("--cache-dir", type=Path, default=Path("quality-lab-cache"))
    p.add_argument("--arch", default="musicnet-hybrid-small")
    p.add_argument("--init", help="start from this model (name or folder)")
    p.add_argument("--train-on", choices=["training", "held-out"], default="training")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--steps", type=int, default=30, help="batches per epoch")
    p.add_argument("--songs", type=int, default=32, help="songs per batch (two views each)")
    p.add_argument("--set-size", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--album", type=float, default=0.0)
    p.add_argument("--neighbours", type=float, default=0.0)
    p.add_argument("--mutual", action="store_true", help="neighbour positives only between mutual neighbours")
    p.add_argument("--pitch-shift", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    a.cache_dir.mkdir(parents=True, exist_ok=True)
    paths, mels = cached_excerpts(a.corpus, a.excerpts, a.cache_dir / f"corpus-{a.excerpts}.npz")
    albums = np.array(["/".join(Path(q).relative_to(a.corpus).parts[:2]) for q in paths])
    held = np.isin([Path(q).relative_to(a.corpus).parts[0] for q in paths], a.held_out.split(","))
    held2 = np.zeros(len(paths), bool)  # second held-out set, from --extra-held-out
    if a.extra:
        extra_cache = a.cache_dir / f"extra-{a.excerpts}.npz"
        extra_paths, extra_mels = cached_excerpts(a.extra, a.excerpts, extra_cache)
        extra_games = [Path(q).relative_to(a.extra).parts[0] for q in extra_paths]
        albums = np.concatenate([albums, ["extra/" + g for g in extra_games]])
        mels = np.concatenate([mels, extra_mels])
        held = np.concatenate([held, np.zeros(len(extra_paths), bool)])
        held2 = np.concatenate([held2, np.isin(extra_games, [g for g in a.extra_held_out.split(",") if g])])
    idx, odd = album_triplets(albums[held], 5000, seed=0)
    idx2, odd2 = album_triplets(albums[held2], 5000, seed=0) if held2.any() else (None, None)

    def evaluate(tag: str) -> None:
        report(tag, song_embeddings(model, mels[held]), albums[held], idx, odd)
        if idx2 is not None:
            report("  extra held", song_embeddings(model, mels[held2]), albums[held2], idx2, odd2)

    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model = load_model(a.init).model if a.init else build_model(a.arch, FeatureConfig())
    trainable = ~held & ~held2
    if a.no_extra_training:
        trainable[len(paths) :] = False
    train_ids = np.flatnonzero(held if a.train_on == "held-out" else trainable)
    _, album_id = np.unique(albums, return_inverse=True)
    augment = Augmenter(replace(LIGHT, pitch_shift_bins=a.pitch_shift))
    supcon = SupConLoss(temperature=0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=a.lr, total_steps=a.epochs * a.steps, pct_start=0.1
    )
    evaluate("start")
    started = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        partner = {int(s): int(s) for s in train_ids}
        if a.neighbours > 0:
            nearest = nearest_others(song_embeddings(model, mels[train_ids][:, ::4]))
            partner = dict(zip(train_ids.tolist(), train_ids[nearest].tolist(), strict=True))
            if a.mutual:
                partner = {s: (t if partner[t] == s else s) for s, t in partner.items()}
        model.train()
        for _ in range(a.steps):
            songs = rng.choice(train_ids, min(a.songs, len(train_ids)), replace=False)
            picks = np.stack([rng.choice(mels.shape[1], 2 * a.set_size, replace=False) for _ in songs])
            source = np.repeat(songs[:, None], 2 * a.set_size, 1)
            swap = rng.random(len(songs)) < a.neighbours
            source[swap, a.set_size :] = np.array([partner[int(s)] for s in songs[swap]])[:, None]
            x = torch.from_numpy(mels[source, picks].astype(np.float32)).reshape(-1, 1, *mels.shape[2:])
            x = augment(x)
            z = F.normalize(model(x), dim=1).reshape(len(songs), 2, a.set_size, -1).mean(2)
            z = F.normalize(z, dim=-1).reshape(2 * len(songs), -1)
            # SupCon: NT-Xent when each song has exactly two views, plus an optional album term
            loss = supcon(z, torch.from_numpy(np.repeat(songs, 2)))
            if a.album > 0:
                loss = loss + a.album * supcon(z, torch.from_numpy(album_id[np.repeat(songs, 2)]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch % a.eval_every == 0 or epoch == a.epochs:
            evaluate(f"epoch {epoch}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
