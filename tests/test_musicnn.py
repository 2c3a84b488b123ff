"""The PyTorch port of musicnn against TensorFlow's own outputs (no TensorFlow needed here).

``tests/data/musicnn_parity.npz`` was written by ``benchmarks/convert_musicnn.py``, which ran the
original ``MSD_musicnn`` TensorFlow graph of the ``musicnn`` wheel on three real clips of the demo
library (freely licensed game music): their 16-kHz audio as librosa decoded it, librosa's mel
power, the log-mel patches musicnn fed its network, and the network's taggram and pooled layers.
Tolerances: measured agreement is ~1e-6 relative to each layer's largest value (float32 order
of summation); the tests allow 1e-4.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.features import LogMel
from trainer.models import build_model, get_spec
from trainer.models.musicnn import MSD_TAGS, MUSICNN_FEATURES, PATCH_FRAMES, MusiCNN, load_pretrained

FIXTURE = Path(__file__).parent / "data" / "musicnn_parity.npz"
RELATIVE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def port():
    return load_pretrained(MusiCNN()).eval()


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("layer", ["taggram", "max_pool", "mean_pool", "penultimate"])
def test_port_reproduces_tensorflow_layers(reference, port, layer):
    x = torch.from_numpy(reference["patches"]).transpose(1, 2)[:, None]  # (B, 1, mels, frames)
    with torch.no_grad():
        got = port.layers(x)[layer].numpy()
    want = reference[layer]
    assert got.shape == want.shape
    assert _relative_error(got, want) < RELATIVE_TOLERANCE


def test_port_ranks_the_same_top5_tags(reference, port):
    x = torch.from_numpy(reference["patches"]).transpose(1, 2)[:, None]
    with torch.no_grad():
        tags = port(x).numpy()
    assert list(reference["tags"]) == list(MSD_TAGS)
    for got, want in zip(tags, reference["taggram"], strict=True):
        assert list(np.argsort(-got)[:5]) == list(np.argsort(-want)[:5])
    # a sanity check on what the tags say: the electronic Nexuiz clip is tagged electronic
    assert MSD_TAGS[int(np.argmax(tags[0]))] in ("electronic", "electro", "dance")


def test_log_mel_front_end_matches_librosas_filterbank(reference):
    """Our torchaudio mel (Slaney scale and norm, 0-8 kHz, 512-point STFT, hop 256) against the
    mel power librosa computed for musicnn, on the same 16-kHz clips."""
    logmel = LogMel(MUSICNN_FEATURES)
    s = logmel.mel.spectrogram
    clips = torch.from_numpy(reference["clips"])
    z = torch.stft(
        clips,
        n_fft=s.n_fft,
        hop_length=s.hop_length,
        window=s.window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    mel = logmel.mel.mel_scale(z.real.square() + z.imag.square()).transpose(1, 2).numpy()
    assert mel.shape == reference["mel_power"].shape
    assert _relative_error(mel, reference["mel_power"]) < RELATIVE_TOLERANCE
    # and the compression: LogMel's output is log10(1 + 10000 mel) of the same power
    with torch.no_grad():
        ours = logmel(clips)[:, 0].transpose(1, 2).numpy()
    np.testing.assert_allclose(ours, np.log10(1 + 10000 * mel), rtol=1e-4, atol=1e-4)


def test_excerpts_are_whole_frames_of_musicnns_input():
    # 8 excerpts of 125 frames (1.984 s): the speed/quality choice of docs/QUALITY.md; a 187-frame
    # patch (musicnn's own 3 s) is the same settings with 2.976 s
    assert MUSICNN_FEATURES.n_frames == 125 and MUSICNN_FEATURES.n_excerpts == 8
    assert replace(MUSICNN_FEATURES, excerpt_seconds=2.976).n_frames == PATCH_FRAMES
    assert get_spec("musicnn-msd").features == MUSICNN_FEATURES


def test_registered_models_run_on_a_batch_of_excerpts():
    waves = torch.randn(3, MUSICNN_FEATURES.excerpt_samples) * 0.1
    x = LogMel(MUSICNN_FEATURES)(waves)
    raw = build_model("musicnn-msd").eval()
    head = build_model("musicnn-msd-head").eval()
    with torch.no_grad():
        assert raw(x).shape == (3, 1506)
        out = head(x)
    assert out.shape == (3, 128) and head.sizes == (64, 32, 32)  # timbre, rhythm, texture
    assert not any(p.requires_grad for p in head.backbone.parameters())
    assert any(p.requires_grad for p in head.mlp.parameters())


def test_a_head_wider_than_256_dimensions_is_refused():
    from trainer.errors import ParameterError
    from trainer.models.musicnn_heads import MusicnnHead

    with pytest.raises(ParameterError):
        MusicnnHead(MUSICNN_FEATURES, embedding_dim=512, pretrained=False)
    with pytest.raises(ParameterError):
        MusicnnHead(MUSICNN_FEATURES, embedding_dim=2, pretrained=False)


def test_musicnn_models_refuse_other_input():
    from trainer.config import FeatureConfig
    from trainer.errors import ParameterError

    with pytest.raises(ParameterError, match="16 kHz"):
        build_model("musicnn-msd", FeatureConfig())


def test_the_why_line_knows_the_parts_of_both_musicnn_models():
    from trainer.parts import aspects_for

    head = aspects_for("musicnn-msd-head", 128)
    assert [a.label for a in head] == ["timbre", "rhythm", "texture"]
    assert [len(a.columns) for a in head] == [64, 32, 32]
    raw = aspects_for("musicnn-msd", 1506)
    assert sorted(c for a in raw for c in a.columns) == list(range(1506))
    assert len(raw[0].columns) == 2 * 408  # the timbral filters' channels, max- and mean-pooled


def test_the_parts_layout_matches_the_ports_channels():
    """``trainer.parts`` names musicnn's channels without importing torch; it must agree with the port."""
    from trainer.models.musicnn import FRONTEND_CHANNELS, POOLED_CHANNELS
    from trainer.parts import MUSICNN_PARTS, MUSICNN_POOLED_CHANNELS

    assert POOLED_CHANNELS == MUSICNN_POOLED_CHANNELS
    assert MUSICNN_PARTS[-1][2] == POOLED_CHANNELS
    assert MUSICNN_PARTS[1][2] == FRONTEND_CHANNELS  # rhythm ends where the mid end begins


def test_the_fitted_head_projects_without_centring_on_the_training_music():
    """The raw features are compared uncentred; a head that subtracted its training games' mean sat
    0.3 to 2 points below them on every set (docs/QUALITY.md), so the fit leaves the bias at zero."""
    from trainer.models.musicnn_heads import MusicnnHead

    gen = torch.Generator().manual_seed(0)
    features = torch.randn(300, 1506, generator=gen) * 3.0 + 5.0
    head = MusicnnHead(MUSICNN_FEATURES, embedding_dim=128, pretrained=False).eval()
    head.fit_statistics(features)
    with torch.no_grad():
        at_the_mean = head.head(head.standardise.mean[None])  # standardised to zero
        z = head.standardise(features[:5])
        parts = zip(head.project, head._parts_in(z), strict=True)
        expected = torch.cat([p @ layer.weight.T for layer, p in parts], dim=1)
        assert torch.allclose(head.head(features[:5]), expected, atol=1e-5)
    assert torch.count_nonzero(at_the_mean) == 0
    for layer in head.project:  # principal directions: orthonormal rows
        gram = layer.weight @ layer.weight.T
        assert torch.allclose(gram, torch.eye(layer.out_features), atol=1e-4)
