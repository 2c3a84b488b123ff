"""The play queue wired into the window: previous / next and a queue button in the transport bar,
the queue panel (a dock), the Playback menu's items and keys (media keys too), and "Play similar"
/ "Journey to…" from the song table, the results and the map (right-click a point)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolButton

from . import song_text
from .icons import skip_icon
from .journey_dialog import JourneyDialog
from .play_queue import PlayQueue
from .queue_view import QueueView


class PlaylistActions(QObject):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        session, player = window.session, window.player
        self.queue = PlayQueue(session, player, parent=self)
        self.view = QueueView(self.queue)
        self.dock = QDockWidget("Queue", window)
        self.dock.setObjectName("QueueDock")  # saveState/restoreState keep where it is
        self.dock.setWidget(self.view)
        self.dock.setMinimumWidth(300)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.journey_dialog: JourneyDialog | None = None

        transport = window.transport
        self.previous_button = QToolButton(icon=skip_icon(False), toolTip="Previous (Ctrl+Left)")
        self.next_button = QToolButton(icon=skip_icon(True), toolTip="Next (Ctrl+Right)")
        self.queue_button = QToolButton(text="Queue", toolTip="Show or hide the play queue (Ctrl+U)")
        self.queue_button.setCheckable(True)
        for b in (self.previous_button, self.next_button):
            b.setAutoRaise(True)
            b.setIconSize(QSize(22, 22))
        row = transport.layout()
        row.insertWidget(row.indexOf(transport.play_button), self.previous_button)
        row.insertWidget(row.indexOf(transport.play_button) + 1, self.next_button)
        row.addWidget(self.queue_button)

        self.previous_action = QAction("Previous", self)
        self.previous_action.setShortcuts([QKeySequence("Ctrl+Left"), QKeySequence(Qt.Key.Key_MediaPrevious)])
        self.next_action = QAction("Next", self)
        self.next_action.setShortcuts([QKeySequence("Ctrl+Right"), QKeySequence(Qt.Key.Key_MediaNext)])
        self.queue_action = self.dock.toggleViewAction()
        self.queue_action.setText("Show &queue")
        self.queue_action.setShortcut(QKeySequence("Ctrl+U"))
        self.radio_action = QAction("Play similar to the query", self, shortcut=QKeySequence("Ctrl+R"))
        self.journey_action = QAction("Journey from the query to…", self, shortcut=QKeySequence("Ctrl+J"))
        menu = self._playback_menu()
        menu.addSeparator()
        for action in (
            self.previous_action,
            self.next_action,
            self.queue_action,
            self.radio_action,
            self.journey_action,
        ):
            menu.addAction(action)
            window.addAction(action)  # the keys work wherever the focus is in the window
        for key, slot in (
            (Qt.Key.Key_MediaPlay, player.toggle),
            (Qt.Key.Key_MediaTogglePlayPause, player.toggle),
            (Qt.Key.Key_MediaPause, player.pause),
            (Qt.Key.Key_MediaStop, player.stop),
        ):
            QShortcut(QKeySequence(key), window, slot)

        self.previous_button.clicked.connect(self.queue.previous)
        self.next_button.clicked.connect(self.queue.next)
        self.previous_action.triggered.connect(self.queue.previous)
        self.next_action.triggered.connect(self.queue.next)
        self.queue_button.toggled.connect(self.dock.setVisible)
        self.dock.visibilityChanged.connect(self._sync_queue_button)
        self.radio_action.triggered.connect(self.play_similar_to_query)
        self.journey_action.triggered.connect(lambda: self.ask_journey(None, from_id=session.query_id))
        page = window.library_page
        for view in (page.library_view, page.results_view):
            view.playSimilarRequested.connect(self.play_similar)
            view.journeyRequested.connect(self.ask_journey)
            view.enqueueRequested.connect(self.queue.enqueue)
        page.map_view.songMenuRequested.connect(self._map_menu)
        self.queue.journeyChanged.connect(page.map_view.show_journey)
        self.queue.changed.connect(self._update_buttons)
        self.queue.currentChanged.connect(lambda _r: self._update_buttons())
        self._update_buttons()

    def _playback_menu(self) -> QMenu:
        for action in self.window.menuBar().actions():
            if action.menu() is not None and action.text().replace("&", "") == "Playback":
                return action.menu()
        return self.window.menuBar().addMenu("&Playback")

    # -- actions --------------------------------------------------------------------------------
    def play_similar(self, song_id: int) -> None:
        self.queue.start_radio(song_id)
        self.show_queue()

    def play_similar_to_query(self) -> None:
        """Radio from the query; from a song outside the library, from its nearest library song
        (the radio walks the library's own neighbours)."""
        session = self.window.session
        if session.query_id is not None:
            self.play_similar(session.query_id)
        elif session.outside is not None and session.results:
            nearest = session.results[0].song
            session.message.emit(
                f"Playing songs like '{song_text.title(nearest)}', the library's nearest to "
                f"'{song_text.title(session.outside)}'"
            )
            self.play_similar(nearest.id)
        else:
            session.message.emit("Play similar: pick a query song first (double-click a song)")

    def ask_journey(self, to_id: int | None, from_id: int | None = None) -> JourneyDialog:
        """Open the journey dialog (To: this song, From: the query unless given); on "Play journey"
        the journey replaces the queue and plays."""
        dialog = JourneyDialog(self.window.session, to_id, from_id, parent=self.window)
        dialog.accepted.connect(lambda: self._on_journey_chosen(dialog))
        self.journey_dialog = dialog
        dialog.open()
        return dialog

    def _on_journey_chosen(self, dialog: JourneyDialog) -> None:
        chosen = dialog.chosen()
        if chosen is not None:
            self.queue.start_journey(*chosen)
            self.show_queue()

    def show_queue(self) -> None:
        self.dock.show()
        self.dock.raise_()

    def _map_menu(self, song_id: int, at) -> None:
        session = self.window.session
        song = session.song(song_id)
        if song is None:
            return
        page = self.window.library_page
        menu = QMenu(self.window)
        menu.addAction("Find similar songs", lambda: page.map_view.songClicked.emit(song_id))
        menu.addAction("Play", lambda: page.play_song(song_id))
        menu.addAction("Play similar", lambda: self.play_similar(song_id))
        menu.addAction("Journey to here…", lambda: self.ask_journey(song_id))
        menu.addAction("Journey from here…", lambda: self.ask_journey(None, from_id=song_id))
        menu.addAction("Add to queue", lambda: self.queue.enqueue(song_id))
        self.map_menu = menu
        menu.popup(at)

    def _sync_queue_button(self, visible: bool) -> None:
        self.queue_button.blockSignals(True)
        self.queue_button.setChecked(visible)
        self.queue_button.blockSignals(False)

    def _update_buttons(self) -> None:
        self.previous_button.setEnabled(bool(self.queue.songs))
        self.next_button.setEnabled(self.queue.has_next())
        self.previous_action.setEnabled(bool(self.queue.songs))
        self.next_action.setEnabled(self.queue.has_next())
