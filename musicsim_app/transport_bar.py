"""The bottom bar: play/pause, stop, seek slider, time, volume and what is playing."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

from .icons import pause_icon, play_icon, stop_icon
from .player import LOADING, PAUSED, PLAYING, Player


def format_time(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TransportBar(QWidget):
    SEEK_STEPS = 1000

    def __init__(self, player: Player, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.setObjectName("TransportBar")
        style = self.style()
        self._icon_play = play_icon()
        self._icon_pause = pause_icon()

        self.play_button = QToolButton(icon=self._icon_play, toolTip="Play / pause (Space)")
        self.stop_button = QToolButton(icon=stop_icon(), toolTip="Stop")
        for b in (self.play_button, self.stop_button):
            b.setAutoRaise(True)
            b.setIconSize(QSize(26, 26))
        self.now_playing = QLabel("Nothing playing")
        self.now_playing.setObjectName("NowPlaying")
        self.now_playing.setMinimumWidth(220)
        self.now_playing.setMaximumWidth(360)
        self.position_label = QLabel("0:00")
        self.length_label = QLabel("0:00")
        self.seek_slider = QSlider(Qt.Orientation.Horizontal, toolTip="Seek")
        self.seek_slider.setRange(0, self.SEEK_STEPS)
        self.seek_slider.setEnabled(False)
        self.volume_slider = QSlider(Qt.Orientation.Horizontal, toolTip="Volume")
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setValue(int(round(player.volume * 100)))
        self.volume_slider.setFixedWidth(110)
        volume_icon = QLabel()
        volume_icon.setPixmap(style.standardIcon(QStyle.StandardPixmap.SP_MediaVolume).pixmap(18, 18))

        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.play_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.now_playing)
        row.addWidget(self.position_label)
        row.addWidget(self.seek_slider, 1)
        row.addWidget(self.length_label)
        row.addSpacing(12)
        row.addWidget(volume_icon)
        row.addWidget(self.volume_slider)

        self.play_button.clicked.connect(player.toggle)
        self.stop_button.clicked.connect(player.stop)
        self.seek_slider.sliderReleased.connect(self._on_seek_released)
        self.seek_slider.actionTriggered.connect(self._on_slider_action)
        self.volume_slider.valueChanged.connect(lambda v: player.set_volume(v / 100.0))
        player.stateChanged.connect(self._on_state)
        player.positionChanged.connect(self._on_position)
        player.durationChanged.connect(self._on_duration)
        player.trackChanged.connect(self._on_track)

    def _on_state(self, state: str) -> None:
        self.play_button.setIcon(self._icon_pause if state == PLAYING else self._icon_play)
        self.seek_slider.setEnabled(state in (PLAYING, PAUSED))
        if state == LOADING:
            self.position_label.setText("…")

    def _on_position(self, seconds: float) -> None:
        self.position_label.setText(format_time(seconds))
        if not self.seek_slider.isSliderDown() and self.player.duration_s > 0:
            self.seek_slider.blockSignals(True)
            self.seek_slider.setValue(int(seconds / self.player.duration_s * self.SEEK_STEPS))
            self.seek_slider.blockSignals(False)

    def _on_duration(self, seconds: float) -> None:
        self.length_label.setText(format_time(seconds))

    def _on_track(self, title: str, path: str) -> None:
        metrics = self.now_playing.fontMetrics()
        self.now_playing.setText(metrics.elidedText(f"♪ {title}", Qt.TextElideMode.ElideRight, 350))
        self.now_playing.setToolTip(path)

    def _seek_to_slider(self) -> None:
        self.player.seek(self.seek_slider.value() / self.SEEK_STEPS * self.player.duration_s)

    def _on_seek_released(self) -> None:
        self._seek_to_slider()

    def _on_slider_action(self, action: int) -> None:
        if not self.seek_slider.isSliderDown():  # page step / click on the groove
            self.seek_slider.setValue(self.seek_slider.sliderPosition())
            self._seek_to_slider()
