"""Where MusicSim keeps things.

User data (the library index, trained models, benchmark runs) lives in one home folder chosen,
in order, by an explicit override (``--home``), ``MUSICSIM_HOME``, or platformdirs' user data dir,
so tests and power users can keep several independent homes side by side.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from .errors import ParameterError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def home_dir(override: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    if override is not None and not os.fspath(override).strip():
        raise ParameterError("the MusicSim home is an empty path; name a folder (--home DIR)")
    raw = override if override is not None else os.environ.get("MUSICSIM_HOME")
    home = Path(raw).expanduser() if raw else Path(platformdirs.user_data_dir("musicsim", "MusicSim"))
    if home.exists() and not home.is_dir():
        raise ParameterError(f"MusicSim home '{home}' exists and is not a folder")
    if create:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"cannot create MusicSim home '{home}': {exc.strerror or exc}") from exc
    return home


def models_dir(home: Path) -> Path:
    return home / "models"


def benchmarks_dir(home: Path) -> Path:
    return home / "benchmarks"


def graphs_dir(home: Path) -> Path:
    """HNSW graphs of big libraries, kept between sessions (``trainer.ann``)."""
    return home / "graphs"


def runs_dir(home: Path) -> Path:
    """Checkpoints of training runs in progress (so a killed run can resume)."""
    return home / "runs"


def resources_dir() -> Path:
    return _PACKAGE_ROOT / "resources"


def default_model_dir() -> Path:
    return resources_dir() / "models" / "default"


def shipped_model_dirs() -> dict[str, Path]:
    """Models that ship in ``resources/models/`` by name, the default first: the default and the
    baselines it is compared with (the raw pretrained features, the previous default)."""
    root = resources_dir() / "models"
    try:
        folders = sorted(f for f in root.iterdir() if f.is_dir() and not f.name.startswith("."))
    except OSError:
        return {}
    folders.sort(key=lambda f: f.name != "default")
    return {f.name: f for f in folders if (f / "config.json").is_file()}


def demo_library_dir() -> Path:
    return resources_dir() / "demo"


def reference_dir() -> Path:
    return resources_dir() / "reference"
