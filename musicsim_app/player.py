"""The app's single player: decode a track in the background, then play it through a backend.

Playing another track stops the previous one.  State changes and the position (seconds) are
signals, so the transport bar, the spectrogram playhead and the status bar just listen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from .audio_backends import make_backend
from .workers import run_task

Decoder = Callable[[Path], tuple[np.ndarray, int]]

STOPPED, LOADING, PLAYING, PAUSED = "stopped", "loading", "playing", "paused"


def engine_decoder(path: Path) -> tuple[np.ndarray, int]:
    """Whole track (up to the engine's cap), native rate, up to two channels."""
    from trainer.audio import load_audio

    y, sr = load_audio(path, sr=None, mono=False)
    if y.ndim == 1:
        y = y[:, None]
    return y[:, :2], sr


class Player(QObject):
    stateChanged = Signal(str)
    positionChanged = Signal(float)  #: seconds
    durationChanged = Signal(float)
    trackChanged = Signal(str, str)  #: title, path
    trackFinished = Signal(str)  #: path of a track that played to its end (a play queue goes on)
    errorOccurred = Signal(str)

    def __init__(
        self,
        backend: str | object = "auto",
        *,
        decoder: Decoder | None = None,
        poll_ms: int = 50,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if isinstance(backend, str):
            self.backend, self.unavailable_reason = make_backend(backend)
        else:
            self.backend, self.unavailable_reason = backend, ""
        self._decoder = decoder or engine_decoder
        self.state = STOPPED
        self.path: Path | None = None
        self.title = ""
        self.duration_s = 0.0
        self._sr = 1
        self._generation = 0
        self._start_s = 0.0
        self._volume = 0.8
        self.backend.set_volume(self._volume)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._on_poll)

    @property
    def backend_name(self) -> str:
        return getattr(self.backend, "name", "?")

    # -- commands -----------------------------------------------------------------------------
    def play_file(self, path: str | Path, title: str = "", *, start_s: float = 0.0) -> None:
        """Stop what plays and start ``path`` (decoded on a worker thread)."""
        self.stop()
        self._generation += 1
        gen = self._generation
        self.path = Path(path)
        self.title = title or self.path.stem
        self._start_s = start_s
        self._set_state(LOADING)
        self.trackChanged.emit(self.title, str(self.path))
        decoder = self._decoder
        p = self.path
        run_task(
            lambda: decoder(p),
            lambda res: self._on_decoded(gen, res),
            lambda msg: self._on_decode_failed(gen, msg),
            owner=self,
        )

    def _on_decoded(self, gen: int, result: tuple[np.ndarray, int]) -> None:
        if gen != self._generation or self.state != LOADING:
            return  # another track was asked for meanwhile, or stop() was pressed
        samples, sr = result
        self._sr = max(1, int(sr))
        self.duration_s = samples.shape[0] / self._sr
        try:
            self.backend.load(samples, self._sr)
        except Exception as exc:  # noqa: BLE001 - device vanished, bad rate: report, keep running
            self._set_state(STOPPED)
            self.errorOccurred.emit(f"cannot play {self.title}: {exc}")
            return
        self.durationChanged.emit(self.duration_s)
        if self._start_s > 0:
            self.backend.seek(int(self._start_s * self._sr))
        self.backend.play()
        self._set_state(PLAYING)
        self._timer.start()
        self._on_poll()

    def _on_decode_failed(self, gen: int, message: str) -> None:
        if gen != self._generation:
            return
        self._set_state(STOPPED)
        self.errorOccurred.emit(f"cannot play {self.title}: {message}")

    def toggle(self) -> None:
        """Space bar: pause when playing, resume when paused."""
        if self.state == PLAYING:
            self.pause()
        elif self.state == PAUSED:
            self.resume()
        elif self.state == STOPPED and self.path is not None and self.duration_s > 0:
            self.backend.play()
            self._set_state(PLAYING)
            self._timer.start()

    def pause(self) -> None:
        if self.state == PLAYING:
            self.backend.pause()
            self._set_state(PAUSED)
            self._on_poll()

    def resume(self) -> None:
        if self.state == PAUSED:
            self.backend.play()
            self._set_state(PLAYING)
            self._timer.start()

    def stop(self) -> None:
        if self.state == STOPPED:
            return
        self.backend.stop()
        self._timer.stop()
        self._set_state(STOPPED)
        self.positionChanged.emit(0.0)

    def seek(self, seconds: float) -> None:
        if self.state in (PLAYING, PAUSED, STOPPED) and self.duration_s > 0:
            self.backend.seek(int(max(0.0, min(seconds, self.duration_s)) * self._sr))
            self.positionChanged.emit(self.position_s())

    def set_volume(self, volume: float) -> None:
        self._volume = float(min(max(volume, 0.0), 1.0))
        self.backend.set_volume(self._volume)

    @property
    def volume(self) -> float:
        return self._volume

    def position_s(self) -> float:
        return self.backend.position() / self._sr

    def close(self) -> None:
        self._generation += 1
        self._timer.stop()
        self.backend.close()

    # -- internals ------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    def _on_poll(self) -> None:
        if self.backend.ended():
            self._timer.stop()
            self.backend.stop()
            self._set_state(STOPPED)
            self.positionChanged.emit(0.0)
            self.trackFinished.emit(str(self.path))
            return
        self.positionChanged.emit(self.position_s())
        if self.state != PLAYING:
            self._timer.stop()
