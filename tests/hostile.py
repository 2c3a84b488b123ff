"""A hostile music folder: every kind of file a real collection throws at the indexer.

``build_corpus(root)`` writes it and returns one ``Case`` per path: what it is, and what must
happen to it -- ``OK`` (indexed like any song) or a regular expression the skip reason must
match.  Everything is small: the "60-minute track" is an 8 kHz FLAC that is mostly digital
silence (constant FLAC blocks cost a few bytes), and the "huge" file is a sparse 4 GB WAV.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synth import SR, noise_bursts, square, tone, write

OK = "ok"
#: What libsndfile/audioread say about bytes that are not audio, in our words.
NOT_AUDIO = r"not a decodable audio file|no audio frames|no decodable audio|decoding failed"


@dataclass(frozen=True)
class Case:
    rel: str  # path relative to the corpus root (may hold surrogate-escaped bytes)
    what: str  # one line for the "what happens when..." table
    expect: str  # OK, or a regex the skip reason must match

    @property
    def ok(self) -> bool:
        return self.expect == OK


def _music(seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """Something that sounds like a song: tone + square + noise, never silent."""
    y = tone(150 + 40 * seed, seconds, sr=sr, harmonics=3, seed=seed)
    y = y + 0.5 * square(600 + 50 * seed, seconds, sr=sr, seed=seed)
    y = y + 0.5 * noise_bursts(seconds, sr=sr, seed=seed)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def write_long_flac(path: Path, minutes: float = 60.0, sr: int = 8000) -> Path:
    """A long track that costs little disk: digital silence with a quiet tone burst every 2.5 s."""
    import soundfile as sf

    block = int(2.5 * sr)
    burst = (0.05 * np.sin(2 * np.pi * 440 * np.arange(int(0.25 * sr)) / sr)).astype(np.float32)
    chunk = np.zeros(block, np.float32)
    chunk[: burst.size] = burst
    n_blocks = int(minutes * 60 * sr) // block
    with sf.SoundFile(
        os.fsencode(path), "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16"
    ) as f:
        for _ in range(n_blocks):
            f.write(chunk)
    return path


def write_sparse_wav(path: Path, size: int = 4_000_000_000, sr: int = SR) -> Path:
    """A ~27-hour 16-bit mono WAV whose data is a hole in the file system (all zeros)."""
    data = size - 44
    data -= data % 2
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr * 2, 2, 16)
    header += b"data" + struct.pack("<I", data)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(44 + data)
    return path


def _truncate(path: Path, keep: float | int) -> Path:
    raw = path.read_bytes()
    n = keep if isinstance(keep, int) else int(len(raw) * keep)
    path.write_bytes(raw[:n])
    return path


def non_utf8_name() -> str:
    return os.fsdecode(b"caf\xe9 latin-1 \xff.wav")


def build_corpus(root: Path, *, long_track: bool = True, huge: bool = True) -> list[Case]:
    """Write the hostile corpus under ``root`` (created); return its cases."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(6)
    cases: list[Case] = []

    def add(rel: str, what: str, expect: str) -> Path:
        cases.append(Case(rel, what, expect))
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        return root / rel

    # --- good songs, so there is something to finish (two "albums", for training) ---
    for i in range(3):
        write(add(f"good/a/song-{i}.wav", "an ordinary 16-bit WAV", OK), _music(3.0, i))
        write(add(f"good/b/song-{i}.flac", "an ordinary FLAC", OK), _music(3.0, 10 + i), format="FLAC")

    # --- not audio at all ---
    add("bad/empty.flac", "a zero-byte file", r"empty file \(0 bytes\)").write_bytes(b"")
    add("bad/random.mp3", "random bytes named .mp3", NOT_AUDIO).write_bytes(rng.bytes(20_000))
    add("bad/random.ogg", "random bytes named .ogg", NOT_AUDIO).write_bytes(rng.bytes(20_000))
    add("bad/text.flac", "a text file named .flac", NOT_AUDIO).write_text("these are my liner notes\n" * 200)
    add(
        "bad/" + os.fsdecode(b"\xe9t\xe9 \xff.mp3"), "random bytes under a non-UTF-8 name", NOT_AUDIO
    ).write_bytes(rng.bytes(5_000))
    add("bad/header-only.flac", "a FLAC cut after 100 bytes", NOT_AUDIO)
    _truncate(write(root / "bad/header-only.flac", _music(3.0, 20), format="FLAC"), 100)
    folder = add("bad/x.ogg", "a folder named x.ogg", r"is a folder, not a file")
    folder.mkdir(parents=True)
    write(add("bad/x.ogg/inside.wav", "a song inside a folder named x.ogg", OK), _music(2.0, 21))
    os.symlink("nowhere/missing.flac", add("bad/broken-link.flac", "a broken symlink", r"broken symlink"))
    os.symlink("loop-b.mp3", add("bad/loop-a.mp3", "a symlink loop (a -> b -> a)", r"symlink loop"))
    os.symlink("loop-a.mp3", add("bad/loop-b.mp3", "a symlink loop (b -> a -> b)", r"symlink loop"))
    os.symlink(".", root / "bad" / "folder-loop")  # a folder symlink to itself: never followed
    os.mkfifo(add("bad/fifo.wav", "a named pipe named .wav (opening it would block)", r"not a regular file"))

    # --- truncated files: the part that is there is used, or the file is skipped; never a crash ---
    for ext, kw in (
        ("ogg", {"format": "OGG", "subtype": "VORBIS"}),
        ("mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
        ("flac", {"format": "FLAC"}),
        ("wav", {}),
    ):
        p = add(f"truncated/half.{ext}", f"a {ext.upper()} cut in half", OK)
        _truncate(write(p, _music(6.0, 30), **kw), 0.5)

    # --- audio that is odd but valid ---
    write(add("odd/silence.wav", "pure digital silence", r"silent"), np.zeros(3 * SR, np.float32))
    write(add("odd/clip-0.5s.wav", "a 0.5-second clip (tiled to an excerpt)", OK), _music(0.5, 40))
    write(add("odd/clip-0.1s.wav", "a 0.1-second clip", r"too short"), _music(0.1, 41))
    write(add("odd/sr-8k.wav", "8 kHz", OK), _music(3.0, 42, sr=8000), sr=8000)
    write(
        add("odd/sr-96k.flac", "96 kHz, 24-bit FLAC", OK),
        _music(2.0, 43, sr=96000),
        sr=96000,
        format="FLAC",
        subtype="PCM_24",
    )
    six = np.stack([_music(2.0, 44 + c) for c in range(6)], axis=1)
    write(add("odd/six-channels.wav", "6 channels (5.1)", OK), six)
    write(add("odd/pcm24.wav", "24-bit WAV", OK), _music(2.0, 50), subtype="PCM_24")
    nan = _music(2.0, 51)
    nan[::97] = np.nan
    nan[::89] = np.inf
    write(add("odd/nan-float.wav", "32-bit float WAV with NaN and inf samples", OK), nan, subtype="FLOAT")
    write(
        add("odd/ogg-named.mp3", "an Ogg Vorbis file named .mp3", OK),
        _music(2.0, 52),
        format="OGG",
        subtype="VORBIS",
    )
    write(add("odd/LOUD.WAV", "an upper-case extension", OK), _music(2.0, 53))

    # --- names ---
    write(add("names/" + non_utf8_name(), "a name that is not valid UTF-8", OK), _music(2.0, 60))
    write(
        add("names/with spaces, 'single' & \"double\" quotes.flac", "spaces and quotes in the name", OK),
        _music(2.0, 61),
        format="FLAC",
    )
    write(
        add("names/emoji 🎵🎸 ünïcödé.ogg", "emoji and accents in the name", OK),
        _music(2.0, 62),
        format="OGG",
        subtype="VORBIS",
    )
    write(add("names/-leading dash.wav", "a name starting with '-'", OK), _music(2.0, 63))

    # --- big ones (memory and time must stay bounded) ---
    if long_track:
        write_long_flac(add("big/60-minutes.flac", "a 60-minute track (8 kHz FLAC)", OK))
    if huge:
        write_sparse_wav(add("big/huge-27h.wav", "a 4 GB, 27-hour WAV of silence (sparse)", r"silent"))
    return cases


def expected_ok(cases: list[Case]) -> set[str]:
    return {c.rel for c in cases if c.ok}


def expected_skips(cases: list[Case]) -> dict[str, str]:
    return {c.rel: c.expect for c in cases if not c.ok}


# -- running as an unprivileged user ---------------------------------------------------------------
NOBODY = 65534


def unprivileged_prefix() -> list[str] | None:
    """How to run a command so that file permissions apply to it.

    Not root: nothing to do (``[]``).  Root ignores permission bits, so as root the command runs
    as ``nobody`` through ``setpriv`` (util-linux); ``None`` when that is not possible.
    """
    if os.geteuid() != 0:
        return []
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def give_away(path: Path) -> None:
    """Let the unprivileged user own ``path`` (and below) when we are root."""
    if os.geteuid() != 0:
        return
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, NOBODY, NOBODY)
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), NOBODY, NOBODY, follow_symlinks=False)
