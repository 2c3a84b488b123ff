"""``musicnet-stats-small``: the hybrid CNN beside fixed second-order statistics of the excerpt.

Why: with a few hundred training songs, random conv weights describe unseen music almost as well
as trained ones (docs/QUALITY.md) — what tells albums apart is mostly their sound as a whole:
the spread and co-movement of timbre, the envelope of the spectrum, the rhythm of each band.
Music-similarity systems before deep learning described a song by exactly that, a Gaussian over
its MFCC frames (Aucouturier & Pachet 2002, Mandel & Ellis 2005) and a fluctuation pattern
(Pampalk 2001).  Those carry what the CNN's mean/max pooling and the first-order classic
statistics lose: covariances.

Each excerpt gets four blocks, all computed from the normalised log-mel without parameters:

==============  ====  ===========================================================================
block           size  what
==============  ====  ===========================================================================
timbre          230   20 MFCCs: mean, and the matrix logarithm of their covariance (upper triangle)
timbre motion   230   frame-to-frame MFCC change: mean magnitude, log-covariance
envelope        152   16 mel bands: mean dB, log-covariance
modulation      192   12 mel bands × 16 modulation frequencies (0.34–5.4 Hz): log magnitude of the
                      band's level over 128-frame (3 s) windows, averaged over the windows
==============  ====  ===========================================================================

The log-covariance maps covariance matrices to a flat space where Euclidean distance is the
log-Euclidean Riemannian distance (Arsigny et al. 2006), so the search's vector distances apply.
The modulation block uses fixed 3-s windows, so a 3-s training crop and a 6-s indexing excerpt
measure the same frequencies.

Each block is standardised and reduced to its 16 main directions (:class:`RunningPCA`), fitted on
the training music while the CNN trains and saved with the weights; fine-tuning on a library fits
them afresh on that library's music.  Then the CNN's embedding and each block are
L2-normalised and concatenated, so each of the five has the same say in a cosine distance.
Training changes only the CNN; the statistics have nothing to learn.

Output: ``embedding_dim`` (128) in total — the CNN's 64 and 4 × 16 statistics — so the index, the
search and the map cost what they cost for every other model.  Measured on held-out games:
docs/QUALITY.md ("Second-order statistics").
"""

from __future__ import annotations

import torch
import torchaudio.functional as AF
from torch import nn

from trainer.config import FeatureConfig
from trainer.errors import ParameterError
from trainer.models.classic import band_matrix
from trainer.models.ours import MusicNetHybrid
from trainer.models.registry import register
from trainer.parts import COMPONENTS_PER_BLOCK, STATISTICS_BLOCKS

N_MFCC = 20
N_ENVELOPE_BANDS = 16
N_MODULATION_BANDS = 12
N_MODULATION_BINS = 16
#: Frames per modulation window: 128 frames are 2.97 s at 22,050 Hz and hop 512.
MODULATION_WINDOW = 128
#: Added to each covariance's diagonal (dB²), so silence and constant bands stay finite.
COVARIANCE_FLOOR = 1e-3


def _gaussian_size(n: int) -> int:
    return n + n * (n + 1) // 2


_SIZES = {
    "timbre": _gaussian_size(N_MFCC),
    "timbre_motion": _gaussian_size(N_MFCC),
    "envelope": _gaussian_size(N_ENVELOPE_BANDS),
    "modulation": N_MODULATION_BANDS * N_MODULATION_BINS,
}
#: Each block's size before reduction, in the order of the model's parts (trainer.parts).
BLOCK_SIZES: dict[str, int] = {name: _SIZES[name] for name, _ in STATISTICS_BLOCKS}
N_STATS = sum(BLOCK_SIZES.values())
#: Each block is reduced to its main directions on the training music (COMPONENTS_PER_BLOCK each).
N_STATS_OUT = COMPONENTS_PER_BLOCK * len(BLOCK_SIZES)


def _eigh(matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh`` on the matrices' device; MPS has no symmetric eigensolver, so the
    (small) matrices are solved on the CPU there and the results moved back."""
    if matrices.device.type != "mps":
        return torch.linalg.eigh(matrices)
    values, vectors = torch.linalg.eigh(matrices.cpu())
    return values.to(matrices.device), vectors.to(matrices.device)


def _log_covariance(x: torch.Tensor) -> torch.Tensor:
    """``(B, n, T)`` series → ``(B, n(n+1)/2)``: upper triangle of logm(covariance).

    Off-diagonal entries are scaled by √2 so the vector's Euclidean norm is the matrix's Frobenius
    norm.
    """
    n, frames = x.shape[1], x.shape[-1]
    centred = x - x.mean(dim=-1, keepdim=True)
    cov = centred @ centred.transpose(1, 2) / max(frames - 1, 1)
    # A non-finite input must give a finite vector, not an eigensolver error that stops a job.
    cov = torch.nan_to_num(cov, nan=0.0, posinf=0.0, neginf=0.0)
    cov = cov + COVARIANCE_FLOOR * torch.eye(n, device=x.device, dtype=x.dtype)
    eigvals, eigvecs = _eigh(cov)
    log_cov = (eigvecs * eigvals.clamp(min=COVARIANCE_FLOOR).log()[:, None, :]) @ eigvecs.transpose(1, 2)
    rows, cols = torch.triu_indices(n, n, 1, device=x.device)
    return torch.cat([torch.diagonal(log_cov, dim1=1, dim2=2), 2**0.5 * log_cov[:, rows, cols]], dim=1)


class ExcerptStatistics(nn.Module):
    """Parameter-free timbre / envelope / modulation statistics of a normalised log-mel batch.

    Input ``(B, 1, n_mels, n_frames)`` → dict of block name → ``(B, BLOCK_SIZES[name])`` float32.
    """

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        if cfg.n_mels < N_MFCC:
            raise ParameterError(f"excerpt statistics need n_mels >= {N_MFCC}, got {cfg.n_mels}")
        self.n_mels = cfg.n_mels
        self.scale_db = float(cfg.norm_scale_db)
        self.offset_db = float(cfg.norm_offset_db)
        dct = AF.create_dct(n_mfcc=N_MFCC, n_mels=cfg.n_mels, norm="ortho")
        self.register_buffer("dct", dct, persistent=False)
        for name, n_bands in (("envelope_bands", N_ENVELOPE_BANDS), ("modulation_bands", N_MODULATION_BANDS)):
            self.register_buffer(name, band_matrix(n_bands, cfg.n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(MODULATION_WINDOW, periodic=False), persistent=False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != self.n_mels:
            raise ParameterError(f"expected (B, 1, {self.n_mels}, n_frames), got {tuple(x.shape)}")
        # Sums of squared dB values overflow half precision: always float32, even under autocast.
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.from_db(x[:, 0].float() * self.scale_db - self.offset_db)

    def from_db(self, db: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, M, T)`` dB → the four blocks (for a model whose input is not MusicSim's dB scale)."""
        if db.shape[-1] < 2:
            db = db.expand(-1, -1, 2)
        mfcc = torch.einsum("bmt,mk->bkt", db, self.dct)
        motion = mfcc.diff(dim=-1)
        envelope = torch.einsum("bmt,km->bkt", db, self.envelope_bands)
        out = {
            "timbre": torch.cat([mfcc.mean(dim=-1), _log_covariance(mfcc)], dim=1),
            "timbre_motion": torch.cat([motion.abs().mean(dim=-1), _log_covariance(motion)], dim=1),
            "envelope": torch.cat([envelope.mean(dim=-1), _log_covariance(envelope)], dim=1),
            "modulation": self._modulation(torch.einsum("bmt,km->bkt", db, self.modulation_bands)),
        }
        return {k: torch.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0) for k, v in out.items()}

    def _modulation(self, bands: torch.Tensor) -> torch.Tensor:
        """``(B, K, T)`` band levels → ``(B, K · N_MODULATION_BINS)`` mean log modulation magnitude."""
        frames = bands.shape[-1]
        if frames < MODULATION_WINDOW:
            bands = nn.functional.pad(bands, (0, MODULATION_WINDOW - frames), mode="replicate")
        step = MODULATION_WINDOW // 2
        windows = bands.unfold(-1, MODULATION_WINDOW, step)  # (B, K, W, MODULATION_WINDOW)
        windows = windows - windows.mean(dim=-1, keepdim=True)
        spectrum = torch.fft.rfft(windows * self.window, dim=-1).abs()[..., 1 : N_MODULATION_BINS + 1]
        return torch.log1p(spectrum).mean(dim=2).flatten(1)


class RunningPCA(nn.Module):
    """Standardise a block and keep its ``n_components`` main directions, fitted while training.

    In training mode every batch updates a running mean and covariance (Chan et al.'s pairwise
    update, so the fit is of all training batches alike) and recomputes the projection — a few
    milliseconds for these sizes.  The projection is a persistent buffer: a saved model embeds
    identically on any machine, whatever its eigensolver's sign conventions.  Before any training
    it passes the first ``n_components`` inputs through unchanged.
    """

    def __init__(self, size: int, n_components: int) -> None:
        super().__init__()
        self.n_components = n_components
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("scatter", torch.zeros(size, size))
        self.register_buffer("centre", torch.zeros(size))
        self.register_buffer("projection", torch.eye(n_components, size))

    def restart(self) -> None:
        """Forget the fit; the current projection stays in use until the next training batch."""
        self.count.zero_()
        self.mean.zero_()
        self.scatter.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self._update(x.detach())
        return (x - self.centre) @ self.projection.T

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Fit on ``x`` ``(N, size)`` alone, at once (a model whose statistics are fitted from
        cached vectors rather than while training)."""
        self.restart()
        self._update(x.float())

    @torch.no_grad()
    def _update(self, x: torch.Tensor) -> None:
        n, batch_mean = float(x.shape[0]), x.mean(dim=0)
        centred = x - batch_mean
        total = self.count + n
        delta = batch_mean - self.mean
        self.scatter += centred.T @ centred + torch.outer(delta, delta) * (self.count * n / total)
        self.mean += delta * (n / total)
        self.count.fill_(total)
        cov = self.scatter / total.clamp(min=2.0)
        std = cov.diagonal().clamp(min=1e-8).sqrt()
        corr = cov / torch.outer(std, std)
        _, vectors = _eigh(corr)
        top = vectors[:, -self.n_components :].flip(1).T  # (k, size), largest first
        self.centre.copy_(self.mean)
        self.projection.copy_(top / std)  # standardise, then project: one matrix


class MusicNetStats(nn.Module):
    """:class:`MusicNetHybrid` (learnt) beside :class:`ExcerptStatistics` (fixed), each L2-normalised.

    In training mode the output is only the CNN's normalised part (``embedding_dim`` − 64 wide)
    while the statistics' projections are fitted; in eval mode it is the whole embedding.
    """

    def __init__(self, cfg: FeatureConfig, channels: tuple[int, ...], embedding_dim: int) -> None:
        super().__init__()
        learnt_dim = embedding_dim - N_STATS_OUT
        if learnt_dim < 8:
            raise ParameterError(
                f"embedding_dim must be at least {N_STATS_OUT + 8} ({N_STATS_OUT} of it "
                f"statistics), got {embedding_dim}"
            )
        self.hybrid = MusicNetHybrid(cfg, channels, learnt_dim)
        self.statistics = ExcerptStatistics(cfg)
        self.reduce = nn.ModuleDict(
            {name: RunningPCA(size, COMPONENTS_PER_BLOCK) for name, size in BLOCK_SIZES.items()}
        )
        self.embedding_dim = embedding_dim

    def restart_statistics(self) -> None:
        """Fit the statistics' projections afresh from the next training batch on.

        Fine-tuning calls this: a model adapted to a library describes it best with directions
        fitted on that library alone (docs/QUALITY.md, "Adaptation").
        """
        for reduce in self.reduce.values():
            reduce.restart()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        learnt = nn.functional.normalize(self.hybrid(x), dim=1)
        stats = [self.reduce[name](block) for name, block in self.statistics(x).items()]
        if self.training:
            # The loss sees only what training can change.  Inside one cosine the fixed blocks
            # would hold 4/5 of the similarity and dilute the CNN's gradient (a 5× higher
            # temperature).  Measured both ways, 3 seeds each: alike on unseen games, the best
            # cell on the training games' albums 1-2 points higher this way (docs/QUALITY.md).
            return learnt
        return torch.cat([learnt] + [nn.functional.normalize(p, dim=1) for p in stats], dim=1)


@register(
    "musicnet-stats-small",
    family="ours",
    default_batch_size=64,
    description="Ours, small (the default): musicnet-hybrid-small + timbre covariance, band envelope and "
    "modulation statistics (~0.4M)",
)
def musicnet_stats_small(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module:
    return MusicNetStats(cfg, (16, 32, 64, 128), embedding_dim)
