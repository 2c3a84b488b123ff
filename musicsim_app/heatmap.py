"""The thesis's 9 distances × 3 scalers as a coloured table, best cell marked."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

_CMAP = pg.colormap.get("viridis")


def cell_color(value: float, lo: float, hi: float) -> QColor:
    t = 0.5 if hi <= lo else (value - lo) / (hi - lo)
    return _CMAP.map(float(np.clip(0.15 + 0.8 * t, 0, 1)), mode="qcolor")


class ScoreHeatmap(QTableWidget):
    """``set_rows(rows)`` with ScoreRow-like objects (distance, scaler, score_percent)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        from trainer.search import DISTANCES, SCALERS

        super().__init__(len(DISTANCES), len(SCALERS), parent)
        self.distances = list(DISTANCES)
        self.scalers = list(SCALERS)
        self.setHorizontalHeaderLabels(self.scalers)
        self.setVerticalHeaderLabels(self.distances)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.best: tuple[str, str] | None = None
        self.clear_scores()

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
        best = max(rows, key=lambda r: r.score_percent)
        self.best = (best.distance, best.scaler)
        bold = QFont(self.font())
        bold.setBold(True)
        for r in rows:
            is_best = (r.distance, r.scaler) == self.best
            item = QTableWidgetItem(f"{'★ ' if is_best else ''}{r.score_percent:.2f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            color = cell_color(r.score_percent, lo, hi)
            item.setBackground(QBrush(color))
            item.setForeground(QBrush(QColor("#000000") if color.lightnessF() > 0.55 else QColor("#ffffff")))
            n = getattr(r, "n_triplets", 0)
            item.setToolTip(
                f"{r.distance} + {r.scaler}: {r.score_percent:.3f}% of "
                f"{n or '?'} triplets correct" + ("  (best)" if is_best else "")
            )
            if is_best:
                item.setFont(bold)
            self.setItem(self.distances.index(r.distance), self.scalers.index(r.scaler), item)
