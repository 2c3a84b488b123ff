"""Train a model: settings form (remembered between runs), live loss curve, per-epoch validation, ETA.

One page, one job: the form, the preset that adapts a model to a library, and the live view of
the run are kept together because each reads and sets the others' widgets; the run itself is
``trainer.train`` with a ``TrainConfig`` built once here from the form.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .heartbeat import Heartbeat
from .session import LibrarySession
from .workers import Worker

if TYPE_CHECKING:
    from trainer.train import TrainConfig

    from .settings import AppSettings

log = logging.getLogger(__name__)

#: Fine-tuning preset ("adapt a model to this library"): benchmarks/reproduce_default_model.sh.
ADAPT_NEIGHBOURS = 0.5
ADAPT_LR = 3e-4
ADAPT_EPOCHS = 10


def run_training(cfg, home: Path, *, emit, progress, should_stop) -> Path:
    """Worker-thread body: ``trainer.train.train`` with its callbacks turned into events."""
    from trainer.train import train

    return train(
        cfg,
        home=home,
        progress=progress,
        should_stop=should_stop,
        on_step=lambda step, loss: emit("step", (step, loss)),
        on_epoch=lambda stats: emit("epoch", stats),
    )


def rate_text(value: float) -> str:
    """A learning rate as one writes it: 1e-5, 3e-4, 2.5e-5, 0.001, 0.1."""
    if value <= 0 or not math.isfinite(value):
        return f"{value:g}"
    exp = math.floor(math.log10(value))
    if exp >= -3:
        return f"{value:.4g}"
    mantissa = f"{value / 10**exp:.3g}"
    if float(mantissa) >= 10:  # 9.9999e-6 rounds up
        mantissa, exp = "1", exp + 1
    return f"{mantissa}e{exp}"


def _rate_steps(value: float, up: bool) -> float:
    """The next learning rate of the 1, 2, 5, 10, 20, … series above (or below) ``value``."""
    exp = math.floor(math.log10(value))
    series = [m * 10.0**e for e in range(exp - 1, exp + 2) for m in (1, 2, 5)]
    if up:
        return next(v for v in series if v > value * (1 + 1e-9))
    return [v for v in series if v < value * (1 - 1e-9)][-1]


class RateSpinBox(QDoubleSpinBox):
    """A learning-rate field that shows "1e-5", not "0.0000100"; the arrows step 1e-5, 2e-5, 5e-5, 1e-4."""

    def __init__(self, value: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)  # what QDoubleSpinBox rounds values to; the text is rate_text's
        self.setRange(1e-8, 1.0)
        self.setValue(value)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return rate_text(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # Qt override
        try:
            value = float(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        value = self.value()
        for _ in range(abs(steps)):
            value = _rate_steps(value, up=steps > 0)
        self.setValue(min(max(value, self.minimum()), self.maximum()))


class TrainingPage(QWidget):
    modelTrained = Signal(str)  #: the new model's name

    def __init__(
        self, session: LibrarySession, settings: AppSettings | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        from trainer.config import DEVICE_CHOICES, LOSSES, SOURCES

        self.session = session
        self.settings = settings
        #: the form as last used, put back once the architectures are listed (_ensure_architectures)
        self._saved_form = settings.training_form() if settings is not None else {}
        self.specs: dict = {}  #: trainable architectures by name, read on first need (_ensure_architectures)
        self.worker: Worker | None = None
        self.heartbeat = Heartbeat(10, parent=self)
        self._steps: list[float] = []
        self._losses: list[float] = []
        self._dirty = False
        self._phase_total = 0
        self._phase_start = 0.0
        self._phase_done0 = 0

        self.library_combo = QComboBox(
            editable=True,
            toolTip="Folder of songs to train on: the library's "
            "folders are listed, or type or choose another",
        )
        browse_lib = QPushButton("…", maximumWidth=32, toolTip="Choose a folder")
        self.arch_combo = QComboBox()
        self.arch_info = QLabel(wordWrap=True)
        self.arch_info.setObjectName("Dim")
        self.loss_combo = QComboBox()
        self.loss_combo.addItems(list(LOSSES))
        self.source_combo = QComboBox()
        for key, label in SOURCES.items():
            self.source_combo.addItem(label, key)
        self.init_combo = QComboBox(toolTip="Fine-tune a model you have, or start from random weights")
        self.neighbours_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.1, value=0.0)
        self.neighbours_spin.setToolTip(
            "Self-supervised only: the chance that a song's positive is its nearest neighbour in this "
            "library instead of another excerpt of itself. 0.5 adapts a model to a library "
            "(no labels needed); it strengthens the neighbourhoods the model starts with, so compare "
            "the result with its start on the Benchmarks page."
        )
        self.csv_edit = QLineEdit(placeholderText="triplets.csv")
        self.csv_button = QPushButton("…", maximumWidth=32, toolTip="Choose a triplets CSV")
        self.epochs_spin = QSpinBox(minimum=1, maximum=10000, value=10)
        self.batch_spin = QSpinBox(minimum=2, maximum=4096)
        self.lr_spin = RateSpinBox(1e-5)
        self.lr_spin.setToolTip("Learning rate (the thesis used 1e-5; adapting a model to a library 3e-4)")
        self.device_combo = QComboBox()
        self.device_combo.addItems([d if d == "auto" else d.upper() for d in DEVICE_CHOICES])
        self.name_edit = QLineEdit(toolTip="The trained model's name in the model picker")

        lib_row = QHBoxLayout()
        lib_row.addWidget(self.library_combo, 1)
        lib_row.addWidget(browse_lib)
        csv_row = QHBoxLayout()
        csv_row.addWidget(self.csv_edit, 1)
        csv_row.addWidget(self.csv_button)
        form = QFormLayout()
        form.addRow("Library", lib_row)
        form.addRow("Start from", self.init_combo)
        form.addRow("Architecture", self.arch_combo)
        form.addRow("", self.arch_info)
        form.addRow("Loss", self.loss_combo)
        form.addRow("Similar songs from", self.source_combo)
        form.addRow("Triplets CSV", csv_row)
        form.addRow("Neighbour positives", self.neighbours_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Model name", self.name_edit)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("Primary")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        settings_box = QGroupBox("Settings")
        settings_layout = QVBoxLayout(settings_box)
        settings_layout.addLayout(form)
        settings_layout.addLayout(buttons)
        settings_layout.addStretch(1)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status_label = QLabel("Idle")
        self.status_label.setWordWrap(True)
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("Dim")
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setMenuEnabled(False)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "training loss")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)
        self.raw_curve = self.loss_plot.plot(pen=pg.mkPen((127, 219, 255, 90), width=1))
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen("#7fdbff", width=2))
        self.epoch_table = QTableWidget(0, 4)
        self.epoch_table.setHorizontalHeaderLabels(["Epoch", "Train loss", "Validation score", "Time"])
        self.epoch_table.verticalHeader().hide()
        self.epoch_table.verticalHeader().setDefaultSectionSize(24)
        self.epoch_table.setMinimumHeight(150)
        # each title whole ("Validation score" was cut in a narrow window)
        self.epoch_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.epoch_table.horizontalHeader().setStretchLastSection(True)
        self.epoch_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        info_row = QHBoxLayout()
        info_row.addWidget(self.status_label, 1)
        info_row.addWidget(self.eta_label)
        live = QWidget()
        live_layout = QVBoxLayout(live)
        live_layout.setContentsMargins(0, 0, 0, 0)
        live_layout.addWidget(self.progress)
        live_layout.addLayout(info_row)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.epoch_table)
        plots.setStretchFactor(0, 3)
        plots.setStretchFactor(1, 1)
        live_layout.addWidget(plots, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(settings_box)
        split.addWidget(live)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(split)

        self._redraw = QTimer(self, interval=200)
        self._redraw.timeout.connect(self._on_redraw)
        self.arch_combo.currentIndexChanged.connect(self._on_arch)
        self.source_combo.currentIndexChanged.connect(self._on_source)
        self.init_combo.currentIndexChanged.connect(self._on_init)
        session.modelsChanged.connect(self._fill_init_models)
        browse_lib.clicked.connect(self._browse_library)
        self.csv_button.clicked.connect(self._browse_csv)
        # ``clicked`` carries a ``checked`` bool: never let it reach ``start(cfg)``.
        self.start_button.clicked.connect(self._on_start_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        session.songsChanged.connect(self._fill_libraries)
        self._on_source()
        self._fill_libraries()
        self._fill_init_models()

    # -- form ---------------------------------------------------------------------------------
    def _ensure_architectures(self) -> None:
        """Fill the architecture list from the model registry the first time it is needed.

        The registry imports torch (3.5 s here); reading it while the window is built kept the
        window from appearing for that long, so it waits until the page is shown or used.
        """
        if self.specs:
            return
        from trainer.models import list_models

        self.specs = {s.name: s for s in list_models() if s.trainable}
        chosen = self.init_combo.currentData()
        self.arch_combo.blockSignals(True)
        for name, spec in self.specs.items():
            self.arch_combo.addItem(name, name)
            self.arch_combo.setItemData(
                self.arch_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole
            )
        # The shipped default's architecture: the best we measured (docs/QUALITY.md).
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData("musicnet-stats-small")))
        self.arch_combo.blockSignals(False)
        saved, self._saved_form = self._saved_form, {}
        if chosen is None:
            self._on_arch()
            self._restore_form(saved)
        else:  # a model to fine-tune was chosen before: its architecture and preset apply
            self._on_init()

    def form_state(self) -> dict:
        """What the form holds, to be remembered between runs (the model name is made anew)."""
        if not self.specs:  # never shown nor used: what was saved still stands
            return dict(self._saved_form)
        return {
            "library": self.library_combo.currentText(),
            "init_from": self.init_combo.currentData(),
            "arch": self.arch_combo.currentData(),
            "loss": self.loss_combo.currentText(),
            "source": self.source_combo.currentData(),
            "csv": self.csv_edit.text(),
            "neighbours": self.neighbours_spin.value(),
            "epochs": self.epochs_spin.value(),
            "batch_size": self.batch_spin.value(),
            "lr": self.lr_spin.value(),
            "device": self.device_combo.currentText(),
        }

    def save_form(self) -> None:
        if self.settings is not None:
            self.settings.set_training_form(self.form_state())

    def _restore_form(self, form: dict) -> None:
        """Put back the settings of the last run (those that still apply: a model or architecture
        that is gone is left at its default)."""
        if not form:
            return
        if form.get("library"):
            self.library_combo.setCurrentText(str(form["library"]))
        init = self.init_combo.findData(form.get("init_from"))
        if form.get("init_from") and init >= 0:
            self.init_combo.blockSignals(True)  # not the preset: the user's own values follow
            self.init_combo.setCurrentIndex(init)
            self.init_combo.blockSignals(False)
            self.arch_combo.setEnabled(False)
        arch = self.arch_combo.findData(form.get("arch"))
        if arch >= 0:
            self.arch_combo.setCurrentIndex(arch)  # its defaults first, then the values below
        for combo, key in ((self.loss_combo, "loss"), (self.device_combo, "device")):
            if combo.findText(str(form.get(key))) >= 0:
                combo.setCurrentText(str(form[key]))
        source = self.source_combo.findData(form.get("source"))
        if source >= 0:
            self.source_combo.setCurrentIndex(source)
        self.csv_edit.setText(str(form.get("csv") or ""))
        for spin, key in (
            (self.neighbours_spin, "neighbours"),
            (self.epochs_spin, "epochs"),
            (self.batch_spin, "batch_size"),
            (self.lr_spin, "lr"),
        ):
            if isinstance(form.get(key), (int, float)):
                spin.setValue(form[key])
        name = self.init_combo.currentData()
        self.name_edit.setText(self._unique_name(f"{name}-tuned" if name else self.arch_combo.currentData()))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self.specs:
            QTimer.singleShot(0, self, self._ensure_architectures)  # after the page has painted

    def _fill_libraries(self) -> None:
        """Every folder of the library, then the other folders the index holds."""
        current = self.library_combo.currentText()
        self.library_combo.clear()
        self.library_combo.addItems([str(f) for f in self.session.folders_to_pick()])
        if current:
            self.library_combo.setCurrentText(current)

    def _fill_init_models(self) -> None:
        current = self.init_combo.currentData()
        self.init_combo.blockSignals(True)
        self.init_combo.clear()
        self.init_combo.addItem("New model (random weights)", None)
        for ref in self.session.model_refs:
            if ref.info.arch != "classic":
                self.init_combo.addItem(f"{ref.name} ({ref.info.arch})", ref.name)
        self.init_combo.setCurrentIndex(max(0, self.init_combo.findData(current)))
        self.init_combo.blockSignals(False)
        if self.init_combo.currentData() != current:  # the chosen model is gone: set up the new choice
            self._on_init()
        else:  # keep what the user set; only the architecture lock follows the choice
            self.arch_combo.setEnabled(current is None)

    def _on_init(self) -> None:
        """A fine-tuned model keeps its architecture.  Picking one fills in the settings that adapt
        it to a library without labels (measured in docs/QUALITY.md); each can still be changed."""
        name = self.init_combo.currentData()
        ref = self.session.model_ref(name) if name else None
        self.arch_combo.setEnabled(ref is None)
        if ref is None:
            return
        if not self.specs:
            self._ensure_architectures()  # fills the list, then comes back here
            return
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData(ref.info.arch)))
        self.source_combo.setCurrentIndex(max(0, self.source_combo.findData("self")))
        self.loss_combo.setCurrentText("contrastive")
        self.neighbours_spin.setValue(ADAPT_NEIGHBOURS)
        self.lr_spin.setValue(ADAPT_LR)
        self.epochs_spin.setValue(ADAPT_EPOCHS)
        self.name_edit.setText(self._unique_name(f"{name}-tuned"))

    def can_adapt(self, model: str) -> bool:
        """Whether ``model`` has weights to fine-tune (``classic`` has none): the *Start from* list."""
        return self.init_combo.findData(model) >= 0

    def set_up_adaptation(self, model: str, library: Path | None) -> bool:
        """Fill the form to adapt ``model`` to ``library`` (the preset of :meth:`_on_init`);
        False when ``model`` cannot be fine-tuned (e.g. ``classic``)."""
        if not self.can_adapt(model):
            return False
        at = self.init_combo.findData(model)
        if library is not None:
            self.library_combo.setCurrentText(str(library))
        self.init_combo.setCurrentIndex(at)
        self._on_init()  # also when this model was already chosen: the preset is what was asked for
        return True

    def _on_arch(self) -> None:
        spec = self.specs.get(self.arch_combo.currentData())
        if spec is None:
            return
        self.batch_spin.setValue(spec.default_batch_size)
        self.loss_combo.setCurrentText(spec.default_loss)
        params = f" · thesis: {spec.thesis_params / 1e6:.1f}M parameters" if spec.thesis_params else ""
        self.arch_info.setText(spec.description + params)
        self.name_edit.setText(self._unique_name(spec.name))

    def _unique_name(self, arch: str) -> str:
        taken = {r.name for r in self.session.model_refs}
        base = f"{arch}-{_dt.date.today():%Y%m%d}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        return name

    def _on_source(self) -> None:
        is_csv = self.source_combo.currentData() == "csv"
        self.neighbours_spin.setEnabled(self.source_combo.currentData() == "self")
        self.csv_edit.setEnabled(is_csv)
        self.csv_button.setEnabled(is_csv)

    def _browse_library(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Library to train on", self.library_combo.currentText())
        if path:
            self.library_combo.setCurrentText(path)

    def _browse_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Triplets CSV", self.csv_edit.text(), "CSV (*.csv)")
        if path:
            self.csv_edit.setText(path)

    def config(self):
        from trainer.train import TrainConfig

        self._ensure_architectures()
        source = self.source_combo.currentData()
        return TrainConfig(
            library=Path(self.library_combo.currentText()).expanduser(),
            arch=self.arch_combo.currentData(),
            loss=self.loss_combo.currentText(),
            source=source,
            triplets_csv=Path(self.csv_edit.text()) if source == "csv" and self.csv_edit.text() else None,
            epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            device=self.device_combo.currentText().lower(),
            name=self.name_edit.text().strip(),
            init_from=self.init_combo.currentData(),
            neighbours=self.neighbours_spin.value() if source == "self" else 0.0,
            threads=max(1, (os.cpu_count() or 2) - 1),
            workers=self.session.decode_workers,
        )

    def show_config(self, cfg) -> None:
        """Reflect a config (e.g. one started from code) in the form."""
        self._ensure_architectures()
        self.library_combo.setCurrentText(str(cfg.library))
        self.init_combo.setCurrentIndex(max(0, self.init_combo.findData(cfg.init_from)))
        self.neighbours_spin.setValue(cfg.neighbours)
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData(cfg.arch)))
        self.loss_combo.setCurrentText(cfg.loss)
        self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(cfg.source)))
        self.csv_edit.setText(str(cfg.triplets_csv or ""))
        self.epochs_spin.setValue(cfg.epochs)
        if cfg.batch_size:
            self.batch_spin.setValue(cfg.batch_size)
        self.lr_spin.setValue(cfg.lr)
        self.device_combo.setCurrentText(cfg.device if cfg.device == "auto" else cfg.device.upper())
        self.name_edit.setText(cfg.name)

    # -- running --------------------------------------------------------------------------------
    def running(self) -> bool:
        return self.worker is not None

    def _on_start_clicked(self) -> None:
        self.start()

    def start(self, cfg: TrainConfig | None = None) -> Worker | None:
        from trainer.train import TrainConfig  # torch: imported when training starts, not at start-up

        if cfg is not None and not isinstance(cfg, TrainConfig):
            raise TypeError(f"start() takes a TrainConfig, not {type(cfg).__name__}")
        if self.worker is not None:
            return None
        if cfg is not None:
            self.show_config(cfg)
        try:
            cfg = cfg or self.config()
        except Exception as exc:  # noqa: BLE001 - a bad field: say which, do not crash
            self.session.errorOccurred.emit(f"cannot start training: {exc}")
            return None
        self.save_form()  # remembered for the next run of the app
        self._steps, self._losses = [], []
        self.raw_curve.clear()
        self.smooth_curve.clear()
        self.epoch_table.setRowCount(0)
        self._phase_total = -1
        self.progress.setRange(0, 0)
        self.status_label.setText(f"Preparing {cfg.name}…")
        self.eta_label.setText("")
        worker = Worker(run_training, cfg, self.session.home, name=f"training {cfg.name}", pass_emit=True)
        worker.progress.connect(self._on_progress)
        worker.event.connect(self._on_event)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.done.connect(self._on_done)
        self.worker = worker
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.heartbeat.start()
        self._redraw.start()
        self.session.runner.start(worker)
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling after this batch…")

    def _on_progress(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if total != self._phase_total:
            self._phase_total, self._phase_start, self._phase_done0 = total, now, done
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            rate = (done - self._phase_done0) / max(now - self._phase_start, 1e-6)
            if rate > 0 and done < total:
                from tqdm import tqdm

                self.eta_label.setText(f"ETA {tqdm.format_interval((total - done) / rate)}")
        else:
            self.progress.setRange(0, 0)
        self.status_label.setText(message)

    def _on_event(self, name: str, payload) -> None:
        if name == "step":
            step, loss = payload
            self._steps.append(step)
            self._losses.append(loss)
            self._dirty = True
        elif name == "epoch":
            row = self.epoch_table.rowCount()
            self.epoch_table.insertRow(row)
            val = "–" if payload.val_score is None else f"{payload.val_score:.3f}"
            for col, text in enumerate(
                (
                    f"{payload.epoch}/{payload.epochs}",
                    f"{payload.train_loss:.4f}",
                    val,
                    f"{payload.seconds:.1f} s",
                )
            ):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.epoch_table.setItem(row, col, item)
            self.epoch_table.scrollToBottom()

    def _on_redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        x = np.asarray(self._steps, dtype=float)
        y = np.asarray(self._losses, dtype=float)
        self.raw_curve.setData(x, y)
        window = max(1, min(50, len(y) // 10))
        if len(y) >= window > 1:
            kernel = np.ones(window) / window
            self.smooth_curve.setData(x[window - 1 :], np.convolve(y, kernel, mode="valid"))
        else:
            self.smooth_curve.setData(x, y)

    def _on_finished(self, folder) -> None:
        name = Path(folder).name
        self.status_label.setText(f"Finished: model '{name}' saved in {folder}")
        self.session.refresh_models()
        self.session.message.emit(f"Training finished: '{name}' is now in the model picker")
        self.modelTrained.emit(name)
        self.name_edit.setText(self._unique_name(self.arch_combo.currentData()))

    def _on_failed(self, message: str) -> None:
        self.status_label.setText(f"Failed: {message}")
        self.session.errorOccurred.emit(f"Training failed: {message}")

    def _on_cancelled(self) -> None:
        self.status_label.setText(
            "Cancelled (the checkpoint is kept: start again with the same name to resume)"
        )

    def _on_done(self) -> None:
        self.worker = None
        self.heartbeat.stop()
        # how long the window could not react meanwhile: for the log, not for the user
        log.info("training: longest GUI stall %.0f ms", self.heartbeat.max_lateness_ms)
        self._on_redraw()
        self._redraw.stop()
        self.progress.setRange(0, max(1, self.progress.maximum()))
        self.eta_label.setText("")
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
