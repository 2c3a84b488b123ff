"""``musicnet-stats-small``: the fixed excerpt statistics and their fitted projections, on audio."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth import SR
from trainer.config import FeatureConfig
from trainer.errors import ParameterError
from trainer.features import LogMel
from trainer.models import build_model
from trainer.models.stats import (
    BLOCK_SIZES,
    COMPONENTS_PER_BLOCK,
    N_STATS,
    N_STATS_OUT,
    ExcerptStatistics,
    RunningPCA,
)
from trainer.modelstore import ModelInfo, load_model_folder, save_model

CFG = FeatureConfig()


def _log_mel(y: np.ndarray) -> torch.Tensor:
    return LogMel(CFG)(torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))[None])


def _noise(seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * SR)).astype(np.float32)


def _pulsed_noise(seconds: float, rate_hz: float, seed: int = 0) -> np.ndarray:
    """Noise whose loudness pulses at ``rate_hz``: a rhythm with no pitch."""
    t = np.arange(int(seconds * SR)) / SR
    return 0.3 * _noise(seconds, seed) * (0.55 + 0.45 * np.sin(2 * np.pi * rate_hz * t))


def _band_noise(seconds: float, *, together: bool, seed: int = 0) -> np.ndarray:
    """Low and high noise bands that swell together, or each on its own schedule.

    Both versions have about the same long-term spectrum and band levels; what differs is the
    co-movement of the bands, which first-order statistics cannot see.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    low = np.fft.irfft(np.where(freqs < 800, spec, 0), n)
    high = np.fft.irfft(np.where(freqs > 3000, spec, 0), n)

    def swell(k: int) -> np.ndarray:  # slow random loudness changes, 0.1 .. 1
        steps = np.random.default_rng(seed + k).uniform(0.1, 1.0, int(seconds * 4) + 2)
        return np.interp(np.arange(n) / SR * 4, np.arange(len(steps)), steps)

    a = swell(1)
    b = a if together else swell(2)
    return (0.1 * (low / low.std() * a + high / high.std() * b)).astype(np.float32)


def test_blocks_have_the_documented_sizes_and_stay_finite_on_silence_and_tiny_input():
    stats = ExcerptStatistics(CFG)
    x = torch.cat([_log_mel(np.zeros(3 * SR, np.float32)), _log_mel(_noise(3.0, 0))])
    blocks = stats(x)
    assert {k: v.shape for k, v in blocks.items()} == {k: (2, n) for k, n in BLOCK_SIZES.items()}
    assert sum(BLOCK_SIZES.values()) == N_STATS
    assert all(torch.isfinite(v).all() for v in blocks.values())
    one_frame = stats(x[..., :1])
    assert all(torch.isfinite(v).all() for v in one_frame.values())
    broken = x.clone()
    broken[1, 0, 5, 7] = float("nan")
    broken[1, 0, 9, 3] = float("inf")
    assert all(torch.isfinite(v).all() for v in stats(broken).values())  # no eigensolver error
    with pytest.raises(ParameterError, match="expected"):
        stats(x[:, 0])


def test_statistics_stay_float32_under_autocast():
    stats = ExcerptStatistics(CFG)
    x = _log_mel(_pulsed_noise(3.0, 2.0))
    plain = stats(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = stats(x)
    for name, block in plain.items():
        assert mixed[name].dtype == torch.float32
        torch.testing.assert_close(mixed[name], block)


def test_modulation_measures_the_same_rhythm_in_a_3_s_crop_and_a_6_s_excerpt():
    """Training crops are 3 s and indexing excerpts 6 s: the block must not depend on the length."""
    stats = ExcerptStatistics(CFG)
    y = _pulsed_noise(6.0, rate_hz=2.0)
    short, long = (stats(_log_mel(y[: int(s * SR)]))["modulation"].reshape(12, 16) for s in (3.0, 6.0))
    bin_hz = CFG.sample_rate / CFG.hop_length / 128
    expected = round(2.0 / bin_hz) - 1  # bin 1 of the rfft is column 0
    assert short.mean(0).argmax() == long.mean(0).argmax() == expected
    # Averaged over the bands, the two lengths give the same modulation profile.
    assert (short.mean(0) - long.mean(0)).abs().max() < 0.5
    faster = stats(_log_mel(_pulsed_noise(6.0, rate_hz=4.0)))["modulation"].reshape(12, 16)
    assert faster.mean(0).argmax() == round(4.0 / bin_hz) - 1


def _low_high_log_covariance(envelope: torch.Tensor) -> float:
    """Mean log-covariance entry between the lowest 3 and highest 6 of the 16 envelope bands."""
    n = 16
    rows, cols = torch.triu_indices(n, n, 1)
    log_cov = torch.zeros(n, n)
    log_cov[rows, cols] = envelope[0, 2 * n :] / 2**0.5  # after the means and the diagonal
    return float(log_cov[:3, 10:].mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_envelope_covariance_hears_bands_that_move_together(seed):
    stats = ExcerptStatistics(CFG)
    together = stats(_log_mel(_band_noise(6.0, together=True, seed=seed)))["envelope"]
    apart = stats(_log_mel(_band_noise(6.0, together=False, seed=seed)))["envelope"]
    # Same spectrum: the band means are close (within 3 dB each) ...
    assert torch.allclose(together[:, :16], apart[:, :16], atol=3.0)
    # ... but low and high bands co-vary in one and not in the other.
    assert _low_high_log_covariance(together) > 0.25
    assert _low_high_log_covariance(apart) < 0.15


def test_running_pca_fitted_in_batches_equals_one_fit_on_all_the_data():
    torch.manual_seed(0)
    data = torch.randn(300, 6) @ torch.randn(6, 6) + torch.arange(6.0) * 10  # correlated, offset
    pca = RunningPCA(6, 3).train()
    for batch in data.split(64):  # uneven last batch
        pca(batch)
    torch.testing.assert_close(pca.mean, data.mean(0))
    torch.testing.assert_close(pca.scatter / pca.count, torch.cov(data.T, correction=0), rtol=1e-4, atol=1e-3)
    # The projection standardises and keeps the 3 main directions of the correlation matrix.
    std = data.std(0, correction=0)
    _, vectors = torch.linalg.eigh(torch.corrcoef(data.T))
    expected = vectors[:, -3:].flip(1).T / std
    signs = torch.sign((pca.projection * expected).sum(1, keepdim=True))
    torch.testing.assert_close(pca.projection * signs, expected, rtol=1e-3, atol=1e-4)
    before = {k: v.clone() for k, v in pca.state_dict().items()}
    pca.eval()
    out = pca(data)
    assert out.shape == (300, 3)
    assert all(torch.equal(before[k], v) for k, v in pca.state_dict().items())  # eval fits nothing
    # fit() forgets that fit and fits afresh on what it is given, at once: the same projection.
    other = RunningPCA(6, 3)
    other.fit(torch.randn(50, 6))
    other.fit(data)
    assert float(other.count) == 300
    signs = torch.sign((other.projection * pca.projection).sum(1, keepdim=True))
    torch.testing.assert_close(other.projection * signs, pca.projection, rtol=1e-4, atol=1e-5)


def test_model_output_is_five_unit_parts_and_fixed_after_training():
    torch.manual_seed(0)
    model = build_model("musicnet-stats-small", CFG)
    assert model.embedding_dim == 128
    batches = [
        torch.cat([_log_mel(_pulsed_noise(3.0, 1.0 + i + j, seed=i * 8 + j)) for j in range(8)])
        for i in range(3)
    ]
    model.train()
    for x in batches:
        learnt = model(x)
        # Training sees only the CNN's part: the statistics are constants to the loss.
        assert learnt.shape == (8, 128 - N_STATS_OUT) and learnt.requires_grad
    assert float(model.reduce["timbre"].count) == 24
    model.eval()
    x = batches[0][:2]
    with torch.inference_mode():
        y1, y2 = model(x), model(x)
    torch.testing.assert_close(y1, y2)
    # The learnt embedding and the four statistic blocks, each of unit length.
    sizes = [128 - N_STATS_OUT] + [COMPONENTS_PER_BLOCK] * len(BLOCK_SIZES)
    norms = torch.stack([part.norm(dim=1) for part in y1.split(sizes, dim=1)])
    torch.testing.assert_close(norms, torch.ones(len(sizes), 2))


def test_saved_and_loaded_with_its_fitted_statistics(tmp_path):
    model = build_model("musicnet-stats-small", CFG).train()
    model(torch.cat([_log_mel(_noise(3.0, s)) for s in range(4)]))  # fit the projection once
    model.eval()
    info = ModelInfo(
        name="stats",
        arch="musicnet-stats-small",
        embedding_dim=model.embedding_dim,
        loss="contrastive",
        epochs=1,
    )
    loaded = load_model_folder(save_model(tmp_path / "stats", model, info))
    x = _log_mel(_noise(6.0, 9))
    torch.testing.assert_close(loaded.model(x), model(x))
    fitted = model.reduce["envelope"].projection
    torch.testing.assert_close(loaded.model.reduce["envelope"].projection, fitted)


def test_too_small_an_embedding_is_refused():
    with pytest.raises(ParameterError, match="at least"):
        build_model("musicnet-stats-small", CFG, embedding_dim=N_STATS_OUT)
