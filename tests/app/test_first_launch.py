"""A new user's first window: the demo library with the default model, ready to query."""

from __future__ import annotations

import shutil

from trainer.paths import demo_library_dir
from trainer.precomputed import FILE_NAME


def ready(window, n_tracks: int) -> bool:
    return len(window.session.embeddings()[0]) == n_tracks and not window.session.busy()


def test_first_launch_opens_the_demo_with_the_default_model_and_its_shipped_embeddings(qtbot, home):
    from musicsim_app.main_window import MainWindow

    n_tracks = len(list(demo_library_dir().rglob("*.ogg")))
    w = MainWindow(home, audio="null", device="cpu")
    messages: list[str] = []
    w.session.message.connect(messages.append)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: ready(w, n_tracks), timeout=60_000)
    assert w.session.roots == [demo_library_dir()]
    assert w.session.model_name == "default"
    # the shipped file was used: the songs were not decoded, yet their probed facts are there
    assert f"Indexed {n_tracks} songs with default, {n_tracks} of them precomputed" in messages, messages
    assert all(s.duration_s and s.title for s in w.session.songs)
    # the first query: results at once, and what they are alike in, by the default's named parts
    w.session.set_query(next(s.id for s in w.session.songs if "Brainsukker" in str(s.path)))
    assert len(w.session.results) == 10
    assert sorted(name for name, _ in w.session.results[0].alike) == ["rhythm", "texture", "timbre"]
    assert w.library_page.results_view.why_label.text().startswith("Alike in: ")
    w.close()


def test_without_the_shipped_embeddings_the_demo_is_indexed_the_same(qtbot, home, tmp_path):
    from musicsim_app.main_window import MainWindow

    demo = shutil.copytree(demo_library_dir(), tmp_path / "demo", ignore=shutil.ignore_patterns(FILE_NAME))
    n_tracks = len(list(demo.rglob("*.ogg")))
    w = MainWindow(home, library=demo, audio="null", device="cpu")
    w.session.decode_workers = 0
    messages: list[str] = []
    w.session.message.connect(messages.append)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: ready(w, n_tracks), timeout=120_000)
    assert f"Indexed {n_tracks} songs with default" in messages, messages
    assert all(s.duration_s and s.title for s in w.session.songs)
    w.close()


def test_the_window_is_built_without_importing_torch_or_scikit_learn(tmp_path):
    """torch (3.5 s) and scikit-learn (2 s) are imported on workers after the window shows; built
    on the GUI thread first, they kept a new user looking at nothing for six seconds."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from musicsim_app.main_window import MainWindow\n"
        f"w = MainWindow({str(tmp_path / 'home')!r}, audio='null')\n"
        "w.show(); app.processEvents()\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'scipy.stats') if m in sys.modules), flush=True)\n"
        "import os; os._exit(0)  # only the imports matter; skip tearing down a window mid-start-up\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
