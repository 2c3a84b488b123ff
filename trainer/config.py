"""Typed configs.  Everything needed to reproduce an embedding is in ``FeatureConfig``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

#: The choices of training and indexing, listed here once for the command line, the window and
#: the engine, without importing torch (start-up stays fast).
DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
LOSSES = ("triplet", "contrastive")
#: Where training learns what is similar (``TrainConfig.source``), and how the window says it.
SOURCES: dict[str, str] = {
    "folders": "Album folders (songs in one folder are similar)",
    "csv": "Triplets CSV (song1,song2,song3,odd)",
    "self": "Self-supervised (excerpts of the same song)",
    "both": "Album folders + self-supervised",
}
#: Log-mel augmentations while training (``auto``: ``thesis`` for contrastive loss, else ``light``).
AUGMENTATIONS = ("auto", "none", "light", "thesis")


@dataclass(frozen=True)
class FeatureConfig:
    """How a file becomes model input: excerpts of log-mel spectrogram.

    22.05 kHz keeps everything below 11 kHz, where timbre and harmony live, at half the cost of
    44.1 kHz.  A song is ``n_excerpts`` excerpts of ``excerpt_seconds`` spread evenly over the
    track (skipping the first and last ``edge_fraction`` so intros/fade-outs do not dominate);
    only those excerpts are decoded, which is what makes indexing far faster than real time.
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 96
    f_min: float = 20.0
    f_max: float = 11025.0
    top_db: float = 80.0
    excerpt_seconds: float = 3.0
    n_excerpts: int = 8
    edge_fraction: float = 0.05
    #: dB values are mapped to ``(db + norm_offset_db) / norm_scale_db`` so inputs sit near [-3, 3].
    norm_offset_db: float = 20.0
    norm_scale_db: float = 30.0
    #: ``"db"``: the dB scale above; ``"log10_1p"``: ``log10(1 + log_gain · mel)``, the compression
    #: the pretrained musicnn networks were trained on (no per-excerpt floor, no affine map).
    log_compression: str = "db"
    log_gain: float = 10000.0

    @property
    def excerpt_samples(self) -> int:
        return int(round(self.excerpt_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Frames per excerpt (torch.stft with center=True)."""
        return self.excerpt_samples // self.hop_length + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def identity_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the fields added after models were first keyed by their features
        when they hold their defaults, so adding a field never changes an existing model's key."""
        data = self.to_dict()
        for name, default in LATER_FIELDS.items():
            if data.get(name) == default:
                data.pop(name, None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


#: Fields added after embeddings were first keyed by their feature settings, with their defaults.
LATER_FIELDS: dict[str, Any] = {"log_compression": "db", "log_gain": 10000.0}
LOG_COMPRESSIONS = ("db", "log10_1p")
