"""Table models for the library: one row per song, and a proxy that sorts and filters them."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QApplication, QStyle

from . import song_text
from .transport_bar import format_time

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
SONG_ID_ROLE = Qt.ItemDataRole.UserRole + 2
ERROR_COLOR = QColor("#e06c75")


class SongTableModel(QAbstractTableModel):
    COLUMNS = ("Title", "Artist", "Album", "Length", "File")
    TITLE, ARTIST, ALBUM, LENGTH, FILE = range(5)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._songs: list = []
        self._failures: dict[int, str] = {}
        self._row_of: dict[int, int] = {}
        self._query_id: int | None = None
        self._bold = QFont()
        self._bold.setBold(True)
        self._warn_icon = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)

    def set_songs(self, songs: list, failures: dict[int, str] | None = None) -> None:
        self.beginResetModel()
        self._songs = list(songs)
        self._failures = dict(failures or {})
        self._row_of = {s.id: i for i, s in enumerate(self._songs)}
        self.endResetModel()

    def set_query(self, song_id: int | None) -> None:
        old = self._row_of.get(self._query_id) if self._query_id is not None else None
        self._query_id = song_id
        for row in (old, self._row_of.get(song_id) if song_id is not None else None):
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def song_at(self, row: int):
        return self._songs[row] if 0 <= row < len(self._songs) else None

    def row_of(self, song_id: int) -> int | None:
        return self._row_of.get(song_id)

    def error_of(self, song) -> str | None:
        return self._failures.get(song.id) or song.error

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._songs)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        song = self._songs[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(song, col)
        if role == SORT_ROLE:
            if col == self.LENGTH:
                return float(song.duration_s or 0.0)
            return self._text(song, col).casefold()
        if role == SONG_ID_ROLE:
            return song.id
        error = self.error_of(song)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = str(song.path)
            return f"Could not be decoded: {error}\n{tip}" if error else tip
        if role == Qt.ItemDataRole.DecorationRole and col == self.TITLE and error:
            return self._warn_icon
        if role == Qt.ItemDataRole.ForegroundRole and error:
            return QBrush(ERROR_COLOR)
        if role == Qt.ItemDataRole.FontRole and song.id == self._query_id:
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.LENGTH:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, song, col: int) -> str:
        if col == self.TITLE:
            return song_text.title(song)
        if col == self.ARTIST:
            return song_text.artist(song)
        if col == self.ALBUM:
            return song_text.album(song)
        if col == self.LENGTH:
            return format_time(song.duration_s) if song.duration_s else ""
        return song_text.rel_path(song)


class SongFilterProxy(QSortFilterProxyModel):
    """Case-insensitive filter over every column; sorts by ``SORT_ROLE`` (numbers for lengths)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._words: list[str] = []

    def set_search(self, text: str) -> None:
        begin = getattr(self, "beginFilterChange", None)  # Qt >= 6.9; invalidateFilter is deprecated
        if begin is not None:
            begin()
        self._words = text.casefold().split()
        if begin is not None:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        song = model.song_at(source_row)
        hay = " ".join(model._text(song, c) for c in range(len(model.COLUMNS))).casefold()
        return all(w in hay for w in self._words)
