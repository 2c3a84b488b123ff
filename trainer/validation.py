"""How a model does while it trains: the per-epoch validation score, and the song embeddings the
neighbour source and the score are computed from (centre crops, aggregated as the indexer does)."""

from __future__ import annotations

import numpy as np
import torch

from .data import SegmentCache
from .evaluate import triplet_correct
from .jobs import StopFn, check_stop


@torch.no_grad()
def cached_song_embeddings(
    model: torch.nn.Module,
    cache: SegmentCache,
    songs: list[int],
    device: torch.device,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """Mean of L2-normalised centre-crop embeddings per song (as the indexer aggregates)."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for k, s in enumerate(songs):
            if k % 64 == 0:
                check_stop(should_stop)
            x = torch.from_numpy(cache.centre_crops(s).astype(np.float32))[:, None].to(device)
            e = torch.nn.functional.normalize(model(x).float(), dim=1).mean(0)
            out.append(e.cpu().numpy())
    finally:
        model.train(was_training)
    return np.stack(out) if out else np.zeros((0, 1), np.float32)


def validation_score(
    model: torch.nn.Module,
    cache: SegmentCache,
    val: list[int],
    device: torch.device,
    source: str,
    val_triplets: list[tuple[int, int, int]] | None = None,
) -> float | None:
    """Percent correct: held-out CSV triplets; (folders) held-out songs whose nearest training song
    is from their album; (self) excerpts whose nearest other-excerpt comes from the same song."""
    if source == "csv" and val_triplets:
        ids = sorted({i for t in val_triplets for i in t})
        pos = {s: k for k, s in enumerate(ids)}
        emb = cached_song_embeddings(model, cache, ids, device)
        idx = np.array([[pos[a], pos[p], pos[n]] for a, p, n in val_triplets])
        return float(triplet_correct(emb, idx, np.full(len(idx), 2), "cosine", "Normalizer").mean() * 100)
    if source in ("folders", "both") and val:
        # Held-out songs query the training songs: percent whose nearest neighbour shares their album.
        # (Works with one held-out song per album, where odd-one-out triplets among them could not.)
        train_ids = [i for i in range(len(cache.songs)) if i not in set(val)]
        emb_val = cached_song_embeddings(model, cache, val, device)
        emb_train = cached_song_embeddings(model, cache, train_ids, device)
        nearest = (emb_val @ emb_train.T).argmax(axis=1)
        hits = [
            cache.songs[v].album == cache.songs[train_ids[n]].album for v, n in zip(val, nearest, strict=True)
        ]
        return float(np.mean(hits) * 100)
    return _excerpt_retrieval(model, cache, device)


@torch.no_grad()
def _excerpt_retrieval(model: torch.nn.Module, cache: SegmentCache, device: torch.device) -> float:
    """Self-supervised: percent of the first excerpts of up to 64 songs whose nearest last excerpt
    is from the same song."""
    songs = list(range(min(64, len(cache.songs))))
    was_training = model.training
    model.eval()
    try:
        crops = [cache.centre_crops(s) for s in songs]
        a = torch.from_numpy(np.stack([c[0] for c in crops]).astype(np.float32))[:, None].to(device)
        b = torch.from_numpy(np.stack([c[-1] for c in crops]).astype(np.float32))[:, None].to(device)
        ea = torch.nn.functional.normalize(model(a).float(), dim=1)
        eb = torch.nn.functional.normalize(model(b).float(), dim=1)
    finally:
        model.train(was_training)
    hits = (ea @ eb.T).argmax(dim=1).cpu().numpy() == np.arange(len(songs))
    return float(hits.mean() * 100)
