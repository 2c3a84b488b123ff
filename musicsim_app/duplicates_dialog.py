"""The recordings the library holds more than once (*Tools ▸ Find duplicates…*), to hear and find.

A list, not a cleaner: which copy to keep (the better format, the tagged one, the one in the right
folder) is the listener's call, so nothing here deletes or moves a file.  The groups come from
:func:`trainer.duplicates.find_duplicates`, run on the library's job queue by the main window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import song_text

SONG_ID = Qt.ItemDataRole.UserRole


def length_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


class DuplicatesDialog(QDialog):
    """One row per recording found more than once, its copies below it; double-click plays."""

    playRequested = Signal(int)  #: song id
    showRequested = Signal(int)  #: song id: select it in the library

    def __init__(self, songs: list[list], closest: list[float], summary: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Duplicates")
        self.summary = QLabel(summary, wordWrap=True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Title", "Artist", "Album", "Length", "Size", "File"])
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        for group, distance in zip(songs, closest, strict=True):
            top = QTreeWidgetItem([f"{len(group)} copies · distance {distance:.4f}"])
            self.tree.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)  # (only once it is in the tree)
            for song in group:
                child = QTreeWidgetItem(
                    [
                        song_text.title(song),
                        song_text.artist(song),
                        song_text.album(song),
                        length_text(song.duration_s),
                        f"{song.size / 1e6:.1f} MB",
                        song_text.rel_path(song),
                    ]
                )
                child.setToolTip(5, str(song.path))
                child.setData(0, SONG_ID, song.id)
                top.addChild(child)
            top.setExpanded(True)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.play_button = QPushButton("Play", toolTip="Play the selected copy (or double-click it)")
        self.show_button = QPushButton(
            "Show in library", toolTip="Select the selected copy in the song table"
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        for button in (self.play_button, self.show_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
            button.setEnabled(False)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.resize(900, 420)

        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._emit(self.playRequested, item))
        self.play_button.clicked.connect(lambda: self._emit(self.playRequested, self.tree.currentItem()))
        self.show_button.clicked.connect(lambda: self._emit(self.showRequested, self.tree.currentItem()))

    @staticmethod
    def song_id(item: QTreeWidgetItem | None) -> int | None:
        value = item.data(0, SONG_ID) if item is not None else None
        return int(value) if value is not None else None

    def _on_current(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        is_song = self.song_id(item) is not None
        self.play_button.setEnabled(is_song)
        self.show_button.setEnabled(is_song)

    def _emit(self, signal, item: QTreeWidgetItem | None) -> None:
        song_id = self.song_id(item)
        if song_id is not None:
            signal.emit(song_id)
