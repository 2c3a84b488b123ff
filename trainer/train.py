"""Train an embedder with triplet or contrastive loss; checkpoint every epoch; resume after a kill.

Longer than most modules because it is one run read top to bottom: ``_train`` is the run's steps
-- build the model, decode the library, choose the batches' source, fit, export -- one helper
each; the settings are ``trainer.train_config``, the checkpoint file ``trainer.checkpoint`` and
the per-epoch score ``trainer.validation``.

The run's state (weights, Adam moments, epoch, history) is one safetensors file written
atomically at the end of every epoch, so a killed or cancelled run resumes from its last good
epoch.  Each epoch reseeds the sampler and torch's RNG from ``(seed, epoch)``; that is what makes a
resumed run on the CPU end with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .augment import LIGHT, THESIS_CONTRASTIVE, AugmentConfig, Augmenter
from .checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from .data import (
    AlbumSongSource,
    LabelledSource,
    NeighbourSource,
    SegmentCache,
    TripletCsvSource,
    csv_triplets,
    library_songs,
    split_validation,
)
from .device import resolve_device
from .errors import Cancelled, ModelError, ParameterError
from .feature_cache import FeatureCache, HeadOnly, uses_cached_frontend
from .jobs import ProgressFn, StopFn, check_stop, report
from .losses import make_loss
from .models import build_model, get_spec
from .modelstore import ModelInfo, load_model, save_model, validate_name
from .paths import home_dir, models_dir, runs_dir
from .train_config import EpochStats, TrainConfig
from .triplets import read_triplets_csv
from .validation import cached_song_embeddings, validation_score


def _check_finite(loss: float, model: torch.nn.Module | None, epoch: int, step: int) -> None:
    """Stop a run whose loss (every step) or weights (``model``: before a checkpoint is written)
    are no longer numbers; nothing of the diverged epoch is saved."""
    bad = f"the loss is {loss}" if not math.isfinite(loss) else None
    if bad is None and model is not None:
        name = next(
            (
                n
                for n, p in model.state_dict().items()
                if p.is_floating_point() and not bool(torch.isfinite(p).all())
            ),
            None,
        )
        bad = f"weight '{name}' is not finite" if name else None
    if bad:
        raise ModelError(
            f"training diverged at epoch {epoch}, step {step}: {bad}; nothing of it was saved "
            "(try a lower --lr or a higher --temperature, and --restart)"
        )


def _augmenter(cfg: TrainConfig) -> Augmenter | None:
    choice = cfg.augment
    if choice == "auto":
        choice = "thesis" if cfg.loss == "contrastive" else "light"
    table: dict[str, AugmentConfig | None] = {"none": None, "light": LIGHT, "thesis": THESIS_CONTRASTIVE}
    aug = table[choice]  # (TrainConfig checked the name)
    if cfg.pitch_shift_bins or cfg.time_stretch:
        aug = replace(
            aug
            or AugmentConfig(
                noise_strength=0.0, mask_probability=0.0, time_masks=0, freq_masks=0, gain_db=0.0
            ),
            pitch_shift_bins=cfg.pitch_shift_bins,
            time_stretch=cfg.time_stretch,
        )
    return Augmenter(aug, cfg.features.norm_scale_db) if aug is not None else None


# -- the loop -----------------------------------------------------------------------------------
def _build(cfg: TrainConfig, home: Path) -> tuple[torch.nn.Module, TrainConfig, dict[str, Any]]:
    base: dict[str, Any] = {}
    if cfg.init_from:
        loaded = load_model(cfg.init_from, home)
        if loaded.info.arch == "classic":
            raise ParameterError("the classic baseline has nothing to fine-tune")
        # Train on crops as long as the ones the start model was trained on (its config records
        # them; the default indexes 6-s excerpts but learnt from 3-s crops, and fine-tuning on 6-s
        # crops scored worse on the held-out games: docs/QUALITY.md), and save the tuned model with
        # the start model's indexing features.
        crop_s = float(loaded.info.training.get("crop_seconds", loaded.info.features.excerpt_seconds))
        cfg = replace(
            cfg,
            arch=loaded.info.arch,
            embedding_dim=loaded.info.embedding_dim,
            features=replace(loaded.info.features, excerpt_seconds=crop_s),
        )
        base = {
            "init_from": loaded.info.name,
            "init_key": loaded.info.key,
            "index_features": loaded.info.features,
        }
        # Statistics fitted on the start model's training music are refitted on this library (a
        # resumed run then restores its own from the checkpoint).
        restart_statistics = getattr(loaded.model, "restart_statistics", None)
        if callable(restart_statistics):
            restart_statistics()
        return loaded.model, cfg, base
    spec = get_spec(cfg.arch)
    if spec.features is not None:  # a pretrained network takes the input it was trained on
        cfg = replace(cfg, features=spec.features)
    torch.manual_seed(cfg.seed)  # the initial weights are part of a seeded run
    return build_model(cfg.arch, cfg.features, embedding_dim=cfg.embedding_dim), cfg, base


def train(
    cfg: TrainConfig,
    *,
    home: str | os.PathLike[str] | None = None,
    restart: bool = False,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    on_step: Callable[[int, float], None] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    skipped: list[tuple[Path, str]] | None = None,
) -> Path:
    """Train (or resume) the run ``cfg.name``; return the saved model folder.

    ``skipped``, when given, receives ``(path, reason)`` for every file left out of training.
    ``cfg.threads`` caps torch's CPU threads for this run only (they are process-wide in torch).
    """
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        with _run_lock(cfg.name, home):
            return _train(
                cfg,
                home=home,
                restart=restart,
                progress=progress,
                should_stop=should_stop,
                on_step=on_step,
                on_epoch=on_epoch,
                skipped=skipped,
            )
    finally:
        torch.set_num_threads(threads_before)


@contextmanager
def _run_lock(name: str, home: str | os.PathLike[str] | None) -> Iterator[None]:
    """One process at a time trains a given name in a home (a second one is told, not queued)."""
    import filelock

    validate_name(name)
    runs = runs_dir(home_dir(home))
    try:
        runs.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(runs / f"{name}.lock"))
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise ParameterError(
            f"another MusicSim process is training '{name}' in '{runs.parent}'; wait for it "
            "to finish or pick another name"
        ) from None
    except OSError as exc:
        raise ParameterError(f"cannot write to '{runs / name}': {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()


def _train(
    cfg: TrainConfig,
    *,
    home: str | os.PathLike[str] | None,
    restart: bool,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    on_step: Callable[[int, float], None] | None,
    on_epoch: Callable[[EpochStats], None] | None,
    skipped: list[tuple[Path, str]] | None,
) -> Path:
    """Build the model, read the library, fit, save: each step one helper below."""
    if cfg.source == "csv":
        read_triplets_csv(Path(cfg.triplets_csv))  # type: ignore[arg-type]  # malformed: fail before decoding
    home_path = home_dir(home)
    device = resolve_device(cfg.device)
    model, cfg, base = _build(cfg, home_path)
    run_dir = _run_folder(cfg, home_path, restart)
    skipped = skipped if skipped is not None else []
    cache, net = _training_data(cfg, model, home_path, device, progress, should_stop, skipped)
    if cfg.epochs == 0 and net is model:
        raise ParameterError(
            "epochs must be >= 1 (0 only fits the statistics of a model on a pretrained front end)"
        )
    if cfg.epochs == 0 or not any(p.requires_grad for p in model.parameters()):  # statistics only
        state: dict[str, Any] = {"epoch": 0, "history": []}
    else:
        source, val, val_triplets = _examples(cfg, cache)
        fit = _Fit(cfg, model.to(device), net, cache, device, progress, should_stop, on_step)
        state = fit.run(source, val, val_triplets, run_dir / CHECKPOINT, on_epoch)
        model = fit.model
    return _export(cfg, model, state, home_path, base, len(cache.songs), skipped, run_dir)


def _run_folder(cfg: TrainConfig, home: Path, restart: bool) -> Path:
    """The run's folder (its checkpoint): emptied by ``restart``; a finished model of the same
    name is not trained again silently."""
    run_dir = runs_dir(home) / cfg.name
    if restart:
        shutil.rmtree(run_dir, ignore_errors=True)
    elif not (run_dir / CHECKPOINT).is_file() and (models_dir(home) / cfg.name).is_dir():
        raise ParameterError(
            f"a model named '{cfg.name}' is trained already ({models_dir(home) / cfg.name}); "
            "train it again with --restart (it is replaced when the run ends) or pick another name"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"cannot write to '{run_dir}': {exc.strerror or exc}") from exc
    return run_dir


def _training_data(
    cfg: TrainConfig,
    model: torch.nn.Module,
    home: Path,
    device: torch.device,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    skipped: list[tuple[Path, str]],
) -> tuple[SegmentCache, torch.nn.Module]:
    """The library's songs decoded into the segment cache, and what the loop runs: the model, or
    for a frozen pretrained front end its head on the front end's cached outputs (whose
    statistics are fitted here)."""
    songs = library_songs(Path(cfg.library).expanduser(), skipped)
    cache = SegmentCache.build(
        songs,
        cfg.features,
        segments_per_song=cfg.segments_per_song,
        segment_seconds=cfg.segment_seconds,
        workers=cfg.workers,
        cache_dir=home / "cache",
        progress=progress,
        should_stop=should_stop,
        skipped=skipped,
    )
    if not uses_cached_frontend(model):
        return cache, model
    cache = FeatureCache.from_segments(
        cache, model, device, cache_dir=home / "cache", progress=progress, should_stop=should_stop
    )
    if not cfg.init_from and callable(getattr(model, "fit_statistics", None)):
        model.fit_statistics(torch.from_numpy(cache.flat()))
    return cache, HeadOnly(model)


Source = LabelledSource | TripletCsvSource


def _examples(
    cfg: TrainConfig, cache: SegmentCache
) -> tuple[Source, list[int], list[tuple[int, int, int]] | None]:
    """Where the batches come from, and what is held out for the per-epoch validation score:
    ``(source, held-out songs, held-out CSV triplets)``."""
    if cfg.source == "csv":
        triplets = csv_triplets(Path(cfg.triplets_csv), cache)  # type: ignore[arg-type]
        n_val = int(len(triplets) * cfg.val_fraction) if len(triplets) >= 10 else 0
        perm = np.random.default_rng(cfg.seed).permutation(len(triplets))
        val_triplets = [triplets[i] for i in perm[:n_val]]
        return TripletCsvSource(cache, [triplets[i] for i in perm[n_val:]]), [], val_triplets
    labelled = cfg.source in ("folders", "both")
    train_ids, val = split_validation(cache, cfg.val_fraction if labelled else 0.0, cfg.seed)
    if labelled:
        albums = sorted({cache.songs[i].album for i in train_ids})
        album_id = {a: k for k, a in enumerate(albums)}
        labels = [album_id[cache.songs[i].album] for i in train_ids]
        if cfg.source == "folders":
            return LabelledSource(cache, train_ids, labels, per_class=4), val, None
        return AlbumSongSource(cache, train_ids, labels), val, None
    if cfg.neighbours > 0:
        return NeighbourSource(cache, train_ids, cfg.neighbours), val, None
    return LabelledSource(cache, train_ids, list(train_ids), per_class=2), val, None


class _Fit:
    """The epochs: Adam on the loss, a checkpoint after each, reseeded per epoch so a resumed run
    equals an uninterrupted one."""

    def __init__(
        self,
        cfg: TrainConfig,
        model: torch.nn.Module,
        net: torch.nn.Module,
        cache: SegmentCache,
        device: torch.device,
        progress: ProgressFn | None,
        should_stop: StopFn | None,
        on_step: Callable[[int, float], None] | None,
    ) -> None:
        self.cfg, self.model, self.net, self.cache, self.device = cfg, model, net, cache, device
        self.progress, self.should_stop, self.on_step = progress, should_stop, on_step
        self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.loss_fn = make_loss(cfg.loss, margin=cfg.margin, temperature=cfg.temperature)
        augment = _augmenter(cfg) if net is model else None  # log-mel augmentations: not for cached vectors
        self.augment = augment.to(device) if augment is not None else None
        self.batch_size = cfg.batch_size or get_spec(cfg.arch).default_batch_size
        self.step = 0

    def run(
        self,
        source: Source,
        val: list[int],
        val_triplets: list[tuple[int, int, int]] | None,
        ckpt: Path,
        on_epoch: Callable[[EpochStats], None] | None,
    ) -> dict[str, Any]:
        cfg = self.cfg
        state = self._resume(ckpt)
        n_batches = max(1, math.ceil(source.n_items() / self.batch_size))
        self.step = state["epoch"] * n_batches
        for epoch in range(state["epoch"], cfg.epochs):
            started = time.perf_counter()
            torch.manual_seed(cfg.seed * 100_003 + epoch)
            gen = torch.Generator().manual_seed(cfg.seed * 7_919 + epoch)
            if isinstance(source, NeighbourSource):  # neighbours as the model sees them now
                source.set_neighbours(
                    cached_song_embeddings(
                        self.net, self.cache, source.song_ids.tolist(), self.device, self.should_stop
                    )
                )
            self.model.train()
            losses = [self._batch(source, gen, epoch, n_batches * cfg.epochs) for _ in range(n_batches)]
            val_score = validation_score(self.net, self.cache, val, self.device, cfg.source, val_triplets)
            stats = EpochStats(
                epoch + 1, cfg.epochs, float(np.mean(losses)), val_score, time.perf_counter() - started
            )
            _check_finite(stats.train_loss, self.model, epoch + 1, self.step)
            state["epoch"] = epoch + 1
            state["history"].append(asdict(stats))
            save_checkpoint(ckpt, self.model, self.opt, state)
            if on_epoch is not None:
                on_epoch(stats)
        return state

    def _resume(self, ckpt: Path) -> dict[str, Any]:
        """The run's state: new, or the checkpoint's (weights and Adam moments loaded) when it
        was made with the same settings."""
        identity = self.cfg.identity()
        if not ckpt.is_file():
            return {"epoch": 0, "history": [], "identity": identity}
        state = load_checkpoint(ckpt, self.model, self.opt, identity=identity)
        if state.get("identity") != identity:
            raise ParameterError(
                f"a run named '{self.cfg.name}' exists with other settings; "
                "use --restart to start over or pick another --name"
            )
        return state

    def _batch(self, source: Source, gen: torch.Generator, epoch: int, total_steps: int) -> float:
        """One optimiser step on one batch; returns its loss."""
        cfg, device, net, augment, loss_fn = self.cfg, self.device, self.net, self.augment, self.loss_fn
        check_stop(self.should_stop)
        batch = source.batch(self.batch_size, gen)
        x = batch.x.to(device)
        labels = batch.labels.to(device)
        groups = batch.groups.to(device) if batch.groups is not None else None
        if cfg.loss == "contrastive":
            views = torch.cat([augment(x), augment(x)]) if augment is not None else torch.cat([x, x])
            emb = net(views)
            loss = loss_fn(emb, torch.cat([labels, labels]))
            if groups is not None:
                loss = loss + loss_fn(emb, torch.cat([groups, groups]))
        else:
            xa = augment(x) if augment is not None else x
            trip = tuple(t.to(device) for t in batch.triplets) if batch.triplets else None
            emb = net(xa)
            loss = loss_fn(emb, labels, trip)  # type: ignore[arg-type]
            if groups is not None:
                loss = loss + loss_fn(emb, groups)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        value = float(loss.detach())
        _check_finite(value, None, epoch + 1, self.step)
        if self.on_step is not None:
            self.on_step(self.step, value)
        report(self.progress, self.step, total_steps, f"epoch {epoch + 1}/{cfg.epochs} loss {value:.4f}")
        return value


def _export(
    cfg: TrainConfig,
    model: torch.nn.Module,
    state: dict[str, Any],
    home: Path,
    base: dict[str, Any],
    n_songs: int,
    skipped: list[tuple[Path, str]],
    run_dir: Path,
) -> Path:
    history = state["history"]
    base = dict(base)
    index_features = base.pop("index_features", cfg.features)
    info = ModelInfo(
        name=cfg.name,
        arch=cfg.arch,
        embedding_dim=int(getattr(model, "embedding_dim", cfg.embedding_dim)),
        features=index_features,
        loss=cfg.loss if state["epoch"] else None,  # statistics only: no loss was used
        epochs=state["epoch"],
        training={
            **base,
            "library": str(cfg.library),
            "source": cfg.source,
            "crop_seconds": cfg.features.excerpt_seconds,
            "triplets_csv": str(cfg.triplets_csv) if cfg.triplets_csv else None,
            "batch_size": cfg.batch_size or get_spec(cfg.arch).default_batch_size,
            "lr": cfg.lr,
            "seed": cfg.seed,
            "margin": cfg.margin,
            "temperature": cfg.temperature,
            "augment": cfg.augment,
            "pitch_shift_bins": cfg.pitch_shift_bins,
            "time_stretch": cfg.time_stretch,
            "neighbours": cfg.neighbours,
            "segments_per_song": cfg.segments_per_song,
            "segment_seconds": cfg.segment_seconds,
            "n_songs": n_songs,
            "n_skipped": len(skipped),
        },
        metrics={
            "history": history,
            "final_train_loss": history[-1]["train_loss"] if history else None,
            "final_val_score": history[-1]["val_score"] if history else None,
        },
    )
    folder = save_model(models_dir(home) / cfg.name, model.cpu(), info)
    shutil.rmtree(run_dir, ignore_errors=True)
    return folder


__all__ = ["TrainConfig", "EpochStats", "train", "Cancelled"]
