import numpy as np
import pytest
import soundfile as sf

from synth import SR, tone, write
from trainer.audio import excerpt_starts, load_audio, load_excerpts, probe
from trainer.config import FeatureConfig
from trainer.errors import AudioError

CFG = FeatureConfig()


@pytest.mark.parametrize(
    "fmt,kwargs",
    [
        ("wav", {}),
        ("flac", {}),
        ("ogg", {"format": "OGG", "subtype": "VORBIS"}),
        ("opus", {"format": "OGG", "subtype": "OPUS"}),
        ("mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
    ],
)
def test_formats_decode_to_mono_at_model_rate(tmp_path, fmt, kwargs):
    y = tone(440, 5.0, sr=48000)
    stereo = np.stack([y, 0.5 * y], axis=1)
    path = write(tmp_path / f"a.{fmt}", stereo, sr=48000, **kwargs)
    ex = load_excerpts(path, CFG)
    assert ex.waves.shape == (CFG.n_excerpts, CFG.excerpt_samples)
    assert ex.waves.dtype == np.float32
    assert abs(ex.duration_s - 5.0) < 0.2
    assert np.abs(ex.waves).max() > 0.05
    # a 440 Hz tone stays a 440 Hz tone after resampling to 22.05 kHz
    spectrum = np.abs(np.fft.rfft(ex.waves[0]))
    peak = np.argmax(spectrum) * CFG.sample_rate / CFG.excerpt_samples
    assert abs(peak - 440) < 5


def test_excerpts_are_spread_over_the_track():
    starts = excerpt_starts(300.0, CFG)
    assert len(starts) == CFG.n_excerpts
    assert starts[0] == pytest.approx(15.0)
    assert starts[-1] == pytest.approx(300 * 0.95 - CFG.excerpt_seconds)
    assert np.all(np.diff(starts) > 0)


def test_short_clip_is_tiled_not_rejected(tmp_path):
    path = write(tmp_path / "short.wav", tone(300, 0.5))
    ex = load_excerpts(path, CFG)
    assert ex.waves.shape[1] == CFG.excerpt_samples
    assert np.abs(ex.waves[:, -1000:]).max() > 0.01  # tiled, not zero-padded


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"", "empty"),
        (b"not audio at all" * 100, "not a decodable|not audio"),
        (np.random.default_rng(0).bytes(5000), "not a decodable|not audio"),
    ],
)
def test_bad_files_raise_audio_error_with_reason(tmp_path, content, reason):
    path = tmp_path / "bad.flac"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=reason):
        load_excerpts(path, CFG)


def test_silence_is_rejected(tmp_path):
    path = write(tmp_path / "silence.wav", np.zeros(SR * 4, np.float32))
    with pytest.raises(AudioError, match="silent"):
        load_excerpts(path, CFG)


def test_load_audio_for_playback_keeps_channels_and_rate(tmp_path):
    y = np.stack([tone(220, 2.0), tone(330, 2.0)], axis=1)
    path = write(tmp_path / "st.flac", y)
    audio, sr = load_audio(path, mono=False)
    assert sr == SR and audio.shape == (len(y), 2)
    mono, sr2 = load_audio(path, sr=16000)
    assert sr2 == 16000 and mono.ndim == 1 and abs(len(mono) - 32000) < 10
    part, _ = load_audio(path, offset_s=1.0, duration_s=0.5)
    assert abs(len(part) - SR // 2) < 2


def test_probe_reports_duration(tmp_path):
    path = write(tmp_path / "x.wav", tone(220, 3.0))
    info = probe(path)
    assert info.duration_s == pytest.approx(3.0, abs=0.01)
    assert info.channels == 1 and info.sample_rate == SR
    with pytest.raises(AudioError, match="vanished|No such|not"):
        probe(tmp_path / "missing.wav")
    assert sf.info(str(path)).frames == int(3.0 * SR)
