"""Names and count of the classic statistics (``trainer.models.classic`` computes them).

Kept free of torch so that listing the models (the app does it before its window appears) does not
have to import torch just to learn that the classic baseline has 89 dimensions.
"""

from __future__ import annotations

N_MFCC = 20
N_BANDS = 8


def feature_names(n_mfcc: int = N_MFCC, n_bands: int = N_BANDS) -> list[str]:
    """Names of the output columns, in order."""
    names = [f"mfcc_mean_{i}" for i in range(n_mfcc)] + [f"mfcc_std_{i}" for i in range(n_mfcc)]
    names += [f"dmfcc_absmean_{i}" for i in range(n_mfcc)]
    names += [f"band_mean_{i}" for i in range(n_bands)] + [f"band_std_{i}" for i in range(n_bands)]
    for stat in ("centroid", "bandwidth", "flatness", "flux", "loudness"):
        names += [f"{stat}_mean", f"{stat}_std"]
    return names + ["onset_rate", "pulse_clarity", "pulse_bpm"]


N_FEATURES = len(feature_names())
