"""Pick the two ends of a journey and its length."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from . import song_text
from .session import LibrarySession

DEFAULT_STEPS = 10
MAX_STEPS = 200


def song_choice(song) -> str:
    """How a song reads in the From / To fields: unique, since it ends with the file's path."""
    return f"{song_text.describe(song)}  ·  {song_text.rel_path(song)}"


class JourneyDialog(QDialog):
    """From (the query song, or what plays, unless given), To and the number of steps; type to find a
    song.  ``chosen()`` gives ``(from_id, to_id, steps)`` once accepted."""

    def __init__(
        self,
        session: LibrarySession,
        to_id: int | None,
        from_id: int | None = None,
        steps: int = DEFAULT_STEPS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Journey")
        self.session = session
        ids, _ = session.embeddings()
        self._by_text = {song_choice(s): s.id for s in (session.song(int(i)) for i in ids) if s is not None}
        model = QStringListModel(sorted(self._by_text), self)
        self.from_edit, self.to_edit = QLineEdit(), QLineEdit()
        for edit in (self.from_edit, self.to_edit):
            completer = QCompleter(model, edit)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            edit.setCompleter(completer)
            edit.setMinimumWidth(460)
            edit.setPlaceholderText("type part of a title, artist, album or file name")
            edit.textChanged.connect(self._validate)
        self.steps_spin = QSpinBox(toolTip="Steps from the first song to the last (songs: steps + 1)")
        self.steps_spin.setRange(1, max(1, min(MAX_STEPS, len(ids) - 1)))
        self.steps_spin.setValue(min(steps, self.steps_spin.maximum()))
        self.steps_spin.setSuffix(" steps")
        self.problem = QLabel()
        self.problem.setObjectName("Dim")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.play_button = self.buttons.addButton("Play journey", QDialogButtonBox.ButtonRole.AcceptRole)
        form = QFormLayout()
        form.addRow("From", self.from_edit)
        form.addRow("To", self.to_edit)
        form.addRow("Length", self.steps_spin)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Songs from one to the other, each a short step on and closer to the last, "
                f"by {session.model_name} and {session.distance}:"
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        if from_id is None:
            from_id = session.query_id if session.query_id != to_id else None
        for edit, sid in ((self.from_edit, from_id), (self.to_edit, to_id)):
            song = session.song(sid)
            if song is not None:
                edit.setText(song_choice(song))
                edit.setCursorPosition(0)  # the title in view, not the end of the path
        (self.to_edit if self.from_edit.text() else self.from_edit).setFocus()
        self._validate()

    def _song_id(self, edit: QLineEdit) -> int | None:
        return self._by_text.get(edit.text().strip())

    def _validate(self) -> None:
        a, b = self._song_id(self.from_edit), self._song_id(self.to_edit)
        problem = ""
        if a is None or b is None:
            problem = "Pick both songs from the list that opens as you type."
        elif a == b:
            problem = "From and To are the same song: pick two."
        self.problem.setText(problem)
        self.play_button.setEnabled(not problem)

    def chosen(self) -> tuple[int, int, int] | None:
        a, b = self._song_id(self.from_edit), self._song_id(self.to_edit)
        if a is None or b is None or a == b:
            return None
        return a, b, self.steps_spin.value()
