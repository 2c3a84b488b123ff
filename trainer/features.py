"""Log-mel spectrograms with torchaudio, so the same transform runs on the training device."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torchaudio

from .config import LOG_COMPRESSIONS, FeatureConfig
from .errors import ParameterError


class LogMel(torch.nn.Module):
    """Waves ``(B, n_samples)`` -> normalised log-mel ``(B, 1, n_mels, n_frames)``.

    The dB floor is relative to each excerpt's peak (``top_db``), so a quiet master and a loud one
    of the same music look alike; a fixed affine map then puts values in a unit-ish range, which
    the thesis's BatchNorm-free models need.
    """

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            n_mels=cfg.n_mels,
            f_min=cfg.f_min,
            f_max=cfg.f_max,
            power=2.0,
            norm="slaney",
            mel_scale="slaney",
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=cfg.top_db)
        if cfg.log_compression not in LOG_COMPRESSIONS:
            raise ParameterError(
                f"unknown log compression {cfg.log_compression!r}; "
                f"choose one of: {', '.join(LOG_COMPRESSIONS)}"
            )

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        # torchaudio's Spectrogram(power=2) is ``stft.abs().pow(2)``: a complex abs (a square root)
        # that costs as much as the STFT itself.  re² + im² is the same power, half the log-mel time
        # (benchmarks/bench_index.py).  Same STFT settings as ``self.mel.spectrogram``.
        s = self.mel.spectrogram
        flat = waves.reshape(-1, waves.shape[-1])
        z = torch.stft(
            flat,
            n_fft=s.n_fft,
            hop_length=s.hop_length,
            win_length=s.win_length,
            window=s.window,
            center=s.center,
            pad_mode=s.pad_mode,
            normalized=False,
            onesided=s.onesided,
            return_complex=True,
        )
        power = z.real.square() + z.imag.square()
        power = power.reshape(waves.shape[:-1] + power.shape[-2:])
        spec = self.mel.mel_scale(power).unsqueeze(1)  # (B, 1, n_mels, frames)
        if self.cfg.log_compression == "log10_1p":
            return torch.log10(1.0 + self.cfg.log_gain * spec)
        db = self.to_db(spec)
        return (db + self.cfg.norm_offset_db) / self.cfg.norm_scale_db


def mel_frequencies(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of each mel band, for axis labels."""
    import librosa

    return librosa.mel_frequencies(n_mels=cfg.n_mels, fmin=cfg.f_min, fmax=cfg.f_max, htk=False)


_display_cache: dict[FeatureConfig, LogMel] = {}


def log_mel_image(wave: np.ndarray, sr: int, cfg: FeatureConfig) -> np.ndarray:
    """Log-mel in dB, ``(n_mels, frames)``, of a whole mono track for display (CPU)."""
    cfg = replace(cfg, log_compression="db")  # people read spectrograms in dB, whatever a model eats
    if sr != cfg.sample_rate:
        import soxr

        wave = soxr.resample(wave, sr, cfg.sample_rate)
    transform = _display_cache.setdefault(cfg, LogMel(cfg))
    with torch.no_grad():
        x = transform(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None])
    return (x[0, 0].numpy() * cfg.norm_scale_db - cfg.norm_offset_db).astype(np.float32)
