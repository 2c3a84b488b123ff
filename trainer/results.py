"""A benchmark's results, typed: what ``musicsim bench`` prints, the Benchmarks page shows and both
save or export.

:class:`BenchResult` is one model's 27-cell table with P@1 and MAP@R, its per-album P@1
(:attr:`~BenchResult.by_album`) and its 95 % intervals (:class:`Uncertainty`: the figures'
intervals and the paired differences to the run's first model, resampling songs and, where a
library has enough albums, whole albums).  The JSON files keep the layout they always had (the
intervals and per-album table under ``extra``), so every past run still opens.
:func:`write_csv` is the one CSV writer, :func:`by_album_table` the one per-album table.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .distances import DISTANCES, SCALERS
from .errors import ParameterError
from .evaluate import ScoreRow, best_row, label_balanced_p_at_1, sort_rows
from .triplets import read_text

#: The figures a benchmark gives intervals for: the key they are saved under, the name shown.
FIGURES = (("cosine_normalizer", "cosine-Normalizer"), ("p_at_1", "P@1"))


@dataclass(frozen=True)
class Interval:
    """A 95 % bootstrap interval, in percent."""

    low: float
    high: float


@dataclass(frozen=True)
class Difference:
    """The run's first model minus this one, in points, with its 95 % interval: one that holds 0
    means the library cannot tell the two apart."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Resampled:
    """Intervals under one way of resampling (songs, or whole albums)."""

    #: figure key (:data:`FIGURES`) -> its interval
    intervals: dict[str, Interval] = field(default_factory=dict)
    #: figure key -> the first model minus this one (absent for the first model itself)
    differences: dict[str, Difference] = field(default_factory=dict)
    #: the first model's name, where there are differences
    first: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: [i.low, i.high] for key, i in self.intervals.items()}
        if self.first:
            out["first_minus_this"] = {
                "first": self.first,
                **{key: [d.estimate, d.low, d.high] for key, d in self.differences.items()},
            }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resampled:
        keys = [key for key, _ in FIGURES]
        diff = data.get("first_minus_this") or {}
        return cls(
            {k: Interval(*map(float, data[k])) for k in keys if data.get(k)},
            {k: Difference(*map(float, diff[k])) for k in keys if diff.get(k)},
            str(diff.get("first", "")),
        )


@dataclass(frozen=True)
class Uncertainty:
    """A model's 95 % intervals: songs resampled, and whole albums where a run had enough."""

    draws: int
    songs: Resampled
    albums: Resampled | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"draws": self.draws, **self.songs.to_dict()}
        if self.albums is not None:
            out["albums"] = self.albums.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Uncertainty:
        albums = data.get("albums")
        return cls(
            int(data.get("draws", 0)),
            Resampled.from_dict(data),
            Resampled.from_dict(albums) if albums else None,
        )


@dataclass
class BenchResult:
    """One model's evaluation: the 27-way table plus retrieval scores, saved as JSON or CSV."""

    model: str
    rows: list[ScoreRow]
    p_at_1: float | None = None
    map_at_r: float | None = None
    n_songs: int = 0
    n_triplets: int = 0
    triplet_source: str = ""
    created: str = field(default_factory=lambda: _dt.date.today().isoformat())
    #: what else a run records (library, model key, architecture, seed…)
    extra: dict = field(default_factory=dict)
    #: album -> (songs whose nearest other song is from that album, songs)
    by_album: dict[str, tuple[int, int]] = field(default_factory=dict)
    uncertainty: Uncertainty | None = None

    def sorted_rows(self) -> list[ScoreRow]:
        """Rows in thesis Appendix A order."""
        return sort_rows(self.rows)

    def best(self) -> ScoreRow:
        """The best cell (:func:`trainer.evaluate.best_row`)."""
        best = best_row(self.rows)
        if best is None:
            raise ParameterError(f"benchmark '{self.model}' has no score rows")
        return best

    def cell(self, distance: str, scaler: str) -> float | None:
        """The score of one cell, None where the table lacks it."""
        return next(
            (r.score_percent for r in self.rows if (r.distance, r.scaler) == (distance, scaler)), None
        )

    @property
    def balanced_p_at_1(self) -> float:
        """P@1 with every album weighing the same (:func:`trainer.evaluate.label_balanced_p_at_1`)."""
        return label_balanced_p_at_1(self.by_album)

    def to_json(self, path: str | os.PathLike) -> None:
        data = asdict(self)
        del data["by_album"], data["uncertainty"]
        data["extra"]["p_at_1_by_album"] = {a: list(hq) for a, hq in self.by_album.items()}
        if self.uncertainty is not None:
            data["extra"]["intervals"] = self.uncertainty.to_dict()
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> BenchResult:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            data["rows"] = [ScoreRow(**r) for r in data["rows"]]
            extra = dict(data.get("extra") or {})
            by_album = {str(a): (int(h), int(q)) for a, (h, q) in extra.pop("p_at_1_by_album", {}).items()}
            intervals = extra.pop("intervals", None)
            uncertainty = Uncertainty.from_dict(intervals) if intervals else None
            return cls(**{**data, "extra": extra}, by_album=by_album, uncertainty=uncertainty)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ParameterError(f"cannot read benchmark result '{path}': {exc}") from exc

    def to_csv(self, path: str | os.PathLike) -> None:
        """This result alone as :func:`write_csv` writes it."""
        write_csv([self], path)

    def format_table(self) -> str:
        """Plain-text table for the CLI: 27 rows, the best marked with ``*``, then P@1 and MAP@R."""
        best = best_row(self.rows)
        lines = [
            f"{self.model}  ({self.n_songs} songs, {self.n_triplets} triplets, {self.triplet_source or '-'})",
            f"  {'distance':<12} {'scaler':<15} {'score %':>8}",
        ]
        for r in self.sorted_rows():
            mark = "*" if r == best else " "
            lines.append(f"{mark} {r.distance:<12} {r.scaler:<15} {r.score_percent:8.3f}")
        for name, value in (("P@1", self.p_at_1), ("MAP@R", self.map_at_r)):
            lines.append(f"  {name:<6} {'-' if value is None else f'{value:.4f}'}")
        return "\n".join(lines)


CSV_COLUMNS = ("model", "distance", "scaler", "score_percent", "n_triplets", "p_at_1", "map_at_r")


def write_csv(results: Iterable[BenchResult], path: str | os.PathLike) -> None:
    """Every cell of every result, one row each (:data:`CSV_COLUMNS`), in Appendix A order; a model
    name that a spreadsheet would run as a formula is escaped (:func:`csv_cell`).  Readable by
    :func:`load_reference_tables`."""
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for res in results:
            p1 = "" if res.p_at_1 is None else f"{res.p_at_1:.4f}"
            mapr = "" if res.map_at_r is None else f"{res.map_at_r:.4f}"
            for r in res.sorted_rows():
                writer.writerow(
                    [
                        csv_cell(res.model),
                        r.distance,
                        r.scaler,
                        f"{r.score_percent:.3f}",
                        r.n_triplets,
                        p1,
                        mapr,
                    ]
                )


def by_album_table(results: list[BenchResult]) -> tuple[list[str], list[list[tuple[int, int] | None]]]:
    """``(albums, cells)``: per album (sorted) and model, ``(songs whose nearest other song is from
    that album, songs)``, or ``None`` where a model's result has no entry (e.g. an older run)."""
    albums = sorted({a for r in results for a in r.by_album})
    return albums, [[r.by_album.get(a) for r in results] for a in albums]


#: A spreadsheet reads a cell starting with one of these as a formula (=HYPERLINK(…), +cmd|…).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs as a formula: a leading ``'`` where it would
    start one (OWASP's advice); :func:`from_csv_cell` takes it off again."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def from_csv_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def load_reference_tables(csv_path: str | os.PathLike) -> dict[str, list[ScoreRow]]:
    """Read Appendix A (``model,table,distance,scaler,score_percent``) into rows per model.

    ``table`` is optional and an ``n_triplets`` column is used when present (0 otherwise), so a
    :func:`write_csv` file loads too.
    """
    path = Path(csv_path)
    rows = csv.DictReader(io.StringIO(read_text(path), newline=""))
    need = {"model", "distance", "scaler", "score_percent"}
    if not need <= set(rows.fieldnames or ()):
        raise ParameterError(f"{path.name}: line 1: expected columns {', '.join(sorted(need))}")
    out: dict[str, list[ScoreRow]] = {}
    for r in rows:
        line = rows.line_num
        if r["distance"] not in DISTANCES or r["scaler"] not in SCALERS:
            raise ParameterError(f"{path.name}: line {line}: unknown distance or scaler")
        try:
            score = float(r["score_percent"])
            n = int(r.get("n_triplets") or 0)
        except ValueError:
            raise ParameterError(f"{path.name}: line {line}: score_percent must be a number") from None
        out.setdefault(from_csv_cell(r["model"]), []).append(ScoreRow(r["distance"], r["scaler"], score, n))
    return {model: sort_rows(rows_) for model, rows_ in out.items()}
