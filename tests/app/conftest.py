"""Fixtures for GUI tests: a small synthesized library in album folders and an isolated home."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 22050
SECONDS = 3.5


def _tone(freqs, rng, seconds=SECONDS, noise=0.02):
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))  # a little rhythm
    return (0.5 * y + noise * rng.standard_normal(t.size)).astype(np.float32)


def _noise(rng, color, seconds=SECONDS):
    white = rng.standard_normal(int(seconds * SR))
    if color == "brown":
        white = np.cumsum(white)
        white -= np.linspace(white[0], white[-1], white.size)
    white = white / (np.abs(white).max() + 1e-9)
    return (0.4 * white).astype(np.float32)


@pytest.fixture(scope="session")
def music_library(tmp_path_factory) -> Path:
    """Three albums of three songs (low tones, high tones, noise), one OGG, one broken file."""
    root = tmp_path_factory.mktemp("music")
    rng = np.random.default_rng(7)
    albums = {
        ("Low Artist", "Low Album"): [_tone([110 * (1 + i * 0.1), 220], rng) for i in range(3)],
        ("High Artist", "High Album"): [_tone([2500 * (1 + i * 0.1), 4000], rng) for i in range(3)],
        ("Noise Artist", "Noise Album"): [_noise(rng, c) for c in ("white", "brown", "white")],
    }
    for (artist, album), songs in albums.items():
        folder = root / artist / album
        folder.mkdir(parents=True)
        for i, y in enumerate(songs, start=1):
            ext = "ogg" if (album == "Low Album" and i == 3) else "wav"
            sf.write(folder / f"{i:02d} - {album.split()[0]} song {i}.{ext}", y, SR)
    (root / "Noise Artist" / "Noise Album" / "04 - broken.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    return root


@pytest.fixture
def home(tmp_path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def indexed(window) -> bool:
    ids, _ = window.session.embeddings()
    return len(ids) >= 9 and not window.session.busy()


@pytest.fixture
def window(qtbot, music_library, home):
    """The real main window on the synthesized library, indexed with the fast 'classic' model."""
    from musicsim_app.main_window import MainWindow
    from musicsim_app.settings import AppSettings

    settings = AppSettings(home)
    settings.model = "classic"
    settings.sync()
    w = MainWindow(home, library=music_library, audio="null", device="cpu")
    w.session.decode_workers = 0  # decode in-process: no process pool start-up in tests
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitUntil(lambda: indexed(w), timeout=120_000)
    yield w
    w.close()
