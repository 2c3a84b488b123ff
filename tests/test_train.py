import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.errors import Cancelled, ParameterError
from trainer.modelstore import load_model
from trainer.train import TrainConfig, train
from trainer.triplets import Triplet, append_triplets_csv


def _cfg(lib, **kw):
    base = dict(
        library=lib,
        arch="musicnet-small",
        epochs=1,
        batch_size=8,
        lr=1e-3,
        workers=0,
        segments_per_song=2,
        segment_seconds=3.5,
        embedding_dim=16,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize(
    "loss,source",
    [
        ("triplet", "folders"),
        ("contrastive", "self"),
        ("triplet", "self"),
        ("contrastive", "folders"),
        ("contrastive", "both"),
        ("triplet", "both"),
    ],
)
def test_one_epoch_each_loss_and_source(synth_library, home, loss, source):
    epochs = []
    folder = train(
        _cfg(synth_library, loss=loss, source=source, name=f"m-{loss}-{source}"),
        home=home,
        on_epoch=epochs.append,
    )
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["loss"] == loss and cfg["training"]["source"] == source and cfg["epochs"] == 1
    assert cfg["training"]["lr"] == 1e-3 and cfg["metrics"]["history"][0]["train_loss"] > 0
    assert len(epochs) == 1 and epochs[0].train_loss == pytest.approx(cfg["metrics"]["final_train_loss"])
    loaded = load_model(folder.name, home)
    assert loaded.info.embedding_dim == 16
    assert not (home / "runs" / folder.name).exists()  # the run's checkpoint is cleaned up when done


def _truth_csv(tmp_path):
    """Three of the thesis's quartet rows over the synthetic library, as a user's CSV."""
    csv = tmp_path / "truth.csv"
    rows = [
        Triplet("synth/tones/tones-0.wav", "synth/tones/tones-1.wav", "synth/noise/noise-0.wav", 3),
        Triplet("synth/squares/squares-0.wav", "synth/noise/noise-1.wav", "synth/noise/noise-2.wav", 1),
        Triplet("synth/tones/tones-2.wav", "synth/squares/squares-1.wav", "synth/squares/squares-2.wav", 1),
    ]
    append_triplets_csv(csv, rows)
    return csv


def test_triplets_csv_source(synth_library, home, tmp_path):
    csv = _truth_csv(tmp_path)
    folder = train(_cfg(synth_library, source="csv", triplets_csv=csv, name="from-csv"), home=home)
    assert json.loads((folder / "config.json").read_text())["training"]["source"] == "csv"


def test_cancel_stops_within_a_batch_and_keeps_the_last_checkpoint(synth_library, home):
    steps = []
    cfg = _cfg(synth_library, epochs=3, name="cancelled")
    with pytest.raises(Cancelled):
        train(cfg, home=home, on_step=lambda s, loss: steps.append(s), should_stop=lambda: len(steps) >= 7)
    assert steps == list(range(1, 8))  # stopped at the first check after asking
    assert (home / "runs" / "cancelled" / "checkpoint.safetensors").is_file()
    # 12 songs x 2 segments / batch 8 = 3 steps an epoch: epochs 1-2 were saved, epoch 3 was cut
    resumed = []
    train(cfg, home=home, on_epoch=resumed.append)
    assert [e.epoch for e in resumed] == [3]


def test_bad_settings_are_refused(synth_library, home):
    with pytest.raises(ParameterError, match="unknown loss"):
        train(_cfg(synth_library, loss="hinge"), home=home)
    with pytest.raises(ParameterError, match="needs a triplets CSV"):
        train(_cfg(synth_library, source="csv"), home=home)
    with pytest.raises(ParameterError, match="no trainable"):
        train(_cfg(synth_library, arch="classic"), home=home)
    with pytest.raises(ParameterError, match="invalid model name"):
        train(_cfg(synth_library, name="default"), home=home)


def _constant_cache(n_songs: int):
    """A SegmentCache whose song ``i`` is a spectrogram full of the value ``i``: a crop names its song."""
    from trainer.config import FeatureConfig
    from trainer.data import SegmentCache, SongItem

    cfg = FeatureConfig()
    songs = [SongItem(Path(f"s{i}.wav"), f"a/b/s{i}.wav", "a/b", "a") for i in range(n_songs)]
    mels = [np.full((2, cfg.n_mels, cfg.n_frames + 4), i, dtype=np.float16) for i in range(n_songs)]
    return SegmentCache(songs, mels, cfg)


def test_neighbour_positives_come_from_the_nearest_song():
    from trainer.data import NeighbourSource

    cache = _constant_cache(4)
    # songs 0 and 1 point one way, 2 and 3 another: each one's nearest other song is its twin
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    always = NeighbourSource(cache, [0, 1, 2, 3], probability=1.0)
    always.set_neighbours(emb)
    assert always.partner == {0: 1, 1: 0, 2: 3, 3: 2}
    gen = torch.Generator().manual_seed(0)
    batch = always.batch(8, gen)
    first, second = batch.x[0::2, 0, 0, 0].tolist(), batch.x[1::2, 0, 0, 0].tolist()
    assert sorted(first) == [0, 1, 2, 3] and second == [always.partner[int(s)] for s in first]
    assert batch.labels[0::2].tolist() == batch.labels[1::2].tolist() == first  # a pair shares its label
    never = NeighbourSource(cache, [0, 1, 2, 3], probability=0.0)
    never.set_neighbours(emb)
    batch = never.batch(8, gen)
    assert batch.x[0::2, 0, 0, 0].tolist() == batch.x[1::2, 0, 0, 0].tolist()  # plain song-level pairs


def test_album_and_song_batches_pair_crops_of_one_song_and_group_them_by_album():
    from trainer.data import AlbumSongSource

    cache = _constant_cache(9)
    albums = [0, 0, 0, 1, 1, 1, 2, 2, 2]  # songs 0-2 are album 0, 3-5 album 1, 6-8 album 2
    source = AlbumSongSource(cache, list(range(9)), albums)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        batch = source.batch(8, gen)  # 2 albums x 2 songs x 2 crops
        song_of_crop = batch.x[:, 0, 0, 0].long().tolist()
        assert batch.labels.tolist() == song_of_crop  # the song label names the crop's song
        assert song_of_crop[0::2] == song_of_crop[1::2]  # crops come in pairs of one song
        groups = batch.groups.tolist()
        assert groups == [albums[s] for s in song_of_crop]
        assert len(set(groups)) == 2
        for album in set(groups):  # two *different* songs of each album
            assert len({s for s, g in zip(song_of_crop, groups, strict=True) if g == album}) == 2


def test_neighbour_fine_tuning_runs_and_is_recorded(synth_library, home):
    base = train(_cfg(synth_library, loss="contrastive", source="self", name="base"), home=home)
    folder = train(
        _cfg(
            synth_library,
            loss="contrastive",
            source="self",
            neighbours=0.5,
            epochs=2,
            init_from=base.name,
            name="adapted",
        ),
        home=home,
    )
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["training"]["neighbours"] == 0.5 and cfg["training"]["init_from"] == "base"
    assert load_model("adapted", home).info.weights_sha256 != load_model("base", home).info.weights_sha256


def test_neighbour_settings_are_checked(synth_library, home):
    with pytest.raises(ParameterError, match="need self-supervised"):
        train(_cfg(synth_library, source="folders", neighbours=0.5), home=home)
    with pytest.raises(ParameterError, match=r"probability in \[0, 1\]"):
        train(_cfg(synth_library, source="self", loss="contrastive", neighbours=1.5), home=home)


def test_neighbours_are_found_in_chunks_like_all_at_once():
    from trainer.data import NeighbourSource

    n = 2100  # more rows than one chunk of similarities holds (4M entries / 2100 = 1904 rows)
    cache = _constant_cache(2)
    cache.songs = cache.songs * (n // 2)
    cache.mels = cache.mels * (n // 2)
    emb = np.random.default_rng(0).normal(size=(n, 8))
    source = NeighbourSource(cache, list(range(n)), probability=0.5)
    source.set_neighbours(emb)
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    assert [source.partner[i] for i in range(n)] == sim.argmax(axis=1).tolist()


def test_a_fine_tune_trains_on_its_start_models_crops_and_keeps_its_indexing_features(synth_library, home):
    """The default indexes 6-s excerpts but learnt from 3-s crops; fine-tuning it must learn from
    3-s crops too (6-s crops scored worse) and still index like it."""
    base = train(_cfg(synth_library, loss="contrastive", source="self", name="base"), home=home)
    cfg_path = base / "config.json"
    cfg = json.loads(cfg_path.read_text())
    crop = cfg["training"]["crop_seconds"]
    assert crop == cfg["features"]["excerpt_seconds"]
    cfg["features"]["excerpt_seconds"] = 2 * crop  # index longer excerpts than it was trained on
    cfg_path.write_text(json.dumps(cfg))
    folder = train(
        _cfg(synth_library, loss="contrastive", source="self", epochs=1, init_from="base", name="tuned"),
        home=home,
    )
    tuned = json.loads((folder / "config.json").read_text())
    assert tuned["features"]["excerpt_seconds"] == 2 * crop
    assert tuned["training"]["crop_seconds"] == crop


def test_the_statistics_model_trains_and_a_fine_tune_refits_its_statistics_on_the_new_library(
    synth_library, home, tmp_path
):
    """musicnet-stats-small fits its statistics' projections on the training batches; fine-tuned on
    another library it fits them on that library alone, not on both."""
    kw = dict(arch="musicnet-stats-small", loss="contrastive", source="self", embedding_dim=128)
    base = train(_cfg(synth_library, name="stats-base", **kw), home=home)
    start = load_model(base.name, home).model.reduce["timbre"]
    seen_in_training = float(start.count)
    assert seen_in_training > 0

    other = tmp_path / "other"
    for src in sorted(Path(synth_library).rglob("*.wav"))[:6]:  # half the songs: a different library
        dst = other / src.relative_to(synth_library)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    tuned = train(_cfg(other, name="stats-tuned", init_from="stats-base", **kw), home=home)
    after = load_model(tuned.name, home).model.reduce["timbre"]
    assert 0 < float(after.count) < seen_in_training  # only the new library's batches
    assert not torch.equal(after.projection, start.projection)


@pytest.mark.slow
@pytest.mark.parametrize("loss,source", [("triplet", "folders"), ("contrastive", "self")])
def test_a_head_on_the_frozen_pretrained_front_end_trains_from_cached_vectors(
    synth_library, home, loss, source
):
    """musicnn-msd-head: the front end runs once per cached crop (its vectors are saved in the
    home's cache), the head trains, the pretrained weights do not move, and the saved model
    embeds with musicnn's own input."""
    from trainer.models.musicnn import MUSICNN_FEATURES, MusiCNN, load_pretrained

    cfg = _cfg(
        synth_library,
        arch="musicnn-msd-head",
        loss=loss,
        source=source,
        epochs=2,
        embedding_dim=32,
        name=f"head-{loss}",
    )
    folder = train(cfg, home=home)
    assert list((home / "cache").glob("frontend-*.safetensors"))  # the front end's outputs, cached
    loaded = load_model(folder.name, home)
    assert loaded.info.features == MUSICNN_FEATURES and loaded.info.embedding_dim == 32
    pretrained = load_pretrained(MusiCNN()).state_dict()
    for name, tensor in loaded.model.backbone.state_dict().items():
        assert torch.equal(tensor, pretrained[name]), name
    assert loaded.model.standardise.std.min() > 0 and not torch.all(loaded.model.standardise.mean == 0)
    torch.manual_seed(cfg.seed)  # the run's initial head, to see that training moved it
    from trainer.models import build_model

    initial = build_model("musicnn-msd-head", MUSICNN_FEATURES, embedding_dim=32)
    history = json.loads((folder / "config.json").read_text())["metrics"]["history"]
    assert len(history) == 2
    if history[0]["train_loss"] > 0:  # (semi-hard mining may find nothing to fix in toy albums)
        assert not torch.equal(initial.project[0].weight, loaded.model.project[0].weight)
    # a second run reuses the cached front-end vectors: no musicnn forward at all
    calls = []
    original = MusiCNN.pooled
    MusiCNN.pooled = lambda self, x: calls.append(len(x)) or original(self, x)
    try:
        train(
            _cfg(
                synth_library,
                arch="musicnn-msd-head",
                loss=loss,
                source=source,
                epochs=1,
                embedding_dim=32,
                name=f"head-{loss}-again",
            ),
            home=home,
        )
    finally:
        MusiCNN.pooled = original
    assert calls == []


def test_fixed_pretrained_features_only_fit_their_standardisation(synth_library, home):
    folder = train(_cfg(synth_library, arch="musicnn-msd", name="raw-musicnn"), home=home)
    loaded = load_model(folder.name, home)
    assert loaded.info.embedding_dim == 1506 and loaded.info.epochs == 0
    assert not torch.all(loaded.model.standardise.std == 1)


def test_zero_epochs_fit_a_pretrained_heads_statistics_and_nothing_else(synth_library, home):
    folder = train(
        _cfg(synth_library, arch="musicnn-msd-head", epochs=0, embedding_dim=8, name="fitted"), home=home
    )
    model = load_model(folder.name, home).model
    assert json.loads((folder / "config.json").read_text())["epochs"] == 0
    # each part's projection is the principal directions of that part of the training vectors:
    # orthonormal rows (as many as the toy library's vectors allow), the rest zero
    for layer in model.project:
        weight = layer.weight.detach()
        gram = weight @ weight.T
        rank = int((gram.diagonal() > 0.5).sum())
        assert rank >= 1 and torch.allclose(gram[:rank, :rank], torch.eye(rank), atol=1e-4)
    assert torch.count_nonzero(model.mlp[-1].weight) == 0  # the learnt part is untouched
    with pytest.raises(ParameterError, match="epochs"):
        train(_cfg(synth_library, epochs=0, name="nothing-to-fit"), home=home)


@pytest.mark.slow
def test_a_head_trains_from_a_triplets_csv_and_from_folders_plus_song_identity(synth_library, home, tmp_path):
    """Every label source works on cached front-end vectors: the thesis's quartet CSV, and
    folders + self-supervised together (the front end runs once for both runs: one home)."""
    csv = _truth_csv(tmp_path)
    for name, kw in (
        ("head-csv", dict(source="csv", triplets_csv=csv)),
        ("head-both", dict(source="both", loss="contrastive")),
    ):
        folder = train(
            _cfg(synth_library, arch="musicnn-msd-head", embedding_dim=16, name=name, **kw), home=home
        )
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["arch"] == "musicnn-msd-head" and cfg["training"]["source"] == kw["source"]
        assert np.isfinite(cfg["metrics"]["history"][0]["train_loss"])
    assert len(list((home / "cache").glob("frontend-*.safetensors"))) == 1
