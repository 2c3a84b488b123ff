"""Top-k results: rank, play button, title, artist, album, distance; walk and export."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from . import song_text
from .icons import play_icon
from .session import LibrarySession, Result


def write_m3u(path: Path, results: list[Result], query=None) -> None:
    """Extended M3U (UTF-8): the query first when given, then the results in rank order, written
    by the engine's one M3U writer (``trainer.playlists.write_m3u``)."""
    from trainer.playlists import write_m3u as write_playlist

    songs = ([query] if query is not None else []) + [r.song for r in results]
    write_playlist(path, [song_text.playlist_entry(s) for s in songs])


class ResultsModel(QAbstractTableModel):
    COLUMNS = ("", "#", "Title", "Artist", "Album", "Distance")
    PLAY, RANK, TITLE, ARTIST, ALBUM, DISTANCE = range(6)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.results: list[Result] = []
        self._play_icon = play_icon("#3fa7d6")
        self.play_tip = "Play"  #: says so when there is no audio output

    def set_results(self, results: list[Result]) -> None:
        self.beginResetModel()
        self.results = list(results)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.results)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.results[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                self.RANK: str(r.rank),
                self.TITLE: song_text.title(r.song),
                self.ARTIST: song_text.artist(r.song),
                self.ALBUM: song_text.album(r.song),
                self.DISTANCE: f"{r.distance:.4g}",
            }.get(col)
        if role == Qt.ItemDataRole.DecorationRole and col == self.PLAY:
            return self._play_icon
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.play_tip if col == self.PLAY else str(r.song.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (self.RANK, self.DISTANCE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col in (self.RANK, self.DISTANCE):
            return QColor("#9aa4b1")
        return None


#: Parts named under the results (the closest first); the tooltip lists them all.
WHY_SHOWN = 3
#: The link under the results that goes back from one part to the whole vector.
ALL_PARTS = "*"


class ResultsView(QWidget):
    playRequested = Signal(int)  #: song id
    useAsQueryRequested = Signal(int)
    playSimilarRequested = Signal(int)  #: radio from this song (the play queue)
    journeyRequested = Signal(int)  #: a journey to this song
    enqueueRequested = Signal(int)
    currentSongChanged = Signal(int)

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = ResultsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        # title, artist and album share what is left, so that none shrinks to nothing in a narrow window
        for col in (ResultsModel.TITLE, ResultsModel.ARTIST, ResultsModel.ALBUM):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(ResultsModel.DISTANCE, QHeaderView.ResizeMode.ResizeToContents)
        for col, width in ((ResultsModel.PLAY, 28), (ResultsModel.RANK, 32)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(col, width)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

        self.walk_button = QPushButton("Use as query", toolTip="Search again from the selected result")
        self.export_button = QPushButton("Export M3U…", toolTip="Save query and results as a playlist")
        self.empty_label = QLabel(wordWrap=True)  # wraps rather than holding the panel wide
        self.empty_label.setObjectName("Dim")
        # when the distance cannot separate the songs: said instead of listing them in table order
        self.notice_label = QLabel(wordWrap=True)
        self.notice_label.setObjectName("Warning")
        self.notice_label.setVisible(False)
        self.notice_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.why_label = QLabel()  # which parts of the vector the selected result is alike in
        self.why_label.setVisible(False)
        self.why_label.setTextFormat(Qt.TextFormat.RichText)  # each part is a link: rank by it alone
        self.why_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        # its text must not hold the panel wider than the splitter leaves it: it wraps instead
        self.why_label.setWordWrap(True)
        self.why_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        buttons = QHBoxLayout()
        buttons.addWidget(self.empty_label, 1)
        buttons.addWidget(self.walk_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.why_label)
        layout.addLayout(buttons)

        self.table.clicked.connect(self._on_clicked)
        self.table.doubleClicked.connect(lambda ix: self.useAsQueryRequested.emit(self._song_id(ix.row())))
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.why_label.linkActivated.connect(
            lambda part: self.session.set_alike_in(None if part == ALL_PARTS else part)
        )
        self.walk_button.clicked.connect(self._on_walk)
        self.export_button.clicked.connect(self._on_export)
        session.resultsChanged.connect(self._on_results)
        self._on_results()

    def _on_current_row(self, current, _previous) -> None:
        if not current.isValid():
            self.why_label.setVisible(False)
            return
        self._show_why(self.model.results[current.row()])
        self.currentSongChanged.emit(self._song_id(current.row()))

    def _show_why(self, result: Result) -> None:
        """ "Alike in: timbre (top 2 %) · rhythm (top 9 %) · …": the parts of the model's vector
        where the selected result is nearest the query, as its place among the library's songs
        ("2nd of 35" in a small library).  While the results are ranked by one part alone, that
        part comes first, in bold and marked ▸, with "all parts" to go back."""
        self.why_label.setVisible(bool(result.alike))
        if not result.alike:
            return
        from trainer.aspects import place_text

        others = self.session.others()
        active = self.session.alike_in

        def place(share: float) -> str:
            return place_text(share, others)

        ranked = sorted(result.alike, key=lambda a: (a[0] != active, -a[1]))
        shown = [
            f"<b>▸ {escape(name)}</b> ({place(share)})"
            if name == active
            else f'<a href="{escape(name)}">{escape(name)}</a> ({place(share)})'
            for name, share in ranked[:WHY_SHOWN]
        ]
        if active:
            self.why_label.setText(
                f"Ranked by {escape(active)} alone: "
                + " · ".join(shown)
                + f' · <a href="{ALL_PARTS}">all parts</a>'
            )
        else:
            self.why_label.setText("Alike in: " + " · ".join(shown))
        self.why_label.setToolTip(
            f"Where “{escape(song_text.title(result.song))}” ranks among the library's {others}"
            f"{' other' if self.session.outside is None else ''} songs by closeness to the query, "
            "in each part of the model's vector:<br>"
            + "<br>".join(
                f"{'▸ ' if name == active else ''}{escape(name)}: {place(share)}" for name, share in ranked
            )
            + "<br><br>Click a part to rank the whole library by that part alone."
        )

    def _song_id(self, row: int) -> int:
        return self.model.results[row].song.id

    def selected_song_id(self) -> int | None:
        ix = self.table.currentIndex()
        return self._song_id(ix.row()) if ix.isValid() else None

    def _on_results(self) -> None:
        self.model.set_results(self.session.results)
        has = bool(self.session.results)
        self.walk_button.setEnabled(has)
        self.export_button.setEnabled(has)
        self.why_label.setVisible(False)
        self.notice_label.setText(self.session.unseparated)
        self.notice_label.setVisible(bool(self.session.unseparated))
        if has:
            self.table.selectRow(0)
            self._show_why(self.session.results[0])
            by = (
                f"in {self.session.alike_in} alone"
                if self.session.alike_in
                else f"by {self.session.distance}"
            )
            self.empty_label.setText(f"{len(self.session.results)} nearest {by}")
        elif self.session.query_song is None:
            self.empty_label.setText("Double-click a song to find similar ones")
        elif self.session.unseparated:
            self.empty_label.setText(f"No ranking by {self.session.distance}")
        else:
            self.empty_label.setText("No results yet")

    def _on_clicked(self, index) -> None:
        if index.column() == ResultsModel.PLAY:
            self.playRequested.emit(self._song_id(index.row()))

    def _on_walk(self) -> None:
        song_id = self.selected_song_id()
        if song_id is not None:
            self.useAsQueryRequested.emit(song_id)

    def _on_context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        song_id = self._song_id(index.row())
        menu = QMenu(self)
        menu.addAction("Play", lambda: self.playRequested.emit(song_id))
        menu.addAction("Use as query", lambda: self.useAsQueryRequested.emit(song_id))
        menu.addAction("Play similar", lambda: self.playSimilarRequested.emit(song_id))
        menu.addAction("Journey to…", lambda: self.journeyRequested.emit(song_id))
        menu.addAction("Add to queue", lambda: self.enqueueRequested.emit(song_id))
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def export_m3u(self, path: Path) -> None:
        write_m3u(path, self.session.results, self.session.query_song)

    def _on_export(self) -> None:
        query = self.session.query_song
        suggested = f"similar to {song_text.title(query)}.m3u" if query else "results.m3u"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export playlist", str(Path.home() / suggested), "M3U playlist (*.m3u *.m3u8)"
        )
        if path:
            try:
                self.export_m3u(Path(path))
            except OSError as exc:
                self.session.errorOccurred.emit(f"cannot write playlist: {exc.strerror or exc}")
            else:
                self.session.message.emit(f"Playlist saved to {path}")
