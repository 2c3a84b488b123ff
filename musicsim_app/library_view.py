"""The song table with its search box, folder buttons and drag-and-drop of folders."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .library_model import SONG_ID_ROLE, SongFilterProxy, SongTableModel
from .session import LibrarySession


class UnusableDialog(QDialog):
    """One list of what could not be used and why: songs that did not decode and files the scan
    could not take (empty, unreadable)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be used")
        self.summary = QLabel(wordWrap=True)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["File", "Why"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.resize(760, 360)

    def fill(self, rows: list[tuple[Path, str]]) -> None:
        self.summary.setText(
            f"{len(rows)} file{'s' if len(rows) != 1 else ''} of the library could not "
            "be used; fix or replace them and press Rescan."
            if rows
            else "Every file of the library could be used."
        )
        self.table.setRowCount(len(rows))
        for i, (path, reason) in enumerate(rows):
            for col, text in enumerate((str(path), reason)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, col, item)
        self.table.setColumnWidth(0, 380)


class LibraryView(QWidget):
    queryRequested = Signal(int)  #: song id
    playRequested = Signal(int)
    playSimilarRequested = Signal(int)  #: radio from this song (the play queue)
    journeyRequested = Signal(int)  #: a journey to this song
    enqueueRequested = Signal(int)
    currentSongChanged = Signal(int)
    addFolderRequested = Signal()
    foldersDropped = Signal(list)  #: list[Path]

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setAcceptDrops(True)
        self.model = SongTableModel(self)
        self.proxy = SongFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.search = QLineEdit(
            placeholderText="Search songs…  (Ctrl+F)",
            toolTip="Finds songs by title, artist, album or file name; Esc clears",
        )
        self.search.setClearButtonEnabled(True)
        self.add_button = QPushButton(
            "Add folder…",
            toolTip="Add a music folder to the library (Ctrl+O); the folders already in it "
            "stay (File ▸ Remove folder takes one out). You can also drop folders here.",
        )
        self.rescan_button = QPushButton("Rescan", toolTip="Look for new, changed and removed files")
        self.count_label = QLabel()
        self.count_label.setObjectName("Dim")
        self.count_label.setTextFormat(Qt.TextFormat.RichText)  # "3 could not be used" opens the list
        self.count_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.count_label.linkActivated.connect(lambda _link: self.show_unusable())
        self.unusable_dialog: UnusableDialog | None = None

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(SongTableModel.FILE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in ((0, 190), (1, 120), (2, 140), (3, 70)):
            self.table.setColumnWidth(col, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.add_button)
        top.addWidget(self.rescan_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)

        self.search.textChanged.connect(self._on_search)
        self.search.returnPressed.connect(self._on_search_return)
        self.add_button.clicked.connect(self.addFolderRequested)
        self.rescan_button.clicked.connect(session.rescan)
        self.table.doubleClicked.connect(self._on_double_click)
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            sc = QShortcut(QKeySequence(key), self.table, context=Qt.ShortcutContext.WidgetShortcut)
            sc.activated.connect(self.query_selected)
        for widget in (self.search, self.table):  # Esc clears the filter, from the box or the list
            sc = QShortcut(QKeySequence(Qt.Key.Key_Escape), widget, context=Qt.ShortcutContext.WidgetShortcut)
            sc.activated.connect(self.search.clear)
        session.songsChanged.connect(self._on_songs)
        session.queryChanged.connect(lambda song: self.model.set_query(song.id if song else None))

    # -- public ---------------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def selected_song_id(self) -> int | None:
        index = self.table.currentIndex()
        return index.data(SONG_ID_ROLE) if index.isValid() else None

    def query_selected(self) -> None:
        song_id = self.selected_song_id()
        if song_id is not None:
            self.queryRequested.emit(song_id)

    def select_song(self, song_id: int) -> None:
        row = self.model.row_of(song_id)
        if row is None:
            return
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not proxy_index.isValid():  # hidden by the search filter: clear it to show the song
            self.search.clear()
            proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(
            proxy_index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(proxy_index, QAbstractItemView.ScrollHint.EnsureVisible)

    # -- slots ----------------------------------------------------------------------------------
    def _on_songs(self) -> None:
        current = self.selected_song_id()
        self.model.set_songs(self.session.songs, self.session.failures)
        self.model.set_query(self.session.query_id)
        if current is not None:
            self.select_song(current)
        self._update_count()

    def _update_count(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        bad = len(self.session.unusable())  # the count the status bar says after indexing
        text = f"{total} songs" if shown == total else f"{shown} of {total} songs"
        if bad:
            text += f' · <a href="unusable">{bad} could not be used</a>'
        roots = ", ".join(escape(r.name or str(r)) for r in self.session.roots)
        self.count_label.setText(f"{text} · {roots}" if roots else text)
        self.count_label.setToolTip("\n".join(str(r) for r in self.session.roots))
        if self.unusable_dialog is not None and self.unusable_dialog.isVisible():
            self.unusable_dialog.fill(self.session.unusable())

    def show_unusable(self) -> UnusableDialog:
        """The files of the library that cannot be searched, each with why."""
        if self.unusable_dialog is None:
            self.unusable_dialog = UnusableDialog(self)
        self.unusable_dialog.fill(self.session.unusable())
        self.unusable_dialog.show()
        self.unusable_dialog.raise_()
        return self.unusable_dialog

    def _on_search(self, text: str) -> None:
        self.proxy.set_search(text)
        self._update_count()

    def _on_search_return(self) -> None:
        if self.proxy.rowCount() == 0:
            return
        if not self.table.currentIndex().isValid():
            self.table.selectRow(0)
        self.query_selected()

    def _on_double_click(self, index) -> None:
        self.queryRequested.emit(index.data(SONG_ID_ROLE))

    def _on_current_row(self, current, _previous) -> None:
        if current.isValid():
            self.currentSongChanged.emit(current.data(SONG_ID_ROLE))

    def _on_context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        song_id = index.data(SONG_ID_ROLE)
        menu = QMenu(self)
        menu.addAction("Find similar songs", lambda: self.queryRequested.emit(song_id))
        menu.addAction("Play", lambda: self.playRequested.emit(song_id))
        menu.addAction("Play similar", lambda: self.playSimilarRequested.emit(song_id))
        menu.addAction("Journey to…", lambda: self.journeyRequested.emit(song_id))
        menu.addAction("Add to queue", lambda: self.enqueueRequested.emit(song_id))
        menu.addSeparator()
        copy = QAction("Copy file path", menu)
        song = self.session.song(song_id)
        copy.triggered.connect(lambda: self._copy(str(song.path)) if song else None)
        menu.addAction(copy)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    @staticmethod
    def _copy(text: str) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.clipboard().setText(text)

    # -- drag and drop ----------------------------------------------------------------------------
    @staticmethod
    def _dropped_folders(mime) -> list[Path]:
        if not mime.hasUrls():
            return []
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        return [p if p.is_dir() else p.parent for p in paths if p.exists()]

    def dragEnterEvent(self, event) -> None:
        if self._dropped_folders(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folders = list(dict.fromkeys(self._dropped_folders(event.mimeData())))
        if folders:
            event.acceptProposedAction()
            self.foldersDropped.emit(folders)
