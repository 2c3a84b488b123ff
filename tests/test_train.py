import json

import pytest

from trainer.errors import Cancelled, ParameterError
from trainer.evaluate import Triplet, append_triplets_csv
from trainer.modelstore import load_model
from trainer.train import TrainConfig, train


def _cfg(lib, **kw):
    base = dict(library=lib, arch="musicnet-small", epochs=1, batch_size=8, lr=1e-3, workers=0,
                segments_per_song=2, segment_seconds=3.5, embedding_dim=16)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("loss,source", [("triplet", "folders"), ("contrastive", "self"),
                                         ("triplet", "self"), ("contrastive", "folders")])
def test_one_epoch_each_loss_and_source(synth_library, home, loss, source):
    epochs = []
    folder = train(_cfg(synth_library, loss=loss, source=source, name=f"m-{loss}-{source}"), home=home,
                   on_epoch=epochs.append)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["loss"] == loss and cfg["training"]["source"] == source and cfg["epochs"] == 1
    assert cfg["training"]["lr"] == 1e-3 and cfg["metrics"]["history"][0]["train_loss"] > 0
    assert len(epochs) == 1 and epochs[0].train_loss == pytest.approx(cfg["metrics"]["final_train_loss"])
    loaded = load_model(folder.name, home)
    assert loaded.info.embedding_dim == 16
    assert not (home / "runs" / folder.name).exists()  # the run's checkpoint is cleaned up when done


def test_triplets_csv_source(synth_library, home, tmp_path):
    csv = tmp_path / "truth.csv"
    rows = [Triplet("synth/tones/tones-0.wav", "synth/tones/tones-1.wav", "synth/noise/noise-0.wav", 3),
            Triplet("synth/squares/squares-0.wav", "synth/noise/noise-1.wav", "synth/noise/noise-2.wav", 1),
            Triplet("synth/tones/tones-2.wav", "synth/squares/squares-1.wav", "synth/squares/squares-2.wav", 1)]
    append_triplets_csv(csv, rows)
    folder = train(_cfg(synth_library, source="csv", triplets_csv=csv, name="from-csv"), home=home)
    assert json.loads((folder / "config.json").read_text())["training"]["source"] == "csv"


def test_cancel_stops_within_a_batch_and_keeps_the_last_checkpoint(synth_library, home):
    steps = []
    cfg = _cfg(synth_library, epochs=3, name="cancelled")
    with pytest.raises(Cancelled):
        train(cfg, home=home, on_step=lambda s, loss: steps.append(s),
              should_stop=lambda: len(steps) >= 7)
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
