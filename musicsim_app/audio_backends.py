"""Audio output backends: PortAudio through sounddevice, or a silent clock for CI.

Both play a numpy buffer ``(frames, channels)`` float32 that was decoded beforehand, so seeking
and volume changes are instant.  ``make_backend`` returns the sounddevice backend when PortAudio
and an output device exist and otherwise the null backend plus the reason playback is off.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

log = logging.getLogger(__name__)


class NullBackend:
    """Same interface as :class:`SoundDeviceBackend`; advances position by the wall clock, silently."""

    name = "null"

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._frames = 0
        self._sr = 1
        self._pos = 0.0
        self._t0: float | None = None
        self.volume = 1.0

    def load(self, samples: np.ndarray, sr: int) -> None:
        self.stop()
        self._frames = int(samples.shape[0])
        self._sr = int(sr)
        self._pos = 0.0

    def _now_pos(self) -> float:
        if self._t0 is None:
            return self._pos
        return self._pos + (time.monotonic() - self._t0) * self._sr * self.speed

    def play(self) -> None:
        if self._t0 is None:
            self._t0 = time.monotonic()

    def pause(self) -> None:
        self._pos = min(self._now_pos(), self._frames)
        self._t0 = None

    def stop(self) -> None:
        self._t0 = None
        self._pos = 0.0

    def seek(self, frame: int) -> None:
        playing = self._t0 is not None
        self._pos = float(min(max(0, frame), self._frames))
        self._t0 = time.monotonic() if playing else None

    def position(self) -> int:
        return int(min(self._now_pos(), self._frames))

    def ended(self) -> bool:
        return self._frames > 0 and self._now_pos() >= self._frames

    def set_volume(self, volume: float) -> None:
        self.volume = float(volume)

    def close(self) -> None:
        self.stop()


class SoundDeviceBackend:
    """An ``OutputStream`` whose callback copies from the decoded buffer at the current position."""

    name = "sounddevice"

    def __init__(self) -> None:
        import sounddevice as sd  # lazily: importing fails where PortAudio is missing

        self._sd = sd
        device = sd.query_devices(kind="output")  # raises when there is no output device
        self.device_name = str(device.get("name", "output"))
        self._lock = threading.Lock()
        self._buf = np.zeros((0, 1), np.float32)
        self._sr = 44100
        self._pos = 0
        self._playing = False
        self._ended = False
        self.volume = 1.0
        self._stream = None

    def _callback(self, outdata, frames, _time, status) -> None:  # runs on PortAudio's thread
        with self._lock:
            if not self._playing:
                outdata.fill(0)
                return
            chunk = self._buf[self._pos : self._pos + frames]
            n = chunk.shape[0]
            np.multiply(chunk, self.volume, out=outdata[:n])
            outdata[n:] = 0
            self._pos += n
            if n < frames:
                self._ended = True
                self._playing = False

    def load(self, samples: np.ndarray, sr: int) -> None:
        self._close_stream()
        if samples.ndim == 1:
            samples = samples[:, None]
        samples = np.ascontiguousarray(samples[:, :2], dtype=np.float32)
        with self._lock:
            self._buf = samples
            self._sr = int(sr)
            self._pos = 0
            self._playing = False
            self._ended = False
        self._stream = self._sd.OutputStream(
            samplerate=self._sr, channels=samples.shape[1], dtype="float32", callback=self._callback
        )
        self._stream.start()

    def play(self) -> None:
        with self._lock:
            if self._ended:
                self._pos = 0
            self._ended = False
            self._playing = True

    def pause(self) -> None:
        with self._lock:
            self._playing = False

    def stop(self) -> None:
        with self._lock:
            self._playing = False
            self._pos = 0

    def seek(self, frame: int) -> None:
        with self._lock:
            self._pos = int(min(max(0, frame), self._buf.shape[0]))
            self._ended = False

    def position(self) -> int:
        return self._pos

    def ended(self) -> bool:
        return self._ended

    def set_volume(self, volume: float) -> None:
        self.volume = float(volume)

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # noqa: BLE001 - a vanished device must not crash the app
                log.exception("closing the audio stream failed")
            self._stream = None

    def close(self) -> None:
        self._close_stream()


def make_backend(kind: str = "auto") -> tuple[object, str]:
    """``(backend, reason)``: ``reason`` is empty when real playback works, else why there is no
    audio output, in words for the user (the null backend then keeps time silently)."""
    if kind == "null":
        return NullBackend(), "audio output is off (the app was started with --audio null)"
    try:
        return SoundDeviceBackend(), ""
    except (OSError, ImportError) as exc:
        reason = (
            f"the PortAudio library is not installed (on Debian/Ubuntu: apt-get install libportaudio2; {exc})"
        )
    except Exception as exc:  # noqa: BLE001 - sounddevice.PortAudioError, ValueError: no device
        reason = f"this computer has no sound output device, or none that PortAudio can open ({exc})"
    log.warning("no audio output: %s", reason)
    return NullBackend(), reason
