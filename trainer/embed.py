"""Turn decoded excerpts into one embedding per song.

A song's embedding is the mean of its excerpts' L2-normalised embeddings (for trained models):
each excerpt votes with equal weight whatever its loudness, the mean stays meaningful under
cosine and euclidean distances, and a quiet intro cannot dominate.  The classic-features model
is averaged without normalisation, since its dimensions are statistics with their own scales.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .audio import load_excerpts
from .config import FeatureConfig
from .decode import Decoded, decode_many, default_workers, usable_cores
from .features import LogMel
from .jobs import ProgressFn, StopFn, check_stop, report
from .modelstore import LoadedModel


@dataclass
class EmbedResult:
    path: Path
    embedding: np.ndarray | None
    decoded: Decoded


#: Models above this many parameters are not copied for BatchNorm folding (memory over speed).
_FUSE_MAX_PARAMS = 30_000_000


def _has_bn(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())


def _fold_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with every BatchNorm2d that follows a Conv2d folded into it, in place where a
    submodule can be traced (a model with an untraceable branch still gets the rest folded)."""
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(module, inplace=True)
    except Exception:  # noqa: BLE001 - data-dependent control flow: try its children instead
        for name, child in list(module.named_children()):
            if _has_bn(child):
                setattr(module, name, _fold_batchnorm(child))
        return module


def fast_cpu_model(model: torch.nn.Module, cfg: FeatureConfig) -> torch.nn.Module:
    """The same eval-mode model, faster on a CPU; outputs equal to float rounding.

    * NHWC (``channels_last``) lets oneDNN pick its fast convolution kernels: 1.2-1.9x faster
      inference for the CNNs trained here on a 2-core CPU.  Converts ``model`` in place.  A model
      with ``fast_cpu_layout = False`` is left as it is: musicnn reduces over the frequency axis,
      which NHWC makes a strided reduction (3× slower).
    * BatchNorm layers that follow a convolution are folded into it (``torch.fx`` ``fuse``, on a
      copy, ``model`` is left as it is): another ~15% for ``musicnet``.  Skipped for big models
      and whenever the folded copy does not reproduce the model's output.

    Measured in ``benchmarks/bench_index.py``; see docs/PERFORMANCE.md.
    """
    if not getattr(model, "fast_cpu_layout", True):  # a model that tuned its own layout (musicnn)
        return model.eval()
    model = model.eval().to(memory_format=torch.channels_last)
    if not _has_bn(model) or sum(p.numel() for p in model.parameters()) > _FUSE_MAX_PARAMS:
        return model
    try:
        fused = _fold_batchnorm(copy.deepcopy(model)).eval()
        x = torch.randn(2, 1, cfg.n_mels, cfg.n_frames).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            want, got = model(x), fused(x)
        tolerance = 1e-4 * float(want.abs().max())
        if want.shape == got.shape and torch.allclose(want, got, rtol=1e-3, atol=tolerance):
            return fused
    except Exception:  # noqa: BLE001 - folding is only an optimisation: keep the model as it is
        pass
    return model


class Embedder:
    """Runs one loaded model over waveforms on one device, in batches of excerpts."""

    def __init__(
        self, loaded: LoadedModel, device: torch.device | str | None = None, batch_excerpts: int = 32
    ) -> None:
        self.loaded = loaded
        self.cfg = loaded.info.features
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.model = loaded.model.to(self.device).eval()
        if self.device.type == "cpu":
            self.model = fast_cpu_model(self.model, self.cfg)
        self.logmel = LogMel(self.cfg).to(self.device)
        self.batch_excerpts = batch_excerpts
        self.normalise_excerpts = loaded.info.arch != "classic"

    @property
    def dim(self) -> int:
        return int(self.loaded.info.embedding_dim)

    @torch.no_grad()
    def embed_excerpt_batch(self, waves: np.ndarray) -> np.ndarray:
        """``(n, samples)`` -> ``(n, d)`` excerpt embeddings."""
        outs = []
        for start in range(0, len(waves), self.batch_excerpts):
            x = torch.from_numpy(np.ascontiguousarray(waves[start : start + self.batch_excerpts]))
            feats = self.logmel(x.to(self.device))
            outs.append(self.model(feats).float().cpu())
        return torch.cat(outs).numpy()

    def aggregate(self, excerpt_embeddings: np.ndarray) -> np.ndarray:
        e = excerpt_embeddings.astype(np.float32)
        if self.normalise_excerpts:
            e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        out = e.mean(axis=0)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def embed_songs(self, waves_per_song: list[np.ndarray]) -> list[np.ndarray]:
        """Embed several songs in one batched forward pass (what makes indexing fast)."""
        if not waves_per_song:
            return []
        counts = [len(w) for w in waves_per_song]
        flat = self.embed_excerpt_batch(np.concatenate(waves_per_song))
        bounds = np.cumsum([0, *counts])
        return [self.aggregate(flat[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def embed_file(self, path: str | Path) -> np.ndarray:
        """Embed one file (e.g. a query that is not in the library).  Raises ``AudioError``."""
        return self.embed_songs([load_excerpts(Path(path), self.cfg).waves])[0]

    def embed_files(
        self,
        paths: Iterable[Path],
        *,
        workers: int | None = None,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        songs_per_batch: int = 8,
        want_tags: bool = True,
    ) -> Iterator[list[EmbedResult]]:
        """Yield batches of results (one per path, failures included) as they complete."""
        paths = list(paths)
        total = len(paths)
        done = 0
        buffer: list[Decoded] = []

        def flush() -> list[EmbedResult]:
            good = [d for d in buffer if d.waves is not None]
            vectors = iter(self.embed_songs([d.waves for d in good]))  # type: ignore[misc]
            results = [EmbedResult(d.path, next(vectors) if d.waves is not None else None, d) for d in buffer]
            for d in buffer:
                d.waves = None  # free the audio at once: memory stays bounded
            buffer.clear()
            return results

        # The decoder processes keep the cores busy, so the model gets the cores they leave free
        # (at least one).  More torch threads than free cores make OpenMP threads spin-wait for
        # preempted peers: on 2 cores, 2 threads cost 35% more CPU per song than 1
        # (benchmarks/bench_index.py); one thread also leaves the GUI thread room.
        n_workers = default_workers() if workers is None else workers
        threads_before = torch.get_num_threads()
        if self.device.type == "cpu" and n_workers > 0 and total > 2:
            if getattr(self.loaded.model, "compute_bound", False):
                # A network that costs several times the decoding (musicnn: ~85 % of the CPU time)
                # gets every core; one decoder process keeps up with it and mostly sleeps.
                workers = 1 if workers is None else workers
                torch.set_num_threads(max(1, min(threads_before, usable_cores())))
            else:
                torch.set_num_threads(max(1, min(threads_before, usable_cores() - n_workers)))
        try:
            for decoded in decode_many(paths, self.cfg, workers=workers, want_tags=want_tags):
                check_stop(should_stop)
                buffer.append(decoded)
                if len(buffer) >= songs_per_batch:
                    batch = flush()
                    done += len(batch)
                    report(progress, done, total, f"embedded {done}/{total}")
                    yield batch
            if buffer:
                batch = flush()
                done += len(batch)
                report(progress, done, total, f"embedded {done}/{total}")
                yield batch
        finally:
            torch.set_num_threads(threads_before)
