"""The library page: song table | query + results on top, spectrograms | map below."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from . import song_text
from .library_view import LibraryView
from .map_view import MapView
from .player import Player
from .projection import available_methods, project
from .query_panel import QueryPanel
from .results_view import ResultsView
from .session import LibrarySession
from .spectrogram_view import SpectrogramView
from .workers import Worker


class LibraryPage(QWidget):
    def __init__(self, session: LibrarySession, player: Player, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.player = player
        self.library_view = LibraryView(session)
        self.query_panel = QueryPanel(session)
        self.results_view = ResultsView(session)
        self.spectrograms = SpectrogramView()
        self.map_view = MapView(available_methods())
        self._map_worker: Worker | None = None
        self._map_key: tuple | None = None
        self._map_pos = None

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.query_panel)
        right_layout.addWidget(self.results_view, 1)

        self.top_split = QSplitter(Qt.Orientation.Horizontal)
        self.top_split.addWidget(self.library_view)
        self.top_split.addWidget(right)
        self.top_split.setStretchFactor(0, 3)
        self.top_split.setStretchFactor(1, 2)
        self.bottom_split = QSplitter(Qt.Orientation.Horizontal)
        self.bottom_split.addWidget(self.spectrograms)
        self.bottom_split.addWidget(self.map_view)
        self.bottom_split.setStretchFactor(0, 3)
        self.bottom_split.setStretchFactor(1, 2)
        self.main_split = QSplitter(Qt.Orientation.Vertical)
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.bottom_split)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 2)
        for split in (self.top_split, self.bottom_split, self.main_split):
            split.setChildrenCollapsible(False)
        # The query panel and the map keep the width their pickers need (their layouts say how
        # much); a smaller minimum set here cut "correlation" and "Normalizer" off.  The window
        # works at 1024 px and narrower.
        self.library_view.setMinimumWidth(300)
        self.spectrograms.setMinimumWidth(320)
        self.top_split.setSizes([700, 600])
        self.bottom_split.setSizes([780, 520])
        self.main_split.setSizes([520, 380])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.main_split)

        self.library_view.queryRequested.connect(session.set_query)
        self.library_view.playRequested.connect(self.play_song)
        self.results_view.useAsQueryRequested.connect(self._walk_to)
        self.results_view.playRequested.connect(self.play_song)
        self.results_view.currentSongChanged.connect(self._on_result_selected)
        self.query_panel.playQueryRequested.connect(self.play_query)
        self.map_view.songClicked.connect(self._walk_to)
        self.map_view.methodChanged.connect(lambda _m: self.update_map())
        self.map_view.colorByChanged.connect(lambda _c: self._recolor())
        session.queryChanged.connect(self._on_query)
        session.resultsChanged.connect(self._on_results)
        session.embeddingsChanged.connect(self.update_map)
        session.songsChanged.connect(self._recolor)
        player.trackChanged.connect(lambda _t, path: self.spectrograms.set_playing(path))
        player.positionChanged.connect(self.spectrograms.set_position)

    # -- actions --------------------------------------------------------------------------------
    def play_song(self, song_id: int) -> None:
        song = self.session.song(song_id)
        if song is not None:
            self.player.play_file(song.path, song_text.describe(song))

    def play_query(self) -> None:
        """Play the query song, from the library or from outside it."""
        song = self.session.query_song
        if song is not None:
            self.player.play_file(song.path, song_text.describe(song))

    def _walk_to(self, song_id: int) -> None:
        self.session.set_query(song_id)
        self.library_view.select_song(song_id)

    def _on_query(self, song) -> None:
        self.spectrograms.show_song(self.spectrograms.query_panel, song, self.session.features)
        if song is None:
            self.spectrograms.show_song(self.spectrograms.result_panel, None)

    def _on_results(self) -> None:
        results = self.session.results
        if not results:
            self.spectrograms.show_song(self.spectrograms.result_panel, None)
        self.map_view.highlight(
            self.session.query_id, [r.song.id for r in results], outside=self.session.outside is not None
        )

    def _on_result_selected(self, song_id: int) -> None:
        self.spectrograms.show_song(
            self.spectrograms.result_panel, self.session.song(song_id), self.session.features
        )

    # -- map ------------------------------------------------------------------------------------
    def update_map(self) -> None:
        """Recompute the projection when the model's embeddings or the method changed."""
        ids, X = self.session.embeddings()
        method = self.map_view.method_combo.currentText()
        key = (self.session.model_key, method, len(ids), hash(ids.tobytes()))
        if key == self._map_key:
            return
        self._map_key = key
        if self._map_worker is not None:
            self._map_worker.cancel()
        if len(ids) == 0:
            self._map_pos = None
            self.map_view.set_map(
                ids, X[:, :2] if X.ndim == 2 and X.shape[1] >= 2 else ids.reshape(0, 2).astype(float), [], []
            )
            self.map_view.status.setText("no embeddings yet")
            return
        worker = Worker(project, X, method, name=f"{method} map")
        worker.finished.connect(lambda pos, ids=ids, key=key: self._on_projection(key, ids, pos))
        worker.failed.connect(lambda msg: self.map_view.status.setText(f"map failed: {msg}"))
        self._map_worker = worker
        self.map_view.status.setText(f"computing {method} of {len(ids)} songs…")
        self.session.runner.start(worker)

    def _on_projection(self, key, ids, pos) -> None:
        if key != self._map_key:
            return
        self._map_ids, self._map_pos = ids, pos
        self._recolor()

    def _recolor(self) -> None:
        if self._map_pos is None:
            return
        by = self.map_view.color_combo.currentText()
        groups, tips = [], []
        for sid in self._map_ids:
            song = self.session.song(int(sid))
            if song is None:
                groups.append("")
                tips.append("")
                continue
            groups.append(song_text.artist(song) if by == "artist" else song_text.album(song))
            tips.append(song_text.describe(song))
        self.map_view.set_map(self._map_ids, self._map_pos, groups, tips)
        self.map_view.highlight(
            self.session.query_id,
            [r.song.id for r in self.session.results],
            outside=self.session.outside is not None,
        )
