"""The thesis's networks (section 3.4.1), rebuilt from its layer tables.

Triplet family: ``model1`` … ``model6``, ``model7-resnet18``, ``model8-resnet50``; contrastive
family: ``contrastive-resnet18``, ``contrastive-resnet50``.  All take log-mel excerpts
``(B, 1, n_mels, n_frames)`` and return ``(B, embedding_dim)``.

Where the thesis leaves a choice open, this module decides as follows:

* **Input size of the first linear layer.**  The tables give no input shape.  The reported
  parameter counts are dominated by the first linear layer, ``C · positions · fc1`` (e.g. Model1:
  7.4M ≈ 64 · 900 · 128), and imply ≈900 spatial positions (solving each table for it gives
  905–907, consistent across Model1–6).  We insert ``nn.AdaptiveAvgPool2d((30, 30))`` before
  flattening, so the counts land within 1% of the thesis for any ``n_mels``/``n_frames``.
  Without it a 96×130 log-mel would give 12,480 positions and Model1 alone ~102M parameters.
* **Pooling.**  ``MaxPool2d(kernel_size=1, stride=1)`` is a no-op, kept because the tables list it.
* **Dropout.**  The thesis gives no rate; ``Dropout2d`` uses PyTorch's default ``p=0.5``.  The
  dropout layers inside Model6's linear stack are listed as ``Dropout2d`` but act on flat
  ``(B, features)`` tensors, where ``Dropout2d`` is deprecated and ill-defined; we use
  ``nn.Dropout(p=0.5)`` there.
* **Activations in the linear stacks of Model1–5.**  The tables' activation column shows "-" for
  the ``fc`` rows; a stack of purely linear layers would collapse into one low-rank linear map, so
  we put ``ReLU`` between linear layers and none after the last (the embedding).  This does not
  change any parameter count.
* **Model6.**  Four ``conv_layer`` blocks (Conv 1×1 → LeakyReLU → BatchNorm2d → MaxPool2d(1)),
  channels 32, 64, 128, 64, as the table lists (the prose says "six CNN layers").  The table's
  126 outputs for ``linear_layer3`` is taken as a typo for 128 (= ``embedding_dim``); the
  LeakyReLU after it is kept as the table says.
* **ResNets.**  ``torchvision`` ResNet-18/50 with ``weights=None`` (never downloaded), ``conv1``
  replaced by ``Conv2d(1, 64, 7, stride=2, padding=3, bias=False)`` as in the thesis and ``fc``
  replaced by ``Linear(in_features, embedding_dim)``.  The thesis's 11.7M/25.6M are the stock
  1000-class ImageNet counts; ours are 11.24M/23.76M because of the 1-channel stem (−6,272)
  and the 128-wide head instead of the 1000-class one.  The contrastive table labels both
  models "ResNet50"; by their counts (11.7M, 25.6M) they are ResNet-18 and ResNet-50.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.config import FeatureConfig
from trainer.models.registry import register

#: Spatial grid the conv features are averaged to before flattening (see module docstring).
FLAT_GRID: tuple[int, int] = (30, 30)
DROPOUT_P = 0.5


class ThesisCNN(nn.Module):
    """Model1–5: 1×1 convs with ReLU, MaxPool2d(1), Dropout2d, pool to 30×30, linear stack.

    Parameters
    ----------
    conv_channels : sequence of int
        Output channels of the successive 1×1 convolutions (input has 1 channel).
    linear_sizes : sequence of int
        Hidden linear widths before the final ``Linear(..., embedding_dim)``.
    embedding_dim : int
        Output size.
    """

    def __init__(self, conv_channels: Sequence[int], linear_sizes: Sequence[int], embedding_dim: int = 128):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 1
        for out_ch in conv_channels:
            layers += [nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=1), nn.ReLU(inplace=True)]
            in_ch = out_ch
        layers += [nn.MaxPool2d(kernel_size=1, stride=1), nn.Dropout2d(p=DROPOUT_P)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(FLAT_GRID)
        fc: list[nn.Module] = []
        n_in = in_ch * FLAT_GRID[0] * FLAT_GRID[1]
        for width in linear_sizes:
            fc += [nn.Linear(n_in, width), nn.ReLU(inplace=True)]
            n_in = width
        fc.append(nn.Linear(n_in, embedding_dim))
        self.fc = nn.Sequential(*fc)
        self.embedding_dim = embedding_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, n_mels, n_frames)`` → ``(B, embedding_dim)``."""
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def _conv_layer(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=1),
        nn.LeakyReLU(inplace=True),
        nn.BatchNorm2d(out_ch),
        nn.MaxPool2d(kernel_size=1, stride=1),
    )


class ThesisModel6(nn.Module):
    """Model6: four conv_layer blocks (32, 64, 128, 64) and three linear_layer blocks."""

    def __init__(self, embedding_dim: int = 128):
        super().__init__()
        self.conv_layer1 = _conv_layer(1, 32)
        self.conv_layer2 = _conv_layer(32, 64)
        self.conv_layer3 = _conv_layer(64, 128)
        self.conv_layer4 = _conv_layer(128, 64)
        self.pool = nn.AdaptiveAvgPool2d(FLAT_GRID)
        n_flat = 64 * FLAT_GRID[0] * FLAT_GRID[1]
        self.linear_layer1 = nn.Sequential(
            nn.Dropout(p=DROPOUT_P), nn.Linear(n_flat, 1024), nn.LeakyReLU(inplace=True)
        )
        self.linear_layer2 = nn.Sequential(
            nn.Dropout(p=DROPOUT_P), nn.Linear(1024, 256), nn.LeakyReLU(inplace=True)
        )
        self.linear_layer3 = nn.Sequential(nn.Linear(256, embedding_dim), nn.LeakyReLU(inplace=True))
        self.embedding_dim = embedding_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, n_mels, n_frames)`` → ``(B, embedding_dim)``."""
        x = self.conv_layer4(self.conv_layer3(self.conv_layer2(self.conv_layer1(x))))
        x = torch.flatten(self.pool(x), 1)
        return self.linear_layer3(self.linear_layer2(self.linear_layer1(x)))


def _resnet(depth: int, embedding_dim: int) -> nn.Module:
    # imported here: torchvision costs seconds at start-up, and only the ResNets need it
    from torchvision.models import resnet18, resnet50

    net = (resnet18 if depth == 18 else resnet50)(weights=None)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.fc = nn.Linear(net.fc.in_features, embedding_dim)
    net.embedding_dim = embedding_dim
    return net


_TRIPLET = "thesis-triplet"


@register(
    "model1",
    family=_TRIPLET,
    thesis_params=7.4e6,
    default_batch_size=32,
    description="Thesis Model1: 2 × 1×1 conv (32, 64), dropout, Linear 128",
)
def model1(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return ThesisCNN((32, 64), (), embedding_dim)


@register(
    "model2",
    family=_TRIPLET,
    thesis_params=59.5e6,
    default_batch_size=32,
    description="Thesis Model2: 3 × 1×1 conv (32–128), dropout, Linear 512-256-128",
)
def model2(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return ThesisCNN((32, 64, 128), (512, 256), embedding_dim)


@register(
    "model3",
    family=_TRIPLET,
    thesis_params=59.6e6,
    default_batch_size=128,
    description="Thesis Model3: 4 × 1×1 conv (32–128), dropout, Linear 512-256-128",
)
def model3(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return ThesisCNN((32, 64, 128, 128), (512, 256), embedding_dim)


@register(
    "model4",
    family=_TRIPLET,
    thesis_params=119.5e6,
    default_batch_size=128,
    description="Thesis Model4: 4 × 1×1 conv (32–128), dropout, Linear 1024-512-256-128",
)
def model4(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return ThesisCNN((32, 64, 128, 128), (1024, 512, 256), embedding_dim)


@register(
    "model5",
    family=_TRIPLET,
    thesis_params=121.6e6,
    default_batch_size=128,
    description="Thesis Model5: 5 × 1×1 conv (32–128–64), dropout, Linear 2048-…-128",
)
def model5(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return ThesisCNN((32, 64, 128, 128, 64), (2048, 1024, 512, 256), embedding_dim)


@register(
    "model6",
    family=_TRIPLET,
    thesis_params=59.7e6,
    default_batch_size=64,
    description="Thesis Model6: 4 conv blocks (1×1 conv, LeakyReLU, BatchNorm), 3 linear blocks",
)
def model6(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return ThesisModel6(embedding_dim)


@register(
    "model7-resnet18",
    family=_TRIPLET,
    thesis_params=11.7e6,
    default_batch_size=128,
    description="Thesis Model7: ResNet-18 with a 1-channel 7×7 stem, triplet loss",
)
def model7_resnet18(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return _resnet(18, embedding_dim)


@register(
    "model8-resnet50",
    family=_TRIPLET,
    thesis_params=25.6e6,
    default_batch_size=128,
    description="Thesis Model8: ResNet-50 with a 1-channel 7×7 stem, triplet loss",
)
def model8_resnet50(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return _resnet(50, embedding_dim)


@register(
    "contrastive-resnet18",
    family="thesis-contrastive",
    thesis_params=11.7e6,
    default_batch_size=32,
    default_loss="contrastive",
    description="Thesis contrastive Model1: ResNet-18 with a 1-channel stem, contrastive loss",
)
def contrastive_resnet18(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return _resnet(18, embedding_dim)


@register(
    "contrastive-resnet50",
    family="thesis-contrastive",
    thesis_params=25.6e6,
    default_batch_size=32,
    default_loss="contrastive",
    description="Thesis contrastive Model2: ResNet-50 with a 1-channel stem, contrastive loss",
)
def contrastive_resnet50(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return _resnet(50, embedding_dim)
