"""The main window: sidebar pages, transport bar, status bar, menus, shortcuts, settings.

Longer than a widget usually is: it wires the pages, the player and the menus to one another
and owns what outlives a page (settings, the status bar, closing down the workers).
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import engine_jobs
from .benchmark_page import BenchmarkPage
from .library_page import LibraryPage
from .player import LOADING, PAUSED, PLAYING, Player
from .playlist_actions import PlaylistActions
from .qt_compat import binding_warning
from .session import LibrarySession
from .settings import AppSettings
from .training_page import TrainingPage
from .transport_bar import TransportBar
from .workers import JobRunner, Worker, run_task, wait_for_tasks

log = logging.getLogger(__name__)

#: How long after start-up the engine is warmed up (torch imported, device detected) in the background.
WARM_UP_DELAY_MS = 2000

PAGES = ("Library", "Training", "Benchmarks")
#: The window's size at first start (or after settings from a bigger screen), within the screen.
DEFAULT_SIZE = (1400, 900)
#: How long an error stays red in the status bar.
ERROR_FLASH_MS = 12000
#: A library of at least this many songs, once indexed, gets the offer to adapt the model to it
#: (once per folder); below it, a few songs give the self-supervised loss little to learn from.
ADAPT_OFFER_MIN_SONGS = 40


class JobIndicator(QWidget):
    """Status-bar progress of the library job in flight, with a cancel button."""

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.label = QLabel()
        self.bar = QProgressBar(maximumWidth=180, maximumHeight=16, textVisible=False)
        self.cancel_button = QToolButton(
            icon=self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCancelButton),
            toolTip="Cancel",
            autoRaise=True,
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(session.cancel_jobs)
        session.jobStarted.connect(self._on_started)
        self.hide()

    def _on_started(self, worker: Worker, label: str) -> None:
        self.label.setText(label + "…")
        self.bar.setRange(0, 0)
        worker.progress.connect(self._on_progress)
        worker.done.connect(self._on_done)
        self.show()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
        else:
            self.bar.setRange(0, 0)
        if message:
            self.label.setText(message[:80])

    def _on_done(self) -> None:
        if not self.session.busy():
            self.hide()


class Banner(QWidget):
    """A line across the top of the window that says something once, plainly; × hides it."""

    def __init__(self, text: str, parent: QWidget | None = None, *, action: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.label = QLabel(text, wordWrap=True)
        self.close_button = QToolButton(text="×", toolTip="Hide this message", autoRaise=True)
        #: the one thing the message offers to do, when it offers one
        self.action_button = QPushButton(action) if action else None
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 6, 6)
        row.addWidget(self.label, 1)
        if self.action_button is not None:
            row.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignTop)
            self.action_button.clicked.connect(self.hide)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.close_button.clicked.connect(self.hide)


#: What a play button says when there is no audio output.
SILENT = "silent: no audio output"


class MainWindow(QMainWindow):
    def __init__(
        self, home: Path, *, library: Path | None = None, audio: str = "auto", device: str = "auto"
    ) -> None:
        super().__init__()
        self.setWindowTitle("MusicSim")
        self.setAcceptDrops(True)
        self.home = Path(home)
        self.settings = AppSettings(self.home)
        self._shut_down, self._jobs_stopped = False, True
        self.runner = JobRunner(self)
        self.session = LibrarySession(self.home, self.runner, device=device, parent=self)
        self.player = Player(audio, parent=self)
        self.player.set_volume(self.settings.volume / 100.0)
        self._restore_options()

        self.library_page = LibraryPage(self.session, self.player)
        self.training_page = TrainingPage(self.session, self.settings)
        self.benchmark_page = BenchmarkPage(self.session)
        self.transport = TransportBar(self.player)
        self.transport.volume_slider.setValue(self.settings.volume)

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("Sidebar")
        self.sidebar.setFixedWidth(self._sidebar_width())
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sidebar.setIconSize(QSize(20, 20))
        icons = (
            QStyle.StandardPixmap.SP_DirHomeIcon,
            QStyle.StandardPixmap.SP_BrowserReload,
            QStyle.StandardPixmap.SP_FileDialogDetailedView,
        )
        for name, icon in zip(PAGES, icons, strict=True):
            self.sidebar.addItem(QListWidgetItem(self.style().standardIcon(icon), name))
        self.pages = QStackedWidget()
        for page in (self.library_page, self.training_page, self.benchmark_page):
            self.pages.addWidget(page)
        center = QWidget()
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.sidebar)
        body.addWidget(self.pages, 1)
        outer = QVBoxLayout(center)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.audio_banner: Banner | None = None
        if self.player.unavailable_reason:  # said once, plainly; the play buttons say it too
            self.audio_banner = Banner(
                f"<b>No audio output</b>: {self.player.unavailable_reason}. Play buttons still run the "
                "clock and the playhead, but nothing is heard."
            )
            outer.addWidget(self.audio_banner)
        self.adapt_banner = Banner("", action="Adapt…")
        self.adapt_banner.hide()
        outer.addWidget(self.adapt_banner)
        outer.addLayout(body, 1)
        outer.addWidget(self.transport)
        self.setCentralWidget(center)

        self._build_status_bar()
        self._build_menus()
        self._connect()
        self.playlists = PlaylistActions(
            self
        )  # play queue, radio, journeys (before the dock state is restored)
        self._mark_play_buttons_silent()
        self.session.watch_models()
        self._restore_window()
        self.sidebar.setCurrentRow(min(self.settings.page, len(PAGES) - 1))

        roots = [Path(library)] if library else [r for r in self.settings.library_roots if r.is_dir()]
        if not roots:
            from trainer.paths import demo_library_dir

            roots = [demo_library_dir()]
            self.session.message.emit(
                "Showing the demo library: add your own music with File ▸ Add folder "
                "(File ▸ Remove folder takes the demo out)"
            )
        QTimer.singleShot(0, self, lambda: self.session.open_library(roots))
        self.session.embeddingsChanged.connect(self._warm_up_search)
        QTimer.singleShot(WARM_UP_DELAY_MS, self, lambda: self._warm_up_engine(device))

    def _sidebar_width(self) -> int:
        """Just wide enough for the longest page name, its icon and the theme's padding: the pages
        need the rest of a 1024-px window."""
        font = QFont(self.font())
        font.setPointSizeF(11)  # the sidebar's size in the theme
        text = max(QFontMetrics(font).horizontalAdvance(name) for name in PAGES)
        return text + 20 + 8 + 2 * 10 + 2 * 6 + 10  # icon, its gap, item padding, item margin, frame

    def _warm_up_search(self) -> None:
        """Once the first songs are shown, import what the first query needs (scikit-learn's
        scalers take seconds to import) on a worker, so a double-click does not wait for it on the
        GUI thread."""
        self.session.embeddingsChanged.disconnect(self._warm_up_search)
        if self._shut_down:
            return
        run_task(
            engine_jobs.warm_up_search, lambda _r: None, lambda msg: log.warning("warm-up failed: %s", msg)
        )

    def _warm_up_engine(self, device: str) -> None:
        """Import torch (and what training needs) and detect the device, off the GUI thread.

        Neither is needed to show a library that is indexed already or ships precomputed
        embeddings, and importing torch holds the GIL for seconds: started at once, it made the
        first scan wait for it (songs and results 2.5 s later on the demo library).
        """
        if self._shut_down:  # closed within the delay: a warm-up would only hold up the exit
            return
        run_task(engine_jobs.warm_up, lambda _r: None, lambda msg: log.warning("warm-up failed: %s", msg))
        run_task(
            engine_jobs.describe_device if device == "auto" else lambda: engine_jobs.describe_device(device),
            lambda text: self.device_label.setText(f"Device: {text}"),
            lambda msg: self.device_label.setText(f"Device: {msg}"),
            owner=self,
        )

    # -- construction -----------------------------------------------------------------------------
    def _restore_options(self) -> None:
        s, st = self.session, self.settings
        from trainer.distances import DISTANCES, SCALERS

        if s.model_ref(st.model) is not None:
            s.model_name = st.model
        s.distance = st.distance if st.distance in DISTANCES else s.distance
        s.scaler = st.scaler if st.scaler in SCALERS else s.scaler
        s.k = max(1, min(200, st.k))

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.job_indicator = JobIndicator(self.session)
        self.device_label = QLabel("Device: …")
        self.library_label = QLabel("")
        self.model_label = QLabel("")
        self.playback_label = QLabel()
        if self.player.unavailable_reason:
            self.playback_label.setToolTip(f"No audio output: {self.player.unavailable_reason}")
            self.playback_label.setStyleSheet("color: #e5c07b")
        self._on_player_state(self.player.state)
        binding = binding_warning()
        if binding:  # a Qt binding that can crash the app: say so where it stays visible
            self.binding_label = QLabel("⚠ Qt binding")
            self.binding_label.setToolTip(binding)
            self.binding_label.setStyleSheet("color: #e06c75")
            bar.addPermanentWidget(self.binding_label)
            QTimer.singleShot(0, self, lambda: self.statusBar().showMessage(binding, 30000))
        bar.addPermanentWidget(self.job_indicator)
        for w in (self.library_label, self.model_label, self.device_label, self.playback_label):
            bar.addPermanentWidget(w)
        self._update_status_labels()

    def _mark_play_buttons_silent(self) -> None:
        """Every play button says that nothing will be heard, when there is no audio output."""
        if not self.player.unavailable_reason:
            return
        tip = f" ({SILENT}: {self.player.unavailable_reason})"
        self.transport.play_button.setToolTip("Play / pause (Space)" + tip)
        self.library_page.query_panel.play_button.setToolTip("Play the query song" + tip)
        self.library_page.results_view.model.play_tip = "Play" + tip

    def adapt_model_to_library(self) -> None:
        """Open the training page set up to fine-tune the current model on the open library without
        labels (the preset of docs/QUALITY.md); the user checks the settings and presses Start."""
        model = self.session.model_name
        library = self.session.main_root()
        if not self.training_page.set_up_adaptation(model, library):
            self.session.errorOccurred.emit(f"model '{model}' has no trained weights to adapt; pick another")
            return
        self.sidebar.setCurrentRow(PAGES.index("Training"))

    def find_duplicates(self) -> None:
        """*Tools ▸ Find duplicates* (``duplicates_dialog.find_and_list``)."""
        from .duplicates_dialog import find_and_list

        self.duplicates_dialog = None
        find_and_list(self.session, self, self.library_page.play_song, self._show_in_library)

    def _show_in_library(self, song_id: int) -> None:
        self.sidebar.setCurrentRow(PAGES.index("Library"))
        self.library_page.library_view.select_song(song_id)

    def _offer_adaptation(self, embedded: int) -> None:
        """Once per library folder, after an index job: the one step that makes the model better
        on *this* music is hidden in the Tools menu, so say it — adapting without labels, in the
        background (README, "In-app training"), for a model that can be fine-tuned."""
        s = self.session
        root = s.main_root()
        count = len(s.embeddings()[0])
        if (
            root is None
            or str(root) in self.settings.adaptation_offered
            or count < ADAPT_OFFER_MIN_SONGS
            or not self.training_page.can_adapt(s.model_name)
        ):
            return
        self.settings.add_adaptation_offered(root)
        self.adapt_banner.label.setText(
            f"<b>{count} songs indexed.</b> MusicSim can adapt the model “{escape(s.model_name)}” to "
            "this library's own neighbourhoods, without labels, in the background (minutes for a few "
            "hundred songs). <i>Adapt…</i> sets it up on the Training page; compare the tuned model "
            "with this one on the Benchmarks page before you switch."
        )
        self.adapt_banner.show()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.add_folder_action = QAction(
            "&Add folder to library…", self, shortcut=QKeySequence.StandardKey.Open
        )
        self.add_folder_action.setToolTip("Add a music folder; the folders already open stay")
        self.add_folder_action.triggered.connect(self.add_folder_dialog)
        file_menu.addAction(self.add_folder_action)
        self.find_like_action = QAction(
            "&Find songs like a file…", self, shortcut=QKeySequence("Ctrl+Shift+O")
        )
        self.find_like_action.setToolTip("Query an audio file from anywhere, in the library or not")
        self.find_like_action.triggered.connect(self._find_like_file)
        file_menu.addAction(self.find_like_action)
        file_menu.addAction("&Rescan library", self.session.rescan)
        file_menu.addAction("Open &demo library", self._open_demo)
        self.remove_menu = file_menu.addMenu("Re&move folder")
        self.remove_menu.aboutToShow.connect(self._fill_remove_menu)
        file_menu.addSeparator()
        file_menu.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)
        play_menu = self.menuBar().addMenu("&Playback")
        play_menu.addAction("Play / pause\tSpace", self.player.toggle)
        play_menu.addAction("Stop", self.player.stop)
        tools = self.menuBar().addMenu("&Tools")
        tools.addAction("&Odd one out (ground truth by ear)…", self.open_odd_one_out)
        tools.addAction("&Adapt the model to this library…", self.adapt_model_to_library)
        tools.addAction("Find &duplicates…", self.find_duplicates)
        tools.addAction("Open &MusicSim home folder", self._show_home)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = help_menu.addAction("&About MusicSim", self._about)

        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.player.toggle)
        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_search)

    def _connect(self) -> None:
        s = self.session
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        s.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        s.errorOccurred.connect(self.show_error)
        s.songsChanged.connect(self._update_status_labels)
        s.embeddingsChanged.connect(self._update_status_labels)
        s.optionsChanged.connect(self._update_status_labels)
        s.resultsChanged.connect(self._update_status_labels)  # the search backend may have changed
        self.player.stateChanged.connect(self._on_player_state)
        self.player.errorOccurred.connect(self.show_error)
        self.library_page.library_view.addFolderRequested.connect(self.add_folder_dialog)
        self.library_page.library_view.foldersDropped.connect(self.add_folders)
        s.songsEmbedded.connect(self._offer_adaptation)
        self.adapt_banner.action_button.clicked.connect(self.adapt_model_to_library)

    # -- status -----------------------------------------------------------------------------------
    def show_error(self, text: str) -> None:
        log.warning(text)
        self.statusBar().setStyleSheet("QStatusBar { color: #e06c75; }")
        self.statusBar().showMessage(text, ERROR_FLASH_MS)
        # bound to the window: a window closed meanwhile must not be touched afterwards
        QTimer.singleShot(ERROR_FLASH_MS, self, lambda: self.statusBar().setStyleSheet(""))

    def _update_status_labels(self) -> None:
        s = self.session
        ids, _ = s.embeddings()
        self.library_label.setText(f"Library: {len(s.songs)} songs")
        self.library_label.setToolTip("\n".join(str(r) for r in s.roots))
        approximate = " · approximate search" if s.approximate_search() else ""
        self.model_label.setText(f"Model: {s.model_name} ({len(ids)} indexed){approximate}")
        self.model_label.setToolTip(s.search_backend())

    def _on_player_state(self, state: str) -> None:
        text = {PLAYING: "Playing", PAUSED: "Paused", LOADING: "Loading…"}.get(state, "Stopped")
        if self.player.unavailable_reason:
            text += " (off: no audio output)"
        self.playback_label.setText(f"Playback: {text}")

    # -- actions ----------------------------------------------------------------------------------
    def add_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a music folder", str(Path.home()))
        if path:
            self.add_folders([Path(path)])

    def _find_like_file(self) -> None:
        self.sidebar.setCurrentRow(0)
        self.library_page.query_panel.find_like_file()

    def add_folders(self, folders: list[Path]) -> None:
        for folder in folders:
            self.session.add_root(folder)
        self.sidebar.setCurrentRow(0)

    def _open_demo(self) -> None:
        from trainer.paths import demo_library_dir

        self.session.open_library([demo_library_dir()])

    def _fill_remove_menu(self) -> None:
        self.remove_menu.clear()
        for root in self.session.roots:
            self.remove_menu.addAction(str(root), lambda r=root: self.session.remove_root(r))

    def _focus_search(self) -> None:
        self.sidebar.setCurrentRow(0)
        self.library_page.library_view.focus_search()

    def open_odd_one_out(self):
        from .odd_one_out import OddOneOutDialog

        csv_path = Path(self.settings.triplets_csv or self.home / "my-triplets.csv")
        dialog = OddOneOutDialog(self.session, self.player, csv_path, self)
        dialog.finished.connect(lambda _r: setattr(self.settings, "triplets_csv", str(dialog.csv_path)))
        dialog.show()
        return dialog

    def _show_home(self) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.home)))

    def about_text(self) -> str:
        from . import version

        reason = self.player.unavailable_reason
        return (
            f"<b>MusicSim {version()}</b><br>Find songs that sound alike with deep metric learning."
            f"<br><br>Home: {self.home}<br>Audio: "
            + (f"none ({reason})" if reason else self.player.backend_name)
        )

    def _about(self) -> None:
        QMessageBox.about(self, "About MusicSim", self.about_text())

    # -- drag and drop onto the window --------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        self.library_page.library_view.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        self.library_page.library_view.dropEvent(event)

    # -- persistence and shutdown -------------------------------------------------------------------
    def _restore_window(self) -> None:
        geometry = self.settings.geometry()
        restored = geometry is not None and self.restoreGeometry(geometry)
        hint = self.minimumSizeHint()
        if not restored or self.width() < hint.width() or self.height() < hint.height():
            screen = self.screen().availableGeometry() if self.screen() is not None else None
            width, height = DEFAULT_SIZE
            if screen is not None and screen.width() > 0:
                width, height = min(width, screen.width()), min(height, screen.height())
            self.resize(width, height)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        for name, split in self._splitters().items():
            data = self.settings.splitter(name)
            if data is not None:
                default = split.sizes()
                split.restoreState(data)
                if min(split.sizes(), default=0) < 80:  # saved on another screen: squeezed panes
                    split.setSizes(default)

    def _splitters(self) -> dict:
        lp = self.library_page
        return {"library_top": lp.top_split, "library_bottom": lp.bottom_split, "library_main": lp.main_split}

    def save_settings(self) -> None:
        st, s = self.settings, self.session
        st.library_roots = s.roots
        st.model, st.distance, st.scaler, st.k = s.model_name, s.distance, s.scaler, s.k
        st.volume = self.transport.volume_slider.value()
        st.page = self.sidebar.currentRow()
        self.training_page.save_form()
        st.set_geometry(self.saveGeometry())
        st.set_window_state(self.saveState())
        for name, split in self._splitters().items():
            st.set_splitter(name, split.saveState())
        st.sync()

    def shut_down(self) -> bool:
        """Save the settings, stop every job and wait for the pool's tasks; True when all stopped.

        Closing the window and quitting both call it: ``QApplication.quit()`` may end the event
        loop without a close, and events still queued after a close (a due warm-up timer) may
        start tasks.  A worker still running when Python is finalised crashes the process.
        """
        if not self._shut_down:
            self._shut_down = True
            self.save_settings()
            self.hide()  # the waits below can take seconds: no frozen window left on screen
            self.player.close()
            self.session.cancel_jobs()
            self.training_page.cancel()
            self.benchmark_page.cancel()
            self._jobs_stopped = self.runner.stop_all(15000)
            if not self._jobs_stopped:
                log.warning("some background jobs did not stop in time")
        tasks_done = wait_for_tasks()
        if not tasks_done:
            log.warning("some background tasks did not finish in time")
        return self._jobs_stopped and tasks_done

    def closeEvent(self, event) -> None:
        self.shut_down()
        super().closeEvent(event)
