"""Triplet CSVs in the thesis's quartet form: ``song1,song2,song3,odd``, paths relative to the
library root, ``odd`` (1, 2 or 3) naming the least similar song.  Read with every problem as a
one-line :class:`ParameterError` naming the line; appended by the app's *Odd one out*."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import ParameterError

TRIPLET_COLUMNS = ("song1", "song2", "song3", "odd")


@dataclass(frozen=True)
class Triplet:
    """Three songs (paths relative to the library root) and which of them (1, 2 or 3) is odd."""

    song1: str
    song2: str
    song3: str
    odd: int

    @property
    def songs(self) -> tuple[str, str, str]:
        return (self.song1, self.song2, self.song3)


#: Most triplets a CSV may hold, and its largest size: what a listening test could produce many
#: times over, and small enough to read in seconds (a 1M-row file took minutes and gigabytes).
MAX_CSV_TRIPLETS = 100_000
MAX_CSV_BYTES = 32 << 20


def read_text(path: Path) -> str:
    """A CSV file's text: UTF-8 (a byte-order mark accepted), at most ``MAX_CSV_BYTES``, not empty."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParameterError(f"{path.name}: cannot read it ({exc.strerror or exc})") from exc
    if size > MAX_CSV_BYTES:
        raise ParameterError(
            f"{path.name}: {size / 2**20:.0f} MB is more than a triplets CSV may be "
            f"({MAX_CSV_BYTES >> 20} MB); split it"
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParameterError(f"{path.name}: line {line} is not valid UTF-8 text") from exc
    if not text.strip():
        raise ParameterError(f"{path.name}: the file is empty; expected a header {','.join(TRIPLET_COLUMNS)}")
    return text


def read_triplets_csv(
    path: str | os.PathLike, *, known_paths: Collection[str] | None = None
) -> list[Triplet]:
    """Read triplets in the thesis's quartet form: header ``song1,song2,song3,odd``.

    Extra columns are ignored, blank lines skipped, and whitespace around fields stripped.
    Every problem raises :class:`ParameterError` with a one-line message naming the line.

    Parameters
    ----------
    path : path-like
        UTF-8 CSV file (a byte-order mark is accepted).
    known_paths : collection of str, optional
        Library paths (relative to its root); when given, every song must be one of them.

    Returns
    -------
    list of Triplet
    """
    path = Path(path)
    rows = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        return _read_triplet_rows(path, rows, known_paths)
    except csv.Error as exc:  # e.g. a field longer than the csv module's limit (131,072 characters)
        raise ParameterError(f"{path.name}: line {rows.line_num}: {exc}") from None


def _read_triplet_rows(
    path: Path, rows: Iterator[list[str]], known_paths: Collection[str] | None
) -> list[Triplet]:
    header = [h.strip().lower() for h in next(rows)]
    missing = [c for c in TRIPLET_COLUMNS if c not in header]
    if missing:
        raise ParameterError(
            f"{path.name}: line 1: missing column(s) {', '.join(missing)}; "
            f"expected a header {','.join(TRIPLET_COLUMNS)}"
        )
    cols = [header.index(c) for c in TRIPLET_COLUMNS]
    known = None if known_paths is None else set(known_paths)
    seen: dict[tuple[str, str, str, int], int] = {}
    out: list[Triplet] = []
    for fields in rows:
        line = rows.line_num  # type: ignore[attr-defined]
        if not any(f.strip() for f in fields):
            continue
        if len(out) >= MAX_CSV_TRIPLETS:
            raise ParameterError(
                f"{path.name}: line {line}: more than {MAX_CSV_TRIPLETS:,} triplets; split the file"
            )
        if len(fields) < len(header):
            raise ParameterError(
                f"{path.name}: line {line}: expected {len(header)} fields, found {len(fields)}"
            )
        song1, song2, song3, odd_text = (fields[i].strip() for i in cols)
        triplet = Triplet(song1, song2, song3, _parse_odd(odd_text, path.name, line))
        _check_songs(triplet, known, path.name, line)
        key = (*triplet.songs, triplet.odd)
        if key in seen:
            raise ParameterError(f"{path.name}: lines {seen[key]} and {line} are the same triplet")
        seen[key] = line
        out.append(triplet)
    if not out:
        raise ParameterError(f"{path.name}: no triplets after the header")
    return out


def _parse_odd(text: str, name: str, line: int) -> int:
    try:
        odd = int(text)
    except ValueError:
        raise ParameterError(f"{name}: line {line}: odd must be 1, 2 or 3, found '{text}'") from None
    if odd not in (1, 2, 3):
        raise ParameterError(f"{name}: line {line}: odd must be 1, 2 or 3, found {odd}")
    return odd


def _check_songs(t: Triplet, known: set[str] | None, name: str, line: int) -> None:
    for song in t.songs:
        if not song:
            raise ParameterError(f"{name}: line {line}: a song path is empty")
        if known is not None and song not in known:
            raise ParameterError(f"{name}: line {line}: unknown song '{song}' (not in the library)")
    if len(set(t.songs)) < 3:
        raise ParameterError(f"{name}: line {line}: the same song appears twice in one triplet")


def append_triplets_csv(path: str | os.PathLike, rows: Iterable[Triplet]) -> None:
    """Append triplets to ``path``, writing the header first when the file is new or empty."""
    path = Path(path)
    rows = list(rows)
    for t in rows:
        if t.odd not in (1, 2, 3):
            raise ParameterError(f"odd must be 1, 2 or 3, found {t.odd}")
    existing = path.read_bytes() if path.exists() else b""
    with path.open("a", encoding="utf-8", newline="") as fh:
        if existing and not existing.endswith(b"\n"):
            fh.write("\n")
        writer = csv.writer(fh, lineterminator="\n")
        if not existing.strip():
            writer.writerow(TRIPLET_COLUMNS)
        writer.writerows((*t.songs, t.odd) for t in rows)
