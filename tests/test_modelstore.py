import json
import os
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from trainer.config import FeatureConfig
from trainer.errors import ModelError, ParameterError
from trainer.models import build_model
from trainer.modelstore import ModelInfo, available_models, load_model, load_model_folder, save_model


def _save(tmp_path, name="m1", arch="musicnet-small"):
    model = build_model(arch, FeatureConfig(), embedding_dim=32)
    info = ModelInfo(name=name, arch=arch, embedding_dim=32, loss="triplet", epochs=1)
    return model, save_model(tmp_path / name, model, info)


def _claim_weights(folder):
    """What a stranger would do after swapping the weights: make config.json name their hash."""
    import hashlib

    cfg = json.loads((folder / "config.json").read_text())
    cfg["weights_sha256"] = hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()
    (folder / "config.json").write_text(json.dumps(cfg))


def test_round_trip_reproduces_outputs(tmp_path):
    model, folder = _save(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.safetensors"]
    loaded = load_model_folder(folder)
    x = torch.randn(2, 1, 96, 130)
    model.eval()
    torch.testing.assert_close(loaded.model(x), model(x))
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["features"]["sample_rate"] == 22050 and cfg["weights_sha256"] and cfg["created"]
    assert loaded.info.key.startswith("m1@")


def test_unknown_architecture_is_refused(tmp_path):
    _, folder = _save(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["arch"] = "evil-net"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="unknown architecture 'evil-net'"):
        load_model_folder(folder)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    _, folder = _save(tmp_path)
    save_file({"conv.weight": torch.zeros(3, 3)}, str(folder / "weights.safetensors"))
    with pytest.raises(ModelError, match="is not the file its config.json names"):
        load_model_folder(folder)
    _claim_weights(folder)
    with pytest.raises(ModelError, match="do not match"):
        load_model_folder(folder)


def test_malformed_config_is_refused(tmp_path):
    _, folder = _save(tmp_path)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model_folder(folder)


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['BOOM_MARKER']}",))


def test_a_crafted_pickle_is_never_executed(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("BOOM_MARKER", str(marker))
    payload = pickle.dumps({"state": _Boom()})
    # sanity: this payload really would run code if unpickled
    pickle.loads(payload)
    assert marker.exists()
    marker.unlink()
    _, folder = _save(tmp_path)
    (folder / "weights.safetensors").write_bytes(payload)  # a pickle disguised as weights
    (folder / "model.pt").write_bytes(payload)  # and one beside them
    _claim_weights(folder)
    with pytest.raises(ModelError, match="not a valid safetensors"):
        load_model_folder(folder)
    assert not marker.exists()


def test_load_by_name_and_listing(tmp_path):
    home = tmp_path / "home"
    _save(home / "models", name="mine")
    names = [r.name for r in available_models(home)]
    assert "classic" in names and "mine" in names
    assert load_model("mine", home).info.name == "mine"
    assert load_model("classic").info.arch == "classic"
    with pytest.raises(ParameterError, match="unknown model 'nope'"):
        load_model("nope", home)


def test_embedding_is_finite(tmp_path):
    model, folder = _save(tmp_path)
    out = load_model_folder(folder).model(torch.zeros(1, 1, 96, 130))
    assert np.isfinite(out.detach().numpy()).all()


def test_a_listed_model_has_the_key_it_loads_with_and_loads_lazily(tmp_path):
    """The app lists models (and indexes folders that need no embedding) without loading weights;
    the key it files embeddings under must be the one the loaded model has, also for a hand-written
    config.json without ``weights_sha256``."""
    from trainer.modelstore import LazyModel, classic_info

    home = tmp_path / "home"
    _, folder = _save(home / "models", name="mine")
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["weights_sha256"]
    (folder / "config.json").write_text(json.dumps(cfg))
    refs = {r.name: r for r in available_models(home)}
    assert refs["mine"].info.key == load_model("mine", home).info.key != "mine@noweights"
    assert refs["classic"].info == classic_info() and classic_info().key == load_model("classic").info.key
    lazy = LazyModel(refs["mine"])
    assert lazy.info.key == refs["mine"].info.key and lazy.get() is lazy.get()
    torch.manual_seed(1)
    _, other = _save(tmp_path / "retrained", name="mine")  # same architecture, other weights
    os.replace(other / "weights.safetensors", folder / "weights.safetensors")  # replaced while listed
    with pytest.raises(ModelError, match="changed on disk"):
        LazyModel(refs["mine"]).get()


def test_shipped_models_are_listed_after_the_default_and_their_names_are_reserved(tmp_path):
    from trainer.errors import ParameterError
    from trainer.modelstore import available_models, load_model, validate_name
    from trainer.paths import shipped_model_dirs

    shipped = list(shipped_model_dirs())
    assert shipped[0] == "default" and "musicnet-stats-small" in shipped  # the previous default, kept
    names = [r.name for r in available_models(tmp_path)]
    assert names[:2] == ["default", "classic"] and set(shipped) <= set(names)
    for name in shipped:
        with pytest.raises(ParameterError):
            validate_name(name)
    previous = load_model("musicnet-stats-small")
    assert previous.info.arch == "musicnet-stats-small" and previous.info.name == "musicnet-stats-small"
