"""Benchmarks: run models on one library, compare their 27-cell tables, read thesis Appendix A.

A page of five tabs over one set of typed results (``trainer.results``), a little over the size
of other widgets because each tab is a table filled from them; the figures, the best cell and
the CSV are the engine's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from trainer.evaluate import best_row
from trainer.results import FIGURES, Resampled, Uncertainty

from .heatmap import ScoreHeatmap
from .session import LibrarySession
from .workers import Worker

#: How ties are scored, said on the page (trainer.evaluate.tie_credit).
TIE_RULE = (
    "A triplet counts as right when its two similar songs are closer to each other than to the odd one; "
    "where pairs tie for closest it counts ½ or ⅓ (a random pick among them). On real-valued embeddings "
    "hamming and kulsinski tie every pair, so they read about 33 %, as in the thesis's Appendix A (35 %)."
)


class _NumberItem(QTableWidgetItem):
    """Sorts numerically."""

    def __lt__(self, other) -> bool:
        try:
            return float(self.data(Qt.ItemDataRole.UserRole)) < float(other.data(Qt.ItemDataRole.UserRole))
        except (TypeError, ValueError):
            return super().__lt__(other)


def score_range(results) -> tuple[float, float] | None:
    values = [r.score_percent for res in results for r in res.rows]
    return (min(values), max(values)) if values else None


def _number(percent: float | None) -> QTableWidgetItem:
    """A percentage for a table (the unit is in the column title), sorting as a number."""
    item = _NumberItem("–" if percent is None else f"{percent:.1f}")
    item.setData(Qt.ItemDataRole.UserRole, -1.0 if percent is None else float(percent))
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _percent(fraction) -> str:
    """P@1 and MAP@R as percent, the unit of the scores and intervals beside them."""
    return "–" if fraction is None else f"{100 * fraction:.1f} %"


def _interval_texts(uncertainty: Uncertainty | None) -> list[str]:
    """The benchmark's 95 % song-bootstrap intervals, and the difference to the run's first model,
    in words: how far this library's songs let the figures be trusted; then the same with whole
    albums resampled, where the run had enough albums for that."""
    if uncertainty is None:  # results saved before intervals existed
        return []
    texts = _level_texts(uncertainty.songs)
    if uncertainty.albums is not None:
        texts.extend(f"albums resampled, {text}" for text in _level_texts(uncertainty.albums))
    return texts


def _level_texts(level: Resampled) -> list[str]:
    texts = []
    spans = [
        f"{label} {level.intervals[key].low:.1f}–{level.intervals[key].high:.1f} %"
        for key, label in FIGURES
        if key in level.intervals
    ]
    if spans:
        texts.append("95 % interval: " + ", ".join(spans))
    if level.differences:
        cells = [
            f"{label} {d.estimate:+.1f} [{d.low:+.1f}, {d.high:+.1f}]"
            for key, label in FIGURES
            if (d := level.differences.get(key))
        ]
        texts.append(f"{level.first} minus this: " + ", ".join(cells))
    return texts


class ResultPanel(QWidget):
    """A model picker, its heatmap and its P@1 / MAP@R."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: dict[str, object] = {}
        self.scale: tuple[float, float] | None = None  #: shared colour scale, set by the page
        self.combo = QComboBox()
        # a long model name must not make this panel wider than the other one
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(8)
        self.heatmap = ScoreHeatmap()
        self.summary = QLabel()
        self.summary.setObjectName("Dim")
        self.summary.setWordWrap(True)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        head = QHBoxLayout()
        head.addWidget(QLabel(title))
        head.addWidget(self.combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.heatmap, 1)
        layout.addWidget(self.summary)
        self.combo.currentTextChanged.connect(self._show)

    def set_results(self, results: dict[str, object], pick: int = 0) -> None:
        self.results = results
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(list(results))
        self.combo.blockSignals(False)
        if results:
            self.combo.setCurrentIndex(min(pick, len(results) - 1))
        self._show(self.combo.currentText())

    def _show(self, name: str) -> None:
        res = self.results.get(name)
        if res is None:
            self.heatmap.clear_scores()
            self.summary.setText("")
            return
        self.heatmap.set_rows(res.rows, self.scale)
        best = best_row(res.rows)
        parts = []
        if best is not None:
            parts.append(f"best: {best.distance} + {best.scaler} = {best.score_percent:.1f} %")
        if getattr(res, "p_at_1", None) is not None or getattr(res, "map_at_r", None) is not None:
            parts.append(f"P@1 {_percent(res.p_at_1)} · MAP@R {_percent(res.map_at_r)}")
        if len(res.by_album) > 1:  # one big album cannot carry a model here
            parts.append(f"P@1 mean over albums {_percent(res.balanced_p_at_1)}")
        parts.extend(_interval_texts(res.uncertainty))
        if getattr(res, "n_songs", 0):
            parts.append(f"{res.n_songs} songs, {res.n_triplets} triplets ({res.triplet_source})")
        self.summary.setText("  ·  ".join(parts))


def _side_by_side(grid: QGridLayout, row: int, left: ResultPanel, right: ResultPanel) -> None:
    """Two result panels as wide and as high as each other: the summaries go to a row of their
    own below the heatmaps, so a longer summary does not shorten one heatmap."""
    for col, panel in enumerate((left, right)):
        panel.layout().removeWidget(panel.summary)
        grid.addWidget(panel, row, col)
        grid.addWidget(panel.summary, row + 1, col, Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(col, 1)
    grid.setRowStretch(row, 1)


class BenchmarkPage(QWidget):
    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.worker: Worker | None = None
        self.results: dict[str, object] = {}
        self.run_folder: Path | None = None

        self.models_list = QListWidget()
        self.models_list.setToolTip("Tick the models to compare")
        self.library_combo = QComboBox(editable=True)
        self.source_combo = QComboBox()
        self.source_combo.addItem("Album folders", "folders")
        self.source_combo.addItem("Triplets CSV", "csv")
        self.csv_edit = QLineEdit(placeholderText="triplets.csv", enabled=False)
        self.csv_edit.setMinimumWidth(90)
        self.csv_button = QPushButton("…", maximumWidth=32, enabled=False)
        self.run_button = QPushButton("Run benchmark")
        self.run_button.setObjectName("Primary")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.progress = QProgressBar()
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("Dim")
        self.progress_label.setWordWrap(True)
        self.runs_list = QListWidget()
        self.runs_list.setToolTip("Double-click to reopen a past run")
        self.runs_list.setWordWrap(True)
        self.export_button = QPushButton("Export CSV…", enabled=False)

        # The run's settings in a bar above the results, so the two heatmaps of Compare get the
        # page's whole width (beside a settings column they were cut off in a 1024-px window).
        self.models_list.setMaximumHeight(72)
        self.models_list.setMinimumWidth(140)
        self.library_combo.setMinimumContentsLength(12)
        self.library_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.progress.setMaximumWidth(220)
        self.progress_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        run_box = QGroupBox("Run")
        bar = QGridLayout(run_box)
        bar.addWidget(QLabel("Models"), 0, 0, Qt.AlignmentFlag.AlignTop)
        bar.addWidget(self.models_list, 0, 1, 2, 1)
        source_row = QHBoxLayout()
        for widget, stretch in (
            (QLabel("Library"), 0),
            (self.library_combo, 3),
            (QLabel("Triplets"), 0),
            (self.source_combo, 0),
            (self.csv_edit, 2),
            (self.csv_button, 0),
        ):
            source_row.addWidget(widget, stretch)
        run_row = QHBoxLayout()
        for widget, stretch in (
            (self.run_button, 0),
            (self.cancel_button, 0),
            (self.progress, 1),
            (self.progress_label, 2),
        ):
            run_row.addWidget(widget, stretch)
        bar.addLayout(source_row, 0, 2)
        bar.addLayout(run_row, 1, 2)
        bar.setColumnStretch(2, 1)

        self.panel_a = ResultPanel("A")
        self.panel_b = ResultPanel("B")
        compare = QWidget()
        grid = QGridLayout(compare)
        _side_by_side(grid, 0, self.panel_a, self.panel_b)
        tie_note = QLabel(TIE_RULE, wordWrap=True)
        tie_note.setObjectName("Dim")
        tie_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        grid.addWidget(tie_note, 2, 0, 1, 2)
        # one row per model for what has one value per model, one per cell for the 27 scores;
        # every figure a percentage, as in the thesis
        self.model_table = QTableWidget(0, 6)
        self.model_table.setHorizontalHeaderLabels(
            ["Model", "cosine-Normalizer %", "Best of 27 %", "Best cell", "P@1 %", "MAP@R %"]
        )
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Model", "Distance", "Scaler", "Score %"])
        for table in (self.model_table, self.table):
            table.setSortingEnabled(True)
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.verticalHeader().hide()
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            table.horizontalHeader().setStretchLastSection(True)
        self.model_table.setMaximumHeight(130)
        table_page = QWidget()
        tl = QVBoxLayout(table_page)
        tl.addWidget(self.model_table)
        tl.addWidget(self.table, 1)
        scores_note = QLabel(TIE_RULE, wordWrap=True)
        scores_note.setObjectName("Dim")
        scores_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        tl.addWidget(scores_note)
        tl.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignRight)
        self.reference_a = ResultPanel("Thesis")
        self.reference_b = ResultPanel("vs")
        reference_page = QWidget()
        rl = QGridLayout(reference_page)
        note = QLabel(
            "Thesis Appendix A (Tables 1–10): percent of test triplets ranked correctly. "
            "These are the thesis's numbers, for comparison with yours. Its hamming and kulsinski rows "
            "(about 35 %) are distances that tie every pair of real-valued embeddings; ours score such "
            "ties as ⅓ of a hit, so they read about 33 %."
        )
        note.setObjectName("Dim")
        note.setWordWrap(True)
        rl.addWidget(note, 0, 0, 1, 2)
        _side_by_side(rl, 1, self.reference_a, self.reference_b)
        self.album_table = QTableWidget(0, 0)
        self.album_table.setSortingEnabled(True)
        self.album_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.album_table.verticalHeader().hide()
        self.album_table.setToolTip(
            "Per album: how many of its songs have a song of the same album as nearest neighbour "
            "(cosine, Normalizer) — which albums each model keeps together"
        )
        self.tabs = QTabWidget()
        self.tabs.addTab(compare, "Compare")
        self.tabs.addTab(table_page, "All scores")
        self.tabs.addTab(self.album_table, "Same album first")
        self.tabs.addTab(reference_page, "Thesis Appendix A")
        self.tabs.addTab(self.runs_list, "Past runs")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(run_box)
        layout.addWidget(self.tabs, 1)

        self.source_combo.currentIndexChanged.connect(self._on_source)
        self.csv_button.clicked.connect(self._browse_csv)
        self.run_button.clicked.connect(lambda: self.start())  # not clicked's checked flag
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self._on_export)
        self.runs_list.itemDoubleClicked.connect(self._on_run_opened)
        session.modelsChanged.connect(self._fill_models)
        session.songsChanged.connect(self._fill_libraries)
        self._fill_models()
        self._fill_libraries()
        self.load_reference()
        self.refresh_runs()

    # -- form -----------------------------------------------------------------------------------
    def _fill_models(self) -> None:
        checked = set(self.checked_models()) or {"default", "classic"}
        self.models_list.clear()
        for ref in self.session.model_refs:
            item = QListWidgetItem(ref.name)
            item.setToolTip(f"{ref.name}: {ref.info.arch}, {ref.info.embedding_dim}-d")
            item.setData(Qt.ItemDataRole.UserRole, ref.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if ref.name in checked else Qt.CheckState.Unchecked)
            self.models_list.addItem(item)

    def checked_models(self) -> list[str]:
        return [
            self.models_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.models_list.count())
            if self.models_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_checked_models(self, names: list[str]) -> None:
        for i in range(self.models_list.count()):
            item = self.models_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _fill_libraries(self) -> None:
        current = self.library_combo.currentText()
        self.library_combo.clear()
        self.library_combo.addItems([str(f) for f in self.session.folders_to_pick()])
        if current:
            self.library_combo.setCurrentText(current)

    def _on_source(self) -> None:
        on = self.source_combo.currentData() == "csv"
        self.csv_edit.setEnabled(on)
        self.csv_button.setEnabled(on)

    def _browse_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Triplets CSV", self.csv_edit.text(), "CSV (*.csv)")
        if path:
            self.csv_edit.setText(path)

    # -- reference and past runs ----------------------------------------------------------------
    def load_reference(self) -> None:
        from trainer.paths import reference_dir
        from trainer.results import BenchResult, load_reference_tables

        try:
            tables = load_reference_tables(reference_dir() / "appendix_a.csv")
        except Exception as exc:  # noqa: BLE001 - a missing resource must not break the page
            self.reference_a.summary.setText(f"Appendix A not available: {exc}")
            return
        refs = {
            name: BenchResult(model=name, rows=rows, triplet_source="thesis") for name, rows in tables.items()
        }
        self.reference_a.set_results(refs, 0)
        self.reference_b.set_results({**self.results, **refs}, 1)

    def refresh_runs(self) -> None:
        from trainer.bench import list_runs

        self.runs_list.clear()
        try:
            runs = list_runs(self.session.home)
        except Exception as exc:  # noqa: BLE001
            self.session.errorOccurred.emit(f"cannot list benchmark runs: {exc}")
            return
        for folder, results in runs:
            item = QListWidgetItem(f"{folder.name}  ·  {', '.join(r.model for r in results)}")
            item.setData(Qt.ItemDataRole.UserRole, (folder, results))
            item.setToolTip(str(folder))
            self.runs_list.addItem(item)

    def _on_run_opened(self, item: QListWidgetItem) -> None:
        folder, results = item.data(Qt.ItemDataRole.UserRole)
        self.show_results(results, folder)

    # -- running --------------------------------------------------------------------------------
    def start(self) -> Worker | None:
        if self.worker is not None:
            return None
        from trainer.bench import run_benchmark

        models = self.checked_models()
        library = self.library_combo.currentText().strip()
        if not models or not library:
            self.session.errorOccurred.emit("Pick at least one model and a library folder to benchmark")
            return None
        triplets = "folders" if self.source_combo.currentData() == "folders" else self.csv_edit.text().strip()
        if not triplets:
            self.session.errorOccurred.emit("Choose a triplets CSV file (or use album folders)")
            return None
        worker = Worker(
            run_benchmark,
            library,
            models,
            triplets,
            home=self.session.home,
            device=self.session.device,
            name="benchmark",
        )
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(lambda msg: self._end(f"Failed: {msg}", error=True))
        worker.cancelled.connect(lambda: self._end("Cancelled"))
        worker.done.connect(self._on_done)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress_label.setText(f"Benchmarking {', '.join(models)}…")
        self.session.runner.start(worker)
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.progress_label.setText("Cancelling…")

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.progress_label.setText(message)

    def _on_finished(self, outcome) -> None:
        results, folder = outcome
        self.show_results(results, folder)
        self.refresh_runs()
        self._end(f"Done: saved in {folder}")

    def _end(self, text: str, error: bool = False) -> None:
        self.progress_label.setText(text)
        if error:
            self.session.errorOccurred.emit(f"Benchmark {text[0].lower()}{text[1:]}")

    def _on_done(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.results else 0)

    def show_results(self, results: list, folder: Path | None = None) -> None:
        self.results = {r.model: r for r in results}
        self.run_folder = folder
        self.panel_a.scale = self.panel_b.scale = score_range(results)
        self.panel_a.set_results(self.results, 0)
        self.panel_b.set_results(self.results, 1)
        self.reference_b.set_results({**self.results, **self.reference_a.results}, 0)
        self._fill_table()
        self._fill_album_table()
        self.export_button.setEnabled(bool(self.results))
        self.tabs.setCurrentIndex(0)

    def _fill_table(self) -> None:
        """All scores: per model P@1, MAP@R and the headline cells; per cell the 27 scores."""
        self.model_table.setSortingEnabled(False)
        self.model_table.setRowCount(len(self.results))
        for i, res in enumerate(self.results.values()):
            best = best_row(res.rows)
            values = (
                res.cell("cosine", "Normalizer"),
                best.score_percent if best else None,
                None if res.p_at_1 is None else 100 * res.p_at_1,
                None if res.map_at_r is None else 100 * res.map_at_r,
            )
            cells = [QTableWidgetItem(res.model)]
            cells += [_number(v) for v in values[:2]]
            cells.append(QTableWidgetItem(f"{best.distance}-{best.scaler}" if best else "–"))
            cells += [_number(v) for v in values[2:]]
            for col, item in enumerate(cells):
                self.model_table.setItem(i, col, item)
        self.model_table.setSortingEnabled(True)
        self.table.setSortingEnabled(False)
        rows = [(res, r) for res in self.results.values() for r in res.sorted_rows()]
        self.table.setRowCount(len(rows))
        for i, (res, r) in enumerate(rows):
            cells = [
                QTableWidgetItem(res.model),
                QTableWidgetItem(r.distance),
                QTableWidgetItem(r.scaler),
                _number(r.score_percent),
            ]
            for col, item in enumerate(cells):
                self.table.setItem(i, col, item)
        self.table.setSortingEnabled(True)

    def _fill_album_table(self) -> None:
        from trainer.results import by_album_table

        results = list(self.results.values())
        albums, cells = by_album_table(results)
        table = self.album_table
        table.setSortingEnabled(False)
        table.clear()
        table.setColumnCount(1 + len(results))
        table.setHorizontalHeaderLabels(["Album"] + [r.model for r in results])
        table.setRowCount(len(albums))
        for i, (album, row) in enumerate(zip(albums, cells, strict=True)):
            table.setItem(i, 0, QTableWidgetItem(album))
            for j, cell in enumerate(row, start=1):
                share = cell[0] / cell[1] if cell and cell[1] else None
                item = _NumberItem("–" if cell is None else f"{cell[0]}/{cell[1]}  ({100 * share:.0f} %)")
                item.setData(Qt.ItemDataRole.UserRole, -1.0 if share is None else share)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(i, j, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.setSortingEnabled(True)

    def export_csv(self, path: Path) -> None:
        from trainer.results import write_csv

        write_csv(self.results.values(), path)

    def _on_export(self) -> None:
        start = str((self.run_folder or Path.home()) / "benchmark.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export benchmark", start, "CSV (*.csv)")
        if path:
            try:
                self.export_csv(Path(path))
            except OSError as exc:
                self.session.errorOccurred.emit(f"cannot write '{path}': {exc.strerror or exc}")
            else:
                self.session.message.emit(f"Benchmark exported to {path}")
