"""Ground truth by ear: play three songs, the listener picks the odd one, a row goes to a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
)

from . import song_text
from .icons import play_icon
from .player import Player
from .session import LibrarySession
from .triplet_choice import choose_trio

NAMES = ("A", "B", "C")
#: How many of the anchor's nearest songs a trio is chosen from: ``choose_trio`` looks at the first
#: 20 of the anchor's folder, and ranking a whole million-song library per trio (an HNSW search
#: with k of a million) would stall the dialog.
PICK_DEPTH = 1000


def answers_text(n: int) -> str:
    return f"{n} answer{'' if n == 1 else 's'} saved this session"


class OddOneOutDialog(QDialog):
    def __init__(
        self, session: LibrarySession, player: Player, csv_path: Path, parent=None, *, seed: int | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Odd one out")
        self.session = session
        self.player = player
        self.rng = np.random.default_rng(seed)
        self.trio: list = []
        self.saved = 0

        intro = QLabel(
            "Listen to the three songs and pick the one that sounds <b>least like the other "
            "two</b>. Each answer becomes a training/benchmark triplet."
        )
        intro.setWordWrap(True)
        self.csv_edit = QLineEdit(str(csv_path))
        browse = QPushButton("…", maximumWidth=32)
        self.show_titles = QCheckBox("Show titles (may bias you)")
        # without audio output the songs cannot be heard: say so here too, not only in the window
        silent = player.unavailable_reason
        self.silent_label = QLabel(
            f"No audio output: {silent}. The songs play silently." if silent else "", wordWrap=True
        )
        self.silent_label.setObjectName("Warning")
        self.silent_label.setVisible(bool(silent))
        self.group = QButtonGroup(self)
        grid = QGridLayout()
        self.title_labels, self.play_buttons, self.choices = [], [], []
        for i, name in enumerate(NAMES):
            play = QPushButton(play_icon(), f"Play {name} (silent)" if silent else f"Play {name}")
            play.setToolTip(
                f"Play song {name} from its middle"
                + (f" — silent: no audio output ({silent})" if silent else "")
            )
            choice = QRadioButton(f"{name} is the odd one")
            title = QLabel()
            title.setObjectName("Dim")
            title.setTextFormat(Qt.TextFormat.PlainText)  # tags are text, whatever they hold
            # long titles must not widen the dialog when shown: cut, the tooltip has them whole
            title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.group.addButton(choice, i)
            grid.addWidget(play, i, 0)
            grid.addWidget(choice, i, 1)
            grid.addWidget(title, i, 2)
            play.clicked.connect(lambda _=False, i=i: self.play(i))
            self.title_labels.append(title)
            self.play_buttons.append(play)
            self.choices.append(choice)
        grid.setColumnStretch(2, 1)
        self.count_label = QLabel("")
        self.count_label.setObjectName("Dim")
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.save_button = QPushButton("Save answer && next", enabled=False)
        self.save_button.setDefault(True)
        skip = QPushButton("Skip")
        close = QPushButton("Close")
        csv_row = QHBoxLayout()
        csv_row.addWidget(QLabel("Save to"))
        csv_row.addWidget(self.csv_edit, 1)
        csv_row.addWidget(browse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label, 1)
        buttons.addWidget(skip)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.silent_label)
        layout.addLayout(csv_row)
        layout.addLayout(grid)
        layout.addWidget(self.show_titles)
        layout.addLayout(buttons)
        self.setMinimumWidth(620)
        self.resize(640, 280)

        browse.clicked.connect(self._browse)
        self.group.idToggled.connect(lambda _id, on: self.save_button.setEnabled(self.group.checkedId() >= 0))
        self.save_button.clicked.connect(self.save_answer)
        skip.clicked.connect(self.next_trio)
        close.clicked.connect(self.reject)
        self.show_titles.toggled.connect(self._update_titles)
        session.searchReady.connect(self._on_search_ready)
        self.next_trio()

    @property
    def csv_path(self) -> Path:
        return Path(self.csv_edit.text()).expanduser()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Triplets CSV",
            self.csv_edit.text(),
            "CSV (*.csv)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.csv_edit.setText(path)

    def next_trio(self) -> None:
        self.player.stop()
        self.group.setExclusive(False)
        for c in self.choices:
            c.setChecked(False)
        self.group.setExclusive(True)
        self.save_button.setEnabled(False)
        self.trio = self._pick() or []
        ok = len(self.trio) == 3
        for widget in (*self.play_buttons, *self.choices):
            widget.setEnabled(ok)
        if not ok:
            ids, _ = self.session.embeddings()
            preparing = len(ids) >= 3 and self.session.ready_search_index() is None
            self.count_label.setText(
                f"Preparing search over {len(ids):,} songs…"
                if preparing
                else "Index at least three songs of one folder with the current model first"
            )
        self._update_titles()

    def _on_search_ready(self) -> None:
        if len(self.trio) != 3:  # was waiting for the search index
            self.next_trio()

    def _pick(self) -> list | None:
        ids, X = self.session.embeddings()
        index = self.session.ready_search_index()
        if index is None or len(ids) < 3:
            return None
        songs = [self.session.song(int(i)) for i in ids]
        labels = np.array([song_text.album(s) if s else "" for s in songs], dtype=object)
        roots = np.array([str(s.root) if s else "" for s in songs], dtype=object)
        for _attempt in range(10):
            anchor = int(self.rng.integers(len(ids)))
            depth = min(len(ids) - 1, PICK_DEPTH)
            rank, dist = index.query(X[anchor], depth, self.session.distance, exclude_ids=[anchor])
            same_root = roots[rank] == roots[anchor]  # CSV paths are relative to one library root
            trio = choose_trio(rank[same_root], dist[same_root], anchor, labels)
            if trio is not None:
                order = self.rng.permutation(3)  # so the odd song is not always in the same place
                return [songs[trio[i]] for i in order]
        return None

    def _update_titles(self) -> None:
        for i, label in enumerate(self.title_labels):
            if i < len(self.trio) and self.show_titles.isChecked():
                label.setText(song_text.describe(self.trio[i]))
                label.setToolTip(str(self.trio[i].path))
            else:
                label.setText("")
                label.setToolTip("")
        if self.saved or len(self.trio) == 3:
            self.count_label.setText(answers_text(self.saved))

    def play(self, i: int) -> None:
        song = self.trio[i]
        start = 0.3 * float(song.duration_s or 0.0)  # skip intros: the middle says more
        self.player.play_file(song.path, f"Odd one out: song {NAMES[i]}", start_s=start)

    def save_answer(self) -> bool:
        from trainer.triplets import Triplet, append_triplets_csv

        odd = self.group.checkedId()
        if odd < 0 or len(self.trio) != 3:
            return False
        rels = [song_text.rel_path(s) for s in self.trio]
        try:
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            append_triplets_csv(self.csv_path, [Triplet(*rels, odd + 1)])
        except Exception as exc:  # noqa: BLE001 - ParameterError, OSError: show, keep the dialog
            self.session.errorOccurred.emit(f"cannot save the answer: {exc}")
            return False
        self.saved += 1
        self.session.message.emit(f"Saved triplet {self.saved} to {self.csv_path}")
        self.next_trio()
        return True

    def done(self, result: int) -> None:
        self.player.stop()
        super().done(result)
