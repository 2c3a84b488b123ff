"""The play queue, radio and journeys in the real window, driven by clicks, menus and keys."""

import itertools
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from musicsim_app import song_text
from musicsim_app.play_queue import JOURNEY, RADIO, RADIO_AHEAD


def song(window, name: str):
    return next(s for s in window.session.songs if Path(s.path).name.startswith(name))


def context_menu_choose(qtbot, widget, pos: QPoint, text: str) -> None:
    """Right-click ``widget`` at ``pos`` and click the menu item ``text`` in the menu that opens."""
    picked = []

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        if menu is None:  # not open yet
            QTimer.singleShot(50, pick)
            return
        action = next(a for a in menu.actions() if a.text() == text)
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
        picked.append(text)

    QTimer.singleShot(50, pick)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)
    qtbot.waitUntil(lambda: picked == [text], timeout=5000)


def table_menu(qtbot, window, song_id: int, text: str) -> None:
    view = window.library_page.library_view
    view.select_song(song_id)
    table = view.table
    rect = table.visualRect(table.currentIndex())
    context_menu_choose(qtbot, table.viewport(), rect.center(), text)


def album(window, song_id: int) -> str:
    return song_text.album(window.session.song(song_id))


def test_play_similar_starts_radio_in_the_queue(qtbot, window):
    seed = song(window, "01 - Low")
    table_menu(qtbot, window, seed.id, "Play similar")
    queue = window.playlists.queue
    qtbot.waitUntil(lambda: len(queue.songs) == 1 + RADIO_AHEAD, timeout=10_000)
    assert queue.mode == RADIO and queue.songs[0] == seed.id and queue.current == 0
    assert len(set(queue.songs)) == len(queue.songs)
    albums = [album(window, s) for s in queue.songs]
    assert all(a != b for a, b in itertools.pairwise(albums)), albums  # 3 albums of 3: never back to back
    assert window.playlists.dock.isVisible() and window.playlists.queue_button.isChecked()
    view = window.playlists.view
    assert view.rows_text()[0] == "1. 01 - Low song 1 — Low Artist"
    assert view.list.item(0).font().bold() and not view.list.item(1).font().bold()
    assert "Radio from 01 - Low song 1" in view.title_label.text()
    qtbot.waitUntil(lambda: window.player.path == seed.path, timeout=5000)

    # Next (the transport button) plays the second song; radio tops the queue up again
    qtbot.mouseClick(window.playlists.next_button, Qt.MouseButton.LeftButton)
    assert queue.current == 1 and window.player.path == window.session.song(queue.songs[1]).path
    qtbot.waitUntil(lambda: len(queue.songs) == 2 + RADIO_AHEAD, timeout=5000)
    assert len(set(queue.songs)) == len(queue.songs)
    assert window.playlists.view.list.item(1).font().bold()
    # Previous at the start of a song goes to the one before
    qtbot.mouseClick(window.playlists.previous_button, Qt.MouseButton.LeftButton)
    assert queue.current == 0 and window.player.path == seed.path


def test_the_queue_goes_on_when_a_song_ends_and_keys_skip(qtbot, window):
    first, second = song(window, "01 - High"), song(window, "02 - Noise")
    table_menu(qtbot, window, first.id, "Add to queue")
    table_menu(qtbot, window, second.id, "Add to queue")
    queue = window.playlists.queue
    assert queue.songs == [first.id, second.id]
    queue.play_at(0)
    player = window.player
    qtbot.waitUntil(lambda: player.duration_s > 0 and player.path == first.path, timeout=10_000)
    with qtbot.waitSignal(player.trackChanged, timeout=10_000) as changed:
        player.seek(player.duration_s - 0.05)  # the song ends: the next one starts by itself
    assert changed.args[1] == str(second.path) and queue.current == 1
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)  # previous
    assert queue.current == 0 and player.path == first.path
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # next
    assert queue.current == 1 and player.path == second.path
    assert not window.playlists.next_button.isEnabled()  # the end of a plain queue
    qtbot.keyClick(window, Qt.Key.Key_MediaPrevious)  # a keyboard's media keys do the same
    assert queue.current == 0 and player.path == first.path
    qtbot.keyClick(window, Qt.Key.Key_MediaNext)
    assert queue.current == 1


def test_queue_remove_drag_and_export(qtbot, window, tmp_path, monkeypatch):
    seed = song(window, "02 - Low")
    table_menu(qtbot, window, seed.id, "Play similar")
    queue, view = window.playlists.queue, window.playlists.view
    qtbot.waitUntil(lambda: len(queue.songs) == 1 + RADIO_AHEAD, timeout=10_000)
    before = list(queue.songs)

    # remove the third song: select it, click Remove
    rect = view.list.visualItemRect(view.list.item(2))
    qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    assert before[2] not in queue.songs[:RADIO_AHEAD]
    assert queue.songs[:2] == before[:2]
    assert view.rows_text()[2].startswith("3. " + song_text.title(window.session.song(before[3])))

    # drag the last song onto the top half of the second row: it becomes the second
    last = queue.songs[-1]
    n = view.list.count()
    view.list.setCurrentRow(n - 1)
    target = view.list.visualItemRect(view.list.item(1))
    drop_at = QPointF(target.center().x(), target.top() + 2)
    mime = view.list.model().mimeData([view.list.currentIndex()])
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for event in (
        QDragEnterEvent(drop_at.toPoint(), Qt.DropAction.MoveAction, mime, buttons, keys),
        QDragMoveEvent(drop_at.toPoint(), Qt.DropAction.MoveAction, mime, buttons, keys),
        QDropEvent(drop_at, Qt.DropAction.MoveAction, mime, buttons, keys),
    ):
        QApplication.sendEvent(view.list.viewport(), event)
        assert event.isAccepted()
    assert queue.songs[1] == last and len(queue.songs) == n
    assert view.rows_text()[1].startswith("2. " + song_text.title(window.session.song(last)))
    assert queue.current == 0  # the song playing stays the one playing

    out = tmp_path / "queue.m3u"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    files = [ln for ln in out.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert files == [str(window.session.song(s).path) for s in queue.songs]


def _journey_checks(window, a: int, b: int):
    from trainer.distances import pairwise_distances
    from trainer.search import SearchIndex

    queue = window.playlists.queue
    songs = queue.songs
    assert queue.mode == JOURNEY and songs[0] == a and songs[-1] == b
    assert len(set(songs)) == len(songs)
    ids, X = window.session.embeddings()
    rows = [int(np.flatnonzero(ids == s)[0]) for s in songs]
    index = SearchIndex(X, window.session.scaler)
    to_b = pairwise_distances(index.scaled[rows], index.scaled[[rows[-1]]], window.session.distance)[:, 0]
    assert np.all(np.diff(to_b) < 0), to_b
    return songs


def test_journey_to_from_the_context_menu_is_listed_drawn_and_played(qtbot, window):
    a, b = song(window, "01 - Low"), song(window, "03 - High")
    window.library_page.library_view.select_song(a.id)
    window.library_page.library_view.query_selected()  # From: the query song
    table_menu(qtbot, window, b.id, "Journey to…")
    dialog = window.playlists.journey_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    assert dialog.from_edit.text().startswith("01 - Low song 1 — Low Artist — Low Album")
    assert dialog.to_edit.text().startswith("03 - High song 3")
    dialog.steps_spin.setValue(4)
    qtbot.mouseClick(dialog.play_button, Qt.MouseButton.LeftButton)
    queue = window.playlists.queue
    qtbot.waitUntil(lambda: queue.mode == JOURNEY, timeout=10_000)
    songs = _journey_checks(window, a.id, b.id)
    assert 2 <= len(songs) <= 5
    view = window.playlists.view
    assert "Journey: 01 - Low song 1 → 03 - High song 3" in view.title_label.text()
    assert len(view.rows_text()) == len(songs) and "to the end" in view.list.item(1).toolTip()
    plot = window.library_page.map_view.plot
    qtbot.waitUntil(
        lambda: plot.journey_item.xData is not None and len(plot.journey_item.xData) == len(songs),
        timeout=30_000,
    )
    assert plot.journey_ends[0].isVisible()
    qtbot.waitUntil(lambda: window.player.path == a.path, timeout=5000)  # it plays from A


def test_journey_from_the_map_and_a_dialog_that_refuses_the_same_song(qtbot, window):
    page = window.library_page
    qtbot.waitUntil(lambda: len(page.map_view.song_ids) == 9, timeout=30_000)
    a = song(window, "02 - Noise")
    window.library_page.library_view.select_song(a.id)
    window.library_page.library_view.query_selected()
    plot = page.map_view.plot
    target_row = next(i for i, s in enumerate(page.map_view.song_ids) if album(window, int(s)) == "Low Album")
    b_id = int(page.map_view.song_ids[target_row])
    qtbot.waitExposed(plot)
    # a right-click on the point opens the map's menu; "Journey to here…" asks for the length
    scene = plot.plotItem.vb.mapViewToScene(QPointF(*plot.pos[target_row]))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.RightButton, pos=plot.mapFromScene(scene))
    menu = window.playlists.map_menu
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    action = next(x for x in menu.actions() if x.text() == "Journey to here…")
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    dialog = window.playlists.journey_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    dialog.to_edit.setText(dialog.from_edit.text())
    assert not dialog.play_button.isEnabled() and "same song" in dialog.problem.text()
    dialog.to_edit.setText(next(t for t in dialog._by_text if dialog._by_text[t] == b_id))
    assert dialog.play_button.isEnabled()
    dialog.steps_spin.setValue(3)
    qtbot.mouseClick(dialog.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.playlists.queue.mode == JOURNEY, timeout=10_000)
    _journey_checks(window, a.id, b_id)
    # another queue (radio) takes the journey off the map
    table_menu(qtbot, window, a.id, "Play similar")
    qtbot.waitUntil(
        lambda: plot.journey_item.xData is None or len(plot.journey_item.xData) == 0, timeout=5000
    )
    assert not plot.journey_ends[0].isVisible()
