"""Log-mel spectrograms of the query and of the selected result, side by side, with a playhead."""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QHBoxLayout, QWidget

from . import engine_jobs, song_text
from .workers import run_task

TICK_HZ = (100, 250, 500, 1000, 2000, 4000, 8000, 16000)


def mel_ticks(mel_hz: np.ndarray, min_gap: float = 0.05) -> list[tuple[float, str]]:
    """Axis ticks at round frequencies, placed on the (mel-spaced) band index axis.

    Ticks closer than ``min_gap`` of the axis to the previous one are dropped (low frequencies
    crowd together on a mel axis).
    """
    bands = np.arange(len(mel_hz)) + 0.5
    ticks: list[tuple[float, str]] = []
    for hz in TICK_HZ:
        if mel_hz[0] <= hz <= mel_hz[-1]:
            pos = float(np.interp(hz, mel_hz, bands))
            if ticks and pos - ticks[-1][0] < min_gap * len(mel_hz):
                continue
            ticks.append((pos, f"{hz // 1000}k" if hz >= 1000 else str(hz)))
    return ticks


class SpectrogramPanel(pg.PlotWidget):
    """One spectrogram: ImageItem in dB, time (s) × frequency (Hz) axes, colour map, playhead."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base_title = title
        self.path: Path | None = None
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=True, y=False)
        self.setLabel("bottom", "time", units="s")
        self.setLabel("left", "frequency (Hz)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("magma"))
        self.addItem(self.image)
        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#7fdbff", width=2))
        self.playhead.hide()
        self.addItem(self.playhead)
        self.message = pg.TextItem("", color="#9aa4b1", anchor=(0.5, 0.5))
        self.addItem(self.message)
        self.setTitle(title, color="#c8ccd4", size="10pt")
        self.show_message("no song")

    def show_message(self, text: str) -> None:
        self.image.clear()
        self.path = None
        self.setTitle(self.base_title, color="#c8ccd4", size="10pt")  # not the song shown before
        self.playhead.hide()
        self.message.setText(text)
        self.message.setPos(0.5, 0.5)
        self.setXRange(0, 1)
        self.setYRange(0, 1)
        for axis in ("left", "bottom"):  # an empty panel shows no meaningless 0..1 scale
            self.getAxis(axis).setTicks([[], []])

    def set_spectrogram(
        self, path: Path, title: str, image: np.ndarray, seconds_per_frame: float, mel_hz: np.ndarray
    ) -> None:
        self.path = Path(path)
        self.message.setText("")
        n_mels, frames = image.shape
        top = float(image.max()) if image.size else 0.0
        self.image.setImage(image, levels=(top - 80.0, top))
        length = frames * seconds_per_frame
        self.image.setRect(QRectF(0.0, 0.0, length, n_mels))
        self.getAxis("left").setTicks([mel_ticks(mel_hz), []])
        self.getAxis("bottom").setTicks(None)
        self.setLimits(xMin=0, xMax=max(length, 1e-3), yMin=0, yMax=n_mels)
        self.setXRange(0, length, padding=0)
        self.setYRange(0, n_mels, padding=0)
        # pyqtgraph titles are HTML: a tag is text here, not markup ("<h1>" in a title stays "<h1>")
        self.setTitle(f"{self.base_title}: {escape(title)}", color="#c8ccd4", size="10pt")

    def set_playhead(self, seconds: float | None) -> None:
        if seconds is None or self.path is None:
            self.playhead.hide()
        else:
            self.playhead.setValue(seconds)
            self.playhead.show()


class SpectrogramView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query_panel = SpectrogramPanel("Query")
        self.result_panel = SpectrogramPanel("Result")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.query_panel)
        layout.addWidget(self.result_panel)
        self._wanted: dict[SpectrogramPanel, Path | None] = {}
        self._cache: dict[tuple[Path, object], tuple] = {}
        self._playing: Path | None = None

    def show_song(self, panel: SpectrogramPanel, song, features=None) -> None:
        """Compute (on the pool) and show ``song``'s log-mel in ``panel``; ``None`` clears it."""
        if song is None:
            self._wanted[panel] = None
            panel.show_message("no song")
            return
        path = Path(song.path)
        title = song_text.title(song)
        self._wanted[panel] = path
        key = (path, features)
        if key in self._cache:
            self._apply(panel, path, title, self._cache[key])
            return
        panel.show_message("computing spectrogram…")
        run_task(
            lambda: engine_jobs.spectrogram(path, features),
            lambda res: self._on_ready(panel, path, title, key, res),
            lambda msg: self._on_failed(panel, path, msg),
            owner=self,
        )

    def _on_ready(self, panel, path, title, key, result) -> None:
        if len(self._cache) > 16:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = result
        if self._wanted.get(panel) == path:
            self._apply(panel, path, title, result)

    def _apply(self, panel, path, title, result) -> None:
        image, spf, mel_hz = result
        panel.set_spectrogram(path, title, image, spf, mel_hz)
        if path != self._playing:
            panel.set_playhead(None)

    def _on_failed(self, panel, path, message) -> None:
        if self._wanted.get(panel) == path:
            panel.show_message(f"cannot show: {message}")

    def set_playing(self, path: str | Path | None) -> None:
        self._playing = Path(path) if path else None
        for panel in (self.query_panel, self.result_panel):
            if panel.path != self._playing:
                panel.set_playhead(None)

    def set_position(self, seconds: float) -> None:
        for panel in (self.query_panel, self.result_panel):
            if self._playing is not None and panel.path == self._playing:
                panel.set_playhead(seconds)
