"""Turn decoded excerpts into one embedding per song.

A song's embedding is the mean of its excerpts' L2-normalised embeddings (for trained models):
each excerpt votes with equal weight whatever its loudness, the mean stays meaningful under
cosine and euclidean distances, and a quiet intro cannot dominate.  The classic-features model
is averaged without normalisation, since its dimensions are statistics with their own scales.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .audio import load_excerpts
from .decode import Decoded, decode_many
from .features import LogMel
from .jobs import ProgressFn, StopFn, check_stop, report
from .modelstore import LoadedModel


@dataclass
class EmbedResult:
    path: Path
    embedding: np.ndarray | None
    decoded: Decoded


class Embedder:
    """Runs one loaded model over waveforms on one device, in batches of excerpts."""

    def __init__(self, loaded: LoadedModel, device: torch.device | str | None = None,
                 batch_excerpts: int = 64) -> None:
        self.loaded = loaded
        self.cfg = loaded.info.features
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.model = loaded.model.to(self.device).eval()
        if self.device.type == "cpu":
            # NHWC lets oneDNN pick its fast convolution kernels: 1.2-1.9x faster inference for
            # every registered architecture on a 2-core CPU, same outputs to float rounding
            # (benchmarks/bench_index.py, docs/PERFORMANCE.md).  Converts the loaded model in place.
            self.model = self.model.to(memory_format=torch.channels_last)
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
            x = torch.from_numpy(np.ascontiguousarray(waves[start:start + self.batch_excerpts]))
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
        return [self.aggregate(flat[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    def embed_file(self, path: str | Path) -> np.ndarray:
        """Embed one file (e.g. a query that is not in the library).  Raises ``AudioError``."""
        return self.embed_songs([load_excerpts(Path(path), self.cfg).waves])[0]

    def embed_files(self, paths: Iterable[Path], *, workers: int | None = None,
                    progress: ProgressFn | None = None, should_stop: StopFn | None = None,
                    songs_per_batch: int = 8, want_tags: bool = True) -> Iterator[list[EmbedResult]]:
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
