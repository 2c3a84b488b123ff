"""MusicSim's models on the pretrained musicnn front end (the port is :mod:`trainer.models.musicnn`).

Both keep musicnn frozen and differ in what they put on its pooled layers:

* ``musicnn-msd`` — the raw features: ``[max_pool, mean_pool]`` standardised with statistics of
  training music and L2-normalised per block (1506-d); the baseline every head must beat.
* ``musicnn-msd-head`` — the default: the same, projected to ≤ 256 dimensions in three named parts
  (timbre, rhythm, texture) plus a residual MLP that the thesis's losses train.

Training only ever runs their :meth:`head` on cached front-end vectors (``frozen_frontend``,
``trainer/feature_cache.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import FeatureConfig
from trainer.errors import ParameterError
from trainer.models.musicnn import MUSICNN_FEATURES, N_MELS, POOLED_CHANNELS, MusiCNN, load_pretrained
from trainer.models.registry import register
from trainer.parts import musicnn_head_sizes, musicnn_pooled_parts


def _check_features(cfg: FeatureConfig) -> None:
    wanted = (16000, 512, 256, N_MELS, "log10_1p")
    got = (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.log_compression)
    if got != wanted:
        raise ParameterError(
            "musicnn models need its own input (16 kHz, n_fft 512, hop 256, 96 mel bands, "
            f"log10(1 + 10000·mel)); got sample_rate/n_fft/hop/n_mels/compression = {got}"
        )


class BlockStandardiser(nn.Module):
    """Standardises ``[max_pool, mean_pool]`` per dimension with statistics of training music,
    then L2-normalises each 753-d block so both have the same say in a cosine distance.

    Why: the raw pooled layers are dominated by a few high-variance channels (issue 15's
    measurement: standardised and block-normalised, odd-one-out rose from 63 to 72 %).  The
    statistics are buffers, fitted by :meth:`fit` (on excerpt features of the training music) and
    saved with the weights; unfitted, it only L2-normalises the blocks."""

    def __init__(self, dim: int = 2 * POOLED_CHANNELS, blocks: int = 2) -> None:
        super().__init__()
        self.blocks = blocks
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, features: torch.Tensor) -> None:
        features = features.double()
        self.mean.copy_(features.mean(dim=0).float())
        self.std.copy_(features.std(dim=0).clamp_min(1e-4).float())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = (features - self.mean) / self.std
        parts = z.chunk(self.blocks, dim=1)
        return torch.cat([F.normalize(p, dim=1) for p in parts], dim=1)


class PretrainedMusicnn(nn.Module):
    """Frozen musicnn, its pooled layers standardised: the raw pretrained features (1506-d).

    ``frozen_frontend`` tells training that :meth:`frontend` never changes, so its outputs can be
    computed once per excerpt and cached (``trainer/feature_cache.py``); only :meth:`head` trains.
    """

    frozen_frontend = True
    #: NCHW is faster here: every block ends in a max over frequency, the innermost axis in NCHW
    #: (``trainer.embed.fast_cpu_model`` would convert to NHWC, 3× slower for this network).
    fast_cpu_layout = False
    #: The network costs ~6× the decoding of its excerpts: indexing gives it every core
    #: (``trainer.embed.Embedder.embed_files``).
    compute_bound = True

    def __init__(self, cfg: FeatureConfig, pretrained: bool = True) -> None:
        super().__init__()
        _check_features(cfg)
        self.backbone = MusiCNN(n_mels=cfg.n_mels)
        if pretrained:
            load_pretrained(self.backbone)
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.standardise = BlockStandardiser()
        self.embedding_dim = 2 * POOLED_CHANNELS
        self.frontend_dim = 2 * POOLED_CHANNELS

    def train(self, mode: bool = True) -> PretrainedMusicnn:
        super().train(mode)
        self.backbone.eval()  # frozen: its batch norms keep the statistics it was trained with
        return self

    def fit_statistics(self, features: torch.Tensor) -> None:
        """Fit the standardisation on front-end vectors of training music ``(N, 1506)``."""
        self.standardise.fit(features)

    def frontend(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.backbone.pooled(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.standardise(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.frontend(x))


class MusicnnHead(PretrainedMusicnn):
    """Frozen musicnn + standardised pooled layers + a learnt head to ``embedding_dim`` (≤ 256).

    The output has three parts a listener can name — timbre, rhythm, texture (half, a quarter, a
    quarter of the columns; :data:`trainer.parts.MUSICNN_PARTS`) — so the results can say which one
    a neighbour is alike in.  Each part's linear path starts as the principal directions of that
    part's columns of the standardised, block-normalised training features
    (:meth:`fit_statistics`), and the parts keep the weight those columns have in the 1506-d
    features, so an untrained head is the pretrained features' geometry in 128 dimensions (it
    scores what they score on every set we have; one joint projection did as well, renormalising
    each part did worse: docs/QUALITY.md).  A residual MLP over all 1506 starts at zero; training
    with triplet or NT-Xent loss moves the head from there.
    """

    def __init__(
        self, cfg: FeatureConfig, embedding_dim: int = 128, hidden: int = 512, pretrained: bool = True
    ) -> None:
        super().__init__(cfg, pretrained=pretrained)
        if not 4 <= embedding_dim <= 256:
            raise ParameterError(f"a musicnn head maps to 4 to 256 dimensions, got {embedding_dim}")
        self.sizes = musicnn_head_sizes(embedding_dim)
        # each part's columns of [max_pool, mean_pool], as trainer.parts names them for the raw features
        parts = musicnn_pooled_parts(self.frontend_dim)
        for k, part in enumerate(parts):
            self.register_buffer(f"columns{k}", torch.tensor(part.columns), persistent=False)
        self.project = nn.ModuleList(
            nn.Linear(len(part.columns), size) for part, size in zip(parts, self.sizes, strict=True)
        )
        for layer in self.project:  # until fitted: random projections
            nn.init.normal_(layer.weight, std=1.0 / layer.in_features**0.5)
            nn.init.zeros_(layer.bias)
        d_in = self.frontend_dim
        self.mlp = nn.Sequential(
            nn.Dropout(0.1), nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, embedding_dim)
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)
        self.embedding_dim = embedding_dim

    def _parts_in(self, z: torch.Tensor) -> list[torch.Tensor]:
        return [z[:, getattr(self, f"columns{k}")] for k in range(len(self.sizes))]

    @torch.no_grad()
    def fit_statistics(self, features: torch.Tensor) -> None:
        """Standardisation, then each part's projection onto the principal directions of that part
        of the standardised training vectors ``(N, 1506)``.

        The projection does not subtract the training music's mean (its bias stays zero): the raw
        features are compared uncentred, and centring on a few training games cost the head 0.3
        to 2 points of odd-one-out against them on every set measured (docs/QUALITY.md, "Why
        the head sat below the raw features")."""
        self.standardise.fit(features)
        for layer, part in zip(self.project, self._parts_in(self.standardise(features)), strict=True):
            part = part.double()
            _, _, v = torch.linalg.svd(part - part.mean(dim=0), full_matrices=False)
            weight = torch.zeros_like(layer.weight, dtype=torch.float64)
            k = min(layer.out_features, v.shape[0])
            weight[:k] = v[:k]
            layer.weight.copy_(weight.float())
            layer.bias.zero_()

    def head(self, features: torch.Tensor) -> torch.Tensor:
        z = self.standardise(features)
        parts = zip(self.project, self._parts_in(z), strict=True)
        return torch.cat([layer(part) for layer, part in parts], dim=1) + self.mlp(z)


@register(
    "musicnn-msd",
    family="pretrained",
    features=MUSICNN_FEATURES,
    description="musicnn (MSD, pretrained on ~200k songs, frozen): its max- and mean-pooled layers, "
    "standardised (1506-d); training only fits the standardisation to a library. The "
    "baseline every trained head must beat",
)
def musicnn_msd(cfg: FeatureConfig, embedding_dim: int = 1506) -> nn.Module:  # noqa: ARG001 - fixed size
    return PretrainedMusicnn(cfg)


@register(
    "musicnn-msd-head",
    family="pretrained",
    default_batch_size=64,
    default_loss="triplet",
    features=MUSICNN_FEATURES,
    description="musicnn (MSD, frozen) + a learnt head to <= 256-d in three parts: timbre, rhythm, texture "
    "(triplet or NT-Xent on cached pretrained features: fast on a CPU)",
)
def musicnn_msd_head(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return MusicnnHead(cfg, embedding_dim=embedding_dim)
