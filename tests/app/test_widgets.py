"""Widgets and pure helpers on hand-made data (no audio, no models)."""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from musicsim_app.engine_jobs import Snapshot
from musicsim_app.heatmap import ScoreHeatmap
from musicsim_app.map_view import MapView
from musicsim_app.session import LibrarySession
from musicsim_app.spectrogram_view import SpectrogramPanel, mel_ticks
from musicsim_app.triplet_choice import choose_trio
from musicsim_app.workers import JobRunner
from trainer.distances import DISTANCES, SCALERS
from trainer.library import Song


@dataclass(frozen=True)
class Row:
    distance: str
    scaler: str
    score_percent: float
    n_triplets: int = 100


def make_song(i, album="A", root=Path("/music")):
    return Song(
        id=i,
        path=root / "Artist" / album / f"{i:02d}.wav",
        root=root,
        size=1,
        mtime=0.0,
        duration_s=10.0 + i,
        title=f"Song {i}",
        artist="Artist",
        album=album,
        genre=None,
        error=None,
    )


@pytest.fixture
def session(qtbot, tmp_path):
    s = LibrarySession(tmp_path / "home", JobRunner())
    yield s
    s.runner.stop_all()


def test_heatmap_has_27_cells_and_marks_best(qtbot):
    heatmap = ScoreHeatmap()
    qtbot.addWidget(heatmap)
    rows = [Row(d, s, 40 + i) for i, (d, s) in enumerate((d, s) for d in DISTANCES for s in SCALERS)]
    heatmap.set_rows(rows)
    assert heatmap.rowCount() == 9 and heatmap.columnCount() == 3
    assert heatmap.filled_cells() == 27
    assert heatmap.best == (DISTANCES[-1], SCALERS[-1])
    assert heatmap.item(8, 2).text().startswith("★")
    assert heatmap.item(0, 0).background().color() != heatmap.item(8, 2).background().color()


def _model_ref(name: str, dim: int):
    """A model as the session lists it (its key ``<name>@1``), without weights on disk."""
    from trainer.modelstore import ModelInfo, ModelRef

    info = ModelInfo(name=name, arch="musicnet-small", embedding_dim=dim, weights_sha256="1")
    return ModelRef(name, None, info)


def test_results_rerank_with_distance_and_scaler(qtbot, session):
    # after MinMax scaling the rows are (0,0), (.6,.6), (.9,0), (1,1): chebyshev puts row 1
    # nearest to row 0 (0.6 < 0.9), cityblock puts row 2 nearest (0.9 < 1.2)
    X = np.array([[1, 1], [1.6, 1.6], [1.9, 1.0], [2, 2]], dtype=np.float32)
    songs = [make_song(i) for i in range(4)]
    session.model_refs = [_model_ref("m", dim=X.shape[1])]
    session.model_name = "m"
    session.apply_snapshot(Snapshot(songs=songs, ids=np.arange(4), matrix=X, model_key="m@1"))
    session.set_scaler("MinMaxScaler")
    session.set_distance("chebyshev")
    session.set_query(0)
    assert [r.song.id for r in session.results][:2] == [1, 2]
    session.set_distance("cityblock")
    assert [r.song.id for r in session.results][:2] == [2, 1]
    session.set_distance("euclidean")
    assert [r.song.id for r in session.results] == [1, 2, 3]
    session.set_scaler("Normalizer")  # on unit rows 1 and 3 coincide with the query
    assert [r.song.id for r in session.results][2] == 2
    session.set_k(1)
    assert len(session.results) == 1
    # a model whose vector is one learnt code has no named parts to explain or rank by
    assert session.aspect_labels() == [] and session.results[0].alike == ()
    session.set_alike_in("rhythm")
    assert session.alike_in is None


def test_a_big_library_prepares_its_search_on_a_worker(qtbot, session, monkeypatch):
    """Above SYNC_SEARCH_ROWS the scaled index, and above ANN_THRESHOLD each distance's HNSW graph,
    are built on a worker (a minute at a million songs); the results follow."""
    import threading

    import musicsim_app.session as session_module
    import trainer.search as search
    import trainer.search_cache as search_cache

    monkeypatch.setattr(session_module, "SYNC_SEARCH_ROWS", 10)
    monkeypatch.setattr(search, "ANN_THRESHOLD", 20)  # so these 40 songs get HNSW graphs
    threads = []
    real = search_cache.prepare_search

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(search_cache, "prepare_search", spy)
    X = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    session.model_refs = [_model_ref("m", dim=X.shape[1])]
    session.model_name = "m"
    messages = []
    session.message.connect(messages.append)
    session.apply_snapshot(
        Snapshot(songs=[make_song(i) for i in range(40)], ids=np.arange(40), matrix=X, model_key="m@1")
    )
    session.set_query(0)
    assert session.results == [] and messages[-1] == "Preparing search over 40 songs…"
    qtbot.waitUntil(lambda: len(session.results) == 10, timeout=10_000)
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    index = session.search_index()
    assert index.use_ann and index.ready("cosine") and not index.ready("euclidean")
    assert session.search_backend().startswith("approximate HNSW search")
    exact = search.SearchIndex(X, "Normalizer", ann="never").query(X[0], 10, "cosine", exclude_ids=[0])[0]
    assert [r.song.id for r in session.results] == exact.tolist()
    session.set_k(5)  # same index: re-ranked at once
    assert len(session.results) == 5
    session.set_distance("euclidean")  # its own graph: prepared on a worker too
    assert session.results == []
    qtbot.waitUntil(lambda: len(session.results) == 5, timeout=10_000)
    session.set_distance("cityblock")  # exact metrics need no graph
    assert len(session.results) == 5 and len(threads) == 2
    assert session.search_backend() == "exact search over 40 songs (cityblock, Normalizer)"
    session.set_scaler("StandardScaler")  # a new scaled copy of more than SYNC_SEARCH_ROWS rows
    assert session.results == []
    qtbot.waitUntil(lambda: len(session.results) == 5, timeout=10_000)
    assert len(threads) == 3 and not session._preparing


def test_choose_trio_prefers_other_album_near_boundary():
    labels = np.array(["a", "a", "a", "b", "b"])
    rank = np.array([1, 3, 2, 4])
    dist = np.array([0.1, 0.12, 0.5, 0.9])
    assert choose_trio(rank, dist, 0, labels) == (0, 1, 3)
    assert choose_trio(rank, dist, 0) == (0, 1, 3)
    assert choose_trio(rank[:1], dist[:1], 0) is None


def test_mel_ticks_are_increasing_and_spaced():
    mel_hz = np.geomspace(20, 11025, 96)
    ticks = mel_ticks(mel_hz)
    positions = [t[0] for t in ticks]
    assert positions == sorted(positions)
    assert all(b - a >= 0.05 * 96 for a, b in zip(positions, positions[1:], strict=False))
    assert "1k" in [t[1] for t in ticks]


def test_spectrogram_panel_shows_image_and_playhead(qtbot):
    panel = SpectrogramPanel("Query")
    qtbot.addWidget(panel)
    image = np.random.default_rng(0).normal(-40, 10, (96, 431)).astype(np.float32)
    panel.set_spectrogram(Path("/x.wav"), "X", image, 512 / 22050, np.geomspace(20, 11025, 96))
    assert panel.image.image.shape == (96, 431)
    panel.set_playhead(2.5)
    assert panel.playhead.isVisible() and panel.playhead.value() == pytest.approx(2.5)
    panel.show_message("no song")
    assert not panel.playhead.isVisible()


class _LeftClick:
    """What pyqtgraph's legend sample reads of a mouse click."""

    def button(self):
        return Qt.MouseButton.LeftButton

    def accept(self):
        pass


def test_map_legend_names_the_largest_groups_with_their_colours(qtbot):
    view = MapView(["PCA"])
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    pos = np.random.default_rng(1).normal(size=(9, 2))
    long_name = "A Very Long Album Title That Would Cover Half The Map"
    groups = ["Nexuiz"] * 2 + ["0 A.D."] * 3 + [long_name] * 4
    view.set_map(np.arange(9), pos, groups, [""] * 9)
    entries = view.plot.legend_entries()
    assert entries[:2] == [long_name[:25] + "… (4)", "0 A.D. (3)"] and entries[2] == "Nexuiz (2)"
    # each sample is drawn in its group's colour: the colour of that group's points
    brushes = view.plot.scatter.data["brush"]
    sample_colour = view.plot.legend.items[1][0].item.opts["brush"].color().name()
    album_colours = {b.color().name() for b, g in zip(brushes, groups, strict=True) if g == "0 A.D."}
    assert album_colours == {sample_colour}

    # a click on a legend sample hides that album's points (no hover or click on them), another shows them
    nexuiz = view.plot.legend.items[2][0]  # the third largest; its songs are rows 0 and 1
    nexuiz.mouseClickEvent(_LeftClick())
    visible = view.plot.scatter.data["visible"]
    assert not visible[:2].any() and visible[2:].all()
    view.plot.pos = np.zeros_like(view.plot.pos)  # every point under the cursor: the first shown answers
    centre = view.plot.plotItem.vb.mapViewToScene(QPointF(0, 0))
    assert view.plot.nearest_row(centre) == 2
    nexuiz.mouseClickEvent(_LeftClick())
    assert view.plot.scatter.data["visible"].all() and view.plot.nearest_row(centre) == 0

    many = [f"album {i:02d}" for i in range(15) for _ in range(i + 1)]
    view.set_map(np.arange(len(many)), np.zeros((len(many), 2)), many, [""] * len(many))
    entries = view.plot.legend_entries()
    assert len(entries) == 11 and entries[0] == "album 14 (15)" and entries[-1] == "+ 5 more"
    view.set_map(np.zeros(0, np.int64), np.zeros((0, 2)), [], [])
    assert view.plot.legend_entries() == [] and not view.plot.legend.isVisible()


def test_map_with_10000_points_hit_testing(qtbot):
    view = MapView(["PCA"])
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    rng = np.random.default_rng(0)
    n = 10_000
    pos = rng.normal(size=(n, 2)).astype(np.float32)
    groups = [f"album {i % 300}" for i in range(n)]
    t0 = time.perf_counter()
    view.set_map(np.arange(n), pos, groups, [f"song {i}" for i in range(n)])
    view.highlight(5, list(range(10, 20)))
    set_ms = (time.perf_counter() - t0) * 1000
    qtbot.waitExposed(view)
    vb = view.plot.plotItem.vb
    target = int(np.argmin(np.abs(pos).sum(axis=1)))  # a point in the middle, surely inside the view
    scene_pos = vb.mapViewToScene(QPointF(*pos[target]))
    t0 = time.perf_counter()
    row = view.plot.nearest_row(scene_pos)
    hit_ms = (time.perf_counter() - t0) * 1000
    print(f"\nmap: set_map+highlight of {n} points {set_ms:.0f} ms, one hit test {hit_ms:.2f} ms")
    assert row is not None and np.allclose(pos[row], pos[target], atol=0.05)
    view.plot._on_mouse_moved((scene_pos,))  # hover: the tooltip names the song
    assert view.plot.cursor().shape().name == "PointingHandCursor"
    clicked = []
    view.songClicked.connect(clicked.append)
    view.plot.pointClicked.emit(row)
    assert clicked == [row]
    assert len(view.plot.results_item.data) == 10


def test_benchmark_intervals_read_as_words():
    from musicsim_app.benchmark_page import _interval_texts
    from trainer.results import Uncertainty

    texts = _interval_texts(
        Uncertainty.from_dict(
            {
                "draws": 2000,
                "cosine_normalizer": [44.5, 62.6],
                "p_at_1": [51.1, 76.6],
                "first_minus_this": {
                    "first": "default",
                    "cosine_normalizer": [-7.5, -18.2, 3.5],
                    "p_at_1": [-8.5, -23.4, 8.5],
                },
            }
        )
    )
    assert texts == [
        "95 % interval: cosine-Normalizer 44.5–62.6 %, P@1 51.1–76.6 %",
        "default minus this: cosine-Normalizer -7.5 [-18.2, +3.5], P@1 -8.5 [-23.4, +8.5]",
    ]
    assert _interval_texts(None) == []  # results saved before intervals existed
    diff = {"first": "default", "cosine_normalizer": [3.5, -6, 12]}
    texts = _interval_texts(
        Uncertainty.from_dict(
            {
                "cosine_normalizer": [44.5, 62.6],
                "albums": {"cosine_normalizer": [40.0, 66.0], "first_minus_this": diff},
            }
        )
    )
    assert texts == [
        "95 % interval: cosine-Normalizer 44.5–62.6 %",
        "albums resampled, 95 % interval: cosine-Normalizer 40.0–66.0 %",
        "albums resampled, default minus this: cosine-Normalizer +3.5 [-6.0, +12.0]",
    ]


@pytest.mark.parametrize("size", [(345, 240), (600, 420)])
def test_map_legend_covers_no_point_when_coloured_by_artist(qtbot, size):
    """Fourteen artists in the small map of a 1024 x 700 window: the legend names as many as fit
    in the corner (the rest as "+ N more") and the view makes room above the points for it."""
    view = MapView(["PCA"])
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    rng = np.random.default_rng(5)
    artists = [f"Composer number {i:02d}" for i in range(14) for _ in range(1 + i % 3)]
    pos = rng.normal(size=(len(artists), 2))
    pos[0] = [pos[:, 0].min(), pos[:, 1].max()]  # a point in the top left corner, under the legend's place
    view.set_map(np.arange(len(artists)), pos, artists, [""] * len(artists))
    qtbot.wait(50)
    vb = view.plot.plotItem.vb
    box = view.plot.legend.sceneBoundingRect()
    assert box.height() <= 0.5 * vb.sceneBoundingRect().height() + 1
    assert box.right() <= vb.sceneBoundingRect().right()
    covered = [i for i, (x, y) in enumerate(pos) if box.contains(vb.mapViewToScene(QPointF(x, y)))]
    assert covered == []
    entries = view.plot.legend_entries()
    assert entries[-1].startswith("+ ") and entries[-1].endswith(" more") and len(entries) >= 2
    shown = len(entries) - 1
    view.resize(size[0] * 2, size[1] * 2)  # more room: more names, still over no point
    from musicsim_app.map_view import LEGEND_MAX

    qtbot.waitUntil(lambda: len(view.plot.legend_entries()) - 1 > shown or shown == LEGEND_MAX, timeout=3000)
    qtbot.wait(50)
    box = view.plot.legend.sceneBoundingRect()
    assert not any(box.contains(vb.mapViewToScene(QPointF(x, y))) for x, y in pos)
