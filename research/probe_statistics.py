"""Which excerpt statistics carry album identity? The probe behind ``musicnet-stats-small``.

Beside a trained model's embedding, adds the parameter-free blocks of
:class:`trainer.models.stats.ExcerptStatistics` (timbre and timbre-motion log-covariance, band
envelope, modulation), each standardised on the training games' excerpts, L2-normalised and
concatenated — in full, or reduced to its main directions as the shipped model does — and scores
song embeddings (mean of normalised excerpt embeddings, as the indexer) on four sets: the training
games and eight other games to choose by, warzone + nexuiz and four more games to test on.

    python research/probe_statistics.py --corpus CORPUS --extra EXTRA [--model default]

CORPUS from ../shared/corpus/build_dev_corpus.py, EXTRA from benchmarks/build_extra_corpus.py;
log-mels are cached by quality_lab.py's ``cached_excerpts`` (32 excerpts of 3 s per song).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_lab import cached_excerpts, report  # noqa: E402
from trainer.config import FeatureConfig  # noqa: E402
from trainer.evaluate import album_triplets  # noqa: E402
from trainer.models.stats import ExcerptStatistics  # noqa: E402
from trainer.modelstore import load_model  # noqa: E402

TRAINING_GAMES = ("hedgewars", "supertux", "wesnoth")
TEST_GAMES = ("warzone2100", "nexuiz")
HELDX4 = ("0ad", "redeclipse", "widelands", "freedroidrpg")


def library_sets(corpus: Path, extra: Path, cache: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name → (log-mels (songs, excerpts, mels, frames), labels): album for the corpus, game for extra."""
    paths, mels = cached_excerpts(corpus, 32, cache / "corpus-32.npz")
    extra_paths, extra_mels = cached_excerpts(extra, 32, cache / "extra-32.npz")
    parts = [Path(p).relative_to(corpus).parts for p in paths]
    games = [Path(p).relative_to(extra).parts[0] for p in extra_paths]
    albums = np.array(["/".join(p[:2]) for p in parts])
    train = np.array([p[0] in TRAINING_GAMES for p in parts])
    test = np.array([p[0] in TEST_GAMES for p in parts])
    held = np.isin(games, HELDX4)
    return {
        "training games": (mels[train], albums[train]),
        "8 other games": (extra_mels[~held], np.array(games)[~held]),
        "warzone+nexuiz": (mels[test], albums[test]),
        "heldx4": (extra_mels[held], np.array(games)[held]),
    }


@torch.no_grad()
def excerpt_features(
    model: torch.nn.Module,
    mels: np.ndarray,
    cfg: FeatureConfig,
    more: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """block name → (songs, excerpts, size); "model" is the model's normalised embedding, and
    ``more(batch)`` adds blocks of its own (probe_candidates.py)."""
    stats = ExcerptStatistics(cfg)
    n, e = mels.shape[:2]
    flat = torch.from_numpy(mels.reshape(n * e, 1, *mels.shape[2:]).astype(np.float32))
    out: dict[str, list[torch.Tensor]] = {}
    for batch in flat.split(512):
        blocks = {"model": F.normalize(model(batch), dim=1), **stats(batch), **(more(batch) if more else {})}
        for name, value in blocks.items():
            out.setdefault(name, []).append(value)
    return {k: torch.cat(v).reshape(n, e, -1) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--extra", type=Path, required=True)
    p.add_argument("--model", default="default", help="the learnt part (name or folder)")
    p.add_argument("--cache-dir", type=Path, default=Path("quality-lab-cache"))
    p.add_argument("--components", type=int, default=16, help="main directions kept per block")
    a = p.parse_args()
    a.cache_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    loaded = load_model(a.model)
    model = loaded.model.eval()
    cfg = FeatureConfig()  # the cache's excerpts: 3 s
    sets = library_sets(a.corpus, a.extra, a.cache_dir)
    feats = {name: excerpt_features(model, mels, cfg) for name, (mels, _) in sets.items()}

    # Standardise each block on the training games' excerpts and find its main directions there.
    fit = {k: v.flatten(0, 1) for k, v in feats["training games"].items() if k != "model"}
    centre = {k: v.mean(0) for k, v in fit.items()}
    scale = {k: v.std(0) + 1e-6 for k, v in fit.items()}
    directions = {
        k: torch.linalg.svd((v - centre[k]) / scale[k], full_matrices=False)[2] for k, v in fit.items()
    }

    def embed(f: dict[str, torch.Tensor], blocks: tuple[str, ...], components: int | None) -> np.ndarray:
        parts = [f["model"]]
        for k in blocks:
            z = (f[k] - centre[k]) / scale[k]
            parts.append(z if components is None else z @ directions[k][:components].T)
        z = torch.cat([F.normalize(q, dim=-1) for q in parts], dim=-1)
        return F.normalize(z, dim=-1).mean(1).numpy()

    blocks = tuple(k for k in feats["training games"] if k != "model")
    variants = {
        f"{loaded.info.name} alone": ((), None),
        "+ all blocks, full": (blocks, None),
        f"+ all blocks, {a.components} directions each": (blocks, a.components),
        **{f"+ {k} only, full": ((k,), None) for k in blocks},
    }
    print(f"python research/probe_statistics.py --corpus {a.corpus} --extra {a.extra} --model {a.model}")
    for set_name, (_, labels) in sets.items():
        idx, odd = album_triplets(labels, 5000, seed=0)
        print(f"\n{set_name} ({len(labels)} songs)")
        for tag, (chosen, components) in variants.items():
            report(tag[:40].ljust(40), embed(feats[set_name], chosen, components), labels, idx, odd)


if __name__ == "__main__":
    main()
