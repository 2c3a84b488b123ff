"""Synthesised audio for tests: short, deterministic signals with album-level character.

Each "album" has its own timbre (pure low tones, bright square waves, filtered noise bursts), so
even the untrained classic-features model can tell albums apart and tests can assert rankings.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def tone(freq: float, seconds: float, *, sr: int = SR, harmonics: int = 1, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * freq * h * t) / h for h in range(1, harmonics + 1))
    rng = np.random.default_rng(seed)
    env = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t)
    return (0.3 * y * env / max(1e-9, np.max(np.abs(y)))).astype(np.float32)


def square(freq: float, seconds: float, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    y = np.sign(np.sin(2 * np.pi * freq * t)) * 0.2
    gate = (np.sin(2 * np.pi * rng.uniform(3, 6) * t) > 0).astype(np.float32)
    return (y * (0.5 + 0.5 * gate)).astype(np.float32)


def noise_bursts(seconds: float, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = rng.standard_normal(n).astype(np.float32)
    y = np.convolve(y, np.ones(8) / 8, mode="same")  # soften the top end a little
    beat = int(sr * rng.uniform(0.2, 0.35))
    env = np.exp(-np.arange(n) % beat / (0.05 * sr))
    return (0.3 * y * env).astype(np.float32)


ALBUMS = {
    "tones": lambda i, s: tone(110 * (1 + 0.12 * i), s, harmonics=2, seed=i),
    "squares": lambda i, s: square(880 * (1 + 0.1 * i), s, seed=i),
    "noise": lambda i, s: noise_bursts(s, seed=i),
}


def write_library(
    root: Path, *, songs_per_album: int = 4, seconds: float = 4.0, fmt: str = "wav", artist: str = "synth"
) -> list[Path]:
    """``root/<artist>/<album>/<album>-<i>.<fmt>``; returns the paths written."""
    paths = []
    for album, make in ALBUMS.items():
        folder = root / artist / album
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(songs_per_album):
            path = folder / f"{album}-{i}.{fmt}"
            write(path, make(i, seconds))
            paths.append(path)
    return paths


def write(path: Path, y: np.ndarray, sr: int = SR, **kwargs: object) -> Path:
    """Write in blocks: libsndfile's Ogg encoder crashes on one huge write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if y.ndim == 1 else y.shape[1]
    with sf.SoundFile(os.fsencode(path), "w", samplerate=sr, channels=channels, **kwargs) as f:  # type: ignore[arg-type]
        for start in range(0, len(y), 65536):
            f.write(y[start : start + 65536])
    return path
