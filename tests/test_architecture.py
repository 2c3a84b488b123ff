"""The engine must stay usable without Qt: an import-linter contract, checked here."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_engine_never_imports_qt_or_the_app():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_cli_commands_work_without_the_app_package():
    code = (
        "import sys; sys.modules['musicsim_app'] = None; sys.modules['PySide6'] = None\n"
        "from trainer.cli import main; sys.exit(main(['models']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "musicnet" in result.stdout and "classic" in result.stdout
