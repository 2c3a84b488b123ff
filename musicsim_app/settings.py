"""Persistent GUI settings in ``<home>/gui.ini`` (QSettings, INI format).

Keeping them in the MusicSim home (not the platform registry) means ``--home`` / tests get an
independent set, and deleting the home resets the app completely.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings


class AppSettings:
    def __init__(self, home: Path) -> None:
        self._qs = QSettings(str(Path(home) / "gui.ini"), QSettings.Format.IniFormat)

    def sync(self) -> None:
        self._qs.sync()

    # typed accessors; QSettings' INI backend returns strings, so convert on the way out
    def _get_str(self, key: str, default: str = "") -> str:
        value = self._qs.value(key, default)
        return str(value) if value is not None else default

    def _get_int(self, key: str, default: int) -> int:
        try:
            return int(self._qs.value(key, default))
        except (TypeError, ValueError):
            return default

    def _get_list(self, key: str) -> list[str]:
        """A list setting: the INI backend gives one item back as a plain string, none as None."""
        value = self._qs.value(key, [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in value or []]

    @property
    def library_roots(self) -> list[Path]:
        return [Path(v) for v in self._get_list("library/roots")]

    @library_roots.setter
    def library_roots(self, roots: list[Path]) -> None:
        self._qs.setValue("library/roots", [str(r) for r in roots])

    @property
    def adaptation_offered(self) -> list[str]:
        """The library folders the window has offered to adapt the model to (once each)."""
        return self._get_list("hints/adaptation_offered")

    def add_adaptation_offered(self, root: Path) -> None:
        self._qs.setValue("hints/adaptation_offered", [*self.adaptation_offered, str(root)])

    model = property(
        lambda self: self._get_str("search/model", "default"),
        lambda self, v: self._qs.setValue("search/model", v),
    )
    distance = property(
        lambda self: self._get_str("search/distance", "cosine"),
        lambda self, v: self._qs.setValue("search/distance", v),
    )
    scaler = property(
        lambda self: self._get_str("search/scaler", "Normalizer"),
        lambda self, v: self._qs.setValue("search/scaler", v),
    )
    k = property(
        lambda self: self._get_int("search/k", 10), lambda self, v: self._qs.setValue("search/k", int(v))
    )
    volume = property(
        lambda self: self._get_int("player/volume", 80),
        lambda self, v: self._qs.setValue("player/volume", int(v)),
    )
    triplets_csv = property(
        lambda self: self._get_str("groundtruth/csv", ""),
        lambda self, v: self._qs.setValue("groundtruth/csv", str(v)),
    )
    page = property(
        lambda self: self._get_int("window/page", 0), lambda self, v: self._qs.setValue("window/page", int(v))
    )

    def training_form(self) -> dict:
        """The Training page's settings as last used (empty at first)."""
        import json

        try:
            value = json.loads(self._get_str("training/form", "{}"))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def set_training_form(self, form: dict) -> None:
        import json

        self._qs.setValue("training/form", json.dumps(form))

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, data: QByteArray) -> None:
        self._qs.setValue("window/geometry", data)

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def set_window_state(self, data: QByteArray) -> None:
        self._qs.setValue("window/state", data)

    def splitter(self, name: str) -> QByteArray | None:
        value = self._qs.value(f"splitters/{name}")
        return value if isinstance(value, QByteArray) else None

    def set_splitter(self, name: str, data: QByteArray) -> None:
        self._qs.setValue(f"splitters/{name}", data)
