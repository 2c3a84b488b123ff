"""The recordings the library holds more than once (*Tools ▸ Find duplicates…*), to hear and find.

A list, not a cleaner: which copy to keep (the better format, the tagged one, the one in the right
folder) is the listener's call, so nothing here deletes or moves a file.  The groups come from
:func:`trainer.duplicates.find_duplicates`, run on the library's job queue by :func:`find_and_list`.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np
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
from .session import LibrarySession
from .transport_bar import format_time

SONG_ID = Qt.ItemDataRole.UserRole


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
                        format_time(song.duration_s) if song.duration_s else "",  # as the song table
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


def find_and_list(
    session: LibrarySession,
    window: QWidget,
    play: Callable[[int], None],
    show_in_library: Callable[[int], None],
) -> None:
    """Compare every song with every other on the library's job queue (about a minute at
    100,000 songs; progress and Cancel as for any job), then list the recordings found more than
    once in a :class:`DuplicatesDialog` kept as ``window.duplicates_dialog``, or say in the status
    bar that there are none."""
    from trainer.duplicates import find_duplicates

    ids, matrix = session.embeddings()
    if len(ids) < 2:
        session.message.emit("Find duplicates: index at least two songs first")
        return
    songs = [session.song(int(i)) for i in ids]
    lengths = np.array([s.duration_s if s and s.duration_s is not None else np.nan for s in songs], float)
    model = session.model_name

    def listed(found) -> None:
        groups = [[songs[row] for row in group if songs[row] is not None] for group in found.groups]
        kept = [(g, d) for g, d in zip(groups, found.closest, strict=True) if len(g) > 1]
        how = f"{len(songs)} songs compared with {model}; cosine distance under {found.max_distance:.4f}"
        if not kept:  # short: the status bar shows one line beside its permanent labels
            session.message.emit(f"No recording is in the library twice ({len(songs)} songs compared)")
            return
        count = len(kept)
        dialog = DuplicatesDialog(
            [g for g, _ in kept],
            [d for _, d in kept],
            f"<b>{count} recording{'s' if count > 1 else ''} found more than once</b> ({escape(how)}, "
            "equal lengths): copies, re-encodes, one take under two names. Nothing is deleted here; "
            "double-click a copy to hear it.",
            parent=window,
        )
        dialog.playRequested.connect(play)
        dialog.showRequested.connect(show_in_library)
        window.duplicates_dialog = dialog  # type: ignore[attr-defined]
        dialog.show()

    session.enqueue("Finding duplicates", find_duplicates, (matrix, lengths), on_done=listed)
