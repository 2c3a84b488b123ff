"""The one query path of the command line and the window: the songs nearest a song, and why.

A query is a library row (the song itself is then left out of its answer) or the vector of a song
from outside the library.  :func:`nearest` ranks by the whole vector under a distance and a scaler
(on a :class:`~trainer.search.SearchIndex`, exact or HNSW as the index decides) or by one named
part alone, and says for each result where it stands in each named part of the model's vector
(:mod:`trainer.aspects`).  ``musicsim query`` calls :func:`query_file`, which finds or embeds the
file first; the window calls :func:`nearest` on the embeddings it holds.  Both only render the
typed :class:`Answer`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .aspects import AspectRanker
from .errors import MusicSimError, NothingIndexed, ParameterError
from .parts import Aspect, aspects_for
from .safetext import shown

if TYPE_CHECKING:
    from .search import SearchIndex

#: Why a distance gives every song the same distance from a query, where we know.
BINARY_DISTANCES = {
    "hamming": "hamming counts the coordinates that differ, and real-valued embeddings differ in all of them",
    "kulsinski": "kulsinski compares which coordinates are nonzero, and in real-valued embeddings all "
    "of them are",
}


@dataclass(frozen=True)
class Match:
    """One result: its library row, its song, its distance from the query."""

    row: int
    song_id: int
    distance: float
    #: (part, share of the library's other songs less alike the query in it), for models with named parts
    alike: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Answer:
    """The results of one query, nearest first."""

    matches: list[Match]
    #: the named part the songs were ranked by alone, or None for the whole vector
    part: str | None = None
    #: why the distance cannot tell the songs apart (every one at the same distance); "" when it can
    unseparated: str = ""


class LibraryVectors:
    """One model's embeddings of a library, with what queries build from them at first use.

    Parameters
    ----------
    ids : np.ndarray, shape (n,)
        Song ids, one per row.
    matrix : np.ndarray, shape (n, d)
    parts : list of Aspect
        The model's named parts (:func:`trainer.parts.aspects_for`); empty for an opaque code.
    """

    def __init__(self, ids: np.ndarray, matrix: np.ndarray, parts: list[Aspect]) -> None:
        self.ids = np.asarray(ids)
        self.matrix = matrix
        self.parts = parts
        self.row_of = {int(i): r for r, i in enumerate(self.ids.tolist())}
        self._ranker: AspectRanker | None = None

    @classmethod
    def of_model(cls, ids: np.ndarray, matrix: np.ndarray, arch: str) -> LibraryVectors:
        """The vectors of a model of architecture ``arch``, with the parts it declares."""
        width = matrix.shape[1] if matrix.ndim == 2 else 0
        return cls(ids, matrix, aspects_for(arch, width) if width else [])

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def part_labels(self) -> list[str]:
        return [p.label for p in self.parts]

    def ranker(self) -> AspectRanker | None:
        """The parts' ranker over these rows (built at first use); None for an opaque code."""
        if not self.parts:
            return None
        if self._ranker is None:
            self._ranker = AspectRanker(self.matrix, self.parts)
        return self._ranker


def nearest(
    vectors: LibraryVectors,
    query: int | np.ndarray,
    *,
    k: int,
    distance: str = "cosine",
    scaler: str = "Normalizer",
    part: str | None = None,
    index: SearchIndex | None = None,
) -> Answer:
    """The ``k`` songs nearest ``query``: a row of ``vectors`` (left out of the answer) or a vector
    ``(d,)`` of a song from outside the library.

    ``part`` ranks by that named part alone; otherwise the whole vector is ranked on ``index``
    (built here when not given; a window passes the one it caches, HNSW graph included).  Fewer
    than ``k`` matches come back when the library has fewer other songs.  Raises
    :class:`ParameterError` for a part the model does not have.
    """
    from .search import SearchIndex

    inside = isinstance(query, (int, np.integer))
    exclude = [int(query)] if inside else None
    q = vectors.matrix[int(query)] if inside else np.asarray(query)
    k = int(k)
    ranker = vectors.ranker()
    unseparated = ""
    if part is not None:
        if part not in vectors.part_labels:
            raise ParameterError(f"no part '{part}' in this model's vector")
        idx, dist = ranker.nearest(query, vectors.part_labels.index(part), k)  # type: ignore[union-attr]
    else:
        index = index if index is not None else SearchIndex(vectors.matrix, scaler)
        idx, dist = index.query(q, k, distance, exclude_ids=exclude)
        unseparated = _unseparated(index, q, exclude, dist, distance)
    alike: list[tuple[tuple[str, float], ...]] = [()] * len(idx)
    if ranker is not None and len(idx):
        alike = [
            tuple(zip(vectors.part_labels, map(float, p), strict=True))
            for p in ranker.percentiles(query, idx)
        ]
    matches = [
        Match(int(i), int(vectors.ids[int(i)]), float(d), why)
        for i, d, why in zip(idx, dist, alike, strict=True)
    ]
    return Answer(matches, part, unseparated)


def _unseparated(
    index: SearchIndex, q: np.ndarray, exclude: list[int] | None, dist: np.ndarray, metric: str
) -> str:
    """Why every song is at the same distance from the query (hamming and kulsinski on real-valued
    embeddings), so that the "nearest" would be table order; "" when they are not.  Only checked
    when the top k tie, and never over an HNSW graph."""
    if len(dist) < 2 or dist[0] != dist[-1] or index.backend_for(metric) == "ann":
        return ""
    others = index.n - (len(exclude) if exclude else 0)
    if len(dist) < others:
        _, dist = index.query(q, others, metric, exclude_ids=exclude)
    if dist[0] != dist[-1]:
        return ""
    why = BINARY_DISTANCES.get(metric, "")
    return (
        f"{metric} puts every song at the same distance ({dist[0]:.4g}) from this query, so "
        f"it cannot tell them apart" + (f": {why}" if why else "") + ". Pick another distance."
    )


@dataclass(frozen=True)
class FileAnswer:
    """:func:`query_file`'s answer with what the command line prints beside it."""

    answer: Answer
    songs: dict[int, Any]  #: song id -> trainer.library.Song of every match
    model_name: str
    library_songs: int  #: songs indexed with the model
    others: int = 0  #: the songs a result is placed among: the library, less the query if it is one


def query_file(
    home: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    model: str = "default",
    k: int = 10,
    distance: str = "cosine",
    scaler: str = "Normalizer",
    part: str | None = None,
    device: str = "auto",
) -> FileAnswer:
    """``musicsim query``: the library's songs nearest the audio file ``path`` under ``model``.

    A file the index holds is its own row; any other file is decoded and embedded first.
    """
    from .device import resolve_device
    from .library import Library
    from .modelstore import load_model
    from .paths import graphs_dir
    from .search import SearchIndex

    if k < 1:
        raise MusicSimError("--k must be at least 1")
    dev = resolve_device(device)  # a GPU asked for and absent is an error, used or not
    loaded = load_model(model, home)
    name = loaded.info.name
    with Library(home) as lib:
        none = NothingIndexed(name, model)
        ids, matrix = lib.embeddings(loaded.info.key)
        if len(ids) == 0:
            raise none
        if lib.register_model(loaded):  # refuses a model whose representation differs from the index's
            ids, matrix = lib.embeddings(loaded.info.key)  # ... and drops the rows of a damaged record
            if len(ids) == 0:
                raise none
        vectors = LibraryVectors.of_model(ids, matrix, loaded.info.arch)
        song = lib.song_by_path(path)
        query: int | np.ndarray
        if song is not None and song.id in vectors.row_of:
            query = vectors.row_of[song.id]
        else:
            query = embed_outside(loaded, path, matrix.shape[1], device=dev).vector
        if part and part not in vectors.part_labels:
            labels = vectors.part_labels
            parts = f"its parts: {', '.join(labels)}" if labels else "its vector has no named parts"
            raise MusicSimError(f"model '{name}' has no part '{part}'; {parts}")
        index = None if part else SearchIndex(matrix, scaler, graph_dir=graphs_dir(Path(home)))
        answer = nearest(
            vectors, query, k=k, distance=distance, scaler=scaler, part=part or None, index=index
        )
        songs = {s.id: s for s in lib.songs_by_ids([m.song_id for m in answer.matches])}
    others = len(ids) - 1 if isinstance(query, int) else len(ids)
    return FileAnswer(answer, songs, name, len(ids), others)


#: The id of a query song from outside the library: no library row has it (SQLite's start at 1).
OUTSIDE_ID = -1


@dataclass(frozen=True)
class OutsideSong:
    """A song from outside the library, embedded to be a query: a ``Song`` the views can show
    (id :data:`OUTSIDE_ID`, tags cleaned as the index stores them) and its vector."""

    song: Any  # trainer.library.Song
    vector: np.ndarray
    model_key: str


def embed_outside(loaded: Any, path: str | os.PathLike[str], dim: int, *, device: Any = "cpu") -> OutsideSong:
    """The audio file ``path`` and its vector under ``loaded`` (a ``LoadedModel``), for a query from
    outside the library.

    The file is as untrusted as any in a music folder, so it is decoded and checked the way
    indexing does -- in a decoder process of its own (:func:`trainer.decode.decode_isolated`), so
    that a file that crashes its decoder cannot take the window with it, and against the
    library's width ``dim`` (:func:`trainer.bounds.vector_problem`) -- and every failure is a
    :class:`MusicSimError` that says why, never a crash or a vector that would rank nonsense.
    """
    from .bounds import vector_problem
    from .decode import decode_isolated
    from .embed import Embedder
    from .library import Song
    from .safetext import clean_tag

    file = Path(path)
    if not file.is_file():
        raise MusicSimError(f"{shown(file)} is not a file" if file.exists() else f"no file {shown(file)}")
    embedder = Embedder(loaded, device=device)
    decoded = decode_isolated(file, embedder.cfg)
    if decoded.waves is None:
        raise MusicSimError(f"{shown(file.name)} could not be used: {decoded.error or 'no audio'}")
    vector = embedder.embed_songs([decoded.waves])[0]
    problem = vector_problem(vector, dim)
    if problem:
        raise MusicSimError(
            f"model '{shown(loaded.info.name)}' gave an unusable embedding for {shown(file.name)} ({problem})"
        )
    tags = decoded.tags
    facts = file.stat()
    song = Song(
        OUTSIDE_ID,
        file,
        file.parent,
        facts.st_size,
        facts.st_mtime,
        decoded.info.duration_s if decoded.info else None,
        *(clean_tag(getattr(tags, field, None)) for field in ("title", "artist", "album", "genre")),
        None,
    )
    return OutsideSong(song, vector, loaded.info.key)
