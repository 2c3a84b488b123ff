"""Decode audio files into mono float32 at the model's sample rate.

Only the excerpts a song's embedding needs are decoded (``load_excerpts`` seeks), which keeps
indexing far faster than real time and memory bounded on hour-long files.  soundfile
(libsndfile) reads WAV/FLAC/Ogg Vorbis/Opus/MP3; anything else that ffmpeg or the platform can
decode goes through librosa/audioread.  Every failure becomes an ``AudioError`` whose message is
a reason a user can act on.  This module must stay free of torch: it runs in decoder processes.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .config import FeatureConfig
from .errors import AudioError

#: Extensions considered audio when scanning a folder.
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".aiff",
        ".aif",
        ".aifc",
        ".m4a",
        ".aac",
        ".wma",
        ".mp4",
        ".webm",
    }
)
#: Shorter than this there is nothing to compare; such files are skipped with a reason.
MIN_DURATION_S = 0.25
#: Peak level under which a file counts as silent (about -100 dBFS).
SILENCE_PEAK = 1e-5
#: Longest stretch decoded at once for playback/display, so a 10-hour file cannot fill memory.
MAX_FULL_DECODE_S = 30 * 60
#: At most this many samples (all channels) are decoded at once: 512 MB of float32, whatever the
#: rate or channel count (a 96 kHz 6-channel file gets ~3.7 min; CD-quality stereo 24 min).
MAX_DECODE_SAMPLES = 128 * 1024 * 1024


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    frames: int
    format: str


@dataclass(frozen=True)
class Excerpts:
    """``waves`` is ``(n_excerpts, excerpt_samples)`` float32 at ``cfg.sample_rate``."""

    waves: np.ndarray
    duration_s: float
    info: AudioInfo


def _os_reason(exc: OSError, path: Path) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "file vanished (deleted or moved)"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.EISDIR:
        return "is a folder, not a file"
    return f"cannot read file: {exc.strerror or exc}"


def _sf_name(path: Path) -> str | bytes:
    """libsndfile needs bytes on POSIX for names that are not valid UTF-8."""
    return str(path) if os.name == "nt" else os.fsencode(path)


def check_readable(path: Path) -> int:
    """Raise ``AudioError`` unless ``path`` is a readable, non-empty regular file; return its size."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if os.path.islink(path) and exc.errno == errno.ENOENT:
            raise AudioError("broken symlink") from exc
        raise AudioError(_os_reason(exc, path)) from exc
    import stat as _stat

    if _stat.S_ISDIR(st.st_mode):
        raise AudioError("is a folder, not a file")
    if not _stat.S_ISREG(st.st_mode):
        raise AudioError("not a regular file")
    if st.st_size == 0:
        raise AudioError("empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError("permission denied")
    return st.st_size


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Duration and format without decoding samples."""
    path = Path(path)
    check_readable(path)
    try:
        info = sf.info(_sf_name(path))
        frames = int(info.frames)
        if frames <= 0 or info.samplerate <= 0:
            raise AudioError("no audio frames (truncated or not audio)")
        return AudioInfo(
            frames / info.samplerate, int(info.samplerate), int(info.channels), frames, str(info.format)
        )
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        return _probe_fallback(path, exc)
    except OSError as exc:
        raise AudioError(_os_reason(exc, path)) from exc


def _probe_fallback(path: Path, first_error: Exception) -> AudioInfo:
    try:
        import audioread

        with audioread.audio_open(str(path)) as f:
            if not f.duration or f.duration <= 0:
                raise AudioError("no audio frames (truncated or not audio)")
            return AudioInfo(
                float(f.duration),
                int(f.samplerate),
                int(f.channels),
                int(f.duration * f.samplerate),
                "audioread",
            )
    except AudioError:
        raise
    except Exception as exc:  # audioread raises a zoo of backend errors
        raise AudioError(f"not a decodable audio file ({_short(first_error)})") from exc


def _short(exc: Exception) -> str:
    # LibsndfileError's error_string leaves out its "Error opening '<path>': " prefix
    raw = str(getattr(exc, "error_string", "") or exc).strip()
    text = raw.splitlines()[-1] if raw else type(exc).__name__
    if "does not exist or is not a regular file" in text:
        text = "format not recognised"  # libsndfile says this of unrecognised data in an existing file
    return text.rstrip(".")[:160]


def _to_mono(block: np.ndarray) -> np.ndarray:
    if block.ndim == 2:
        if block.shape[1] > 1:
            # Column by column: ``block.mean(axis=1)`` reduces along the short, interleaved axis,
            # which is many times slower and would be a large share of decoding; same result.
            mono = block[:, 0].astype(np.float32, copy=True)
            for c in range(1, block.shape[1]):
                mono += block[:, c]
            mono /= np.float32(block.shape[1])
            return mono
        block = block[:, 0]
    return np.ascontiguousarray(block, dtype=np.float32)


def _resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out or y.size == 0:
        return y.astype(np.float32, copy=False)
    return soxr.resample(y, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def excerpt_starts(duration_s: float, cfg: FeatureConfig, *, length_s: float | None = None) -> np.ndarray:
    """Evenly spread excerpt start times (seconds) over the track, skipping its edges."""
    length = cfg.excerpt_seconds if length_s is None else length_s
    usable_from = duration_s * cfg.edge_fraction
    usable_to = duration_s * (1.0 - cfg.edge_fraction) - length
    if usable_to <= usable_from:
        return np.full(cfg.n_excerpts, max(0.0, (duration_s - length) / 2.0))
    return np.linspace(usable_from, usable_to, cfg.n_excerpts)


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """Tile short audio (a clip shorter than an excerpt) and cut long audio to exactly ``n``."""
    if y.size == 0:
        return np.zeros(n, np.float32)
    if y.size < n:
        y = np.tile(y, int(np.ceil(n / y.size)))
    return y[:n]


def load_excerpts(
    path: str | os.PathLike[str], cfg: FeatureConfig, *, length_s: float | None = None
) -> Excerpts:
    """Decode ``cfg.n_excerpts`` excerpts spread over the file (seeking, not reading it all)."""
    path = Path(path)
    info = probe(path)
    if info.duration_s < MIN_DURATION_S:
        raise AudioError(f"too short ({info.duration_s:.2f} s; at least {MIN_DURATION_S} s needed)")
    length = cfg.excerpt_seconds if length_s is None else length_s
    n_out = int(round(length * cfg.sample_rate))
    starts = excerpt_starts(info.duration_s, cfg, length_s=length)
    if info.format == "audioread":
        raw = [_read_fallback(path, float(s), length)[0] for s in starts]
        sr_in = info.sample_rate
        raw = [_resample(r, sr_in, cfg.sample_rate) for r in raw]
    else:
        raw = _read_segments_sf(path, info, starts, length, cfg.sample_rate)
    waves = np.stack([_fit_length(r, n_out) for r in raw])
    if not np.isfinite(waves).all():
        waves = np.nan_to_num(waves, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(waves, -1.0, 1.0, out=waves)
    if float(np.abs(waves).max(initial=0.0)) < SILENCE_PEAK:
        raise AudioError("silent (no signal above -100 dBFS)")
    return Excerpts(waves, info.duration_s, info)


def _read_segments_sf(
    path: Path, info: AudioInfo, starts: np.ndarray, length_s: float, sr_out: int
) -> list[np.ndarray]:
    frames_per = int(round(length_s * info.sample_rate))
    out: list[np.ndarray] = []
    try:
        with sf.SoundFile(_sf_name(path)) as f:
            for start in starts:
                first = min(int(start * info.sample_rate), max(0, info.frames - 1))
                try:
                    f.seek(first)
                    block = f.read(frames_per, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError):
                    block = _read_what_decodes(path, first, frames_per, info.channels)  # truncated
                out.append(_resample(_to_mono(block), info.sample_rate, sr_out))
    except OSError as exc:
        raise AudioError(_os_reason(exc, path)) from exc
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"decoding failed ({_short(exc)})") from exc
    if sum(o.size for o in out) == 0:
        raise AudioError("no decodable audio (truncated or corrupt)")
    return out


def _read_what_decodes(path: Path, first: int, frames: int, channels: int) -> np.ndarray:
    """Read up to ``frames`` from ``first`` in small steps, keeping what decodes before an error.

    A read that runs into a truncation fails as a whole, and libsndfile's error then sticks to
    the handle, so this opens the file afresh.
    """
    parts: list[np.ndarray] = []
    got = 0
    try:
        with sf.SoundFile(_sf_name(path)) as g:
            g.seek(first)
            while got < frames:
                block = g.read(min(4096, frames - got), dtype="float32", always_2d=True)
                if not len(block):
                    break
                parts.append(block)
                got += len(block)
    except (sf.LibsndfileError, RuntimeError):
        pass
    return np.concatenate(parts) if parts else np.zeros((0, channels), np.float32)


def _read_fallback(path: Path, offset_s: float, duration_s: float | None) -> tuple[np.ndarray, int]:
    try:
        import librosa

        y, sr = librosa.load(str(path), sr=None, mono=True, offset=offset_s, duration=duration_s)
        return y.astype(np.float32, copy=False), int(sr)
    except Exception as exc:
        raise AudioError(f"decoding failed ({_short(exc)})") from exc


def load_audio(
    path: str | os.PathLike[str],
    sr: int | None = None,
    *,
    mono: bool = True,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode a stretch of a file (for playback and display).

    Returns ``(y, sr)``: ``y`` is ``(n,)`` when ``mono`` else ``(n, channels)``, float32.  At most
    ``MAX_FULL_DECODE_S`` seconds and ``MAX_DECODE_SAMPLES`` samples are decoded, so a huge file
    (hours long, 96 kHz, many channels) cannot exhaust memory.
    """
    path = Path(path)
    info = probe(path)
    channels = 1 if mono else max(1, info.channels)
    budget_s = MAX_DECODE_SAMPLES / max(1, info.sample_rate * channels)
    duration = min(duration_s if duration_s is not None else info.duration_s, MAX_FULL_DECODE_S, budget_s)
    if info.format == "audioread":
        y, native = _read_fallback(path, offset_s, duration)
        if not mono:
            y = y[:, None]
    else:
        native = info.sample_rate
        try:
            with sf.SoundFile(_sf_name(path)) as f:
                f.seek(min(int(offset_s * native), max(0, info.frames - 1)))
                blocks, remaining = [], int(duration * native)
                while remaining > 0:  # block by block, so a mono downmix never holds every channel
                    block = f.read(min(remaining, 1 << 20), dtype="float32", always_2d=True)
                    if len(block) == 0:
                        break
                    blocks.append(_to_mono(block) if mono else block)
                    remaining -= len(block)
                y = (
                    np.concatenate(blocks)
                    if blocks
                    else np.zeros(0 if mono else (0, info.channels), np.float32)
                )
        except OSError as exc:
            raise AudioError(_os_reason(exc, path)) from exc
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"decoding failed ({_short(exc)})") from exc
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    if sr is not None and sr != native:
        y = _resample(y, native, sr)  # soxr takes (frames, channels) as it is
        native = sr
    return y.astype(np.float32, copy=False), int(native)
