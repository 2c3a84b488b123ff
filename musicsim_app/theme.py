"""A dark Fusion palette and a small stylesheet, so the app looks like a music player."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#1e2127"
BASE = "#171a1f"
PANEL = "#252931"
TEXT = "#d7dae0"
DIM = "#8b93a1"
ACCENT = "#3fa7d6"
WARNING = "#e5c07b"

STYLESHEET = f"""
QWidget {{ font-size: 10pt; }}
QLabel#Dim {{ color: {DIM}; }}
QLabel#QueryTitle {{ font-size: 14pt; font-weight: 600; }}
QLabel#PageTitle {{ font-size: 16pt; font-weight: 600; }}
QLabel#NowPlaying {{ font-weight: 600; }}
QListWidget#Sidebar {{ background: {BASE}; border: none; padding-top: 8px; font-size: 11pt; }}
QListWidget#Sidebar::item {{ padding: 10px 10px; border-radius: 6px; margin: 2px 6px; }}
QListWidget#Sidebar::item:selected {{ background: {ACCENT}; color: white; }}
QWidget#TransportBar {{ background: {BASE}; border-top: 1px solid #2c313a; }}
QPushButton#Primary {{ background: {ACCENT}; color: white; border-radius: 4px; padding: 5px 14px; }}
QPushButton#Primary:disabled {{ background: #3b4048; color: {DIM}; }}
QTableView {{ gridline-color: #2c313a; selection-background-color: {ACCENT}; }}
QHeaderView::section {{ background: {PANEL}; color: {DIM}; border: none; padding: 4px 6px; }}
QGroupBox {{ border: 1px solid #2c313a; border-radius: 6px; margin-top: 14px; padding-top: 8px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; color: {DIM}; }}
QStatusBar QLabel {{ color: {DIM}; padding: 0 6px; }}
QSplitter::handle {{ background: {BACKGROUND}; }}
QRadioButton::indicator {{ width: 12px; height: 12px; border-radius: 8px; border: 2px solid {DIM};
                          background: {BASE}; }}
QRadioButton::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
QCheckBox::indicator {{ width: 12px; height: 12px; border-radius: 3px; border: 2px solid {DIM};
                       background: {BASE}; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
QLabel#Warning {{ color: {WARNING}; }}
QWidget#Banner {{ background: #3a3322; border-bottom: 1px solid #5c4f2e; }}
QWidget#Banner QLabel {{ color: {WARNING}; }}
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    colors = {
        QPalette.ColorRole.Window: BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: "#1b1e24",
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.PlaceholderText: DIM,
    }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5c6370"))
    app.setPalette(p)
    app.setStyleSheet(STYLESHEET)
    pg.setConfigOptions(background=BASE, foreground=DIM, antialias=True)
