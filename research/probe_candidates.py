"""Candidates beside or instead of the shipped statistics that did *not* help (docs/QUALITY.md).

Scores song embeddings (mean of normalised excerpt embeddings, as the indexer) of the shipped
default with, in turn:

* ``blocks``: six more parameter-free blocks appended to the default's output, each standardised
  and reduced to 16 directions on the training games' excerpts as the shipped blocks are — band
  level spread (dynamics), spectral contrast, spectral flatness, cepstral coefficients 20-39,
  band-level autocorrelation (sustain, reverb, tempo) and positive spectral flux;
* ``projections``: the default's CNN part beside the four shipped blocks reduced afresh by PCA
  (as shipped), by a song-discriminant projection (LDA with songs as classes — the closed form of
  the contrastive objective for a linear map: directions that vary between songs more than within
  one) per block, or by one such projection of all 804 statistics together (to 64 directions).

The sets are those of ``probe_statistics.py``: two to choose by (the training games, labels unused
by training; 8 other games) and two to test on (warzone + nexuiz; heldx4).

    python research/probe_candidates.py --corpus CORPUS --extra EXTRA [--part blocks|projections]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.functional as AF

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_statistics import excerpt_features, library_sets  # noqa: E402
from quality_lab import report  # noqa: E402
from trainer.config import FeatureConfig  # noqa: E402
from trainer.evaluate import album_triplets  # noqa: E402
from trainer.models.classic import band_matrix  # noqa: E402
from trainer.models.stats import COMPONENTS_PER_BLOCK, N_STATS, ExcerptStatistics  # noqa: E402
from trainer.modelstore import load_model  # noqa: E402

LEARNT_DIM = 64  # the default's CNN part: the first 64 of its 128 outputs
Projection = Callable[[torch.Tensor], torch.Tensor]


class CandidateBlocks(torch.nn.Module):
    """``(B, M, T)`` dB → the six candidate blocks."""

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        self.n_mels = n_mels
        self.bands8, self.bands12, self.bands16 = (band_matrix(k, n_mels) for k in (8, 12, 16))
        self.dct40 = AF.create_dct(40, n_mels, "ortho")

    @torch.no_grad()
    def forward(self, db: torch.Tensor) -> dict[str, torch.Tensor]:
        b = db.shape[0]
        env = torch.einsum("bmt,km->bkt", db, self.bands16)
        q10, q50, q90 = torch.quantile(env, torch.tensor([0.1, 0.5, 0.9]), dim=-1)
        groups = db[:, : self.n_mels // 8 * 8].reshape(b, 8, self.n_mels // 8, -1).sort(dim=2).values
        contrast = groups[:, :, -3:].mean(2) - groups[:, :, :3].mean(2)
        power = (db * (np.log(10) / 10)).exp().reshape(b, 8, -1, db.shape[-1])
        flatness = power.clamp_min(1e-10).log().mean(2) - power.mean(2).clamp_min(1e-10).log()
        cepstrum = torch.einsum("bmt,mk->bkt", db, self.dct40)[:, 20:]
        levels = torch.einsum("bmt,km->bkt", db, self.bands12)
        levels = levels - levels.mean(-1, keepdim=True)
        var = (levels * levels).mean(-1).clamp_min(1e-6)
        lags = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
        autocorr = torch.stack([(levels[..., k:] * levels[..., :-k]).mean(-1) / var for k in lags], -1)
        flux = torch.einsum("bmt,km->bkt", db.diff(dim=-1).clamp_min(0), self.bands8)
        out = {
            "dynamics": torch.cat([q90 - q10, q50 - env.mean(-1)], 1),
            "contrast": torch.cat([contrast.mean(-1), contrast.std(-1)], 1),
            "flatness": torch.cat([flatness.mean(-1), flatness.std(-1)], 1),
            "cepstrum 20-39": torch.cat([cepstrum.mean(-1), cepstrum.std(-1)], 1),
            "autocorrelation": autocorr.flatten(1),
            "flux": torch.cat([flux.mean(-1), flux.std(-1), flux.std(-1) / (flux.mean(-1) + 1e-3)], 1),
        }
        return {k: torch.nan_to_num(v) for k, v in out.items()}


def _standardiser(x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    flat = x.flatten(0, 1)
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    return lambda y: (y - mean) / std


def fit_pca(x: torch.Tensor, k: int) -> Projection:
    """Standardise and keep the ``k`` main directions of the excerpts ``(songs, excerpts, d)``."""
    standardise = _standardiser(x)
    z = standardise(x).flatten(0, 1)
    directions = torch.linalg.svd(z - z.mean(0), full_matrices=False)[2][:k]
    return lambda y: standardise(y) @ directions.T


def fit_song_discriminant(x: torch.Tensor, k: int, shrink: float = 0.3) -> Projection:
    """The ``k`` directions with the most total variance per unit of within-song variance."""
    standardise = _standardiser(x)
    z = standardise(x)
    within = (z - z.mean(1, keepdim=True)).flatten(0, 1)
    total = z.flatten(0, 1) - z.flatten(0, 1).mean(0)
    s_within, s_total = within.T @ within / len(within), total.T @ total / len(total)
    eye = torch.eye(len(s_within), dtype=s_within.dtype)
    s_within = (1 - shrink) * s_within + shrink * s_within.diagonal().mean() * eye
    values, vectors = torch.linalg.eigh(s_within)
    whiten = vectors / values.clamp_min(1e-9).sqrt()
    top = torch.linalg.eigh(whiten.T @ s_total @ whiten)[1][:, -k:].flip(1)
    directions = whiten @ top
    return lambda y: standardise(y) @ directions


def default_parts(f: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The default's output split as it was concatenated: the CNN's part, then its four blocks."""
    out = f["model"]  # normalised as a whole: each part keeps its direction
    return [out[..., :LEARNT_DIM]] + list(out[..., LEARNT_DIM:].split(COMPONENTS_PER_BLOCK, dim=-1))


def song_embeddings(parts: list[torch.Tensor], weights: list[float] | None = None) -> np.ndarray:
    weights = weights or [1.0] * len(parts)
    z = torch.cat([w * F.normalize(p, dim=-1) for w, p in zip(weights, parts, strict=True)], dim=-1)
    return F.normalize(z, dim=-1).mean(1).float().numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--extra", type=Path, required=True)
    p.add_argument("--model", default="default")
    p.add_argument("--cache-dir", type=Path, default=Path("quality-lab-cache"))
    p.add_argument("--part", choices=["blocks", "projections", "both"], default="both")
    a = p.parse_args()
    a.cache_dir.mkdir(parents=True, exist_ok=True)
    model = load_model(a.model).model.eval()
    cfg = FeatureConfig()
    sets = library_sets(a.corpus, a.extra, a.cache_dir)
    candidate_blocks = CandidateBlocks(cfg.n_mels)

    def more(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return candidate_blocks(batch[:, 0] * cfg.norm_scale_db - cfg.norm_offset_db)

    feats = {
        name: {k: v.double() for k, v in excerpt_features(model, mels, cfg, more).items()}
        for name, (mels, _) in sets.items()
    }
    fit = feats["training games"]
    shipped = list(ExcerptStatistics(cfg)(torch.zeros(1, 1, cfg.n_mels, 8)))
    candidates = list(CandidateBlocks(cfg.n_mels)(torch.zeros(1, cfg.n_mels, 8)))
    k = COMPONENTS_PER_BLOCK

    variants: dict[str, Callable[[dict[str, torch.Tensor]], np.ndarray]] = {
        "default": lambda f: song_embeddings([f["model"]]),
    }
    if a.part in ("blocks", "both"):
        for name in candidates + ["all six"]:
            names = candidates if name == "all six" else [name]
            projections = {n: fit_pca(fit[n], k) for n in names}
            variants[f"+ {name}"] = lambda f, pr=projections: song_embeddings(
                default_parts(f) + [pr[n](f[n]) for n in pr]
            )
    if a.part in ("projections", "both"):

        def per_block(fitter: Callable[[torch.Tensor, int], Projection]) -> Callable[..., np.ndarray]:
            pr = {n: fitter(fit[n], k) for n in shipped}
            return lambda f: song_embeddings(default_parts(f)[:1] + [pr[n](f[n]) for n in shipped])

        together = fit_song_discriminant(torch.cat([fit[n] for n in shipped], -1), 4 * k)
        variants["PCA per block (as shipped, refit)"] = per_block(fit_pca)
        variants["song-discriminant per block"] = per_block(fit_song_discriminant)
        variants[f"song-discriminant of all {N_STATS}"] = lambda f: song_embeddings(
            [f["model"][..., :LEARNT_DIM], together(torch.cat([f[n] for n in shipped], -1))], [1.0, 2.0]
        )

    print(f"python research/probe_candidates.py --corpus {a.corpus} --extra {a.extra} --part {a.part}")
    for set_name, (_, labels) in sets.items():
        idx, odd = album_triplets(labels, 5000, seed=0)
        print(f"\n{set_name} ({len(labels)} songs)")
        for tag, embed in variants.items():
            report(tag[:34].ljust(34), embed(feats[set_name]), labels, idx, odd)


if __name__ == "__main__":
    main()
