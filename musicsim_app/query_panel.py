"""The query song and the search controls: model, distance, scaler, k.

The query is a library song, or an audio file from anywhere (*From a file…*, or dropped on the
panel): "I just heard this; what in my library sounds like it?" is the question the app is for.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

from . import song_text
from .icons import play_icon
from .session import LibrarySession

#: What each distance measures, in its picker's tooltip (thesis section 2.3).
DISTANCE_TIPS = {
    "chebyshev": "The largest difference in any one coordinate",
    "euclidean": "Straight-line distance",
    "minkowski": "Minkowski distance with p = 2 (the same ranking as euclidean)",
    "hamming": "The share of coordinates that differ. Only meaningful on binarised vectors: real-valued "
    "embeddings differ in every coordinate, so every song is at distance 1 and nothing is ranked",
    "cosine": "1 − cosine of the angle between the vectors: direction, not length (the default)",
    "cityblock": "The sum of the differences in each coordinate (Manhattan distance)",
    "seuclidean": "Euclidean distance with each coordinate divided by its variance over the library",
    "correlation": "1 − correlation of the two vectors: cosine after subtracting each vector's mean",
    "kulsinski": "A dissimilarity of binary vectors (which coordinates are nonzero). Only meaningful on "
    "binarised vectors: in real-valued embeddings every coordinate is nonzero, so every song "
    "is at the same distance and nothing is ranked",
}
SCALER_TIPS = {
    "MinMaxScaler": "Each coordinate scaled to 0–1 over the library",
    "StandardScaler": "Each coordinate to mean 0 and variance 1 over the library",
    "Normalizer": "Each song's vector to length 1 (the default)",
}


def audio_files(mime) -> list[Path]:
    """The local audio files among dropped URLs (by extension, as a library scan takes them)."""
    from trainer.audio import AUDIO_EXTENSIONS

    if not mime.hasUrls():
        return []
    paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
    return [p for p in paths if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()]


class QueryPanel(QWidget):
    playQueryRequested = Signal()

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from trainer.distances import DISTANCES, SCALERS

        self.session = session
        self.title_label = QLabel()
        self.title_label.setObjectName("QueryTitle")
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_label = QLabel()
        for label in (self.title_label, self.detail_label):  # tags are text, whatever they hold
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_label.setObjectName("Dim")
        self.play_button = QToolButton(icon=play_icon("#3fa7d6"), toolTip="Play the query song")
        self.play_button.setAutoRaise(True)
        self.play_button.setIconSize(QSize(34, 34))
        self.file_button = QToolButton(
            text="From a file…",
            toolTip="Find the library's songs most like an audio file from anywhere, in the library "
            "or not (or drop the file on this panel)",
        )
        self.setAcceptDrops(True)
        self._last_folder = Path.home()

        self.model_combo = QComboBox(toolTip="Embedding model (trained models appear here)")
        # a long model name may be cut in the closed picker (its tooltip and the list show it all);
        # distance and scaler names are known and always fit
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(10)
        self.distance_combo = QComboBox(toolTip="Distance between embeddings")
        self.distance_combo.addItems(list(DISTANCES))
        self.scaler_combo = QComboBox(toolTip="How embeddings are scaled before measuring distance")
        self.scaler_combo.addItems(list(SCALERS))
        for combo, tips in ((self.distance_combo, DISTANCE_TIPS), (self.scaler_combo, SCALER_TIPS)):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            for i in range(combo.count()):
                combo.setItemData(i, tips.get(combo.itemText(i), ""), Qt.ItemDataRole.ToolTipRole)
        self._tips = {combo: combo.toolTip() for combo in (self.distance_combo, self.scaler_combo)}
        self.k_spin = QSpinBox(toolTip="Number of results")
        self.k_spin.setRange(1, 200)

        # Two rows of two pickers: in one row the four were squeezed until "correlation" and
        # "Normalizer" were cut off in a window of ordinary width.
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.detail_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.detail_label.setWordWrap(True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.play_button, 0, 0, 2, 1)
        grid.addWidget(self.title_label, 0, 1, 1, 2)
        grid.addWidget(self.file_button, 0, 3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.detail_label, 1, 1, 1, 3)
        for row, pair in enumerate(
            (
                (("Model", self.model_combo), ("k", self.k_spin)),
                (("Distance", self.distance_combo), ("Scaler", self.scaler_combo)),
            ),
            start=2,
        ):
            for col, (label, widget) in enumerate(pair):
                lab = QLabel(label)
                lab.setObjectName("Dim")
                grid.addWidget(lab, row, 2 * col, Qt.AlignmentFlag.AlignRight)
                if widget is self.k_spin:
                    grid.addWidget(widget, row, 1 + 2 * col, Qt.AlignmentFlag.AlignLeft)
                else:
                    grid.addWidget(widget, row, 1 + 2 * col)
        for column in (1, 3):  # the pickers share the width beyond their contents
            grid.setColumnStretch(column, 1)

        self._fill_models()
        self._sync_options()
        self._on_query(session.query_song)
        self.model_combo.currentIndexChanged.connect(self._on_model_picked)
        self.distance_combo.currentTextChanged.connect(session.set_distance)
        self.scaler_combo.currentTextChanged.connect(session.set_scaler)
        self.k_spin.valueChanged.connect(session.set_k)
        self.play_button.clicked.connect(self._on_play)
        self.file_button.clicked.connect(self.find_like_file)
        session.modelsChanged.connect(self._fill_models)
        session.optionsChanged.connect(self._sync_options)
        session.queryChanged.connect(self._on_query)

    def _fill_models(self) -> None:
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for ref in self.session.model_refs:
            info = ref.info
            # The name alone: with the architecture beside it the combo was cut off ("default (")
            # in a window of ordinary width; the architecture is in the item's tooltip.
            self.model_combo.addItem(ref.name, ref.name)
            tip = f"{info.arch}, {info.embedding_dim}-d" + (f", {info.loss} loss" if info.loss else "")
            if info.epochs:
                tip += f", {info.epochs} epochs"
            self.model_combo.setItemData(self.model_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.model_combo.blockSignals(False)
        self._sync_options()

    def _sync_options(self) -> None:
        s = self.session
        for widget, setter in (
            (
                self.model_combo,
                lambda: self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(s.model_name))),
            ),
            (self.distance_combo, lambda: self.distance_combo.setCurrentText(s.distance)),
            (self.scaler_combo, lambda: self.scaler_combo.setCurrentText(s.scaler)),
            (self.k_spin, lambda: self.k_spin.setValue(s.k)),
        ):
            widget.blockSignals(True)
            setter()
            widget.blockSignals(False)
        # Ranking by one part of the vector (a link under the results) uses its own measure.
        by_part = s.alike_in is not None
        for combo in (self.distance_combo, self.scaler_combo):
            combo.setEnabled(not by_part)
            combo.setToolTip(
                f"Off while ranking by {s.alike_in} alone ('all parts' under the results)"
                if by_part
                else self._tips[combo]
            )

    def _on_model_picked(self, index: int) -> None:
        name = self.model_combo.itemData(index)
        if name:
            self.session.set_model(name)

    def _on_query(self, song) -> None:
        self.play_button.setEnabled(song is not None)
        if song is None:
            self.title_label.setText("No query song")
            self.detail_label.setText(
                "Double-click a song in the library (or select it and press Enter), "
                "click a point on the map, or drop an audio file here"
            )
            return
        self.title_label.setText(song_text.title(song))
        rest = " — ".join(p for p in (song_text.artist(song), song_text.album(song)) if p)
        if song is self.session.outside:
            rest = " · ".join(p for p in (rest, "not in the library") if p)
        self.detail_label.setText(rest or song_text.rel_path(song))
        self.title_label.setToolTip(str(song.path))

    def _on_play(self) -> None:
        if self.session.query_song is not None:
            self.playQueryRequested.emit()

    def find_like_file(self) -> None:
        """Ask for an audio file and query it (*From a file…*, *File ▸ Find songs like a file…*)."""
        from trainer.audio import AUDIO_EXTENSIONS

        patterns = " ".join(f"*{ext}" for ext in sorted(AUDIO_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(
            self, "Find songs like…", str(self._last_folder), f"Audio files ({patterns});;All files (*)"
        )
        if path:
            self._last_folder = Path(path).parent  # the next file is often beside this one
            self.session.query_file(Path(path))

    # -- an audio file dropped on the panel: query it -----------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if audio_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()  # a folder goes on to the window, which adds it to the library

    def dropEvent(self, event) -> None:
        files = audio_files(event.mimeData())
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.session.query_file(files[0])
