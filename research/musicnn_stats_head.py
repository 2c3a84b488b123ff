#!/usr/bin/env python3
"""An experiment that did not become the default: the musicnn head beside our second-order statistics.

usage: python research/musicnn_stats_head.py --home HOME --train TRAIN_DIR --bench SET_DIR [--bench ...]
                                             [--model OTHER ...]

Registers the architecture ``musicnn-msd-stats`` (in this process only), fits it on TRAIN_DIR
with ``--epochs 0`` as the shipped default is fitted (benchmarks/reproduce_default_model.sh), and
runs one ``musicsim bench`` per SET_DIR with the OTHER models beside it.  docs/QUALITY.md, "musicnn
and the statistics", has what it measured: on the selection games +1.7 points of odd-one-out over
the default and an album-level lead over the previous default; on all 22 unseen albums nothing
(-0.1 odd-one-out, -3.4 P@1), so the default stayed the musicnn head alone.

Why it was tried: musicnn (pretrained on ~200,000 songs) describes what a song *is* — instruments,
genre, mood — but averages away how a soundtrack is *produced*: the spread and co-movement of its
timbre and the balance of its spectrum, which the statistics blocks of ``musicnet-stats-small``
describe without training (Gaussian timbre models, Aucouturier & Pachet 2002, Mandel & Ellis
2005).  On the selection games musicnn alone lost some albums to the previous default by 10 points
or more; the statistics beside it were meant to stop that.

Each excerpt is 6 s of musicnn's own input (16 kHz, its log-mel).  The network hears the centre
1.984 s (``NETWORK_SECONDS``, as the default), the statistics the whole excerpt (a covariance needs
frames).  Output (128-d): the musicnn head's parts (timbre, rhythm, texture; 80 dimensions) and
the timbre, timbre-motion and envelope statistics blocks reduced to 16 directions each (the
modulation block cost 5 points beside musicnn on the selection games), the two halves
L2-normalised with an equal say in a cosine distance.  Training would move only the head's MLP.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import FeatureConfig  # noqa: E402
from trainer.errors import ParameterError  # noqa: E402
from trainer.models.musicnn import MUSICNN_FEATURES, POOLED_CHANNELS  # noqa: E402
from trainer.models.musicnn_heads import MusicnnHead  # noqa: E402
from trainer.models.registry import register  # noqa: E402
from trainer.models.stats import BLOCK_SIZES, ExcerptStatistics, RunningPCA  # noqa: E402
from trainer.parts import COMPONENTS_PER_BLOCK  # noqa: E402

#: Seconds of each excerpt's centre that the network hears (125 frames, as the previous default).
NETWORK_SECONDS = 1.984
#: musicnn's input, in 6-s excerpts: the statistics' covariances need the frames.
MUSICNN_STATS_FEATURES = FeatureConfig(**{**MUSICNN_FEATURES.to_dict(), "excerpt_seconds": 6.0})
#: The statistics blocks kept beside the network (trainer.models.stats names them).
STATS_BLOCKS: tuple[str, ...] = ("timbre", "timbre_motion", "envelope")
N_STATS_IN = sum(BLOCK_SIZES[b] for b in STATS_BLOCKS)
N_STATS_OUT = COMPONENTS_PER_BLOCK * len(STATS_BLOCKS)
#: dB floor below each excerpt's peak, as MusicSim's own log-mel (``FeatureConfig.top_db``).
TOP_DB = 80.0


def log10_1p_to_db(x: torch.Tensor, gain: float, top_db: float = TOP_DB) -> torch.Tensor:
    """musicnn's ``log10(1 + gain·mel)`` ``(B, 1, M, T)`` back to mel power in dB ``(B, M, T)``,
    floored ``top_db`` below each excerpt's peak (what ``torchaudio``'s ``AmplitudeToDB`` does)."""
    power = (torch.pow(10.0, x[:, 0].float()) - 1.0) / gain
    db = 10.0 * torch.log10(power.clamp_min(1e-10))
    peak = db.amax(dim=(1, 2), keepdim=True)
    return torch.maximum(db, peak - top_db)


class MusicnnStats(MusicnnHead):
    """:class:`MusicnnHead` on each excerpt's centre, beside statistics blocks of the whole excerpt.

    ``embedding_dim`` counts both: the head gets ``embedding_dim − 48``.  Like
    :class:`~trainer.models.stats.MusicNetStats`, the output in training mode is only what
    training can change (the head), so the fixed blocks do not dilute the loss.
    """

    def __init__(
        self, cfg: FeatureConfig, embedding_dim: int = 128, hidden: int = 512, pretrained: bool = True
    ) -> None:
        head_dim = embedding_dim - N_STATS_OUT
        if head_dim < 4 or embedding_dim > 256:
            raise ParameterError(
                f"musicnn-msd-stats maps to {N_STATS_OUT + 4} to 256 dimensions "
                f"({N_STATS_OUT} of them statistics), got {embedding_dim}"
            )
        super().__init__(cfg, embedding_dim=head_dim, hidden=hidden, pretrained=pretrained)
        self.network_frames = int(round(NETWORK_SECONDS * cfg.sample_rate)) // cfg.hop_length + 1
        self.log_gain = float(cfg.log_gain)
        self.statistics = ExcerptStatistics(cfg)
        self.reduce = nn.ModuleDict(
            {b: RunningPCA(BLOCK_SIZES[b], COMPONENTS_PER_BLOCK) for b in STATS_BLOCKS}
        )
        self.head_dim = head_dim
        self.embedding_dim = embedding_dim
        self.frontend_dim = 2 * POOLED_CHANNELS + N_STATS_IN

    def frontend(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 96, T)`` → ``[max_pool, mean_pool]`` of the centre ``network_frames``, then the
        statistics blocks of all ``T`` frames (unreduced): what training caches."""
        frames = x.shape[-1]
        n = min(self.network_frames, frames)
        start = (frames - n) // 2
        with torch.no_grad():
            pooled = self.backbone.pooled(x[..., start : start + n])
            blocks = self.statistics.from_db(log10_1p_to_db(x, self.log_gain))
        return torch.cat([pooled, *(blocks[b] for b in STATS_BLOCKS)], dim=1)

    def _split(self, features: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        pooled, stats = features.split([2 * POOLED_CHANNELS, N_STATS_IN], dim=1)
        return pooled, list(stats.split([BLOCK_SIZES[b] for b in STATS_BLOCKS], dim=1))

    @torch.no_grad()
    def fit_statistics(self, features: torch.Tensor) -> None:
        """The head's standardisation and projections, and each block's 16 main directions, from
        front-end vectors of training music ``(N, frontend_dim)``."""
        pooled, blocks = self._split(features)
        super().fit_statistics(pooled)
        for name, block in zip(STATS_BLOCKS, blocks, strict=True):
            self.reduce[name].fit(block)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        pooled, blocks = self._split(features)
        network = super().head(pooled)
        if self.training:
            return network
        stats = torch.cat(
            [
                F.normalize(self.reduce[b](block), dim=1)
                for b, block in zip(STATS_BLOCKS, blocks, strict=True)
            ],
            dim=1,
        )
        return torch.cat([F.normalize(network, dim=1), F.normalize(stats, dim=1)], dim=1)


@register(
    "musicnn-msd-stats",
    family="pretrained",
    default_batch_size=64,
    default_loss="triplet",
    features=MUSICNN_STATS_FEATURES,
    description="Research, not shipped: musicnn (MSD, frozen) + a learnt head in three parts (timbre, "
    "rhythm, texture) beside fixed timbre-spread, timbre-change and spectral-balance statistics",
)
def musicnn_msd_stats(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return MusicnnStats(cfg, embedding_dim=embedding_dim)


def main() -> None:
    from trainer.bench import run_benchmark
    from trainer.cli_bench import by_album_text, summary
    from trainer.train import train
    from trainer.train_config import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--train", type=Path, required=True, help="the training games (statistics only)")
    ap.add_argument("--bench", type=Path, action="append", required=True, help="a set to benchmark on")
    ap.add_argument("--model", action="append", default=[], help="another model to compare with")
    ap.add_argument("--name", default="musicnn-stats-candidate")
    args = ap.parse_args()
    # --epochs 0: the statistics and projections only, as the shipped default is fitted.
    train(
        TrainConfig(library=args.train, arch="musicnn-msd-stats", epochs=0, seed=0, name=args.name),
        home=args.home,
    )
    for library in args.bench:
        results, out = run_benchmark(library, [args.name, *args.model], home=args.home)
        print(f"== {library}\n{summary(results)}\n{by_album_text(results)}\nsaved to {out}")


if __name__ == "__main__":
    main()
