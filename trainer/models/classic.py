"""``classic``: a no-training baseline of classic audio statistics computed from the log-mel.

It takes the same input as the learnt models, ``(B, 1, n_mels, n_frames)``, undoes the
``LogMel`` normalisation (``dB = x · cfg.norm_scale_db − cfg.norm_offset_db``) and returns a fixed
vector of :data:`N_FEATURES` = 89 statistics per excerpt:

==================  ====  =================================================================
feature             size  what
==================  ====  =================================================================
mfcc_mean / _std    20+20 DCT-II (orthonormal) of the dB mel frame, mean and std over time
dmfcc_absmean       20    mean absolute frame-to-frame change of each MFCC (timbre motion)
band_mean / _std    8+8   mean dB of 8 contiguous groups of mel bins, mean and std over time
centroid            2     power-weighted mean mel position (0 = lowest bin, 1 = highest),
                          mean and std over time
bandwidth           2     power-weighted std of the mel position, mean and std
flatness            2     geometric / arithmetic mean of the mel power (1 = noise-like)
flux                2     mean positive dB change per frame (onset strength), mean and std
loudness            2     dB of the mean mel power per frame, mean and std
onset_rate          1     onsets per second (local maxima of the flux above mean + 0.5·std)
pulse_clarity       1     highest normalised autocorrelation of the flux at 30–240 BPM lags
pulse_bpm           1     tempo (BPM) of the best such lag, weighted by a prior around 120 BPM
==================  ====  =================================================================

The features have very different scales, so compare them after standardising (the search's
``standard`` scaler).  The ``embedding_dim`` argument of the constructor is ignored: the size
is fixed; read ``model.embedding_dim`` (= 89) and ``model.feature_names``.  There are no
parameters and no state: ``state_dict()`` is empty, and ``train()``/``eval()`` change nothing.
"""

from __future__ import annotations

import math

import torch
import torchaudio.functional as AF
from torch import nn

from trainer.classic_names import N_BANDS, N_FEATURES, N_MFCC, feature_names
from trainer.config import FeatureConfig
from trainer.errors import ParameterError
from trainer.models.registry import register

#: Tempo range for the pulse measures, in beats per minute.
BPM_RANGE = (30.0, 240.0)
_EPS = 1e-10


def band_matrix(n_bands: int, n_mels: int) -> torch.Tensor:
    """``(n_bands, n_mels)``: averages contiguous groups of mel bins (as equal as they divide)."""
    out = torch.zeros(n_bands, n_mels)
    for i, idx in enumerate(torch.arange(n_mels).tensor_split(n_bands)):
        out[i, idx] = 1.0 / len(idx)
    return out


def _mean_std(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) std over the last axis; finite for a single frame."""
    return x.mean(dim=-1), x.std(dim=-1, correction=0)


class ClassicFeatures(nn.Module):
    """Parameter-free MFCC / spectral / rhythm statistics of a log-mel batch.

    Parameters
    ----------
    cfg : FeatureConfig
        Gives ``n_mels``, the frame rate (``sample_rate / hop_length``) and the log-mel scaling.

    Input ``(B, 1, n_mels, n_frames)`` → output ``(B, 89)`` float32.
    """

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        n_mels = cfg.n_mels
        if n_mels < max(N_MFCC, N_BANDS):
            raise ParameterError(f"classic features need n_mels >= {N_MFCC}, got {n_mels}")
        self.n_mels = n_mels
        self.frame_rate = cfg.sample_rate / cfg.hop_length
        # LogMel maps dB to (dB + norm_offset_db) / norm_scale_db; undo it to work in dB.
        self.scale_db = float(cfg.norm_scale_db)
        self.offset_db = float(cfg.norm_offset_db)
        dct = AF.create_dct(n_mfcc=N_MFCC, n_mels=n_mels, norm="ortho")  # (n_mels, n_mfcc)
        self.register_buffer("dct", dct, persistent=False)
        self.register_buffer("bands", band_matrix(N_BANDS, n_mels), persistent=False)
        self.register_buffer("position", torch.linspace(0.0, 1.0, n_mels), persistent=False)
        self.embedding_dim = N_FEATURES
        self.feature_names = feature_names()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, n_mels, n_frames)`` normalised log-mel → ``(B, 89)`` statistics."""
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != self.n_mels:
            raise ParameterError(f"expected (B, 1, {self.n_mels}, n_frames), got {tuple(x.shape)}")
        db = x[:, 0].float() * self.scale_db - self.offset_db  # (B, M, T)
        feats: list[torch.Tensor] = []

        mfcc = torch.einsum("bmt,mk->bkt", db, self.dct)  # (B, 20, T)
        dmfcc = mfcc.diff(dim=-1).abs().mean(dim=-1) if db.shape[-1] > 1 else torch.zeros_like(mfcc[..., 0])
        feats += [*_mean_std(mfcc), dmfcc]
        feats += list(_mean_std(torch.einsum("bmt,km->bkt", db, self.bands)))

        # Mel power relative to the excerpt's peak, so 10**(dB/10) cannot overflow.
        peak = db.amax(dim=(1, 2), keepdim=True)
        power = torch.pow(10.0, (db - peak) / 10.0)  # (B, M, T)
        total = power.sum(dim=1) + _EPS  # (B, T)
        pos = self.position[:, None]
        centroid = (power * pos).sum(dim=1) / total
        bandwidth = ((power * (pos - centroid[:, None]) ** 2).sum(dim=1) / total).sqrt()
        log_power = torch.log(power + _EPS)
        flatness = torch.exp(log_power.mean(dim=1) - torch.log(power.mean(dim=1) + _EPS))
        loudness = peak[:, 0] + 10.0 * torch.log10(power.mean(dim=1) + _EPS)
        flux = torch.relu(db.diff(dim=-1)).mean(dim=1) if db.shape[-1] > 1 else torch.zeros_like(db[:, 0])
        for series in (centroid, bandwidth, flatness, flux, loudness):
            feats += [t[:, None] for t in _mean_std(series)]

        feats += [t[:, None] for t in self._rhythm(flux)]
        out = torch.cat(feats, dim=1)
        return torch.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).float()

    def _rhythm(self, onset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Onset rate (1/s), pulse clarity and pulse tempo (BPM) of an onset envelope ``(B, T')``."""
        b, n = onset.shape
        zeros = onset.new_zeros(b)
        if n < 3:
            return zeros, zeros, zeros
        mean, std = _mean_std(onset)
        mid = onset[:, 1:-1]
        peaks = (mid > onset[:, :-2]) & (mid >= onset[:, 2:]) & (mid > (mean + 0.5 * std)[:, None])
        onset_rate = peaks.sum(dim=1).float() / (n / self.frame_rate)

        lo = max(1, math.ceil(self.frame_rate * 60.0 / BPM_RANGE[1]))
        hi = min(n - 1, math.floor(self.frame_rate * 60.0 / BPM_RANGE[0]))
        if hi < lo:
            return onset_rate, zeros, zeros
        centred = onset - mean[:, None]
        spec = torch.fft.rfft(centred, n=2 * n)
        acf = torch.fft.irfft(spec.abs() ** 2, n=2 * n)[:, :n]
        acf = acf / (acf[:, :1] + _EPS)
        acf = acf[:, lo : hi + 1]
        bpm = 60.0 * self.frame_rate / torch.arange(lo, hi + 1, device=acf.device, dtype=acf.dtype)
        # A log-normal tempo prior around 120 BPM (as librosa's tempo estimate) against octave errors.
        prior = torch.exp(-0.5 * torch.log2(bpm / 120.0) ** 2)
        arg = (acf * prior).argmax(dim=1)
        return onset_rate, acf.amax(dim=1).clamp(min=0.0), bpm[arg]


@register(
    "classic",
    family="classic",
    trainable=False,
    default_batch_size=64,
    description="No training: MFCC, band-energy, spectral, loudness and rhythm statistics (89-d)",
)
def classic(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    """``embedding_dim`` is ignored: the classic features have a fixed size (89)."""
    return ClassicFeatures(cfg)
