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

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import FeatureConfig
from trainer.errors import ModelError

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
        front = [
            _conv_relu_bn_max(conv, bn, padded)
            for conv, bn in zip(self.timbral, self.timbral_bn, strict=True)
        ]
        for conv, bn in zip(self.temporal, self.temporal_bn, strict=True):
            total = conv.kernel_size[0] - 1  # TensorFlow "same": the odd frame goes at the end
            front.append(_conv_relu_bn_max(conv, bn, F.pad(x, (0, 0, total // 2, total - total // 2))))
        out = [torch.cat(front, dim=1)]  # (B, 561, T)
        h = self.midend_bn[0](F.relu(self.midend[0](out[0])))
        out.append(h)
        for conv, bn in zip(self.midend[1:], self.midend_bn[1:], strict=True):
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
