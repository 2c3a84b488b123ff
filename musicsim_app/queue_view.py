"""The queue panel: what plays next, editable (remove, drag to reorder), playable, exportable."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import song_text
from .icons import play_icon
from .play_queue import PlayQueue

#: What a QListWidget's drag carries.
ITEM_MIME = "application/x-qabstractitemmodeldatalist"


class QueueList(QListWidget):
    """A list whose drops move songs in the :class:`PlayQueue` (which then redraws the list)."""

    def __init__(self, queue: PlayQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)

    def _ours(self, event) -> bool:
        """A drag of this list's own rows (``source()`` is None for one synthesised by a test)."""
        return event.source() in (self, None) and event.mimeData().hasFormat(ITEM_MIME)

    def dragEnterEvent(self, event) -> None:
        super().dragEnterEvent(event)
        if self._ours(event):
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()

    def dragMoveEvent(self, event) -> None:
        super().dragMoveEvent(event)  # the drop indicator
        if self._ours(event):
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()

    def drop_row(self, pos) -> int:
        """The row a drop at viewport position ``pos`` puts a song before (``count()``: at the end)."""
        index = self.indexAt(pos)
        if not index.isValid():
            return self.count()
        rect = self.visualRect(index)
        return index.row() + (1 if pos.y() > rect.center().y() else 0)

    def dropEvent(self, event) -> None:
        rows = sorted(i.row() for i in self.selectedIndexes())
        if not rows or not self._ours(event):
            event.ignore()
            return
        target = self.drop_row(event.position().toPoint())
        row = rows[0]
        self.queue.move(row, target - 1 if target > row else target)
        # CopyAction: the drag must not delete the source rows; the queue has redrawn the list
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()


class QueueView(QWidget):
    def __init__(self, queue: PlayQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.title_label = QLabel()
        self.title_label.setObjectName("QueueTitle")
        self.title_label.setWordWrap(True)
        self.status_label = QLabel()
        self.status_label.setObjectName("Dim")
        self.list = QueueList(queue)
        self.list.setToolTip("Double-click to play; drag to reorder; Delete removes; Alt+Up/Down moves")
        self.remove_button = QPushButton(
            "Remove", toolTip="Take the selected songs out of the queue (Delete)"
        )
        self.clear_button = QPushButton("Clear", toolTip="Empty the queue")
        self.export_button = QPushButton("Export M3U…", toolTip="Save the queue as a playlist")
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._play_icon = play_icon("#3fa7d6")

        self.list.itemDoubleClicked.connect(lambda item: queue.play_at(self.list.row(item)))
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(queue.clear)
        self.export_button.clicked.connect(self._on_export)
        for key, slot in (
            (QKeySequence.StandardKey.Delete, self.remove_selected),
            (QKeySequence("Alt+Up"), lambda: self._move_selected(-1)),
            (QKeySequence("Alt+Down"), lambda: self._move_selected(+1)),
        ):
            QShortcut(key, self.list, slot, context=Qt.ShortcutContext.WidgetShortcut)
        queue.changed.connect(self._refill)
        queue.currentChanged.connect(lambda _row: self._mark_current())
        queue.busyChanged.connect(
            lambda busy: self.status_label.setText("Finding a journey…" if busy else "")
        )
        self._refill()

    def rows_text(self) -> list[str]:
        """What each row says, in order (what the user sees)."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def remove_selected(self) -> None:
        self.queue.remove([i.row() for i in self.list.selectedIndexes()])

    def _move_selected(self, by: int) -> None:
        rows = [i.row() for i in self.list.selectedIndexes()]
        if len(rows) == 1 and 0 <= rows[0] + by < self.list.count():
            self.queue.move(rows[0], rows[0] + by)
            self.list.setCurrentRow(rows[0] + by)

    def _refill(self) -> None:
        q = self.queue
        selected = {i.row() for i in self.list.selectedIndexes()}
        self.list.clear()
        for n, song_id in enumerate(q.songs, start=1):
            song = q.session.song(song_id)
            if song is None:
                continue
            item = QListWidgetItem(
                f"{n}. {song_text.title(song)}"
                + (f" — {song_text.artist(song)}" if song_text.artist(song) else "")
            )
            note = q.notes.get(song_id)
            item.setToolTip(str(song.path) + (f"\n{note}" if note else ""))
            item.setData(Qt.ItemDataRole.UserRole, song_id)
            self.list.addItem(item)
        for row in selected:
            if row < self.list.count():
                self.list.item(row).setSelected(True)
        count = len(q.songs)
        # the title names a song ("Radio from …"): its tags are text, not markup
        self.title_label.setText(f"<b>{escape(q.title)}</b>" if count else "<b>Queue</b>")
        self.title_label.setToolTip(q.title)
        if not q.busy:
            self.status_label.setText(
                f"{count} song{'s' if count != 1 else ''}"
                + (" · radio adds more as it plays" if q.mode == "radio" else "")
                if count
                else "Empty: “Play similar” or “Journey to…” on any song"
            )
        self._mark_current()
        self._update_buttons()

    def _mark_current(self) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            current = row == self.queue.current
            font = QFont(item.font())
            font.setBold(current)
            item.setFont(font)
            item.setIcon(self._play_icon if current else QListWidgetItem().icon())
        if 0 <= self.queue.current < self.list.count():
            self.list.scrollToItem(self.list.item(self.queue.current))

    def _update_buttons(self) -> None:
        has = self.list.count() > 0
        self.remove_button.setEnabled(bool(self.list.selectedIndexes()))
        self.clear_button.setEnabled(has)
        self.export_button.setEnabled(has)

    def export_m3u(self, path: Path) -> None:
        self.queue.export_m3u(path)

    def _on_export(self) -> None:
        suggested = (self.queue.title.split(" · ")[0].replace("→", "to").replace(":", "") or "queue") + ".m3u"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the queue", str(Path.home() / suggested), "M3U playlist (*.m3u *.m3u8)"
        )
        if path:
            try:
                self.export_m3u(Path(path))
            except OSError as exc:
                self.queue.session.errorOccurred.emit(f"cannot write playlist: {exc.strerror or exc}")
            else:
                self.queue.session.message.emit(f"Playlist saved to {path}")
