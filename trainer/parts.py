"""The named parts of a model's vector: which columns mean what to a listener.  Torch- and Qt-free,
so the window explains a result without importing torch.

The statistics models (``trainer.models.stats``) end their vector with fixed blocks after a learnt
part, and the classic baseline's columns are named statistics (``trainer.classic_names``).  Their
layouts are written here once: the models build their blocks from :data:`STATISTICS_BLOCKS` and
:data:`COMPONENTS_PER_BLOCK`, and each architecture with parts declares them in
:data:`PARTS_BY_ARCH`.  Every other architecture's vector is one learnt code, with no parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .classic_names import feature_names


@dataclass(frozen=True)
class Aspect:
    label: str  #: what a listener reads
    columns: tuple[int, ...]  #: the embedding columns it covers


#: The statistics blocks, in the order they follow the learnt part: (block name, what a listener reads).
STATISTICS_BLOCKS: tuple[tuple[str, str], ...] = (
    ("timbre", "timbre"),
    ("timbre_motion", "timbre changes"),
    ("envelope", "spectral balance"),
    ("modulation", "rhythm"),
)
#: Each statistics block is reduced to this many directions.
COMPONENTS_PER_BLOCK = 16

#: Classic feature columns by name prefix; every column belongs to one part.
CLASSIC_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("timbre", ("mfcc_mean", "mfcc_std")),
    ("timbre changes", ("dmfcc",)),
    ("spectral balance", ("band_", "centroid", "bandwidth", "flatness")),
    ("loudness", ("loudness", "flux")),
    ("rhythm", ("onset_rate", "pulse_")),
)


def statistics_parts(embedding_dim: int) -> list[Aspect]:
    """A learnt part, then the statistics blocks of :data:`COMPONENTS_PER_BLOCK` columns each."""
    learnt = embedding_dim - COMPONENTS_PER_BLOCK * len(STATISTICS_BLOCKS)
    parts = [Aspect("learnt", tuple(range(learnt)))]
    for i, (_, label) in enumerate(STATISTICS_BLOCKS):
        start = learnt + i * COMPONENTS_PER_BLOCK
        parts.append(Aspect(label, tuple(range(start, start + COMPONENTS_PER_BLOCK))))
    return parts


def classic_parts(embedding_dim: int) -> list[Aspect]:
    """The classic statistics grouped by :data:`CLASSIC_PARTS`; none for another width."""
    names = feature_names()
    if len(names) != embedding_dim:
        return []
    return [
        Aspect(label, tuple(i for i, n in enumerate(names) if n.startswith(prefixes)))
        for label, prefixes in CLASSIC_PARTS
    ]


#: musicnn's pooled channels (of 753, in its max- and its mean-pooled layer alike) by what their
#: filters listen to: the timbral front-end filters (7 frames × 38 or 67 bands), the temporal ones
#: (128, 64, 32 frames × 1 band) and the mid end that combines them.
MUSICNN_POOLED_CHANNELS = 753
MUSICNN_PARTS: tuple[tuple[str, int, int], ...] = (
    ("timbre", 0, 408),
    ("rhythm", 408, 561),
    ("texture", 561, 753),
)


def musicnn_head_sizes(embedding_dim: int) -> tuple[int, int, int]:
    """How a musicnn head's output is shared by timbre, rhythm and texture: ½, ¼, the rest."""
    timbre, rhythm = embedding_dim // 2, embedding_dim // 4
    return timbre, rhythm, embedding_dim - timbre - rhythm


def musicnn_head_parts(embedding_dim: int) -> list[Aspect]:
    parts, start = [], 0
    for (label, _, _), size in zip(MUSICNN_PARTS, musicnn_head_sizes(embedding_dim), strict=True):
        parts.append(Aspect(label, tuple(range(start, start + size))))
        start += size
    return parts


def musicnn_pooled_parts(embedding_dim: int) -> list[Aspect]:
    """The raw ``[max_pool, mean_pool]`` features: each part's channels in both layers."""
    n = MUSICNN_POOLED_CHANNELS
    if embedding_dim != 2 * n:
        return []
    return [Aspect(label, (*range(a, b), *range(n + a, n + b))) for label, a, b in MUSICNN_PARTS]


#: Every architecture whose vector has named parts (a registered model name -> its layout).
PARTS_BY_ARCH: dict[str, Callable[[int], list[Aspect]]] = {
    "musicnet-stats-small": statistics_parts,
    "classic": classic_parts,
    "musicnn-msd-head": musicnn_head_parts,
    "musicnn-msd": musicnn_pooled_parts,
}


def aspects_for(arch: str, embedding_dim: int) -> list[Aspect]:
    """The named parts of an architecture's embedding; empty where the parts have no meaning
    of their own (the thesis nets and the plain CNNs are one learnt code)."""
    layout = PARTS_BY_ARCH.get(arch)
    return layout(embedding_dim) if layout is not None else []
