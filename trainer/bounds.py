"""What a file from a stranger may say: bounds on feature settings, model configs and vectors.

A model folder, a folder's precomputed embeddings and the library index itself are all read from
disk, and any of them may have been written by someone else.  Every number they carry is checked
here *before* anything is built, decoded or stored from it, so a config cannot make MusicSim
allocate gigabytes (``n_mels: 1e7``, ``embedding_dim: 1e9``, ``n_excerpts: 1e8``) and a vector
cannot poison search (NaN, inf, 3e38, the wrong width).  The limits are generous for every real
model -- the musicnn port's 1506-d output, 512 mel bands, 192 kHz, 64 excerpts of a minute -- and
small enough that what they allow still fits in memory.

Checks raise ``ValueError`` with a message naming the field; callers add where it came from.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import numpy as np

from .config import LOG_COMPRESSIONS, FeatureConfig

#: Widest embedding a model may produce (musicnn's pooled layers are 1506-d).
MAX_EMBEDDING_DIM = 8192
#: Largest magnitude of one embedding component.  Trained models give unit-length means, classic
#: statistics stay in the thousands; 1e6 keeps squared distances far from float32 overflow.
MAX_ABS_COMPONENT = 1e6
#: Samples one song's excerpts may decode to (64 MB of float32; the default needs 1.06 M).
MAX_SONG_SAMPLES = 16 * 1024 * 1024
#: Values in one excerpt's log-mel image (16 MB of float32; the default's is 96 x 260).
MAX_EXCERPT_VALUES = 4 * 1024 * 1024

#: field -> (type, lowest, highest) for every number in ``FeatureConfig``.
FEATURE_BOUNDS: dict[str, tuple[type, float, float]] = {
    "sample_rate": (int, 1000, 192_000),
    "n_fft": (int, 16, 65_536),
    "hop_length": (int, 1, 65_536),
    "n_mels": (int, 1, 512),
    "f_min": (float, 0.0, 96_000.0),
    "f_max": (float, 1.0, 96_000.0),
    "top_db": (float, 1.0, 1000.0),
    "excerpt_seconds": (float, 0.1, 120.0),
    "n_excerpts": (int, 1, 256),
    "edge_fraction": (float, 0.0, 0.49),
    "norm_offset_db": (float, -1000.0, 1000.0),
    "norm_scale_db": (float, 1e-3, 1000.0),
    "log_gain": (float, 1e-6, 1e12),
}


def number(value: Any, kind: type, low: float, high: float, name: str) -> int | float:
    """``value`` as ``kind`` when it is a JSON number within ``[low, high]``; else ``ValueError``.

    Integers written as ``22050.0`` are accepted; ``true``, strings, lists, NaN and infinities
    (``1e400`` parses as inf) are not.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, found {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, found {value}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{name} must be a whole number, found {value}")
        value = int(value)
    else:
        value = float(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, found {value:g}")
    return value


def text(value: Any, name: str, *, max_chars: int, empty: bool = False) -> str:
    """``value`` when it is a string of at most ``max_chars`` without control characters."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, found {type(value).__name__}")
    if not value and not empty:
        raise ValueError(f"{name} is empty")
    if len(value) > max_chars:
        raise ValueError(f"{name} is longer than {max_chars} characters")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in value):
        raise ValueError(f"{name} holds control characters or unpaired surrogates")
    return value


def check_features(data: Any) -> FeatureConfig:
    """A ``FeatureConfig`` from a JSON object, every field typed and bounded, and the combination
    checked (what the mel filterbank, the STFT and the decoder need); unknown keys are ignored."""
    if not isinstance(data, dict):
        raise ValueError(f"features must be an object, found {type(data).__name__}")
    known = {f.name for f in fields(FeatureConfig)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue
        if key == "log_compression":
            if value not in LOG_COMPRESSIONS:
                raise ValueError(f"features.log_compression must be one of {', '.join(LOG_COMPRESSIONS)}")
            values[key] = value
        else:
            kind, low, high = FEATURE_BOUNDS[key]
            values[key] = number(value, kind, low, high, f"features.{key}")
    cfg = FeatureConfig(**values)
    problem = features_problem(cfg)
    if problem:
        raise ValueError(problem)
    return cfg


def features_problem(cfg: FeatureConfig) -> str | None:
    """Why these settings cannot work together (``None`` when they can)."""
    if not cfg.f_min < cfg.f_max <= cfg.sample_rate / 2 + 1e-6:
        return (
            f"features: need f_min < f_max <= sample_rate / 2, found {cfg.f_min:g}, {cfg.f_max:g}, "
            f"{cfg.sample_rate}"
        )
    if cfg.n_mels > cfg.n_fft // 2 + 1:
        return f"features: {cfg.n_mels} mel bands need n_fft >= {2 * (cfg.n_mels - 1)}, found {cfg.n_fft}"
    if cfg.n_fft > cfg.excerpt_samples:
        return f"features: n_fft {cfg.n_fft} is longer than an excerpt ({cfg.excerpt_samples} samples)"
    if cfg.n_excerpts * cfg.excerpt_samples > MAX_SONG_SAMPLES:
        return (
            f"features: {cfg.n_excerpts} excerpts of {cfg.excerpt_seconds:g} s at {cfg.sample_rate} Hz "
            f"exceed {MAX_SONG_SAMPLES} samples per song"
        )
    if cfg.n_mels * cfg.n_frames > MAX_EXCERPT_VALUES:
        return (
            f"features: {cfg.n_mels} mel bands x {cfg.n_frames} frames exceed {MAX_EXCERPT_VALUES} "
            "values per excerpt (hop_length too small?)"
        )
    return None


def embedding_dim(value: Any, name: str = "embedding_dim") -> int:
    return int(number(value, int, 1, MAX_EMBEDDING_DIM, name))


def vector_problem(vector: Any, dim: int) -> str | None:
    """Why ``vector`` cannot be an embedding of width ``dim`` (``None`` when it can)."""
    v = np.asarray(vector)
    if v.ndim != 1 or v.shape[0] != dim:
        return f"{v.shape[0] if v.ndim == 1 else 'x'.join(map(str, v.shape))} values instead of {dim}"
    if not np.issubdtype(v.dtype, np.number):
        return f"values of type {v.dtype} instead of numbers"
    if not np.isfinite(v).all():
        return "not finite (NaN or infinite values)"
    peak = float(np.abs(v).max(initial=0.0))
    if peak > MAX_ABS_COMPONENT:
        return f"absurdly large values (up to {peak:.3g})"
    if peak == 0.0:
        return "all zeros"
    return None


def usable_rows(matrix: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: which rows of ``(n, d)`` are usable embeddings (finite, not absurd, not zero)."""
    if matrix.size == 0:
        return np.ones(len(matrix), bool)
    peak = np.abs(matrix).max(axis=1)  # NaN and inf fail both comparisons below
    return (peak <= MAX_ABS_COMPONENT) & (peak > 0)
