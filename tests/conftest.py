import os

# Qt must run offscreen in tests; set before anything imports PySide6 (Picard does the same).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An isolated MusicSim home, so tests never touch the user's data."""
    h = tmp_path / "home"
    monkeypatch.setenv("MUSICSIM_HOME", str(h))
    return h


@pytest.fixture(scope="session")
def synth_library(tmp_path_factory):
    """Three albums of four 4-second synthesised songs each (read-only: copy before changing)."""
    from synth import write_library

    root = tmp_path_factory.mktemp("synthlib")
    write_library(root)
    return root


@pytest.fixture(scope="module")
def _one_torch_thread():
    """One torch thread: the tests' tiny models gain nothing from more, and on a shared 2-core
    machine two spinning OpenMP threads can make a training step ten times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
