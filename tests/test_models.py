"""The model registry and every registered model: shapes, determinism, parameter counts."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.config import FeatureConfig
from trainer.errors import ParameterError
from trainer.models import build_model, count_parameters, get_spec, list_models, model_names, register
from trainer.models.registry import FAMILIES

CFG = FeatureConfig()
THESIS_BATCH_SIZES = {
    "model1": 32, "model2": 32, "model3": 128, "model4": 128, "model5": 128, "model6": 64,
    "model7-resnet18": 128, "model8-resnet50": 128, "contrastive-resnet18": 32, "contrastive-resnet50": 32,
}  # fmt: skip
RESNET_IN_FEATURES = {"resnet18": 512, "resnet50": 2048}


@pytest.fixture(scope="module", params=model_names())
def built(request):
    """(spec, model in eval mode), built once per model; pytest drops it before building the next."""
    torch.manual_seed(0)
    spec = get_spec(request.param)
    return spec, build_model(request.param, spec.features or CFG).eval()


def _log_mel(batch: int = 2, seed: int = 0, cfg: FeatureConfig = CFG) -> torch.Tensor:
    return torch.randn(batch, 1, cfg.n_mels, cfg.n_frames, generator=torch.Generator().manual_seed(seed))


def test_forward_shape_finite_and_deterministic(built):
    spec, model = built
    x = _log_mel(cfg=spec.features or CFG)
    with torch.inference_mode():
        y1, y2 = model(x), model(x)
    assert y1.shape == (2, model.embedding_dim)
    assert y1.dtype == torch.float32
    assert torch.isfinite(y1).all()
    assert torch.equal(y1, y2)
    if spec.trainable and spec.name != "musicnn-msd":  # fixed features: 1506, the pooled layers' size
        assert model.embedding_dim == 128


@pytest.mark.parametrize("built", [s.name for s in list_models() if s.thesis_params], indirect=True)
def test_parameter_count_matches_thesis(built):
    spec, model = built
    n = count_parameters(model)
    resnet = next((k for k in RESNET_IN_FEATURES if k in spec.name), None)
    if resnet:
        # The thesis quotes the stock ImageNet count: a 3-channel stem and a 1000-class head.
        d_in = RESNET_IN_FEATURES[resnet]
        n += 64 * 2 * 7 * 7 + (d_in * 1000 + 1000) - (d_in * 128 + 128)
    assert n == pytest.approx(spec.thesis_params, rel=0.02)


def test_registry_metadata():
    specs = list_models()
    names = [s.name for s in specs]
    assert len(names) == len(set(names)) == len(model_names())
    assert {s.family for s in specs} == set(FAMILIES)
    batch_sizes = {s.name: s.default_batch_size for s in specs if s.family.startswith("thesis")}
    assert batch_sizes == THESIS_BATCH_SIZES
    assert {s.name for s in specs if s.default_loss == "contrastive"} == {
        "contrastive-resnet18",
        "contrastive-resnet50",
    }
    assert [s.name for s in specs if not s.trainable] == ["classic"]


def test_unknown_model_raises_parameter_error():
    with pytest.raises(ParameterError, match="unknown model 'nope'; choose one of: .*musicnet"):
        get_spec("nope")
    with pytest.raises(ParameterError):
        build_model("nope", CFG)


def test_duplicate_registration_raises():
    with pytest.raises(ParameterError, match="registered twice"):
        register("model1", family="ours", description="dup")(lambda cfg, embedding_dim=128: None)
    assert get_spec("model1").family == "thesis-triplet"


def test_musicnet_is_small_and_trains():
    net = build_model("musicnet", CFG, embedding_dim=64)
    assert count_parameters(net) < count_parameters(build_model("model1", CFG))
    assert 1e6 <= count_parameters(net) <= 3e6
    net.train()
    y = net(_log_mel(batch=4))
    assert y.shape == (4, 64)
    y.pow(2).mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", ["musicnet", "model1", "classic"])
def test_other_feature_shapes(name):
    cfg = FeatureConfig(n_mels=64, excerpt_seconds=1.0)
    model = build_model(name, cfg).eval()
    with torch.inference_mode():
        y = model(torch.randn(2, 1, cfg.n_mels, cfg.n_frames))
    assert y.shape == (2, model.embedding_dim)
    assert torch.isfinite(y).all()


def _tone(row: int) -> torch.Tensor:
    """A fake normalised log-mel: quiet floor with one bright mel row."""
    x = torch.full((1, 1, CFG.n_mels, CFG.n_frames), -2.0)
    x[0, 0, row] = 2.0
    return x


def test_classic_is_parameter_free_and_tells_signals_apart():
    model = build_model("classic", CFG, embedding_dim=7)
    assert count_parameters(model) == 0 and not get_spec("classic").trainable
    assert model.state_dict() == {}
    assert model.embedding_dim == len(model.feature_names)
    noise = 1.0 + 0.1 * _log_mel(batch=1, seed=1)  # flat, noise-like spectrum
    x = torch.cat([_tone(10), _tone(80), noise])
    y = model(x)
    assert y.shape == (3, model.embedding_dim)
    assert torch.isfinite(y).all()
    feat = dict(zip(model.feature_names, y.T, strict=True))
    low, high, flat = range(3)
    assert not torch.allclose(y[low], y[flat])
    assert feat["centroid_mean"][high] > feat["centroid_mean"][low]
    assert feat["flatness_mean"][flat] > 10 * feat["flatness_mean"][low]
    assert feat["flatness_mean"][flat] > 0.5
    # one bin at 2·30 − 20 = 40 dB, the other 95 at −80 dB: mean power ≈ 10**4 / 96
    tone_db = 2.0 * CFG.norm_scale_db - CFG.norm_offset_db
    expected = tone_db + 10 * math.log10(1 / CFG.n_mels)
    assert feat["loudness_mean"][low].item() == pytest.approx(expected, abs=0.01)
    assert feat["loudness_std"][low].item() == pytest.approx(0.0, abs=1e-3)
