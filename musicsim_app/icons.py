"""Transport icons painted at run time, light enough to read on the dark theme."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QPolygonF

COLOR = "#d7dae0"


def _canvas(size: int) -> tuple[QPixmap, QPainter]:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    return pm, p


@cache
def play_icon(color: str = COLOR, size: int = 64) -> QIcon:
    pm, p = _canvas(size)
    p.setBrush(QColor(color))
    s = size
    p.drawPolygon(
        QPolygonF([QPointF(0.25 * s, 0.15 * s), QPointF(0.85 * s, 0.5 * s), QPointF(0.25 * s, 0.85 * s)])
    )
    p.end()
    return QIcon(pm)


@cache
def pause_icon(color: str = COLOR, size: int = 64) -> QIcon:
    pm, p = _canvas(size)
    p.setBrush(QColor(color))
    s = size
    p.drawRoundedRect(QRectF(0.22 * s, 0.15 * s, 0.2 * s, 0.7 * s), 2, 2)
    p.drawRoundedRect(QRectF(0.58 * s, 0.15 * s, 0.2 * s, 0.7 * s), 2, 2)
    p.end()
    return QIcon(pm)


@cache
def stop_icon(color: str = COLOR, size: int = 64) -> QIcon:
    pm, p = _canvas(size)
    p.setBrush(QColor(color))
    s = size
    p.drawRoundedRect(QRectF(0.2 * s, 0.2 * s, 0.6 * s, 0.6 * s), 3, 3)
    p.end()
    return QIcon(pm)


@cache
def skip_icon(forward: bool = True, color: str = COLOR, size: int = 64) -> QIcon:
    """Next (a triangle into a bar) or, mirrored, previous."""
    pm, p = _canvas(size)
    p.setBrush(QColor(color))
    s = size
    if not forward:
        p.translate(s, 0)
        p.scale(-1, 1)
    p.drawPolygon(
        QPolygonF([QPointF(0.2 * s, 0.2 * s), QPointF(0.68 * s, 0.5 * s), QPointF(0.2 * s, 0.8 * s)])
    )
    p.drawRoundedRect(QRectF(0.68 * s, 0.2 * s, 0.12 * s, 0.6 * s), 2, 2)
    p.end()
    return QIcon(pm)
