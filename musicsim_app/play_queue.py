"""The play queue: songs in order, the one playing, next / previous, and where they came from.

It plays through the app's single :class:`Player` and goes on to the next song when one ends.
Radio ("Play similar") keeps :data:`RADIO_AHEAD` songs queued after the one playing, each the
nearest not-yet-played song to the last ones (``trainer.playlists.radio_next``) under the current
model, distance and scaler.  A journey (``trainer.playlists.journey``) is computed on a worker
and replaces the queue.  Views (the queue panel, the map's journey line) listen to the signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from . import song_text
from .player import Player
from .session import LibrarySession
from .workers import run_task

log = logging.getLogger(__name__)

#: Radio keeps this many songs queued after the one playing.
RADIO_AHEAD = 5
#: "Previous" within this many seconds of a song's start goes to the song before; later, to its start.
RESTART_AFTER_S = 3.0

PLAIN, RADIO, JOURNEY = "", "radio", "journey"


class PlayQueue(QObject):
    changed = Signal()  #: songs, order or title changed
    currentChanged = Signal(int)  #: the row playing (-1: none from the queue)
    journeyChanged = Signal(list)  #: song ids of the journey in the queue, in order ([] for none)
    busyChanged = Signal(bool)  #: a journey is being computed

    def __init__(self, session: LibrarySession, player: Player, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.player = player
        self.songs: list[int] = []  #: song ids in play order
        self.current = -1
        self.title = "Queue"
        self.mode = PLAIN
        self.notes: dict[int, str] = {}  #: per song id, e.g. "step 0.12 · to the end 0.40"
        self._resume_at = 0  # where next() goes on when the song playing was removed
        self._played: set[int] = set()  # radio: never again, even if removed from the queue
        self._waiting: Callable[[], None] | None = None  # runs once the search index is ready
        self._rows: tuple[int, dict[int, int], np.ndarray, np.ndarray] | None = None
        self._busy = False
        self._radio_busy = False
        self._generation = 0  # bumped when the queue is replaced: late radio songs are dropped
        player.trackFinished.connect(self._on_track_finished)
        player.trackChanged.connect(self._on_track_changed)
        session.searchReady.connect(self._on_search_ready)

    # -- filling ----------------------------------------------------------------------------------
    def play_songs(
        self,
        song_ids: list[int],
        title: str = "Queue",
        *,
        mode: str = PLAIN,
        notes: dict[int, str] | None = None,
        start: int = 0,
    ) -> None:
        """Replace the queue with these songs and play the one at ``start``."""
        self.songs = [int(s) for s in song_ids if self.session.song(int(s)) is not None]
        self.title, self.mode, self.notes = title, mode, dict(notes or {})
        self._played = set(self.songs) if mode == RADIO else set()
        self.current, self._resume_at = -1, 0
        self._generation += 1
        self._emit_changed()
        if self.songs:
            self.play_at(min(max(0, start), len(self.songs) - 1))

    def enqueue(self, song_id: int) -> None:
        """Add a song at the end (the queue stays what it was: radio goes on after it)."""
        if self.session.song(song_id) is None:
            return
        self.songs.append(int(song_id))
        self._played.add(int(song_id))
        self._emit_changed()
        self.session.message.emit(f"Added to the queue: {song_text.title(self.session.song(song_id))}")

    def start_radio(self, song_id: int) -> None:
        """ "Play similar": the queue starts with this song and keeps adding the nearest unplayed."""
        song = self.session.song(song_id)
        if song is None:
            return
        if self._row(song_id) is None:
            self.session.errorOccurred.emit(
                f"'{song_text.title(song)}' is not indexed with "
                f"{self.session.model_name}: no radio from it yet"
            )
            return
        self.play_songs([song_id], f"Radio from {song_text.title(song)}", mode=RADIO)
        self._extend_radio()

    def start_journey(self, from_id: int, to_id: int, steps: int) -> None:
        """Compute a journey on a worker; when it is there it replaces the queue and plays."""
        a, b = self.session.song(from_id), self.session.song(to_id)
        if a is None or b is None:
            return
        if self._row(from_id) is None or self._row(to_id) is None:
            missing = a if self._row(from_id) is None else b
            self.session.errorOccurred.emit(
                f"'{song_text.title(missing)}' is not indexed with "
                f"{self.session.model_name}: no journey from or to it yet"
            )
            return
        self._with_index(lambda index: self._compute_journey(index, from_id, to_id, steps))

    def _compute_journey(self, index, from_id: int, to_id: int, steps: int) -> None:
        from trainer.playlists import journey

        metric = self.session.distance
        start, end = self._row(from_id), self._row(to_id)
        a, b = self.session.song(from_id), self.session.song(to_id)
        if start is None or end is None or a is None or b is None:  # the model changed meanwhile
            return
        ids = self._rows[2]  # type: ignore[index]
        title = f"Journey: {song_text.title(a)} → {song_text.title(b)}"
        self._set_busy(True)
        self.session.message.emit(f"Finding a journey of {steps} steps…")

        def done(playlist) -> None:
            self._set_busy(False)
            song_ids = [int(ids[r]) for r in playlist.rows]
            notes = {
                sid: f"step {s:.3f} · to the end {e:.3f}"
                for sid, s, e in zip(song_ids[1:], playlist.steps, playlist.to_end[1:], strict=True)
            }
            self.play_songs(song_ids, f"{title} · {len(song_ids) - 1} steps", mode=JOURNEY, notes=notes)
            self.session.message.emit(
                playlist.note
                or f"Journey of {len(song_ids) - 1} steps: mean step {playlist.mean_step:.3f}, "
                f"longest {playlist.longest_step:.3f} ({metric})"
            )

        def failed(message: str) -> None:
            self._set_busy(False)
            self.session.errorOccurred.emit(f"no journey: {message}")

        run_task(lambda: journey(index, start, end, steps, metric=metric), done, failed, owner=self)

    # -- editing ----------------------------------------------------------------------------------
    def remove(self, rows: list[int]) -> None:
        """Take these rows out; the song playing goes on, and next() continues after it."""
        rows = sorted({r for r in rows if 0 <= r < len(self.songs)}, reverse=True)
        if not rows:
            return
        for r in rows:
            if r == self.current:
                self.current, self._resume_at = -1, r
            elif r < self.current:
                self.current -= 1
            elif self.current < 0 and r < self._resume_at:
                self._resume_at -= 1
            del self.songs[r]
        self._emit_changed()
        self.currentChanged.emit(self.current)
        if self.mode == RADIO:
            self._extend_radio()

    def move(self, row: int, to: int) -> None:
        """Move the song at ``row`` so that it ends up at ``to`` (drag and drop, Alt+Up/Down)."""
        n = len(self.songs)
        if not (0 <= row < n) or row == to:
            return
        to = min(max(0, to), n - 1)
        playing = self.songs[self.current] if self.current >= 0 else None
        self.songs.insert(to, self.songs.pop(row))
        if playing is not None:
            self.current = self._index_of_current(row, to)
        self._emit_changed()
        self.currentChanged.emit(self.current)

    def _index_of_current(self, row: int, to: int) -> int:
        c = self.current
        if c == row:
            return to
        if row < c <= to:
            return c - 1
        if to <= c < row:
            return c + 1
        return c

    def clear(self) -> None:
        self.songs, self.current, self.mode, self.title, self.notes = [], -1, PLAIN, "Queue", {}
        self._generation += 1
        self._played.clear()
        self._emit_changed()
        self.currentChanged.emit(-1)

    # -- playing ----------------------------------------------------------------------------------
    def play_at(self, row: int) -> None:
        if not 0 <= row < len(self.songs):
            return
        song = self.session.song(self.songs[row])
        if song is None:
            return
        self.current = row
        self._played.add(self.songs[row])
        self.currentChanged.emit(row)
        self.player.play_file(song.path, song_text.describe(song))
        if self.mode == RADIO:
            self._extend_radio()

    def has_next(self) -> bool:
        return self._next_row() < len(self.songs) or (self.mode == RADIO and bool(self.songs))

    def has_previous(self) -> bool:
        return self.current > 0

    def _next_row(self) -> int:
        return self.current + 1 if self.current >= 0 else self._resume_at

    def next(self) -> None:
        row = self._next_row()
        if row < len(self.songs):
            self.play_at(row)
        elif self.songs:
            self.session.message.emit("End of the queue")

    def previous(self) -> None:
        """To the start of the song playing, or (near its start already) to the one before."""
        if self.current > 0 and self.player.position_s() < RESTART_AFTER_S:
            self.play_at(self.current - 1)
        elif self.player.path is not None:
            self.player.seek(0.0)

    def _on_track_finished(self, path: str) -> None:
        if 0 <= self.current < len(self.songs) and self._path(self.current) == path:
            self.next()

    def _on_track_changed(self, _title: str, path: str) -> None:
        """A song played from elsewhere (a results row): the queue waits where it was."""
        if 0 <= self.current < len(self.songs) and self._path(self.current) != path:
            self._resume_at, self.current = self.current + 1, -1
            self.currentChanged.emit(-1)

    def _path(self, row: int) -> str:
        song = self.session.song(self.songs[row])
        return str(song.path) if song is not None else ""

    # -- radio ------------------------------------------------------------------------------------
    def _extend_radio(self) -> None:
        ahead = len(self.songs) - max(self._next_row(), 0)
        if self.mode != RADIO or not self.songs or ahead >= RADIO_AHEAD:
            return
        self._with_index(self._add_radio_songs)

    def _add_radio_songs(self, index) -> None:
        """Find the next radio songs on a worker (each is a few top-k queries) and append them,
        unless the queue was replaced meanwhile."""
        from trainer.playlists import radio_next

        if self.mode != RADIO or not self.songs or self._radio_busy:
            return
        need = RADIO_AHEAD - (len(self.songs) - max(self._next_row(), 0))
        recent = [r for r in (self._row(s) for s in self.songs[-3:]) if r is not None]  # goes on from the end
        played = [r for r in (self._row(s) for s in self._played) if r is not None]
        _, _, ids, labels = self._rows  # type: ignore[misc]
        metric, generation = self.session.distance, self._generation

        def find() -> list[int]:
            rows: list[int] = []
            while len(rows) < need and recent:
                row = radio_next(index, recent, played, metric=metric, albums=labels[0], artists=labels[1])
                if row is None:
                    break
                rows.append(row)
                recent.append(row)
                played.append(row)
            return [int(ids[r]) for r in rows]

        def found(song_ids: list[int]) -> None:
            self._radio_busy = False
            if generation != self._generation or self.mode != RADIO or not song_ids:
                return
            fresh = [s for s in song_ids if s not in self._played]
            self.songs.extend(fresh)
            self._played.update(fresh)
            self._emit_changed()
            self._extend_radio()  # songs played meanwhile

        def failed(message: str) -> None:
            self._radio_busy = False
            self.session.errorOccurred.emit(f"radio stopped: {message}")

        self._radio_busy = True
        run_task(find, found, failed, owner=self)

    # -- helpers ----------------------------------------------------------------------------------
    def _row(self, song_id: int) -> int | None:
        """The song's row in the current model's embeddings (None when it has none)."""
        ids, _ = self.session.embeddings()
        if self._rows is None or self._rows[0] != id(ids):
            from trainer.playlists import song_labels

            songs = [self.session.song(int(i)) for i in ids]
            labels = song_labels([s for s in songs if s is not None]) if all(songs) else (None, None)
            self._rows = (id(ids), {int(i): r for r, i in enumerate(ids)}, ids, labels)
        return self._rows[1].get(int(song_id))

    def _with_index(self, action: Callable[[object], None]) -> None:
        """Run ``action(index)`` with the search index of the current options, now or once a worker
        has prepared it (a big library)."""
        index = self.session.ready_search_index()
        if index is not None:
            self._waiting = None
            action(index)
        else:
            self._waiting = lambda: self._with_index(action)

    def _on_search_ready(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting()

    @property
    def busy(self) -> bool:
        """Whether a journey is being computed."""
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busyChanged.emit(busy)

    def _emit_changed(self) -> None:
        self.changed.emit()
        self.journeyChanged.emit(list(self.songs) if self.mode == JOURNEY else [])

    def export_m3u(self, path: Path) -> None:
        from trainer.playlists import write_m3u

        songs = [s for s in (self.session.song(i) for i in self.songs) if s is not None]
        write_m3u(path, [song_text.playlist_entry(s) for s in songs])
