"""The "why" of a result: which named parts of the embedding it is alike in, placed in the library."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.aspects import AspectRanker, top_text
from trainer.classic_names import N_FEATURES
from trainer.parts import PARTS_BY_ARCH, STATISTICS_BLOCKS, aspects_for

STATS_ASPECTS = tuple(label for _, label in STATISTICS_BLOCKS)


@pytest.mark.parametrize(
    ("arch", "dim"), [("musicnet-stats-small", 128), ("musicnet-stats-small", 96), ("classic", N_FEATURES)]
)
def test_aspects_cover_every_column_once(arch, dim):
    aspects = aspects_for(arch, dim)
    columns = sorted(c for a in aspects for c in a.columns)
    assert columns == list(range(dim)) and all(a.columns for a in aspects)


def test_stats_aspects_follow_the_cnn_part_in_block_order():
    aspects = aspects_for("musicnet-stats-small", 128)
    assert [a.label for a in aspects] == ["learnt", *STATS_ASPECTS]
    assert aspects[0].columns == tuple(range(64)) and aspects[-1].columns == tuple(range(112, 128))


def test_parts_are_declared_for_registered_architectures_of_their_width():
    """Each declared layout names a registered architecture and fits the vector it builds."""
    import torch

    from trainer.config import FeatureConfig
    from trainer.models import build_model, get_spec, model_names

    for arch in PARTS_BY_ARCH:
        assert arch in model_names()
        cfg = get_spec(arch).features or FeatureConfig()  # a pretrained net takes its own input
        with torch.no_grad():
            model = build_model(arch).eval()
            dim = int(model(torch.randn(2, 1, cfg.n_mels, cfg.n_frames)).shape[1])
        assert sorted(c for a in aspects_for(arch, dim) for c in a.columns) == list(range(dim))


def test_opaque_codes_have_no_aspects():
    assert aspects_for("model7-resnet18", 256) == [] and aspects_for("musicnet-hybrid-small", 128) == []
    assert aspects_for("classic", N_FEATURES + 1) == []  # not the columns we know the names of


def _library(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 128)).astype(np.float32)
    # song 1 shares song 0's rhythm part (and nothing else); song 2 shares its timbre
    X[1, 112:128] = X[0, 112:128] + 0.05 * rng.normal(size=16)
    X[2, 64:80] = X[0, 64:80] + 0.05 * rng.normal(size=16)
    return X


def test_a_result_ranks_top_in_the_part_it_shares_with_the_query():
    aspects = aspects_for("musicnet-stats-small", 128)
    labels = [a.label for a in aspects]
    pct = AspectRanker(_library(), aspects).percentiles(0, [1, 2])
    assert pct.shape == (2, 5) and ((0 <= pct) & (pct <= 1)).all()
    assert pct[0, labels.index("rhythm")] > 0.99 and pct[1, labels.index("timbre")] > 0.99
    assert pct[0, labels.index("timbre")] < 0.99 and pct[1, labels.index("rhythm")] < 0.99
    # an unrelated song sits somewhere in the middle, not at the top
    assert np.median(AspectRanker(_library(), aspects).percentiles(0, [50])) < 0.95


def test_a_reference_sample_estimates_the_full_library_percentiles():
    X = _library(n=3000, seed=1)
    aspects = aspects_for("musicnet-stats-small", 128)
    rows = list(range(1, 40))
    full = AspectRanker(X, aspects).percentiles(0, rows)
    sampled = AspectRanker(X, aspects, reference=1000, seed=3).percentiles(0, rows)
    assert np.abs(full - sampled).max() < 0.06
    assert np.allclose(AspectRanker(X, []).percentiles(0, rows), 0.0)


def test_a_broken_row_gives_finite_percentiles():
    X = _library()
    X[3] = np.nan
    X[4, :10] = np.inf
    pct = AspectRanker(X, aspects_for("musicnet-stats-small", 128)).percentiles(3, [1, 4, 5])
    assert np.isfinite(pct).all() and ((0 <= pct) & (pct <= 1)).all()
    assert np.isfinite(AspectRanker(X, aspects_for("musicnet-stats-small", 128)).percentiles(0, [3, 4])).all()
    rows, dist = AspectRanker(X, aspects_for("musicnet-stats-small", 128)).nearest(0, 0, len(X) - 1)
    assert set(rows[-2:].tolist()) == {3, 4}  # broken rows are nobody's neighbours
    assert np.isfinite(dist[:-2]).all()


def test_nearest_in_one_aspect_finds_the_song_that_shares_it():
    X = _library()
    aspects = aspects_for("musicnet-stats-small", 128)
    labels = [a.label for a in aspects]
    ranker = AspectRanker(X, aspects)
    rows, dist = ranker.nearest(0, labels.index("rhythm"), 5)
    assert rows[0] == 1 and 0 not in rows and len(rows) == 5
    assert (np.diff(dist) >= 0).all() and dist[0] < 0.05
    rows, _ = ranker.nearest(0, labels.index("timbre"), 3)
    assert rows[0] == 2
    rows, _ = AspectRanker(X[:4], aspects).nearest(0, 0, 10)  # more asked than there are songs
    assert sorted(rows.tolist()) == [1, 2, 3]


def test_a_query_from_outside_the_library_is_its_vector():
    X = _library()
    aspects = aspects_for("musicnet-stats-small", 128)
    ranker = AspectRanker(X[1:], aspects)  # song 0 is not in this library; song 1 is its row 0
    rows, _ = ranker.nearest(X[0], [a.label for a in aspects].index("rhythm"), 3)
    assert rows[0] == 0 and len(rows) == 3
    inside = AspectRanker(X, aspects).percentiles(0, [1])
    outside = ranker.percentiles(X[0], [0])
    assert np.abs(inside - outside).max() < 0.02


def test_percentiles_read_as_top_shares():
    assert top_text(0.98) == "top 2 %" and top_text(1.0) == "top 1 %" and top_text(0.5) == "top 50 %"


def test_a_small_library_reads_places_not_percentages():
    from trainer.aspects import ordinal, place_text

    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
        "111th",
    ]
    # 35 songs besides the query: the share is of the 34 besides the result
    assert place_text(1.0, 35) == "1st of 35" and place_text(33 / 34, 35) == "2nd of 35"
    assert place_text(0.0, 35) == "35th of 35"
    assert place_text(0.0, 1) == "1st of 1"  # a library of two songs
    assert place_text(0.98, 500) == top_text(0.98) == "top 2 %"


def test_places_agree_with_the_ranker():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(36, 8)).astype(np.float32)
    from trainer.aspects import place_text
    from trainer.parts import Aspect

    ranker = AspectRanker(X, [Aspect("all", tuple(range(8)))])
    z = (X - ranker.mean) / ranker.scale
    sims = (z / np.linalg.norm(z, axis=1, keepdims=True)) @ (z[0] / np.linalg.norm(z[0]))
    order = [int(i) for i in np.argsort(-sims) if i != 0]  # the 35 others, most alike first
    shares = ranker.percentiles(0, order)[:, 0]
    assert [place_text(s, 35) for s in shares[:3]] == ["1st of 35", "2nd of 35", "3rd of 35"]
    assert place_text(shares[-1], 35) == "35th of 35"
