"""The window driven as a user drives it: mouse clicks and keys on the real buttons, pickers, links
and menus, each test asserting what the user then sees (issue 16).  A control that only works when
its method is called directly fails here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from musicsim_app.player import PAUSED, PLAYING
from synth import tone, write

LEFT = Qt.MouseButton.LeftButton


# -- how a user reaches things -------------------------------------------------------------------
def pick(qtbot, combo: QComboBox, text: str) -> None:
    """Open a picker with a click and choose ``text`` with the arrow keys and Return."""
    target = combo.findText(text)
    assert target >= 0, f"{text!r} is not offered"
    qtbot.mouseClick(combo, LEFT)
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=3000)
    while view.currentIndex().row() != target:
        qtbot.keyClick(view, Qt.Key.Key_Down if view.currentIndex().row() < target else Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=3000)
    assert combo.currentText() == text


def click_link(qtbot, label: QLabel, href: str) -> None:
    """Move the mouse over the label until it is over the link ``href``, then click there."""
    qtbot.wait(100)  # a text just set is laid out first
    hovered: list[str] = []
    label.linkHovered.connect(hovered.append)
    try:
        for y in range(3, label.height() - 1, 4):
            for x in range(1, label.width(), 3):
                qtbot.mouseMove(label, QPoint(x, y))
                if hovered and hovered[-1] == href:
                    qtbot.mouseClick(label, LEFT, pos=QPoint(x, y))
                    return
    finally:
        label.linkHovered.disconnect(hovered.append)
    raise AssertionError(f"no link {href!r} in {label.text()!r}")


def click_cell(qtbot, table, index, *, double: bool = False) -> None:
    table.scrollTo(index)
    center = table.visualRect(index).center()
    qtbot.mouseClick(table.viewport(), LEFT, pos=center)
    if double:  # QTest's double-click is the second click of the two: its press comes as DblClick
        qtbot.mouseDClick(table.viewport(), LEFT, pos=center)


def menu_action(window, menu: str, text: str):
    """The action a user clicks in the menu bar: ``menu_action(w, "File", "Add folder to library…")``."""
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for action in top.menu().actions():
                if action.text().replace("&", "").split("\t")[0] == text:
                    assert action.isEnabled() and action.isVisible()
                    return action
    raise AssertionError(f"no {menu} ▸ {text}")


def go_to_page(qtbot, window, name: str) -> None:
    sidebar = window.sidebar
    item = sidebar.findItems(name, Qt.MatchFlag.MatchExactly)[0]
    qtbot.mouseClick(sidebar.viewport(), LEFT, pos=sidebar.visualItemRect(item).center())
    assert window.pages.currentIndex() == sidebar.row(item)


def double_click_song(qtbot, window, path_end: str):
    view = window.library_page.library_view
    song = next(s for s in window.session.songs if str(s.path).endswith(path_end))
    index = view.proxy.mapFromSource(view.model.index(view.model.row_of(song.id), 0))
    click_cell(qtbot, view.table, index, double=True)
    qtbot.waitUntil(lambda: window.session.query_id == song.id and bool(window.session.results), timeout=5000)
    return song


def song_text(song) -> str:
    from musicsim_app import song_text as st

    return st.title(song)


# -- querying ------------------------------------------------------------------------------------
def test_double_click_queries_and_the_pickers_rerank(qtbot, window):
    panel, results = window.library_page.query_panel, window.library_page.results_view
    assert "Double-click a song" in panel.detail_label.text()  # not "pick": a single click only selects
    view = window.library_page.library_view
    first = view.proxy.index(0, 0)
    click_cell(qtbot, view.table, first)
    assert window.session.query_id is None and panel.title_label.text() == "No query song"

    song = double_click_song(qtbot, window, "01 - Low song 1.wav")
    assert panel.title_label.text() == song_text(song)
    assert results.model.rowCount() == 8 and results.empty_label.text() == "8 nearest by cosine"
    before = [r.song.id for r in window.session.results]

    pick(qtbot, panel.distance_combo, "cityblock")
    assert results.empty_label.text() == "8 nearest by cityblock"
    pick(qtbot, panel.scaler_combo, "StandardScaler")
    assert [r.song.id for r in window.session.results] != before or window.session.scaler == "StandardScaler"
    qtbot.mouseClick(panel.k_spin, LEFT)  # type 3 over what the k box holds
    qtbot.keyClick(panel.k_spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(panel.k_spin, "3")
    qtbot.keyClick(panel.k_spin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: results.model.rowCount() == 3, timeout=3000)
    assert results.empty_label.text() == "3 nearest by cityblock"

    # the result under the mouse becomes the query with a double-click
    second = window.session.results[1].song
    click_cell(qtbot, results.table, results.model.index(1, 2), double=True)
    assert window.session.query_id == second.id and panel.title_label.text() == song_text(second)


def test_a_distance_that_cannot_rank_says_so_instead_of_listing_table_order(qtbot, window):
    panel, results = window.library_page.query_panel, window.library_page.results_view
    double_click_song(qtbot, window, "01 - High song 1.wav")
    combo = panel.distance_combo
    for name in ("hamming", "kulsinski"):
        tip = combo.itemData(combo.findText(name), Qt.ItemDataRole.ToolTipRole)
        assert "binarised" in tip and "nothing is ranked" in tip
    pick(qtbot, combo, "kulsinski")  # every classic feature is nonzero: every song at one distance
    assert results.model.rowCount() == 0 and window.session.results == []
    assert not results.notice_label.isHidden()
    notice = results.notice_label.text()
    assert (
        notice.startswith("kulsinski puts every song at the same distance") and "another distance" in notice
    )
    assert results.empty_label.text() == "No ranking by kulsinski"
    pick(qtbot, combo, "cosine")
    assert results.notice_label.isHidden() and results.model.rowCount() == 8


def test_the_why_line_gives_places_in_a_small_library_and_marks_the_part_ranked_by(qtbot, window):
    results = window.library_page.results_view
    double_click_song(qtbot, window, "01 - Low song 1.wav")
    why = results.why_label
    assert why.text().startswith("Alike in: ") and "%" not in why.text()
    places = re.findall(r"\((\d+)(?:st|nd|rd|th) of (\d+)\)", why.text())
    assert places and all(total == "8" and 1 <= int(n) <= 8 for n, total in places)  # 9 songs: 8 others
    assert "the library's 8 other songs" in why.toolTip()

    part = re.findall(r'<a href="([^"]+)">', why.text())[-1]  # the third of the parts named
    click_link(qtbot, why, part)
    assert window.session.alike_in == part
    assert why.text().startswith(f"Ranked by {part} alone: <b>▸ {part}</b> (1st of 8)")  # marked, first
    assert f'<a href="{part}">' not in why.text()
    assert not window.library_page.query_panel.distance_combo.isEnabled()
    click_link(qtbot, why, "*")  # "all parts"
    assert window.session.alike_in is None and why.text().startswith("Alike in: ")


def test_esc_clears_the_search_filter(qtbot, window):
    view = window.library_page.library_view
    qtbot.mouseClick(view.search, LEFT)
    qtbot.keyClicks(view.search, "high")
    assert view.proxy.rowCount() == 3 and view.count_label.text().startswith("3 of 10 songs")
    qtbot.keyClick(view.search, Qt.Key.Key_Escape)
    assert view.search.text() == "" and view.proxy.rowCount() == 10
    qtbot.keyClicks(view.search, "noise")
    click_cell(qtbot, view.table, view.proxy.index(0, 0))  # in the list, Esc clears it too
    qtbot.keyClick(view.table, Qt.Key.Key_Escape)
    assert view.search.text() == "" and view.proxy.rowCount() == 10


# -- playing without audio output ----------------------------------------------------------------
def test_play_buttons_say_there_is_no_audio_output(qtbot, window):
    reason = window.player.unavailable_reason
    assert reason  # the tests run with --audio null
    banner = window.audio_banner
    assert banner is not None and not banner.isHidden()
    assert "No audio output" in banner.label.text() and reason in banner.label.text()
    double_click_song(qtbot, window, "01 - Low song 1.wav")
    results = window.library_page.results_view
    play_cell = results.model.index(0, 0)
    assert "silent: no audio output" in results.model.data(play_cell, Qt.ItemDataRole.ToolTipRole)
    assert "silent: no audio output" in window.transport.play_button.toolTip()
    assert "silent: no audio output" in window.library_page.query_panel.play_button.toolTip()
    with qtbot.waitSignal(window.player.stateChanged, timeout=10_000, check_params_cb=lambda s: s == PLAYING):
        click_cell(qtbot, results.table, play_cell)
    assert window.transport.now_playing.text().startswith("♪")
    assert window.playback_label.text() == "Playback: Playing (off: no audio output)"
    qtbot.mouseClick(window.transport.play_button, LEFT)
    assert window.player.state == PAUSED
    with qtbot.waitSignal(window.player.stateChanged, timeout=10_000, check_params_cb=lambda s: s == PLAYING):
        qtbot.mouseClick(window.library_page.query_panel.play_button, LEFT)
    assert window.player.path == window.session.query_song.path
    qtbot.mouseClick(banner.close_button, LEFT)  # said once: it goes when closed
    assert banner.isHidden()


# -- folders -------------------------------------------------------------------------------------
def _wav(path: Path, freq: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, tone(freq, 3.5, harmonics=3, seed=seed))


def test_add_folder_adds_to_the_demo_and_one_list_says_what_was_skipped(qtbot, window, tmp_path, monkeypatch):
    """File ▸ Add folder keeps the folders already open (the demo too), as ``musicsim index`` does;
    the table's count, the status bar and the list of skipped files agree."""
    import musicsim_app.main_window as main_window
    import trainer.paths

    demo = tmp_path / "demo"
    for i in range(3):
        _wav(demo / "Demo Album" / f"{i}.wav", 300 + 50 * i, seed=i)
    extra = tmp_path / "extra"
    for i in range(2):
        _wav(extra / "Mine" / f"mine {i}.wav", 900 + 40 * i, seed=10 + i)
    (extra / "Mine" / "empty.wav").write_bytes(b"")  # the scan skips it: no row in the table
    (extra / "Mine" / "broken.wav").write_bytes(b"RIFF\x00\x00not audio")  # a row, marked
    monkeypatch.setattr(trainer.paths, "demo_library_dir", lambda: demo)
    monkeypatch.setattr(main_window.QFileDialog, "getExistingDirectory", lambda *a, **k: str(extra))
    messages: list[str] = []
    window.session.message.connect(messages.append)

    song = double_click_song(qtbot, window, "01 - Low song 1.wav")
    spectra = window.library_page.spectrograms
    qtbot.waitUntil(
        lambda: spectra.query_panel.plotItem.titleLabel.text == f"Query: {song_text(song)}", timeout=20_000
    )

    menu_action(window, "File", "Open demo library").trigger()
    qtbot.waitUntil(lambda: len(window.session.songs) == 3 and indexed_all(window), timeout=60_000)
    assert window.session.roots == [demo.resolve()]
    # the library changed: no spectrogram keeps the old query's title over an empty plot
    assert spectra.query_panel.plotItem.titleLabel.text == "Query"
    assert spectra.result_panel.plotItem.titleLabel.text == "Result"

    action = menu_action(window, "File", "Add folder to library…")
    assert action.shortcut().toString() == "Ctrl+O"
    messages.clear()
    action.trigger()
    qtbot.waitUntil(lambda: len(window.session.songs) == 6 and indexed_all(window), timeout=60_000)
    assert window.session.roots == [demo.resolve(), extra.resolve()]  # added, nothing replaced
    qtbot.waitUntil(lambda: any(m.startswith("Indexed ") for m in messages), timeout=10_000)
    said = next(m for m in messages if m.startswith("Indexed "))
    assert "; 2 could not be used (listed under the library)" in said, said
    view = window.library_page.library_view
    assert "6 songs · " in view.count_label.text() and ">2 could not be used<" in view.count_label.text()
    click_link(qtbot, view.count_label, "unusable")
    dialog = view.unusable_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    listed = {
        dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())
    }
    assert set(listed) == {
        str(extra.resolve() / "Mine" / "empty.wav"),
        str(extra.resolve() / "Mine" / "broken.wav"),
    }
    assert listed[str(extra.resolve() / "Mine" / "empty.wav")] == "empty file (0 bytes)"
    assert dialog.summary.text().startswith("2 files of the library could not be used")
    dialog.close()

    # the training and benchmark pages offer every folder of the library, and the other indexed ones
    training = window.training_page.library_combo
    offered = [training.itemText(i) for i in range(training.count())]
    assert offered[:2] == [str(demo.resolve()), str(extra.resolve())]
    assert str(Path(window.session.known_roots[0])) in offered  # the fixture's library, indexed before
    bench = window.benchmark_page.library_combo
    assert [bench.itemText(i) for i in range(bench.count())] == offered


# -- a file from outside the library -------------------------------------------------------------
def test_from_a_file_finds_the_library_songs_like_a_song_from_anywhere(qtbot, window, tmp_path, monkeypatch):
    from musicsim_app import query_panel

    panel, results, session = (
        window.library_page.query_panel,
        window.library_page.results_view,
        window.session,
    )
    import soundfile as sf

    twin = next(s for s in session.songs if s.path.name == "02 - High song 2.wav")
    y, sr = sf.read(twin.path, dtype="float32")
    outside = tmp_path / "radio" / "heard today.flac"  # the same song in another file and format
    write(outside, y, sr, format="FLAC")
    asked = []
    monkeypatch.setattr(
        query_panel.QFileDialog, "getOpenFileName", lambda *a, **k: (asked.append(a) or str(outside), "")
    )
    qtbot.mouseClick(panel.file_button, LEFT)
    assert asked  # the button asked for a file
    qtbot.waitUntil(lambda: session.outside is not None and bool(session.results), timeout=30_000)

    assert panel.title_label.text() == "heard today"
    assert "not in the library" in panel.detail_label.text()
    assert session.query_id is None
    assert (
        results.model.rowCount() == 9 and results.empty_label.text() == "9 nearest by cosine"
    )  # none left out
    assert session.results[0].song.id == twin.id  # nothing left out: its twin is the nearest
    spectrogram = window.library_page.spectrograms.query_panel
    qtbot.waitUntil(lambda: spectrogram.path == outside, timeout=10_000)
    # the map was not computed with it: its star sits among its three nearest songs
    map_view = window.library_page.map_view
    qtbot.waitUntil(lambda: len(map_view.plot.query_item.getData()[0]) == 1, timeout=30_000)
    star = np.array([coord[0] for coord in map_view.plot.query_item.getData()])
    nearest = [map_view._row_of[r.song.id] for r in session.results[:3]]
    np.testing.assert_allclose(star, map_view.plot.pos[nearest].mean(axis=0), rtol=1e-6)
    with qtbot.waitSignal(window.player.stateChanged, timeout=10_000, check_params_cb=lambda s: s == PLAYING):
        qtbot.mouseClick(panel.play_button, LEFT)
    assert window.player.path == outside
    # the radio from a song outside the library sets out from its nearest library song
    menu_action(window, "Playback", "Play similar to the query").trigger()
    qtbot.waitUntil(lambda: len(window.playlists.queue.songs) > 1, timeout=10_000)
    assert window.playlists.queue.songs[0] == twin.id

    # another model: the file is heard again with it, and the results follow
    pick(qtbot, panel.model_combo, "default")
    key = session.model_key
    qtbot.waitUntil(lambda: not session.busy() and key in session._outside_vectors, timeout=120_000)
    qtbot.waitUntil(lambda: bool(session.results), timeout=10_000)
    assert panel.title_label.text() == "heard today" and session.results[0].song.id > 0

    # a result used as the query is a library song again
    first = session.results[0].song
    click_cell(qtbot, results.table, results.model.index(0, 2), double=True)
    assert session.query_id == first.id and session.outside is None
    assert "not in the library" not in panel.detail_label.text()

    # a file of the library, asked for from the menu, is its own song (left out of its results)
    inside = next(s for s in session.songs if s.path.name == "02 - High song 2.wav")
    monkeypatch.setattr(query_panel.QFileDialog, "getOpenFileName", lambda *a, **k: (str(inside.path), ""))
    menu_action(window, "File", "Find songs like a file…").trigger()
    qtbot.waitUntil(lambda: session.query_id == inside.id and bool(session.results), timeout=10_000)
    assert session.outside is None and inside.id not in [r.song.id for r in session.results]


def test_an_outside_query_follows_two_model_changes_in_a_row(qtbot, window, tmp_path, monkeypatch):
    from musicsim_app import query_panel

    session, panel = window.session, window.library_page.query_panel
    outside = tmp_path / "heard.wav"
    write(outside, tone(300, 3.5, harmonics=2, seed=4))
    monkeypatch.setattr(query_panel.QFileDialog, "getOpenFileName", lambda *a, **k: (str(outside), ""))
    qtbot.mouseClick(panel.file_button, LEFT)
    qtbot.waitUntil(lambda: session.outside is not None and bool(session.results), timeout=30_000)

    pick(qtbot, panel.model_combo, "default")
    pick(qtbot, panel.model_combo, "musicnn-msd")  # before the file is heard with "default"
    key = session.model_key
    qtbot.waitUntil(lambda: not session.busy() and key in session._outside_vectors, timeout=180_000)
    qtbot.waitUntil(lambda: bool(session.results), timeout=10_000)
    assert len(session._outside_vectors) == 3 and panel.title_label.text() == "heard"


def test_an_audio_file_dropped_on_the_query_panel_is_queried_and_a_bad_one_says_why(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    from musicsim_app import song_text as st

    panel, session = window.library_page.query_panel, window.session

    def drop(path: Path) -> bool:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        at = panel.rect().center()
        enter = QDragEnterEvent(
            at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(panel, enter)
        if enter.isAccepted():
            done = QDropEvent(
                QPointF(at),
                Qt.DropAction.CopyAction,
                mime,
                Qt.MouseButton.NoButton,
                Qt.KeyboardModifier.NoModifier,
            )
            QApplication.sendEvent(panel, done)
        return enter.isAccepted()

    junk = tmp_path / "not a song.mp3"
    junk.write_bytes(b"ID3\x03" + b"\x00" * 300)
    assert drop(junk)
    qtbot.waitUntil(lambda: "could not be used" in window.statusBar().currentMessage(), timeout=30_000)
    assert session.query_song is None and panel.title_label.text() == "No query song"  # nothing was lost

    import soundfile as sf
    from mutagen.flac import FLAC

    twin = next(s for s in session.songs if s.path.name == "01 - Low song 1.wav")
    low = tmp_path / "low hum.flac"
    write(low, *sf.read(twin.path, dtype="float32"), format="FLAC")
    tags = FLAC(low)
    tags["title"], tags["artist"] = "<h1>Low hum</h1> (live)", "Someone\x1b[2J else"
    tags.save()
    assert drop(low)
    qtbot.waitUntil(lambda: session.outside is not None and bool(session.results), timeout=30_000)
    assert panel.title_label.text() == "<h1>Low hum</h1> (live)"  # shown as typed, not as markup
    assert panel.title_label.textFormat() == Qt.TextFormat.PlainText
    spectrogram = window.library_page.spectrograms.query_panel
    qtbot.waitUntil(lambda: spectrogram.path == low, timeout=10_000)
    assert "Query: &lt;h1&gt;Low hum&lt;/h1&gt; (live)" in spectrogram.plotItem.titleLabel.text
    assert panel.detail_label.text() == "Someone [2J else · not in the library"  # tags shown escaped
    assert session.results[0].song.id == twin.id and st.album(session.results[0].song) == "Low Album"


def test_once_a_library_is_indexed_the_window_offers_to_adapt_the_model_to_it(
    qtbot, window, music_library, monkeypatch
):
    from musicsim_app import main_window
    from musicsim_app.training_page import ADAPT_NEIGHBOURS

    monkeypatch.setattr(main_window, "ADAPT_OFFER_MIN_SONGS", 5)  # the test library has 9 songs
    banner, session = window.adapt_banner, window.session
    assert banner.isHidden()  # indexed with 'classic', which has nothing to fine-tune
    pick(qtbot, window.library_page.query_panel.model_combo, "default")
    qtbot.waitUntil(banner.isVisible, timeout=120_000)
    assert "9 songs indexed" in banner.label.text() and "default" in banner.label.text()

    qtbot.mouseClick(banner.action_button, LEFT)
    assert banner.isHidden() and window.pages.currentWidget() is window.training_page
    page = window.training_page
    assert page.init_combo.currentData() == "default" and page.name_edit.text().startswith("default-tuned")
    assert Path(page.library_combo.currentText()).resolve() == Path(music_library).resolve()
    assert page.neighbours_spin.value() == pytest.approx(ADAPT_NEIGHBOURS)  # the adaptation preset

    # offered once per folder: more songs indexed later say nothing again
    assert str(Path(music_library).resolve()) in window.settings.adaptation_offered
    session.songsEmbedded.emit(3)
    assert banner.isHidden()


def test_find_duplicates_lists_a_copy_to_hear_and_find(qtbot, window, tmp_path, monkeypatch):
    from musicsim_app import main_window

    session = window.session
    messages: list[str] = []
    session.message.connect(messages.append)
    menu_action(window, "Tools", "Find duplicates…").trigger()
    nothing = "No recording is in the library twice"
    qtbot.waitUntil(lambda: any(m.startswith(nothing) for m in messages), timeout=30_000)
    assert window.duplicates_dialog is None

    original = next(s for s in session.songs if s.path.name == "02 - High song 2.wav")
    copy = tmp_path / "Copies" / "High song 2 (copy).wav"
    copy.parent.mkdir()
    shutil.copy(original.path, copy)
    monkeypatch.setattr(main_window.QFileDialog, "getExistingDirectory", lambda *a, **k: str(copy.parent))
    menu_action(window, "File", "Add folder to library…").trigger()
    qtbot.waitUntil(lambda: len(session.songs) == 11 and indexed_all(window), timeout=60_000)

    menu_action(window, "Tools", "Find duplicates…").trigger()
    qtbot.waitUntil(lambda: getattr(window, "duplicates_dialog", None) is not None, timeout=30_000)
    dialog = window.duplicates_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    assert dialog.summary.text().startswith("<b>1 recording found more than once</b> (10 songs compared")
    assert dialog.tree.topLevelItemCount() == 1
    group = dialog.tree.topLevelItem(0)
    assert group.text(0).startswith("2 copies · distance 0.0")
    assert {group.child(i).text(5) for i in range(2)} == {
        "High song 2 (copy).wav",
        "High Artist/High Album/02 - High song 2.wav",
    }
    assert not dialog.play_button.isEnabled()  # nothing picked yet
    copy_item = next(group.child(i) for i in range(2) if group.child(i).text(5).endswith("(copy).wav"))
    rect = dialog.tree.visualItemRect(copy_item)
    with qtbot.waitSignal(window.player.stateChanged, timeout=10_000, check_params_cb=lambda s: s == PLAYING):
        qtbot.mouseClick(dialog.tree.viewport(), LEFT, pos=rect.center())  # (see click_cell)
        qtbot.mouseDClick(dialog.tree.viewport(), LEFT, pos=rect.center())
    assert window.player.path == copy.resolve()
    qtbot.mouseClick(dialog.show_button, LEFT)
    table = window.library_page.library_view.table
    picked = table.model().data(table.currentIndex().siblingAtColumn(0), Qt.ItemDataRole.DisplayRole)
    assert picked == "High song 2 (copy)" and window.pages.currentIndex() == 0


def indexed_all(window) -> bool:
    ids, _ = window.session.embeddings()
    return not window.session.busy() and len(ids) + len(window.session.failures) >= len(window.session.songs)


def test_a_model_saved_by_another_process_appears_in_the_picker(qtbot, window):
    from trainer.paths import models_dir, resources_dir

    combo = window.library_page.query_panel.model_combo
    assert combo.findData("from-terminal") < 0
    target = models_dir(window.home) / "from-terminal"
    shutil.copytree(resources_dir() / "models" / "default", target)  # as `musicsim train` leaves it
    qtbot.waitUntil(lambda: combo.findData("from-terminal") >= 0, timeout=10_000)
    assert window.training_page.init_combo.findData("from-terminal") >= 0
    assert "from-terminal" in window.benchmark_page.checked_models() or any(
        window.benchmark_page.models_list.item(i).data(Qt.ItemDataRole.UserRole) == "from-terminal"
        for i in range(window.benchmark_page.models_list.count())
    )
    shutil.rmtree(target)
    qtbot.waitUntil(lambda: combo.findData("from-terminal") < 0, timeout=10_000)
    assert window.session.model_name == "classic"  # the model in use was not the one removed


# -- training page -------------------------------------------------------------------------------
def test_training_page_reads_plainly_and_remembers_its_settings(qtbot, window, home, music_library):
    from musicsim_app.main_window import MainWindow

    go_to_page(qtbot, window, "Training")
    page = window.training_page
    qtbot.waitUntil(lambda: page.arch_combo.count() > 0, timeout=30_000)
    shown = [w.text() for w in page.findChildren(QLabel) if w.isVisible()]
    assert not any("stall" in text.lower() for text in shown)  # no developer metric
    assert page.lr_spin.text() == "1e-5"
    qtbot.keyClick(page.lr_spin, Qt.Key.Key_Up)
    assert page.lr_spin.text() == "2e-5" and page.lr_spin.value() == pytest.approx(2e-5)
    qtbot.keyClick(page.lr_spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(page.lr_spin, "3e-4")
    qtbot.keyClick(page.lr_spin, Qt.Key.Key_Tab)
    assert page.lr_spin.value() == pytest.approx(3e-4) and page.lr_spin.text() == "3e-4"
    pick(qtbot, page.loss_combo, "contrastive")
    pick(qtbot, page.source_combo, page.source_combo.itemText(page.source_combo.findData("self")))
    qtbot.keyClick(page.epochs_spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(page.epochs_spin, "7")
    qtbot.keyClick(page.epochs_spin, Qt.Key.Key_Tab)
    assert page.epochs_spin.value() == 7
    window.close()

    again = MainWindow(home, audio="null", device="cpu")
    qtbot.addWidget(again)
    again.show()
    go_to_page(qtbot, again, "Training")
    page = again.training_page
    qtbot.waitUntil(lambda: page.arch_combo.count() > 0, timeout=30_000)
    qtbot.waitUntil(lambda: page.epochs_spin.value() == 7, timeout=5000)
    assert page.lr_spin.text() == "3e-4" and page.loss_combo.currentText() == "contrastive"
    assert page.source_combo.currentData() == "self"
    assert Path(page.library_combo.currentText()).resolve() == Path(music_library).resolve()
    again.close()


# -- benchmarks ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_run_benchmark_button_fills_readable_tables(qtbot, window):
    from musicsim_app.heatmap import contrast

    go_to_page(qtbot, window, "Benchmarks")
    page = window.benchmark_page
    page.set_checked_models(["classic"])
    qtbot.mouseClick(page.run_button, LEFT)
    worker = page.worker
    assert worker is not None and not page.run_button.isEnabled()
    with qtbot.waitSignal(worker.done, timeout=180_000):
        pass
    assert worker.error is None, worker.error
    assert page.progress_label.text().startswith("Done: saved in")
    a = page.panel_a.heatmap
    assert a.filled_cells() == 27
    # readable: every cell's text against its colour at least WCAG's 4.5:1
    cells = [a.item(r, c) for r in range(9) for c in range(3)]
    assert min(contrast(i.foreground().color(), i.background().color()) for i in cells) >= 4.5
    # ties scored as the thesis's table reads: hamming on real-valued features is about a third
    hamming = [float(a.item(a.distances.index("hamming"), c).text().lstrip("★ ")) for c in range(3)]
    assert all(20 < h < 50 for h in hamming), hamming

    qtbot.mouseClick(page.tabs.tabBar(), LEFT, pos=page.tabs.tabBar().tabRect(1).center())  # All scores
    assert page.tabs.currentIndex() == 1
    headers = [page.model_table.horizontalHeaderItem(c).text() for c in range(page.model_table.columnCount())]
    assert headers == ["Model", "cosine-Normalizer %", "Best of 27 %", "Best cell", "P@1 %", "MAP@R %"]
    assert page.model_table.rowCount() == 1  # P@1 and MAP@R once per model, not on 27 rows
    p1 = float(page.model_table.item(0, 4).text())
    assert 0 <= p1 <= 100 and p1 == pytest.approx(100 * page.results["classic"].p_at_1, abs=0.05)
    assert page.table.columnCount() == 4 and page.table.rowCount() == 27
    assert page.table.horizontalHeaderItem(3).text() == "Score %"
    scores = [float(page.table.item(r, 3).text()) for r in range(27)]
    assert all(0 <= s <= 100 for s in scores) and max(scores) > 1  # percentages, not fractions


def assert_nothing_cut_off(window) -> list[str]:
    """Every visible picker, button, box and one-line label is at least as wide as it needs."""
    cut = []
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.width() == 0:
            continue
        if isinstance(w, QAbstractButton) and w.text():
            icon = w.iconSize().width() + 4 if not w.icon().isNull() else 0
            need = w.fontMetrics().horizontalAdvance(w.text().replace("&&", "&")) + icon + 8
        elif isinstance(w, (QComboBox, QSpinBox)) or (
            isinstance(w, QLineEdit) and not isinstance(w.parent(), (QComboBox, QSpinBox))
        ):
            need = w.minimumSizeHint().width()
        elif isinstance(w, QLabel) and not w.wordWrap() and w.text() and "<" not in w.text():
            need = w.minimumSizeHint().width()
        else:
            continue
        if isinstance(w, QComboBox) and w.sizeAdjustPolicy() == QComboBox.SizeAdjustPolicy.AdjustToContents:
            need = w.sizeHint().width()  # every choice fits
        if w.width() + 1 < need:
            cut.append(
                f"{type(w).__name__} {getattr(w, 'text', lambda: '')() or w.objectName()!r}: "
                f"{w.width()} < {need}"
            )
    for heatmap in (window.benchmark_page.panel_a.heatmap, window.benchmark_page.panel_b.heatmap):
        if heatmap.isVisible():
            header = heatmap.horizontalHeader()
            for col in range(heatmap.columnCount()):
                title = heatmap.horizontalHeaderItem(col).text()
                if header.sectionSize(col) < header.fontMetrics().horizontalAdvance(title) + 4:
                    cut.append(f"heatmap title {title!r}: {header.sectionSize(col)} px")
    return cut


@pytest.mark.parametrize("size", [(1024, 700), (1600, 1000)])
def test_every_page_fits_the_window_with_nothing_cut_off(qtbot, window, size):
    assert window.minimumSizeHint().width() < 1024  # it can be narrower than 1024 px
    window.resize(*size)
    for name in ("Library", "Training", "Benchmarks"):
        go_to_page(qtbot, window, name)
        qtbot.wait(100)
        assert window.width() == size[0]
        assert assert_nothing_cut_off(window) == [], name
    panel = window.library_page.query_panel
    for combo in (panel.distance_combo, panel.scaler_combo):
        assert combo.width() >= combo.sizeHint().width()  # "correlation", "StandardScaler" whole
    a, b = window.benchmark_page.panel_a.heatmap, window.benchmark_page.panel_b.heatmap
    go_to_page(qtbot, window, "Benchmarks")
    assert abs(a.width() - b.width()) <= 1 and abs(a.height() - b.height()) <= 1


# -- smaller things ------------------------------------------------------------------------------
def test_odd_one_out_from_the_tools_menu(qtbot, window, tmp_path):
    from musicsim_app.odd_one_out import OddOneOutDialog
    from trainer.triplets import read_triplets_csv

    window.settings.triplets_csv = str(tmp_path / "mine.csv")
    menu_action(window, "Tools", "Odd one out (ground truth by ear)…").trigger()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, OddOneOutDialog))
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    assert [b.text() for b in dialog.play_buttons] == [
        "Play A (silent)",
        "Play B (silent)",
        "Play C (silent)",
    ]
    assert not dialog.silent_label.isHidden() and "No audio output" in dialog.silent_label.text()
    width = dialog.width()
    qtbot.mouseClick(dialog.show_titles, LEFT, pos=QPoint(8, dialog.show_titles.height() // 2))  # its box
    assert dialog.show_titles.isChecked() and all(label.text() for label in dialog.title_labels)
    assert dialog.width() == width  # long titles do not widen it
    with qtbot.waitSignal(window.player.stateChanged, timeout=10_000, check_params_cb=lambda s: s == PLAYING):
        qtbot.mouseClick(dialog.play_buttons[0], LEFT)
    qtbot.mouseClick(dialog.choices[1], LEFT)
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.count_label.text() == "1 answer saved this session"
    assert len(read_triplets_csv(tmp_path / "mine.csv")) == 1
    qtbot.mouseClick(dialog.choices[0], LEFT)
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.count_label.text() == "2 answers saved this session"
    dialog.close()


def test_help_about_names_the_version(qtbot, window):
    from musicsim_app import version

    seen = []

    def read_and_close():
        box = QApplication.activeModalWidget()
        seen.append(box.text() if box is not None else "")
        if box is not None:
            box.accept()

    QTimer.singleShot(300, read_and_close)
    menu_action(window, "Help", "About MusicSim").trigger()
    assert seen and f"MusicSim {version()}" in seen[0] and re.search(r"\d+\.\d+", version())
    assert "Audio: none (audio output is off" in seen[0]
