"""Where training examples come from.

Every source draws random crops from an in-memory cache of log-mel segments (each song is decoded
once, ``segments_per_song`` segments of ``segment_seconds`` spread over it), so an epoch costs
only model time.  The four sources:

* ``folders`` -- the parent folder of a file is its album, the grandparent its artist; batches hold
  P albums x K songs and triplets are mined online (semi-hard) from them.
* ``both`` -- folder labels *and* song identity: batches hold P albums x K songs, two crops per
  song; the loss is applied once with song labels and once with album labels, so a model learns
  what an album shares without forgetting what tells its songs apart (which album labels alone
  do on a few albums, overfitting them).
* ``self`` -- no labels: two crops of the same song are positives, every other song a negative.
  With *neighbour positives* (:class:`NeighbourSource`) the second crop is sometimes taken from
  the song's nearest neighbour in the library instead, which adapts a model to a library.
* ``csv`` -- the thesis's quartets (song1, song2, song3, odd): the two non-odd songs are anchor
  and positive, the odd one the negative.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .audio import AUDIO_EXTENSIONS
from .config import FeatureConfig
from .decode import decode_many
from .errors import ParameterError
from .features import LogMel
from .jobs import ProgressFn, StopFn, check_stop, report
from .labels import folder_album, folder_artist
from .library import walk_audio
from .triplets import read_triplets_csv


@dataclass(frozen=True)
class SongItem:
    path: Path
    rel: str
    album: str  # "artist/album" so equal album names of two artists stay apart
    artist: str


def library_songs(root: Path, skipped: list[tuple[Path, str]] | None = None) -> list[SongItem]:
    """Every audio file under ``root`` with its folder labels, in a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"library folder '{root}' does not exist or is not a folder")
    skipped = skipped if skipped is not None else []
    items = []
    for path, _ in walk_audio(root.resolve(), skipped):
        rel = path.relative_to(root.resolve()).as_posix()
        items.append(SongItem(path, rel, folder_album(rel), folder_artist(rel)))
    items.sort(key=lambda s: s.rel)
    if not items:
        raise ParameterError(
            f"no audio files (extensions {', '.join(sorted(AUDIO_EXTENSIONS))}) under '{root}'"
        )
    return items


class SegmentCache:
    """``mels[i]`` is ``(segments, n_mels, seg_frames)`` float16 for song ``songs[i]``."""

    def __init__(self, songs: list[SongItem], mels: list[np.ndarray], cfg: FeatureConfig) -> None:
        self.songs = songs
        self.mels = mels
        self.cfg = cfg

    @classmethod
    def build(
        cls,
        songs: list[SongItem],
        cfg: FeatureConfig,
        *,
        segments_per_song: int = 8,
        segment_seconds: float = 6.0,
        workers: int | None = None,
        cache_dir: Path | None = None,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        skipped: list[tuple[Path, str]] | None = None,
    ) -> SegmentCache:
        seg_cfg = replace(
            cfg, n_excerpts=segments_per_song, excerpt_seconds=max(segment_seconds, cfg.excerpt_seconds)
        )
        key = cls._key(songs, seg_cfg)
        cached = cls._load(cache_dir, key, songs, cfg) if cache_dir else None
        if cached is not None:
            return cached
        logmel = LogMel(seg_cfg)
        by_path: dict[Path, np.ndarray] = {}
        done = 0
        for dec in decode_many([s.path for s in songs], seg_cfg, workers=workers, want_tags=False):
            check_stop(should_stop)
            done += 1
            report(progress, done, len(songs), f"decoding training audio {done}/{len(songs)}")
            if dec.waves is None:
                if skipped is not None:
                    skipped.append((dec.path, dec.error or "unreadable"))
                continue
            with torch.no_grad():
                m = logmel(torch.from_numpy(dec.waves))[:, 0]
            by_path[dec.path] = m.numpy().astype(np.float16)
        kept = [s for s in songs if s.path in by_path]
        if len(kept) < 2:
            why = ""
            if skipped:
                path, reason = skipped[-1]
                why = f" ({len(skipped)} file(s) skipped, e.g. '{path.name}': {reason})"
            raise ParameterError(f"fewer than two readable songs to train on{why}")
        cache = cls(kept, [by_path[s.path] for s in kept], cfg)
        if cache_dir:
            cache._save(cache_dir, key)
        return cache

    @staticmethod
    def _key(songs: list[SongItem], cfg: FeatureConfig) -> str:
        h = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode())
        for s in songs:
            try:
                st = os.stat(s.path)
                h.update(f"{s.rel}|{st.st_size}|{st.st_mtime}".encode("utf-8", "surrogateescape"))
            except OSError:
                h.update(s.rel.encode("utf-8", "surrogateescape"))
        return h.hexdigest()[:16]

    def _save(self, cache_dir: Path, key: str) -> None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache_dir / f"segments-{key}.npz", suffix=".npz") as tmp:
                np.savez(tmp, rels=np.array([s.rel for s in self.songs]), mels=np.stack(self.mels))
        except (OSError, ValueError):
            pass  # the cache only saves time

    @classmethod
    def _load(
        cls, cache_dir: Path, key: str, songs: list[SongItem], cfg: FeatureConfig
    ) -> SegmentCache | None:
        path = cache_dir / f"segments-{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                rels = [str(r) for r in data["rels"]]
                mels = data["mels"]
        except (OSError, ValueError, KeyError):
            return None
        by_rel = {s.rel: s for s in songs}
        if any(r not in by_rel for r in rels):
            return None
        return cls([by_rel[r] for r in rels], list(mels), cfg)

    def crop(self, song: int, generator: torch.Generator, segment: int | None = None) -> np.ndarray:
        """A random ``(n_mels, n_frames)`` crop of one of the song's segments."""
        segs = self.mels[song]
        seg = int(torch.randint(len(segs), (1,), generator=generator)) if segment is None else segment
        frames = segs.shape[-1]
        want = self.cfg.n_frames
        start = int(torch.randint(max(1, frames - want + 1), (1,), generator=generator))
        return segs[seg, :, start : start + want]

    def centre_crops(self, song: int) -> np.ndarray:
        """Deterministic ``(segments, n_mels, n_frames)`` crops, for validation embeddings."""
        segs = self.mels[song]
        start = max(0, (segs.shape[-1] - self.cfg.n_frames) // 2)
        return segs[:, :, start : start + self.cfg.n_frames]


@dataclass
class Batch:
    x: torch.Tensor  # (N, 1, n_mels, n_frames)
    labels: torch.Tensor  # (N,)
    triplets: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    groups: torch.Tensor | None = None  # (N,) album of each item, for a second loss term (``both``)


class LabelledSource:
    """P classes x K items per batch; classes are albums (``folders``) or songs (``self``)."""

    def __init__(
        self, cache: SegmentCache, song_ids: list[int], labels: list[int], *, per_class: int = 2
    ) -> None:
        self.cache = cache
        self.song_ids = np.asarray(song_ids)
        self.labels = np.asarray(labels)
        self.per_class = per_class
        self.classes = np.unique(self.labels)
        self.members = {c: self.song_ids[self.labels == c] for c in self.classes}
        if len(self.classes) < 2:
            raise ParameterError("training needs at least two different labels (albums or songs)")

    def n_items(self) -> int:
        return len(self.song_ids) * len(self.cache.mels[0])

    def batch(self, batch_size: int, gen: torch.Generator) -> Batch:
        n_classes = max(2, min(len(self.classes), batch_size // self.per_class))
        order = torch.randperm(len(self.classes), generator=gen)[:n_classes].numpy()
        crops, labels = [], []
        for ci in order:
            c = self.classes[ci]
            members = self.members[c]
            picks = torch.randint(len(members), (self.per_class,), generator=gen).numpy()
            for p in picks:
                crops.append(self.cache.crop(int(members[p]), gen))
                labels.append(int(c))
        x = torch.from_numpy(np.stack(crops).astype(np.float32))[:, None]
        return Batch(x, torch.tensor(labels))


class AlbumSongSource(LabelledSource):
    """Source ``both``: P albums x K songs per batch, two crops of each song; ``labels`` are the
    songs and ``groups`` their albums."""

    def __init__(
        self, cache: SegmentCache, song_ids: list[int], albums: list[int], *, songs_per_album: int = 2
    ) -> None:
        super().__init__(cache, song_ids, albums, per_class=songs_per_album)

    def batch(self, batch_size: int, gen: torch.Generator) -> Batch:
        per_album = 2 * self.per_class  # crops per album: two of each song
        n_albums = max(2, min(len(self.classes), batch_size // per_album))
        order = torch.randperm(len(self.classes), generator=gen)[:n_albums].numpy()
        crops, songs, groups = [], [], []
        for ci in order:
            members = self.members[self.classes[ci]]
            k = min(self.per_class, len(members))
            for p in torch.randperm(len(members), generator=gen)[:k].numpy():
                song = int(members[p])
                crops += [self.cache.crop(song, gen), self.cache.crop(song, gen)]
                songs += [song, song]
                groups += [int(self.classes[ci])] * 2
        x = torch.from_numpy(np.stack(crops).astype(np.float32))[:, None]
        return Batch(x, torch.tensor(songs), groups=torch.tensor(groups))


def nearest_others(embeddings: np.ndarray) -> np.ndarray:
    """Row index of each row's most cosine-similar *other* row, a few MB of similarities at a time
    whatever the number of rows."""
    e = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    nearest = np.empty(len(e), dtype=np.int64)
    step = max(1, 4_000_000 // max(len(e), 1))
    for start in range(0, len(e), step):
        sim = e[start : start + step] @ e.T
        rows = np.arange(sim.shape[0])
        sim[rows, start + rows] = -np.inf
        nearest[start : start + step] = sim.argmax(axis=1)
    return nearest


class NeighbourSource(LabelledSource):
    """Self-supervised pairs where, with probability ``probability``, a song's positive is a crop of
    its nearest neighbour (by the current model) rather than of itself.

    Why: song-level contrast alone treats every other song as a negative, so fine-tuning it on a
    library pushes the songs of one album apart and does not raise album scores.  Pulling each
    song towards its current nearest neighbour (NNCLR, Dwibedi et al. 2021) strengthens the
    library's own neighbourhoods instead -- mostly same-album or same-style songs -- while the
    pairs that stay song-level keep the embedding from collapsing.  Measured in docs/QUALITY.md.
    """

    def __init__(self, cache: SegmentCache, song_ids: list[int], probability: float) -> None:
        super().__init__(cache, song_ids, list(song_ids), per_class=2)
        if not 0.0 <= probability <= 1.0:
            raise ParameterError(f"the neighbour probability must be in [0, 1], got {probability}")
        self.probability = probability
        self.partner = {int(s): int(s) for s in song_ids}

    def set_neighbours(self, song_embeddings: np.ndarray) -> None:
        """``song_embeddings[k]`` belongs to ``song_ids[k]``; each song's partner becomes the other
        song with the highest cosine similarity."""
        nearest = nearest_others(song_embeddings)
        self.partner = {int(s): int(self.song_ids[n]) for s, n in zip(self.song_ids, nearest, strict=True)}

    def batch(self, batch_size: int, gen: torch.Generator) -> Batch:
        n_songs = max(2, min(len(self.classes), batch_size // 2))
        order = torch.randperm(len(self.classes), generator=gen)[:n_songs].numpy()
        swap = (torch.rand(n_songs, generator=gen) < self.probability).numpy()
        crops, labels = [], []
        for song, use_partner in zip(self.classes[order], swap, strict=True):
            second = self.partner[int(song)] if use_partner else int(song)
            crops += [self.cache.crop(int(song), gen), self.cache.crop(second, gen)]
            labels += [int(song), int(song)]
        x = torch.from_numpy(np.stack(crops).astype(np.float32))[:, None]
        return Batch(x, torch.tensor(labels))


class TripletCsvSource:
    """Explicit (anchor, positive, negative) song triplets from a quartet CSV."""

    def __init__(self, cache: SegmentCache, triplets: list[tuple[int, int, int]]) -> None:
        if not triplets:
            raise ParameterError("the triplets CSV has no usable rows for this library")
        self.cache = cache
        self.triplets = triplets

    def n_items(self) -> int:
        return len(self.triplets)

    def batch(self, batch_size: int, gen: torch.Generator) -> Batch:
        rows = torch.randint(len(self.triplets), (max(1, batch_size // 3),), generator=gen).numpy()
        crops, labels = [], []
        a, p, n = [], [], []
        for r in rows:
            anchor, pos, neg = self.triplets[int(r)]
            base = len(crops)
            for song in (anchor, pos, neg):
                crops.append(self.cache.crop(song, gen))
            labels += [anchor, anchor, neg]  # the pair shares a label (used by contrastive loss)
            a.append(base)
            p.append(base + 1)
            n.append(base + 2)
        x = torch.from_numpy(np.stack(crops).astype(np.float32))[:, None]
        return Batch(x, torch.tensor(labels), (torch.tensor(a), torch.tensor(p), torch.tensor(n)))


def csv_triplets(csv_path: Path, cache: SegmentCache) -> list[tuple[int, int, int]]:
    """Turn quartet rows into (anchor, positive, negative) indices into ``cache.songs``."""
    index = {s.rel: i for i, s in enumerate(cache.songs)}
    out = []
    for t in read_triplets_csv(csv_path, known_paths=set(index)):
        songs = [t.song1, t.song2, t.song3]
        odd = songs.pop(t.odd - 1)
        if all(s in index for s in (*songs, odd)):
            out.append((index[songs[0]], index[songs[1]], index[odd]))
    return out


def split_validation(cache: SegmentCache, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out ``fraction`` of each album's songs (albums with >= 3 songs) for the per-epoch score."""
    rng = np.random.default_rng(seed)
    by_album: dict[str, list[int]] = {}
    for i, s in enumerate(cache.songs):
        by_album.setdefault(s.album, []).append(i)
    train, val = [], []
    for members in by_album.values():
        members = list(members)
        rng.shuffle(members)
        n_val = int(round(len(members) * fraction)) if len(members) >= 3 else 0
        if fraction > 0 and len(members) >= 3:
            n_val = max(1, n_val)
        val += members[:n_val]
        train += members[n_val:]
    return sorted(train), sorted(val)
