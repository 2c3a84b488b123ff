"""What a training run is built from: :class:`TrainConfig`, checked whole when it is made, so the
command line, the window and code calling the engine all get the same one-line refusals."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import AUGMENTATIONS, LOSSES, SOURCES, FeatureConfig
from .errors import ParameterError
from .modelstore import validate_name


@dataclass
class TrainConfig:
    library: Path
    arch: str = "musicnet"
    loss: str = "triplet"
    source: str = "folders"  # trainer.config.SOURCES
    triplets_csv: Path | None = None
    epochs: int = 10
    batch_size: int | None = None  # None: the architecture's thesis default
    lr: float = 1e-5  # thesis default
    weight_decay: float = 0.0
    device: str = "auto"
    name: str = "my-model"
    seed: int = 0
    margin: float = 0.2
    temperature: float = 0.1
    embedding_dim: int = 128
    segments_per_song: int = 8
    segment_seconds: float = 6.0
    augment: str = "auto"  # trainer.config.AUGMENTATIONS
    pitch_shift_bins: int = 0  # optional extra augmentation: shift along the mel axis
    time_stretch: float = 0.0  # optional extra augmentation: stretch factor range 1 +- x
    init_from: str | None = None  # fine-tune from a model (name or folder)
    neighbours: float = 0.0  # source "self": chance a song's positive is its nearest neighbour
    val_fraction: float = 0.15
    workers: int | None = None
    threads: int | None = None  # cap torch's CPU threads (keeps a GUI responsive)
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def __post_init__(self) -> None:
        """Refuse settings no run can be built from, before anything is decoded or allocated."""
        from .models import get_spec

        validate_name(self.name)
        if self.loss not in LOSSES:
            raise ParameterError(f"unknown loss '{self.loss}'; choose one of: {', '.join(LOSSES)}")
        if self.source not in SOURCES:
            raise ParameterError(
                f"unknown triplet source '{self.source}'; choose one of: {', '.join(SOURCES)}"
            )
        if self.source == "csv" and not self.triplets_csv:
            raise ParameterError("source 'csv' needs a triplets CSV file")
        if self.epochs < 0 or (self.batch_size is not None and self.batch_size < 2) or not self.lr > 0:
            raise ParameterError("epochs must be >= 1, batch size >= 2 and the learning rate > 0")
        if not 0.0 <= self.neighbours <= 1.0:
            raise ParameterError(f"neighbours must be a probability in [0, 1], got {self.neighbours}")
        if self.neighbours > 0 and self.source != "self":
            raise ParameterError("neighbour positives need self-supervised training (no labels)")
        if self.augment not in AUGMENTATIONS:
            raise ParameterError(
                f"unknown augmentation '{self.augment}'; choose one of: {', '.join(AUGMENTATIONS)}"
            )
        if not get_spec(self.arch).trainable:
            raise ParameterError(f"model '{self.arch}' has no trainable parameters")
        _check_bounds(self)

    def identity(self) -> dict[str, Any]:
        """Settings a resumed run must share with the checkpoint (everything but epochs/device)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("epochs", "device", "workers", "threads")}
        d["library"] = str(self.library)
        d["triplets_csv"] = str(self.triplets_csv) if self.triplets_csv else None
        return json.loads(json.dumps(d, default=str))


@dataclass
class EpochStats:
    epoch: int
    epochs: int
    train_loss: float
    val_score: float | None
    seconds: float


#: TrainConfig field -> (type, lowest, highest): every number a run is built from, bounded before
#: anything is decoded or allocated (a NaN or infinite learning rate, temperature 0, seed -1 …).
TRAIN_BOUNDS: dict[str, tuple[type, float, float]] = {
    # epochs 0: only a pretrained front end's statistics are fitted (checked when the model is built)
    "epochs": (int, 0, 100_000),
    "batch_size": (int, 2, 4096),
    "lr": (float, 1e-12, 10.0),
    "weight_decay": (float, 0.0, 10.0),
    "seed": (int, 0, 2**31 - 1),
    "margin": (float, 0.0, 100.0),
    "temperature": (float, 1e-3, 100.0),
    "embedding_dim": (int, 1, 8192),
    "segments_per_song": (int, 1, 64),
    "segment_seconds": (float, 0.5, 120.0),
    "pitch_shift_bins": (int, 0, 48),
    "time_stretch": (float, 0.0, 0.5),
    "neighbours": (float, 0.0, 1.0),
    "val_fraction": (float, 0.0, 0.9),
    "workers": (int, 0, 64),
    "threads": (int, 1, 1024),
}


def _check_bounds(cfg: TrainConfig) -> None:
    from .bounds import number

    for name, (kind, low, high) in TRAIN_BOUNDS.items():
        value = getattr(cfg, name)
        if value is None and name in ("batch_size", "workers", "threads"):
            continue
        try:
            number(value, kind, low, high, name.replace("_", " "))
        except ValueError as exc:
            raise ParameterError(str(exc)) from None
