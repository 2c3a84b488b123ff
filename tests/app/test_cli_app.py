"""``musicsim app FOLDER`` as a user types it: the command line hands the folder to the window."""

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def test_musicsim_app_folder_opens_that_folder(qtbot, music_library, home):
    from trainer.cli import main

    seen: dict[str, list[Path]] = {}

    def look_and_close() -> None:
        window = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
        seen["roots"] = list(window.session.roots)
        window.close()
        QApplication.instance().quit()

    hook = sys.excepthook
    QTimer.singleShot(2000, look_and_close)
    try:
        code = main(["--home", str(home), "app", str(music_library)])
    finally:
        sys.excepthook = hook  # the app installs its own crash logger
    assert code == 0
    assert seen["roots"] == [Path(music_library).resolve()]
