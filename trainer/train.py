"""Train an embedder with triplet or contrastive loss; checkpoint every epoch; resume after a kill.

The run's state (weights, Adam moments, epoch, history) is one safetensors file written
atomically at the end of every epoch, so a killed or cancelled run resumes from its last good
epoch.  Each epoch reseeds the sampler and torch's RNG from ``(seed, epoch)``; that is what makes a
resumed run on the CPU end with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .augment import LIGHT, THESIS_CONTRASTIVE, AugmentConfig, Augmenter
from .config import FeatureConfig
from .data import (
    SOURCES,
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
from .evaluate import read_triplets_csv, triplet_correct
from .feature_cache import FeatureCache, HeadOnly, uses_cached_frontend
from .jobs import ProgressFn, StopFn, check_stop, report
from .losses import LOSSES, make_loss
from .models import build_model, get_spec
from .modelstore import ModelInfo, load_model, save_model, validate_name
from .paths import home_dir, models_dir, runs_dir

CHECKPOINT = "checkpoint.safetensors"


@dataclass
class TrainConfig:
    library: Path
    arch: str = "musicnet"
    loss: str = "triplet"
    source: str = "folders"  # folders | self | both | csv
    triplets_csv: Path | None = None
    epochs: int = 10
    batch_size: int | None = None  # None: the architecture's thesis default
    lr: float = 1e-5  # thesis default
    weight_decay: float = 0.0
    device: str = "auto"
    name: str = "my-model"
    seed: int = 0
    margin: float = 0.2
    temperature: float = 0.1
    embedding_dim: int = 128
    segments_per_song: int = 8
    segment_seconds: float = 6.0
    augment: str = "auto"  # auto | none | light | thesis
    pitch_shift_bins: int = 0  # optional extra augmentation: shift along the mel axis
    time_stretch: float = 0.0  # optional extra augmentation: stretch factor range 1 +- x
    init_from: str | None = None  # fine-tune from a model (name or folder)
    neighbours: float = 0.0  # source "self": chance a song's positive is its nearest neighbour
    val_fraction: float = 0.15
    workers: int | None = None
    threads: int | None = None  # cap torch's CPU threads (keeps a GUI responsive)
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def identity(self) -> dict[str, Any]:
        """Settings a resumed run must share with the checkpoint (everything but epochs/device)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("epochs", "device", "workers", "threads")}
        d["library"] = str(self.library)
        d["triplets_csv"] = str(self.triplets_csv) if self.triplets_csv else None
        return json.loads(json.dumps(d, default=str))


@dataclass
class EpochStats:
    epoch: int
    epochs: int
    train_loss: float
    val_score: float | None
    seconds: float


def _validate(cfg: TrainConfig) -> None:
    validate_name(cfg.name)
    if cfg.loss not in LOSSES:
        raise ParameterError(f"unknown loss '{cfg.loss}'; choose one of: {', '.join(LOSSES)}")
    if cfg.source not in SOURCES:
        raise ParameterError(f"unknown triplet source '{cfg.source}'; choose one of: {', '.join(SOURCES)}")
    if cfg.source == "csv" and not cfg.triplets_csv:
        raise ParameterError("source 'csv' needs a triplets CSV file")
    if cfg.epochs < 0 or (cfg.batch_size is not None and cfg.batch_size < 2) or not cfg.lr > 0:
        raise ParameterError("epochs must be >= 1, batch size >= 2 and the learning rate > 0")
    if not 0.0 <= cfg.neighbours <= 1.0:
        raise ParameterError(f"neighbours must be a probability in [0, 1], got {cfg.neighbours}")
    if cfg.neighbours > 0 and cfg.source != "self":
        raise ParameterError("neighbour positives need self-supervised training (no labels)")
    if not get_spec(cfg.arch).trainable:
        raise ParameterError(f"model '{cfg.arch}' has no trainable parameters")
    _check_bounds(cfg)


#: TrainConfig field -> (type, lowest, highest): every number a run is built from, bounded before
#: anything is decoded or allocated (a NaN or infinite learning rate, temperature 0, seed -1 …).
TRAIN_BOUNDS: dict[str, tuple[type, float, float]] = {
    # epochs 0: only a pretrained front end's statistics are fitted (checked in _train)
    "epochs": (int, 0, 100_000),
    "batch_size": (int, 2, 4096),
    "lr": (float, 1e-12, 10.0),
    "weight_decay": (float, 0.0, 10.0),
    "seed": (int, 0, 2**31 - 1),
    "margin": (float, 0.0, 100.0),
    "temperature": (float, 1e-3, 100.0),
    "embedding_dim": (int, 1, 8192),
    "segments_per_song": (int, 1, 64),
    "segment_seconds": (float, 0.5, 120.0),
    "pitch_shift_bins": (int, 0, 48),
    "time_stretch": (float, 0.0, 0.5),
    "neighbours": (float, 0.0, 1.0),
    "val_fraction": (float, 0.0, 0.9),
    "workers": (int, 0, 64),
    "threads": (int, 1, 1024),
}


def _check_bounds(cfg: TrainConfig) -> None:
    from .bounds import number

    for name, (kind, low, high) in TRAIN_BOUNDS.items():
        value = getattr(cfg, name)
        if value is None and name in ("batch_size", "workers", "threads"):
            continue
        try:
            number(value, kind, low, high, name.replace("_", " "))
        except ValueError as exc:
            raise ParameterError(str(exc)) from None


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
    if choice not in table:
        raise ParameterError(f"unknown augmentation '{cfg.augment}'; choose auto, none, light or thesis")
    aug = table[choice]
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


# -- checkpoint ---------------------------------------------------------------------------------
def _save_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    osd = opt.state_dict()
    for idx, st in osd["state"].items():
        for k, v in st.items():
            tensors[f"optim.{idx}.{k}"] = (
                (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
            )
    meta = {"state": json.dumps(state), "param_groups": json.dumps(osd["param_groups"])}
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
    except (OSError, SafetensorError) as exc:  # safetensors reports a full disk as SafetensorError
        tmp.unlink(missing_ok=True)
        why = getattr(exc, "strerror", None) or exc
        raise ModelError(f"cannot write checkpoint '{path}': {why}") from exc


def _load_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, identity: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load weights and optimiser state; return the run state.  A checkpoint whose identity
    differs from ``identity`` is returned without loading (its weights may not even fit)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
        saved = json.loads(meta["state"])
        groups = json.loads(meta["param_groups"])
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise ModelError(f"checkpoint '{path}' is unreadable ({exc}); use --restart") from exc
    if identity is not None and saved.get("identity") != identity:
        return saved
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ModelError(f"checkpoint '{path}' does not fit this model; use --restart") from exc
    return saved


# -- evaluation during training -----------------------------------------------------------------
@torch.no_grad()
def cached_song_embeddings(
    model: torch.nn.Module,
    cache: SegmentCache,
    songs: list[int],
    device: torch.device,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """Mean of L2-normalised centre-crop embeddings per song (as the indexer aggregates)."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for k, s in enumerate(songs):
            if k % 64 == 0:
                check_stop(should_stop)
            x = torch.from_numpy(cache.centre_crops(s).astype(np.float32))[:, None].to(device)
            e = torch.nn.functional.normalize(model(x).float(), dim=1).mean(0)
            out.append(e.cpu().numpy())
    finally:
        model.train(was_training)
    return np.stack(out) if out else np.zeros((0, 1), np.float32)


def validation_score(
    model: torch.nn.Module,
    cache: SegmentCache,
    val: list[int],
    device: torch.device,
    source: str,
    val_triplets: list[tuple[int, int, int]] | None = None,
) -> float | None:
    """Percent correct: held-out CSV triplets; (folders) held-out songs whose nearest training song
    is from their album; (self) excerpts whose nearest other-excerpt comes from the same song."""
    if source == "csv" and val_triplets:
        ids = sorted({i for t in val_triplets for i in t})
        pos = {s: k for k, s in enumerate(ids)}
        emb = cached_song_embeddings(model, cache, ids, device)
        idx = np.array([[pos[a], pos[p], pos[n]] for a, p, n in val_triplets])
        return float(triplet_correct(emb, idx, np.full(len(idx), 2), "cosine", "Normalizer").mean() * 100)
    if source in ("folders", "both") and val:
        # Held-out songs query the training songs: percent whose nearest neighbour shares their album.
        # (Works with one held-out song per album, where odd-one-out triplets among them could not.)
        train_ids = [i for i in range(len(cache.songs)) if i not in set(val)]
        emb_val = cached_song_embeddings(model, cache, val, device)
        emb_train = cached_song_embeddings(model, cache, train_ids, device)
        nearest = (emb_val @ emb_train.T).argmax(axis=1)
        hits = [
            cache.songs[v].album == cache.songs[train_ids[n]].album for v, n in zip(val, nearest, strict=True)
        ]
        return float(np.mean(hits) * 100)
    # self-supervised: excerpt-level retrieval among up to 64 songs
    songs = list(range(min(64, len(cache.songs))))
    was_training = model.training
    model.eval()
    crops = [cache.centre_crops(s) for s in songs]
    a = torch.from_numpy(np.stack([c[0] for c in crops]).astype(np.float32))[:, None].to(device)
    b = torch.from_numpy(np.stack([c[-1] for c in crops]).astype(np.float32))[:, None].to(device)
    ea = torch.nn.functional.normalize(model(a).float(), dim=1)
    eb = torch.nn.functional.normalize(model(b).float(), dim=1)
    model.train(was_training)
    hits = (ea @ eb.T).argmax(dim=1).cpu().numpy() == np.arange(len(songs))
    return float(hits.mean() * 100)


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
    _validate(cfg)
    if cfg.source == "csv":
        read_triplets_csv(Path(cfg.triplets_csv))  # type: ignore[arg-type]  # malformed: fail before decoding
    home_path = home_dir(home)
    device = resolve_device(cfg.device)
    library = Path(cfg.library).expanduser()
    model, cfg, base = _build(cfg, home_path)
    spec = get_spec(cfg.arch)
    batch_size = cfg.batch_size or spec.default_batch_size
    run_dir = runs_dir(home_path) / cfg.name
    ckpt = run_dir / CHECKPOINT
    if restart:
        shutil.rmtree(run_dir, ignore_errors=True)
    elif not ckpt.is_file() and (models_dir(home_path) / cfg.name).is_dir():
        raise ParameterError(
            f"a model named '{cfg.name}' is trained already ({models_dir(home_path) / cfg.name}); "
            "train it again with --restart (it is replaced when the run ends) or pick another name"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"cannot write to '{run_dir}': {exc.strerror or exc}") from exc

    skipped = skipped if skipped is not None else []
    songs = library_songs(library, skipped)
    cache = SegmentCache.build(
        songs,
        cfg.features,
        segments_per_song=cfg.segments_per_song,
        segment_seconds=cfg.segment_seconds,
        workers=cfg.workers,
        cache_dir=home_path / "cache",
        progress=progress,
        should_stop=should_stop,
        skipped=skipped,
    )
    net: torch.nn.Module = model  # what the loop runs: the model, or its head on cached vectors
    if uses_cached_frontend(model):
        cache = FeatureCache.from_segments(
            cache, model, device, cache_dir=home_path / "cache", progress=progress, should_stop=should_stop
        )
        if not cfg.init_from and callable(getattr(model, "fit_statistics", None)):
            model.fit_statistics(torch.from_numpy(cache.flat()))
        net = HeadOnly(model)
    if cfg.epochs == 0 and net is model:
        raise ParameterError(
            "epochs must be >= 1 (0 only fits the statistics of a model on a pretrained front end)"
        )
    if cfg.epochs == 0 or not any(p.requires_grad for p in model.parameters()):  # statistics only
        return _export(
            cfg, model, {"epoch": 0, "history": []}, home_path, base, len(cache.songs), skipped, run_dir
        )
    val_triplets: list[tuple[int, int, int]] | None = None
    if cfg.source == "csv":
        triplets = csv_triplets(Path(cfg.triplets_csv), cache)  # type: ignore[arg-type]
        n_val = int(len(triplets) * cfg.val_fraction) if len(triplets) >= 10 else 0
        perm = np.random.default_rng(cfg.seed).permutation(len(triplets))
        val_triplets = [triplets[i] for i in perm[:n_val]]
        source: LabelledSource | TripletCsvSource = TripletCsvSource(
            cache, [triplets[i] for i in perm[n_val:]]
        )
        val: list[int] = []
    else:
        labelled = cfg.source in ("folders", "both")
        train_ids, val = split_validation(cache, cfg.val_fraction if labelled else 0.0, cfg.seed)
        if labelled:
            albums = sorted({cache.songs[i].album for i in train_ids})
            album_id = {a: k for k, a in enumerate(albums)}
            labels = [album_id[cache.songs[i].album] for i in train_ids]
            source = (
                LabelledSource(cache, train_ids, labels, per_class=4)
                if cfg.source == "folders"
                else AlbumSongSource(cache, train_ids, labels)
            )
        elif cfg.neighbours > 0:
            source = NeighbourSource(cache, train_ids, cfg.neighbours)
        else:
            source = LabelledSource(cache, train_ids, list(train_ids), per_class=2)

    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = make_loss(cfg.loss, margin=cfg.margin, temperature=cfg.temperature)
    augment = _augmenter(cfg) if net is model else None  # log-mel augmentations: not for cached vectors
    if augment is not None:
        augment = augment.to(device)
    state: dict[str, Any] = {"epoch": 0, "history": [], "identity": cfg.identity()}
    if ckpt.is_file():
        loaded_state = _load_checkpoint(ckpt, model, opt, identity=cfg.identity())
        if loaded_state.get("identity") != cfg.identity():
            raise ParameterError(
                f"a run named '{cfg.name}' exists with other settings; "
                "use --restart to start over or pick another --name"
            )
        state = loaded_state
    n_batches = max(1, math.ceil(source.n_items() / batch_size))
    step = state["epoch"] * n_batches
    total_steps = cfg.epochs * n_batches
    for epoch in range(state["epoch"], cfg.epochs):
        started = time.perf_counter()
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 7_919 + epoch)
        if isinstance(source, NeighbourSource):  # neighbours as the model sees them now
            source.set_neighbours(
                cached_song_embeddings(net, cache, source.song_ids.tolist(), device, should_stop)
            )
        model.train()
        losses = []
        for _ in range(n_batches):
            check_stop(should_stop)
            batch = source.batch(batch_size, gen)
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
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(float(loss.detach()))
            _check_finite(losses[-1], None, epoch + 1, step)
            if on_step is not None:
                on_step(step, losses[-1])
            report(progress, step, total_steps, f"epoch {epoch + 1}/{cfg.epochs} loss {losses[-1]:.4f}")
        val_score = validation_score(net, cache, val, device, cfg.source, val_triplets)
        stats = EpochStats(
            epoch + 1, cfg.epochs, float(np.mean(losses)), val_score, time.perf_counter() - started
        )
        _check_finite(stats.train_loss, model, epoch + 1, step)
        state["epoch"] = epoch + 1
        state["history"].append(asdict(stats))
        _save_checkpoint(ckpt, model, opt, state)
        if on_epoch is not None:
            on_epoch(stats)
    return _export(cfg, model, state, home_path, base, len(cache.songs), skipped, run_dir)


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
        loss=cfg.loss,
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


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in data.items() if k in known})


__all__ = ["TrainConfig", "EpochStats", "train", "Cancelled", "config_from_dict"]
