"""musicnn (Pons & Serra, MTG-UPF, 2019) in PyTorch, and the models MusicSim builds on it.

Why a pretrained network: musicnn's ``MSD_musicnn`` learnt to tag about 200,000 songs of the
Million Song Dataset; its pooled layers describe music we never trained on far better than any
network we can train from scratch on a few hundred tracks (issue 15, docs/QUALITY.md).  The
weights come from the ``musicnn`` wheel (ISC licence, ``resources/pretrained/musicnn/``),
converted once by ``benchmarks/convert_musicnn.py``; this module re-implements the TensorFlow
graph of ``musicnn/models.py`` layer by layer, and ``tests/test_musicnn.py`` checks it against
the TensorFlow model's own outputs.

The network (input: 187 frames × 96 mel bands of ``log10(1 + 10000·mel)`` at 16 kHz):

* front end: batch norm of the input, then *timbral* filters spanning 7 frames × 38 and × 67 mel
  bands (204 each) and *temporal* filters spanning 128, 64 and 32 frames × 1 band (51 each), each
  ReLU → batch norm → max over frequency: 561 channels per frame;
* mid end: three 1-D convolutions of 7 frames (64 channels; the 2nd and 3rd residual), densely
  connected: 561 + 3 × 64 = 753 channels per frame;
* back end: max and mean over time (753 each), batch norm, a 200-unit dense layer (the
  "penultimate" layer) and 50 tag logits.

Details that matter for parity: TensorFlow's batch norm uses eps = 1e-3 (PyTorch's default is
1e-5); "same" padding puts the odd extra frame at the end; the back end flattens ``(753, 2)``
``[max, mean]`` pairs interleaved; every conv is conv → ReLU → batch norm (in that order).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import FeatureConfig
from trainer.errors import ModelError, ParameterError
from trainer.models.registry import register
from trainer.parts import MUSICNN_PARTS, MUSICNN_POOLED_CHANNELS, musicnn_head_sizes

#: TensorFlow's batch-norm epsilon (``tf.compat.v1.layers.batch_normalization``).
TF_BN_EPS = 1e-3
N_MELS = 96
#: 3 s at 16 kHz, hop 256, as musicnn's ``extractor`` cuts patches (``time_to_frames(3) + 1``).
PATCH_FRAMES = 187
TIMBRAL_FILTERS = 204  # int(1.6 * 128)
TEMPORAL_FILTERS = 51  # int(1.6 * 32)
TEMPORAL_KERNELS = (128, 64, 32)
FRONTEND_CHANNELS = 2 * TIMBRAL_FILTERS + 3 * TEMPORAL_FILTERS  # 561
MIDEND_FILTERS = 64
POOLED_CHANNELS = FRONTEND_CHANNELS + 3 * MIDEND_FILTERS  # 753
assert POOLED_CHANNELS == MUSICNN_POOLED_CHANNELS
BACKEND_UNITS = 200
N_TAGS = 50

#: The tags of the MSD models, in the order of the taggram (musicnn's ``configuration.py``).
MSD_TAGS = (
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
)

#: Where the converted weights ship.
PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "resources" / "pretrained" / "musicnn"
PRETRAINED_WEIGHTS = "MSD_musicnn.safetensors"

#: musicnn's input: librosa's mel filterbank (Slaney scale and area norm, 0–8 kHz) of a 512-point
#: STFT, hop 256, at 16 kHz, power 2, ``log10(1 + 10000·mel)``.  musicnn was trained on 3-s patches
#: (187 frames); MusicSim feeds it 8 excerpts of 1.984 s (exactly 125 centred frames) per song:
#: on the selection games 8 × 2 s scored what 8 × 3 s scored (cosine-Normalizer 69.8 / 70.2 against
#: 69.8 %) at two thirds of the compute, which keeps indexing above 600× real time on two cores;
#: 4 × 3 s lost 3.5 points (docs/QUALITY.md).  The network pools over time, so any length works.
EXCERPT_SECONDS = 1.984
MUSICNN_FEATURES = FeatureConfig(
    sample_rate=16000,
    n_fft=512,
    hop_length=256,
    n_mels=N_MELS,
    f_min=0.0,
    f_max=8000.0,
    excerpt_seconds=EXCERPT_SECONDS,
    n_excerpts=8,
    log_compression="log10_1p",
    log_gain=10000.0,
)


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=TF_BN_EPS)


def _bn1d(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=TF_BN_EPS)


def _conv_relu_bn_max(conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``max over frequency of BN(ReLU(conv(x)))``, ``(B, C, T)``.

    With frozen batch norm (``eval``) the max is taken first: ReLU is monotonic and batch norm is
    ``a·x + b`` per channel, so ``max(a·relu(y) + b) = a·relu(max(y)) + b`` where ``a > 0``, and
    ``a·relu(min(y)) + b`` where ``a < 0`` — computed as a max by flipping those channels' filters.
    That leaves one pass over the large ``(B, C, T, F)`` conv output instead of four: 1.5× faster
    inference, same outputs to float rounding (``tests/test_musicnn.py``)."""
    if bn.training:
        return bn(F.relu(conv(x))).amax(dim=3)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    sign = torch.where(scale < 0, -1.0, 1.0).to(x.dtype)
    y = F.conv2d(x, conv.weight * sign[:, None, None, None], conv.bias * sign)
    extreme = y.amax(dim=3) * sign[:, None]
    return F.batch_norm(
        F.relu(extreme), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps
    )


class MusiCNN(nn.Module):
    """The ``MSD_musicnn`` / ``MTT_musicnn`` graph.  :meth:`layers` returns the pooled layers;
    :meth:`forward` the tag probabilities (the taggram of one patch)."""

    def __init__(
        self, n_mels: int = N_MELS, n_tags: int = N_TAGS, backend_units: int = BACKEND_UNITS
    ) -> None:
        super().__init__()
        self.input_bn = _bn2d(1)
        self.timbral = nn.ModuleList(
            nn.Conv2d(1, TIMBRAL_FILTERS, (7, int(share * n_mels))) for share in (0.4, 0.7)
        )
        self.timbral_bn = nn.ModuleList(_bn2d(TIMBRAL_FILTERS) for _ in range(2))
        self.temporal = nn.ModuleList(nn.Conv2d(1, TEMPORAL_FILTERS, (k, 1)) for k in TEMPORAL_KERNELS)
        self.temporal_bn = nn.ModuleList(_bn2d(TEMPORAL_FILTERS) for _ in TEMPORAL_KERNELS)
        self.midend = nn.ModuleList(
            nn.Conv1d(c, MIDEND_FILTERS, 7, padding=3)
            for c in (FRONTEND_CHANNELS, MIDEND_FILTERS, MIDEND_FILTERS)
        )
        self.midend_bn = nn.ModuleList(_bn1d(MIDEND_FILTERS) for _ in range(3))
        self.pool_bn = _bn1d(2 * POOLED_CHANNELS)
        self.dense = nn.Linear(2 * POOLED_CHANNELS, backend_units)
        self.dense_bn = _bn1d(backend_units)
        self.logits = nn.Linear(backend_units, n_tags)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """Log-mel ``(B, 1, n_mels, T)`` (MusicSim's layout) -> the densely connected frame
        features ``(B, 753, T)``."""
        x = self.input_bn(x.transpose(2, 3))  # (B, 1, T, F): TensorFlow's time × frequency image
        padded = F.pad(x, (0, 0, 3, 3))
        front = [_conv_relu_bn_max(conv, bn, padded) for conv, bn in zip(self.timbral, self.timbral_bn)]
        for conv, bn in zip(self.temporal, self.temporal_bn):
            total = conv.kernel_size[0] - 1  # TensorFlow "same": the odd frame goes at the end
            front.append(_conv_relu_bn_max(conv, bn, F.pad(x, (0, 0, total // 2, total - total // 2))))
        out = [torch.cat(front, dim=1)]  # (B, 561, T)
        h = self.midend_bn[0](F.relu(self.midend[0](out[0])))
        out.append(h)
        for conv, bn in zip(self.midend[1:], self.midend_bn[1:]):
            h = bn(F.relu(conv(h))) + h
            out.append(h)
        return torch.cat(out, dim=1)

    def layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``max_pool``, ``mean_pool`` (753 each), ``penultimate`` (200) and ``taggram`` (50)."""
        frames = self.frames(x)
        max_pool, mean_pool = frames.amax(dim=2), frames.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF: (753, 2) flattened
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(flat))))
        return {
            "max_pool": max_pool,
            "mean_pool": mean_pool,
            "penultimate": penultimate,
            "taggram": torch.sigmoid(self.logits(penultimate)),
        }

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``[max_pool, mean_pool]`` ``(B, 1506)``: what MusicSim's models build on (the tag
        layers are not computed)."""
        frames = self.frames(x)
        return torch.cat([frames.amax(dim=2), frames.mean(dim=2)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)["taggram"]


def load_pretrained(backbone: MusiCNN, folder: Path = PRETRAINED_DIR) -> MusiCNN:
    """Fill ``backbone`` with the converted ``MSD_musicnn`` weights shipped in ``folder``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / PRETRAINED_WEIGHTS
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise ModelError(
            f"the pretrained musicnn weights '{path}' are missing or unreadable ({exc}); "
            "reinstall MusicSim or run benchmarks/convert_musicnn.py"
        ) from exc
    try:
        backbone.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"'{path}' does not fit the musicnn port: {exc}") from exc
    return backbone


def pretrained_info(folder: Path = PRETRAINED_DIR) -> dict:
    """The conversion record (``config.json``: source wheel, checkpoint hash, tolerance)."""
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _check_features(cfg: FeatureConfig) -> None:
    wanted = (16000, 512, 256, N_MELS, "log10_1p")
    got = (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.log_compression)
    if got != wanted:
        raise ParameterError(
            "musicnn models need its own input (16 kHz, n_fft 512, hop 256, 96 mel bands, log10(1 + 10000·mel)); "
            f"got sample_rate/n_fft/hop/n_mels/compression = {got}"
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

    def train(self, mode: bool = True) -> "PretrainedMusicnn":
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


#: What the pooled channels listen to (timbre, rhythm, texture): written once, in trainer.parts.
POOLED_PARTS = MUSICNN_PARTS
head_part_sizes = musicnn_head_sizes


def part_columns(start: int, stop: int) -> torch.Tensor:
    """The columns of channels ``start:stop`` in ``[max_pool, mean_pool]``."""
    return torch.cat([torch.arange(start, stop), POOLED_CHANNELS + torch.arange(start, stop)])


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
        self.sizes = head_part_sizes(embedding_dim)
        for k, (_, start, stop) in enumerate(POOLED_PARTS):
            self.register_buffer(f"columns{k}", part_columns(start, stop), persistent=False)
        self.project = nn.ModuleList(
            nn.Linear(2 * (stop - start), size) for (_, start, stop), size in zip(POOLED_PARTS, self.sizes)
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
        return [z[:, getattr(self, f"columns{k}")] for k in range(len(POOLED_PARTS))]

    @torch.no_grad()
    def fit_statistics(self, features: torch.Tensor) -> None:
        """Standardisation, then each part's projection: the centred principal directions of that
        part of the standardised training vectors ``(N, 1506)``."""
        self.standardise.fit(features)
        for layer, part in zip(self.project, self._parts_in(self.standardise(features)), strict=True):
            part = part.double()
            mean = part.mean(dim=0)
            _, _, v = torch.linalg.svd(part - mean, full_matrices=False)
            weight = torch.zeros_like(layer.weight, dtype=torch.float64)
            k = min(layer.out_features, v.shape[0])
            weight[:k] = v[:k]
            layer.weight.copy_(weight.float())
            layer.bias.copy_((-weight @ mean).float())

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
