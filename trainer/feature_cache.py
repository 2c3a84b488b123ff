"""Train a head on a frozen pretrained front end from cached front-end outputs.

Why: the pretrained musicnn front end costs ~90 ms per 3-s crop on one CPU core, while the head
on top of it costs well under a millisecond.  A model that says ``frozen_frontend = True`` never
changes its front end, so each crop's front-end output can be computed once — a fixed set of
crops per song, cut from the training segments — and every epoch then draws from those vectors.
An epoch that would take minutes takes a second, which is what makes training a head (and
*Tools ▸ Adapt the model to this library*) practical on a laptop.

:class:`FeatureCache` quacks like :class:`trainer.data.SegmentCache` (``songs``, ``mels``,
``crop``, ``centre_crops``), so every training source works unchanged: a "crop" is one cached
vector, shaped ``(D, 1)`` like a one-frame spectrogram, and :class:`HeadOnly` feeds it to the
model's head.  Log-mel augmentations do not apply to vectors; the crops' different positions are
the views, and the head's dropout the noise.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError

from .atomic import atomic_path
from .data import SegmentCache
from .jobs import ProgressFn, StopFn, check_stop, report

#: Crops per training segment: start, middle and end of each segment.
CROPS_PER_SEGMENT = 3


class HeadOnly(torch.nn.Module):
    """``model.head`` on cached front-end vectors batched as ``(B, 1, D, 1)``."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.head(x.flatten(1))


def uses_cached_frontend(model: torch.nn.Module) -> bool:
    return bool(getattr(model, "frozen_frontend", False)) and callable(getattr(model, "head", None))


class FeatureCache(SegmentCache):
    """``mels[i]`` is ``(crops, D, 1)`` float32: the frozen front end's output for song ``songs[i]``."""

    def crop(self, song: int, generator: torch.Generator, segment: int | None = None) -> np.ndarray:
        crops = self.mels[song]
        k = int(torch.randint(len(crops), (1,), generator=generator)) if segment is None else segment
        return crops[k]

    def centre_crops(self, song: int) -> np.ndarray:
        crops = self.mels[song]
        return crops[CROPS_PER_SEGMENT // 2 :: CROPS_PER_SEGMENT]  # each segment's middle crop

    @classmethod
    def from_segments(
        cls,
        segments: SegmentCache,
        model: torch.nn.Module,
        device: torch.device,
        *,
        cache_dir: Path | None = None,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        batch: int = 32,
    ) -> FeatureCache:
        """Run ``model.frontend`` once over fixed crops of every song's segments."""
        key = _key(segments, model)
        cached = _load(cache_dir, key, segments) if cache_dir else None
        if cached is not None:
            return cached
        want = segments.cfg.n_frames
        model = model.to(device).eval()
        out: list[np.ndarray] = []
        for i, segs in enumerate(segments.mels):
            check_stop(should_stop)
            frames = segs.shape[-1]
            starts = np.unique(np.linspace(0, max(0, frames - want), CROPS_PER_SEGMENT).round().astype(int))
            starts = np.resize(starts, CROPS_PER_SEGMENT)  # short segments: repeat the crops they have
            crops = np.stack([seg[:, s : s + want] for seg in segs for s in starts]).astype(np.float32)
            vectors = []
            with torch.no_grad():
                for b in range(0, len(crops), batch):
                    x = torch.from_numpy(crops[b : b + batch])[:, None].to(device)
                    vectors.append(model.frontend(x).float().cpu())
            out.append(torch.cat(vectors).numpy()[:, :, None])
            report(
                progress,
                i + 1,
                len(segments.mels),
                f"pretrained features of the training audio {i + 1}/{len(segments.mels)}",
            )
        cache = cls(segments.songs, out, segments.cfg)
        if cache_dir:
            _save(cache, cache_dir, key)
        return cache

    def flat(self) -> np.ndarray:
        """Every cached vector, ``(songs × crops, D)`` — what the head's statistics are fitted on."""
        return np.concatenate([m[:, :, 0] for m in self.mels])


def _key(segments: SegmentCache, model: torch.nn.Module) -> str:
    """The segments' own cache key (songs, sizes, mtimes, features) and the front end's weights."""
    h = hashlib.sha256(SegmentCache._key(segments.songs, segments.cfg).encode())
    h.update(str(CROPS_PER_SEGMENT).encode())
    h.update(str([m.shape for m in segments.mels[:1]]).encode())
    for name, tensor in sorted(model.state_dict().items()):
        if name.startswith("backbone."):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _save(cache: FeatureCache, cache_dir: Path, key: str) -> None:
    from safetensors.numpy import save_file

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache_dir / f"frontend-{key}.safetensors") as tmp:
            save_file(
                {"features": np.stack(cache.mels)},
                str(tmp),
                metadata={"rels": json.dumps([s.rel for s in cache.songs])},
            )
    except (OSError, ValueError, SafetensorError):
        pass  # the cache only saves time


def _load(cache_dir: Path, key: str, segments: SegmentCache) -> FeatureCache | None:
    from safetensors import safe_open

    path = cache_dir / f"frontend-{key}.safetensors"
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            rels = json.loads((f.metadata() or {}).get("rels", "[]"))
            features = f.get_tensor("features")
    except (OSError, ValueError, SafetensorError):
        return None
    if rels != [s.rel for s in segments.songs] or features.ndim != 4 or not np.isfinite(features).all():
        return None
    return FeatureCache(segments.songs, list(features.astype(np.float32)), segments.cfg)
