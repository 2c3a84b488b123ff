"""The embedding map: one ScatterPlotItem for the whole library, coloured by album or artist.

Hover shows "title — artist — album", a click makes that song the query; the query and its
results are drawn on top as two small overlay items.  A legend in the corner names the colours
of the largest groups (a map coloured by album says nothing without it); a click on one hides or
shows that group's points.  Nothing per point is a
Python object in the hot paths: hit-testing is a vectorised nearest-point search in pixel space.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolTip, QVBoxLayout, QWidget

HIT_RADIUS_PX = 8
#: Groups named in the legend; a library of hundreds of albums gets its largest ones and a count.
LEGEND_MAX = 10
LEGEND_NAME_CHARS = 26
#: The most of the map's height the legend may take: the view is raised by as much, so the legend
#: covers no points; groups that do not fit in it are counted in "+ N more".
LEGEND_MAX_SHARE = 0.5
#: How long a resize must settle before the legend is fitted again.
LEGEND_REFIT_MS = 120
#: A query from outside the library is starred at the mean place of this many of its nearest songs.
OUTSIDE_AMONG = 3


def palette(n: int) -> list[QColor]:
    """``n`` distinct, evenly spread hues that read well on a dark background."""
    golden = 0.618033988749895
    return [QColor.fromHsvF((i * golden) % 1.0, 0.55, 0.95) for i in range(max(n, 1))]


class MapPlot(pg.PlotWidget):
    """Scatter of ``(n, 2)`` points; emits ``pointClicked(row)``; ``labels`` give tooltips."""

    pointClicked = Signal(int)
    pointMenuRequested = Signal(int, object)  #: row, global QPoint: a right-click on a point

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setAspectLocked(False)
        self.scatter = pg.ScatterPlotItem(pxMode=True, size=7, pen=None)
        self.results_item = pg.ScatterPlotItem(
            pxMode=True, size=12, brush=None, pen=pg.mkPen("#ffffff", width=1.5)
        )
        self.query_item = pg.ScatterPlotItem(
            pxMode=True, size=20, symbol="star", brush=pg.mkBrush("#ffd166"), pen=pg.mkPen("#000000", width=1)
        )
        #: a journey (trainer.playlists) as a line through its songs, drawn under the query star
        self.journey_item = pg.PlotDataItem(
            pen=pg.mkPen("#ffd166", width=2),
            symbol="o",
            symbolSize=8,
            symbolBrush=pg.mkBrush("#ffd166"),
            symbolPen=pg.mkPen("#000000"),
        )
        self.journey_ends = [pg.TextItem(text, color="#ffd166", anchor=(0.5, 1.3)) for text in ("A", "B")]
        for item in (self.scatter, self.results_item, self.journey_item, *self.journey_ends, self.query_item):
            self.addItem(item)
        self.legend = pg.LegendItem(
            offset=(6, 6),
            brush=pg.mkBrush(18, 20, 26, 170),
            pen=pg.mkPen("#3b4252"),
            labelTextColor="#d8dee9",
            labelTextSize="8pt",
        )
        self.legend.setParentItem(self.plotItem.vb)  # anchored to the view: stays put while panning
        self.pos = np.zeros((0, 2), np.float32)
        self.tooltips: list[str] = []
        self.group = np.zeros(0, np.int64)  #: each point's group (colour) index
        self.hidden_groups: set[int] = set()
        self.shown = np.zeros(0, dtype=bool)
        self._legend_groups: tuple[list[str], list[QColor], list[int]] = ([], [], [])
        self._view_is_ours = True  #: False once the user pans or zooms: a resize keeps their view
        self.plotItem.vb.sigRangeChangedManually.connect(lambda *_: setattr(self, "_view_is_ours", False))
        self._refit_timer = QTimer(self, singleShot=True, interval=LEGEND_REFIT_MS)
        self._refit_timer.timeout.connect(self._refit)
        self._mouse_proxy = pg.SignalProxy(
            self.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved
        )
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def set_points(
        self, pos: np.ndarray, color_index: np.ndarray, colors: list[QColor], tooltips: list[str]
    ) -> None:
        self.pos = np.asarray(pos, dtype=np.float32)
        self.tooltips = tooltips
        self.group = np.asarray(color_index, dtype=np.int64).reshape(-1)
        self.hidden_groups: set[int] = set()
        self.shown = np.ones(len(self.pos), dtype=bool)
        brushes = [pg.mkBrush(c) for c in colors]
        self.scatter.setData(pos=self.pos, brush=[brushes[i] for i in color_index])
        self.results_item.clear()
        self.query_item.clear()
        self._fit_view()

    def _fit_view(self) -> None:
        self.autoRange(padding=0.05)
        self._make_room_for_legend()
        self._view_is_ours = True

    def _make_room_for_legend(self) -> None:
        """Raise the view's top by the legend's height (top left), so it covers no points;
        ``_fit_legend`` keeps it within ``LEGEND_MAX_SHARE`` of the height."""
        vb = self.plotItem.vb
        height = vb.sceneBoundingRect().height()
        if not self.legend.isVisible() or height <= 0:
            return
        share = (self.legend.boundingRect().height() + 8) / height
        if 0 < share < 0.9:
            _, (y0, y1) = vb.viewRange()
            vb.setYRange(y0, y1 + (y1 - y0) * share / (1 - share), padding=0)

    def set_legend(self, names: list[str], colors: list[QColor], counts: list[int]) -> None:
        """Name the largest groups (up to ``LEGEND_MAX``, as many as fit) with their colour and
        size, then "+ N more"."""
        self._legend_groups = (names, colors, counts)
        self.hidden_groups = set()
        self._fit_legend()

    def _fit_legend(self) -> None:
        """As many of the largest groups as fit in the plot's width and ``LEGEND_MAX_SHARE`` of its
        height, in as few rows as the width allows (the view makes room for the rows above the
        points): in a small map coloured by artist, a few names and "+ N more" rather than a box
        over the points."""
        names, _, counts = self._legend_groups
        order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
        rect = self.plotItem.vb.sceneBoundingRect()
        if rect.height() <= 0 or rect.width() <= 0:  # not laid out yet: fitted when it is
            self._build_legend(order, min(LEGEND_MAX, len(order)), 2 if len(order) > 3 else 1)
            return
        for shown in range(min(LEGEND_MAX, len(order)), 0, -1):
            self._build_legend(order, shown, 3)
            for columns in (3, 2, 1):
                self.legend.setColumnCount(columns)
                size = self.legend.boundingRect()
                fits = size.height() + 8 <= LEGEND_MAX_SHARE * rect.height()
                if fits and size.width() + 12 <= rect.width():
                    return
        self._build_legend(order, min(1, len(order)), 1)  # a tiny map: one name at least

    def _build_legend(self, order: list[int], shown: int, columns: int) -> None:
        names, colors, counts = self._legend_groups
        self.legend.clear()
        self.legend.setColumnCount(columns)
        for i in order[:shown]:
            name = names[i] or "(none)"
            name = name if len(name) <= LEGEND_NAME_CHARS else name[: LEGEND_NAME_CHARS - 1] + "…"
            sample = pg.ScatterPlotItem(symbol="o", size=8, pen=None, brush=pg.mkBrush(colors[i]))
            sample.setVisible(i not in self.hidden_groups)  # drawn greyed, as after a click
            self.legend.addItem(sample, f"{name} ({counts[i]})")
            # a click on the sample greys it (pyqtgraph) and hides or shows that group's points
            self.legend.items[-1][0].sigClicked.connect(lambda _item, group=i: self.toggle_group(group))
        if len(order) > shown:
            self.legend.addItem(pg.ScatterPlotItem(pen=None, brush=None), f"+ {len(order) - shown} more")
            self.legend.items[-1][0].setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            rest = [f"{names[i] or '(none)'} ({counts[i]})" for i in order[shown:]]
            self.legend.items[-1][1].setToolTip("\n".join(rest[:40] + (["…"] if len(rest) > 40 else [])))
        self.legend.setVisible(bool(order))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        timer = self.__dict__.get("_refit_timer")  # (also called while PlotWidget is being built)
        if timer is not None:
            timer.start()

    def _refit(self) -> None:
        """After a resize: fit the legend to the new size and, unless the user has moved the view,
        make room for it again."""
        if not len(self._legend_groups[0]):
            return
        self._fit_legend()
        if self._view_is_ours and len(self.pos):
            self._fit_view()

    def toggle_group(self, group: int) -> None:
        """Hide a group's points (an album, say, to see what lies under it), or show them again;
        hidden points cannot be hovered or clicked."""
        self.hidden_groups ^= {group}
        self.shown = ~np.isin(self.group, list(self.hidden_groups))
        self.scatter.setPointsVisible(self.shown)

    def legend_entries(self) -> list[str]:
        """The legend's texts in the order added: largest group first, "+ N more" last."""
        return [label.text for _, label in self.legend.items]

    def highlight(self, query_row: int | None, result_rows: list[int], *, among: int = 0) -> None:
        """Ring the results and star the query's point; ``among > 0`` (a query from outside the
        library, which the map was not computed with) stars the mean place of its ``among``
        nearest results instead."""
        rows = [r for r in result_rows if 0 <= r < len(self.pos)]
        self.results_item.setData(pos=self.pos[rows] if rows else np.zeros((0, 2)))
        if query_row is not None and 0 <= query_row < len(self.pos):
            self.query_item.setData(pos=self.pos[[query_row]])
        elif among > 0 and rows:
            self.query_item.setData(pos=self.pos[rows[:among]].mean(axis=0, keepdims=True))
        else:
            self.query_item.clear()

    def nearest_row(self, scene_pos: QPointF) -> int | None:
        """Row of the point under ``scene_pos`` (within ``HIT_RADIUS_PX``), vectorised."""
        if len(self.pos) == 0 or not self.plotItem.vb.sceneBoundingRect().contains(scene_pos):
            return None
        vb = self.plotItem.vb
        view = vb.mapSceneToView(scene_pos)
        # pixel size in view units, so the distance test is in screen pixels on both axes
        px = vb.viewPixelSize()
        dx = (self.pos[:, 0] - view.x()) / max(px[0], 1e-12)
        dy = (self.pos[:, 1] - view.y()) / max(px[1], 1e-12)
        d2 = dx * dx + dy * dy
        if self.hidden_groups:
            d2[~self.shown] = np.inf
        row = int(np.argmin(d2))
        return row if d2[row] <= HIT_RADIUS_PX**2 else None

    def _on_mouse_moved(self, args) -> None:
        scene_pos = args[0]
        row = self.nearest_row(scene_pos)
        if row is None or row >= len(self.tooltips):
            QToolTip.hideText()
            self.setCursor(Qt.CursorShape.ArrowCursor)
            return
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        global_pos = self.viewport().mapToGlobal(self.mapFromScene(scene_pos))
        # as rich text around the escaped tags, so a title that starts with a tag is shown as typed
        QToolTip.showText(global_pos, f"<span>{escape(self.tooltips[row])}</span>", self)

    def set_journey(self, rows: list[int]) -> None:
        """Draw a line through these rows in order, "A" at the first and "B" at the last; [] clears it."""
        rows = [r for r in rows if 0 <= r < len(self.pos)]
        pts = self.pos[rows] if len(rows) >= 2 else np.zeros((0, 2), np.float32)
        if len(pts):
            self.journey_item.setData(pts[:, 0], pts[:, 1])
        else:
            self.journey_item.clear()
        for label, at in zip(self.journey_ends, (0, -1), strict=True):
            label.setVisible(len(pts) > 0)
            if len(pts):
                label.setPos(float(pts[at, 0]), float(pts[at, 1]))

    def _on_mouse_clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            row = self.nearest_row(event.scenePos())
            if row is not None:
                event.accept()
                screen = event.screenPos()
                self.pointMenuRequested.emit(row, QPoint(int(screen.x()), int(screen.y())))
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row = self.nearest_row(event.scenePos())
        if row is not None:
            event.accept()
            self.pointClicked.emit(row)


class MapView(QWidget):
    """Map plus its controls (projection method, colour by) and a status line."""

    methodChanged = Signal(str)
    colorByChanged = Signal(str)
    songClicked = Signal(int)  #: song id
    songMenuRequested = Signal(int, object)  #: song id, global QPoint (right-click on a point)

    def __init__(self, methods: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = MapPlot()
        self.method_combo = QComboBox(toolTip="How the embeddings are projected to 2-D")
        self.method_combo.addItems(methods)
        self.color_combo = QComboBox(toolTip="Colour points by")
        self.color_combo.addItems(["album", "artist"])
        self.status = QLabel(wordWrap=True)  # wraps rather than holding the map wide
        self.status.setObjectName("Dim")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Map"))
        bar.addWidget(self.method_combo)
        bar.addWidget(QLabel("colour by"))
        bar.addWidget(self.color_combo)
        bar.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)
        self.song_ids = np.zeros(0, np.int64)
        self._row_of: dict[int, int] = {}
        self.method_combo.currentTextChanged.connect(self.methodChanged)
        self.color_combo.currentTextChanged.connect(self.colorByChanged)
        self.plot.pointClicked.connect(self._on_point_clicked)
        self.plot.pointMenuRequested.connect(
            lambda row, at: (
                self.songMenuRequested.emit(int(self.song_ids[row]), at)
                if 0 <= row < len(self.song_ids)
                else None
            )
        )
        self.journey_ids: list[int] = []

    def set_map(self, song_ids: np.ndarray, pos: np.ndarray, groups: list[str], tooltips: list[str]) -> None:
        """Show ``pos (n, 2)`` for ``song_ids (n,)``, coloured by the group name of each point."""
        self.song_ids = np.asarray(song_ids)
        self._row_of = {int(s): i for i, s in enumerate(self.song_ids)}
        names, color_index, counts = np.unique(
            np.asarray(groups, dtype=object).astype(str), return_inverse=True, return_counts=True
        )
        colors = palette(len(names))
        self.plot.set_legend(names.tolist(), colors, counts.tolist())  # first: the view makes room for it
        self.plot.set_points(pos, color_index, colors, tooltips)
        self.show_journey(self.journey_ids)
        self.status.setText(f"{len(self.song_ids)} songs · {len(names)} {self.color_combo.currentText()}s")

    def show_journey(self, song_ids: list[int]) -> None:
        """Draw the journey through these songs ([]: none); kept across recolouring and new maps."""
        self.journey_ids = list(song_ids)
        self.plot.set_journey([self._row_of[i] for i in self.journey_ids if i in self._row_of])

    def highlight(self, query_id: int | None, result_ids: list[int], *, outside: bool = False) -> None:
        """Star the query and ring its results; a query from ``outside`` the library has no point
        of its own, so its star sits among its nearest songs (``OUTSIDE_AMONG`` of them)."""
        self.plot.highlight(
            self._row_of.get(query_id) if query_id is not None else None,
            [self._row_of[i] for i in result_ids if i in self._row_of],
            among=OUTSIDE_AMONG if outside else 0,
        )

    def _on_point_clicked(self, row: int) -> None:
        if 0 <= row < len(self.song_ids):
            self.songClicked.emit(int(self.song_ids[row]))
