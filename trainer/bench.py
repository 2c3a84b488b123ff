"""Benchmark models on a library: index it with each model, then score every model on the *same*
odd-one-out triplets (27 distance x scaler combinations), plus P@1 and MAP@R with album labels."""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bootstrap import BOOTSTRAP_DRAWS, MIN_ALBUMS_TO_RESAMPLE, bootstrap_replicates, interval95
from .errors import ParameterError
from .evaluate import MAX_TRIPLETS, album_triplets, retrieval_report, triplet_correct, triplet_scores
from .jobs import ProgressFn, StopFn, check_stop, report
from .labels import folder_album
from .library import Library
from .modelstore import load_model
from .paths import benchmarks_dir, home_dir
from .results import BenchResult, Difference, Interval, Resampled, Uncertainty
from .triplets import read_triplets_csv


def _triplets_for(
    rels: list[str], labels: np.ndarray, triplets: str | os.PathLike[str], n_triplets: int, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    if os.fspath(triplets) == "folders":
        idx, odd = album_triplets(labels, n_triplets, seed=seed)
        return idx, odd, "folders"
    pos = {r: i for i, r in enumerate(rels)}
    rows = read_triplets_csv(Path(triplets), known_paths=set(pos))
    idx = np.array([[pos[t.song1], pos[t.song2], pos[t.song3]] for t in rows], dtype=np.int64).reshape(-1, 3)
    odd = np.array([t.odd - 1 for t in rows], dtype=np.int64)
    return idx, odd, f"csv:{Path(triplets).name}"


def run_benchmark(
    library_root: str | os.PathLike[str],
    model_names: list[str],
    triplets: str | os.PathLike[str] = "folders",
    *,
    home: str | os.PathLike[str] | None = None,
    n_triplets: int = 5000,
    seed: int = 0,
    device: str = "auto",
    workers: int | None = None,
    out_dir: Path | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> tuple[list[BenchResult], Path]:
    """Returns the results (one per model, same triplets for all) and the folder they were saved in."""
    from .device import resolve_device  # torch; list_runs (the app's Benchmarks page) needs none

    if not model_names:
        raise ParameterError("name at least one model to benchmark")
    if not 1 <= n_triplets <= MAX_TRIPLETS:  # before any indexing: the bound, not hours of work first
        raise ParameterError(f"n_triplets must be between 1 and {MAX_TRIPLETS:,}, got {n_triplets}")
    home_path = home_dir(home)
    dev = str(resolve_device(device))
    loaded = [load_model(m, home_path) for m in model_names]
    if os.fspath(triplets) != "folders":
        read_triplets_csv(Path(triplets))  # a malformed CSV fails now, not after indexing
    per_model: list[tuple[np.ndarray, np.ndarray]] = []
    with Library(home_path) as lib:
        for k, lm in enumerate(loaded):
            check_stop(should_stop)

            def sub(done: int, total: int, msg: str, k: int = k) -> None:
                report(
                    progress,
                    k * 1000 + (done * 1000 // max(total, 1)),
                    len(loaded) * 1000,
                    f"{loaded[k].info.name}: {msg}",
                )

            lib.index(library_root, lm, device=dev, workers=workers, progress=sub, should_stop=should_stop)
            per_model.append(lib.embeddings(lm.info.key, root=library_root))
        songs = {s.id: s for s in lib.songs(library_root)}
    common = set(per_model[0][0].tolist())
    for ids, _ in per_model[1:]:
        common &= set(ids.tolist())
    if len(common) < 3:
        raise ParameterError("fewer than three songs could be embedded by every model; nothing to compare")
    order = sorted(common, key=lambda i: songs[i].rel)
    rels = [songs[i].rel for i in order]
    labels = np.array([folder_album(r) for r in rels])
    idx, odd, source = _triplets_for(rels, labels, triplets, n_triplets, seed)
    if len(idx) == 0:
        raise ParameterError("no triplets to score")
    results = []
    first: _Replicates | None = None
    for lm, (ids, matrix) in zip(loaded, per_model, strict=True):
        check_stop(should_stop)
        pos = {sid: r for r, sid in enumerate(ids.tolist())}
        X = matrix[[pos[i] for i in order]]
        try:
            retrieval = retrieval_report(X, labels)
            p_at_1, mapr, by_album = retrieval.p_at_1, retrieval.map_at_r, retrieval.by_label
        except ParameterError:  # no album with two songs (e.g. a CSV benchmark of a flat folder)
            retrieval, p_at_1, mapr, by_album = None, float("nan"), float("nan"), {}
        correct = triplet_correct(X, idx, odd, "cosine", "Normalizer")
        queries, hits = (
            (retrieval.queries, retrieval.hits)
            if retrieval
            else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
        )
        # The same seed gives every model the same resamplings: their differences are paired.
        draws = {"songs": bootstrap_replicates(len(order), idx, correct, queries, hits, seed=seed)}
        if len(set(labels.tolist())) >= MIN_ALBUMS_TO_RESAMPLE:
            draws["albums"] = bootstrap_replicates(
                len(order), idx, correct, queries, hits, seed=seed, albums=labels
            )
        mine = _Replicates(
            100.0 * float(correct.mean()),
            100.0 * p_at_1 if retrieval else None,
            {level: (acc, p1 if retrieval else None) for level, (acc, p1) in draws.items()},
        )
        results.append(
            BenchResult(
                model=lm.info.name,
                rows=triplet_scores(X, idx, odd),
                p_at_1=p_at_1,
                map_at_r=mapr,
                n_songs=len(order),
                n_triplets=len(idx),
                triplet_source=source,
                created=_dt.datetime.now().replace(microsecond=0).isoformat(),
                extra={
                    "library": os.fspath(library_root),
                    "model_key": lm.info.key,
                    "arch": lm.info.arch,
                    "n_albums": int(len(set(labels.tolist()))),
                    "seed": seed,
                },
                by_album=dict(by_album),
                uncertainty=_uncertainty(mine, first, loaded[0].info.name),
            )
        )
        first = first or mine
    out = out_dir or benchmarks_dir(home_path) / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    save_results(results, out)
    return results, out


@dataclass
class _Replicates:
    """One model's point figures (percent) and their bootstrap replicates per resampling level:
    ``"songs"``, and ``"albums"`` where a library has enough of them."""

    cos_n: float
    p_at_1: float | None
    draws: dict[str, tuple[np.ndarray, np.ndarray | None]]  # level -> (cosine-Normalizer, P@1)


def _uncertainty(mine: _Replicates, first: _Replicates | None, first_name: str) -> Uncertainty:
    """95 % intervals (percent) of cosine-Normalizer odd-one-out and P@1, and for a model after
    the first the paired difference to the first (usually the model being judged, e.g.
    ``default`` against ``classic``): songs resampled, and whole albums where there are enough."""
    albums = _resampled(mine, first, first_name, "albums") if "albums" in mine.draws else None
    return Uncertainty(BOOTSTRAP_DRAWS, _resampled(mine, first, first_name, "songs"), albums)


def _resampled(mine: _Replicates, first: _Replicates | None, first_name: str, level: str) -> Resampled:
    cos_draws, p1_draws = mine.draws[level]
    intervals = {"cosine_normalizer": Interval(*interval95(cos_draws))}
    if p1_draws is not None:
        intervals["p_at_1"] = Interval(*interval95(p1_draws))
    if first is None:
        return Resampled(intervals)
    first_cos, first_p1 = first.draws[level]
    diffs = {"cosine_normalizer": Difference(first.cos_n - mine.cos_n, *interval95(first_cos - cos_draws))}
    if p1_draws is not None and first_p1 is not None:  # both have P@1 (not a flat CSV run)
        diffs["p_at_1"] = Difference(first.p_at_1 - mine.p_at_1, *interval95(first_p1 - p1_draws))  # type: ignore[operator]
    return Resampled(intervals, diffs, first_name)


def save_results(results: list[BenchResult], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for res in results:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in res.model)
        res.to_json(out / f"{safe}.json")
        res.to_csv(out / f"{safe}.csv")
    (out / "run.json").write_text(json.dumps({"models": [r.model for r in results]}), encoding="utf-8")


def list_runs(home: str | os.PathLike[str] | None = None) -> list[tuple[Path, list[BenchResult]]]:
    """Past benchmark runs, newest first: (folder, results)."""
    root = benchmarks_dir(home_dir(home))
    runs = []
    if root.is_dir():
        for folder in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
            results = []
            for f in sorted(folder.glob("*.json")):
                if f.name == "run.json":
                    continue
                try:
                    results.append(BenchResult.from_json(f))
                except (OSError, ValueError, KeyError, TypeError):
                    continue
            if results:
                runs.append((folder, results))
    return runs
