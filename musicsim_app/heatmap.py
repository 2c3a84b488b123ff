"""The thesis's 9 distances × 3 scalers as a coloured table, best cell marked."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

_CMAP = pg.colormap.get("viridis")


#: Column titles short enough to fit a narrow window; the header tooltips give the scalers' names.
SCALER_TITLES = {"MinMaxScaler": "MinMax", "StandardScaler": "Standard", "Normalizer": "Normalizer"}


def cell_color(value: float, lo: float, hi: float) -> QColor:
    t = 0.5 if hi <= lo else (value - lo) / (hi - lo)
    return _CMAP.map(float(np.clip(0.15 + 0.8 * t, 0, 1)), mode="qcolor")


def luminance(color: QColor) -> float:
    """WCAG 2 relative luminance (0 black … 1 white)."""

    def linear(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(color.redF()) + 0.7152 * linear(color.greenF()) + 0.0722 * linear(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio, 1 (none) … 21 (black on white)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_color(background: QColor) -> QColor:
    """Black or white, whichever contrasts more with ``background`` (HSL lightness, used before,
    put white on viridis's yellow-greens); on every colour of the scale the ratio is 4.6 or more."""
    black, white = QColor("#000000"), QColor("#ffffff")
    return black if contrast(black, background) >= contrast(white, background) else white


class ScoreHeatmap(QTableWidget):
    """``set_rows(rows)`` with ScoreRow-like objects (distance, scaler, score_percent)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        from trainer.distances import DISTANCES, SCALERS

        super().__init__(len(DISTANCES), len(SCALERS), parent)
        self.distances = list(DISTANCES)
        self.scalers = list(SCALERS)
        self.setHorizontalHeaderLabels([SCALER_TITLES.get(s, s) for s in self.scalers])
        for col, scaler in enumerate(self.scalers):
            self.horizontalHeaderItem(col).setToolTip(scaler)
        self.setVerticalHeaderLabels(self.distances)
        # small titles, so that two heatmaps side by side fit a 1024-px window uncut
        self.setStyleSheet("QHeaderView::section { padding: 2px 3px; font-size: 9pt; }")
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.best: tuple[str, str] | None = None
        self.clear_scores()
        small = QFont(self.font())
        small.setPointSizeF(9)
        bold = QFont(self.font())
        bold.setBold(True)
        bold.setPointSizeF(10)  # the theme's size (its style sheet is applied later, at polish)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setFont(small)
        titles = QFontMetrics(small)
        self._column = max(
            max(titles.horizontalAdvance(t) for t in SCALER_TITLES.values()) + 8,
            QFontMetrics(bold).horizontalAdvance("★ 100.00") + 8,
        )
        self._rows = max(titles.horizontalAdvance(d) for d in self.distances) + 10
        self.horizontalHeader().setMinimumSectionSize(self._column)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Never so narrow that a column title or a cell is cut: the window stops shrinking first."""
        hint = super().minimumSizeHint()
        rows = max(self._rows, self.verticalHeader().sizeHint().width())
        return QSize(
            max(hint.width(), rows + self.columnCount() * self._column + 2 * self.frameWidth()), hint.height()
        )

    def clear_scores(self) -> None:
        self.best = None
        for r in range(self.rowCount()):
            for c in range(self.columnCount()):
                self.setItem(r, c, QTableWidgetItem(""))

    def filled_cells(self) -> int:
        return sum(
            1
            for r in range(self.rowCount())
            for c in range(self.columnCount())
            if self.item(r, c) and self.item(r, c).text()
        )

    def set_rows(self, rows, scale: tuple[float, float] | None = None) -> None:
        """Fill the cells; ``scale`` (lo, hi) shares one colour scale between several heatmaps."""
        self.clear_scores()
        rows = [r for r in rows if r.distance in self.distances and r.scaler in self.scalers]
        if not rows:
            return
        values = np.array([r.score_percent for r in rows], dtype=float)
        lo, hi = scale if scale is not None else (float(values.min()), float(values.max()))
        from trainer.evaluate import best_row

        best = best_row(rows)
        self.best = (best.distance, best.scaler)
        bold = QFont(self.font())
        bold.setBold(True)
        for r in rows:
            is_best = (r.distance, r.scaler) == self.best
            item = QTableWidgetItem(f"{'★ ' if is_best else ''}{r.score_percent:.2f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            color = cell_color(r.score_percent, lo, hi)
            item.setBackground(QBrush(color))
            item.setForeground(QBrush(text_color(color)))
            n = getattr(r, "n_triplets", 0)
            item.setToolTip(
                f"{r.distance} + {r.scaler}: {r.score_percent:.3f}% of "
                f"{n or '?'} triplets correct" + ("  (best)" if is_best else "")
            )
            if is_best:
                item.setFont(bold)
            self.setItem(self.distances.index(r.distance), self.scalers.index(r.scaler), item)
