"""Decoding an odd MP3 leaves the terminal alone: libmpg123's notes do not reach it."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

CHILD = """
import sys
from pathlib import Path
from trainer.config import FeatureConfig
from trainer.decode import decode_many, decode_one

path = Path(sys.argv[1])
print("in-process:", decode_one(path, FeatureConfig()).error, flush=True)
for d in decode_many([path] * 3, FeatureConfig(), workers=2):
    print("worker:", d.error, flush=True)
print("stderr still works", file=sys.stderr, flush=True)
"""


@pytest.fixture
def odd_mp3(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    t = np.arange(22050 * 4) / 22050
    path = tmp_path / "odd.mp3"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, format="MP3")
    data = path.read_bytes()
    path.write_bytes(
        data[: len(data) // 3] + bytes(range(256)) * 20 + data[len(data) // 3 :]
    )  # garbage inside
    return path


def test_libmpg123_notes_do_not_reach_the_terminal(odd_mp3):
    loud = subprocess.run(
        [sys.executable, "-c", "import soundfile as sf, sys; sf.read(sys.argv[1])", str(odd_mp3)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "resync" in loud.stderr.lower() or "Xing" in loud.stderr  # what libmpg123 prints, unsilenced
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(odd_mp3)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("worker:") == 3 and "in-process:" in done.stdout
    assert done.stderr.strip() == "stderr still works", done.stderr
