"""``musicsim app FOLDER`` as a user types it: the command line hands the folder to the window.

Runs in a child process: the app's ``exec`` loop, quit and crash hook must not leak into the other
GUI tests' QApplication.
"""

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from trainer.cli import main

def look_and_close():
    window = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
    print("ROOTS", [str(r) for r in window.session.roots], flush=True)
    window.close()

app = QApplication(sys.argv[:1])
QTimer.singleShot(2000, look_and_close)
sys.exit(main(["--home", sys.argv[1], "app", sys.argv[2]]))
"""


def test_musicsim_app_folder_opens_that_folder(music_library, home):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(home), str(music_library)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"ROOTS {[str(Path(music_library).resolve())]}" in done.stdout
