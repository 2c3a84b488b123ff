"""Triplet scoring, album triplets, P@1 / MAP@R, the triplet CSV reader and benchmark results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainer.distances import DISTANCES, SCALERS
from trainer.errors import ParameterError
from trainer.evaluate import (
    ScoreRow,
    album_triplets,
    label_balanced_p_at_1,
    map_at_r,
    precision_at_1,
    retrieval_report,
    retrieval_scores,
    triplet_correct,
    triplet_scores,
)
from trainer.results import BenchResult, load_reference_tables
from trainer.triplets import Triplet, append_triplets_csv, read_triplets_csv

APPENDIX_A = Path(__file__).resolve().parents[1] / "resources" / "reference" / "appendix_a.csv"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


# Columns already span [0, 1], so MinMaxScaler leaves these points where they are.
POINTS = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0], [0.1, 0.1]])
TRIPLETS = np.array([[0, 1, 2], [0, 2, 1], [2, 3, 0], [3, 0, 2], [0, 1, 4]])
ODD = np.array([2, 2, 2, 0, 2])
# 0: pair 0-1 at 0.1, odd 2 far away: right.   1: pair 0-2 at 1.41, but 0-1 is 0.1: wrong.
# 2: pair 2-3 at 0.1: right.   3: odd is 3, pair 0-2 at 1.41 but 3-2 is 0.1: wrong.
# 4: pair 0-1 at 0.1 ties with 1-4 at 0.1: half a hit (a random pick of the two gets it half the time).
EXPECTED = np.array([1.0, 0.0, 1.0, 0.0, 0.5])


def test_triplet_correct_hand_example() -> None:
    got = triplet_correct(POINTS, TRIPLETS, ODD, "euclidean", "MinMaxScaler")
    np.testing.assert_array_equal(got, EXPECTED)


def test_triplet_correct_cosine_example() -> None:
    X = np.array([[1.0, 0.0], [3.0, 0.2], [0.0, 1.0]])  # 0 and 1 point the same way
    got = triplet_correct(X, np.array([[0, 1, 2], [0, 2, 1]]), np.array([2, 2]), "cosine", "Normalizer")
    np.testing.assert_array_equal(got, [True, False])


def test_triplet_scores_has_27_rows_in_appendix_order() -> None:
    rows = triplet_scores(POINTS, TRIPLETS, ODD)
    assert [(r.distance, r.scaler) for r in rows] == [(d, s) for d in DISTANCES for s in SCALERS]
    row = next(r for r in rows if (r.distance, r.scaler) == ("euclidean", "MinMaxScaler"))
    assert row.score_percent == pytest.approx(50.0) and row.n_triplets == 5
    assert all(0.0 <= r.score_percent <= 100.0 for r in rows)


def test_tie_credit_by_hand() -> None:
    from trainer.evaluate import tie_credit

    d_ab = np.array([0.1, 0.5, 0.2, 0.2, 0.3, np.nan, 0.4])
    d_ao = np.array([0.2, 0.1, 0.2, 0.2, 0.1, 0.5, np.nan])
    d_bo = np.array([0.3, 0.9, 0.9, 0.2, 0.1, 0.5, np.nan])
    np.testing.assert_allclose(tie_credit(d_ab, d_ao, d_bo), [1, 0, 1 / 2, 1 / 3, 0, 0, 1])


def test_hamming_and_kulsinski_score_a_third_on_real_valued_embeddings(rng) -> None:
    """Every pair of real-valued rows is at hamming distance 1 and at the same kulsinski distance:
    neither can separate anything, and each triplet counts 1/3 -- about what the thesis's Appendix A
    shows for them (35 %), not the 0 % a strict "closer than" gives."""
    X = rng.normal(size=(30, 16))
    idx, odd = album_triplets(np.repeat(np.arange(5), 6), 400, seed=1)
    rows = {(r.distance, r.scaler): r.score_percent for r in triplet_scores(X, idx, odd)}
    for scaler in ("StandardScaler", "Normalizer"):
        assert rows[("hamming", scaler)] == pytest.approx(100 / 3)
        assert rows[("kulsinski", scaler)] == pytest.approx(100 / 3)
    assert rows[("cosine", "Normalizer")] not in (pytest.approx(100 / 3), 0.0)


def test_triplet_input_errors() -> None:
    with pytest.raises(ParameterError, match="indices"):
        triplet_correct(POINTS, np.array([[0, 1, 9]]), np.array([0]), "cosine", "Normalizer")
    with pytest.raises(ParameterError, match="odd positions"):
        triplet_correct(POINTS, np.array([[0, 1, 2]]), np.array([3]), "cosine", "Normalizer")
    with pytest.raises(ParameterError, match="unknown distance"):
        triplet_correct(POINTS, TRIPLETS, ODD, "jaccard", "Normalizer")


def _check_album_rows(labels: np.ndarray, idx: np.ndarray, odd: np.ndarray) -> None:
    for row, o in zip(idx, odd, strict=True):
        pair = [row[j] for j in range(3) if j != o]
        assert labels[pair[0]] == labels[pair[1]] and pair[0] != pair[1]
        assert labels[row[o]] != labels[pair[0]]


def test_album_triplets_small_exhaustive() -> None:
    labels = np.array(["a", "a", "b", "b", "c"])  # 3 (a-pair x others) + 3 (b-pair x others) = 6
    idx, odd = album_triplets(labels, 6, seed=1)
    _check_album_rows(labels, idx, odd)
    keys = {
        (min(r[j] for j in range(3) if j != o), max(r[j] for j in range(3) if j != o), r[o])
        for r, o in zip(idx, odd, strict=True)
    }
    assert len(keys) == 6
    idx10, odd10 = album_triplets(labels, 10, seed=1)
    assert idx10.shape == (10, 3) and odd10.shape == (10,)
    _check_album_rows(labels, idx10, odd10)


def test_album_triplets_sampled_are_distinct_and_seeded(rng: np.random.Generator) -> None:
    labels = rng.integers(0, 60, size=600)
    idx, odd = album_triplets(labels, 3000, seed=3)
    _check_album_rows(labels, idx, odd)
    keys = {(*sorted(r[j] for j in range(3) if j != o), r[o]) for r, o in zip(idx, odd, strict=True)}
    assert len(keys) == 3000
    assert np.bincount(odd, minlength=3).min() > 800  # the odd one is not always in one place
    idx2, odd2 = album_triplets(labels, 3000, seed=3)
    np.testing.assert_array_equal(idx, idx2)
    np.testing.assert_array_equal(odd, odd2)
    assert not np.array_equal(album_triplets(labels, 3000, seed=4)[0], idx)


@pytest.mark.parametrize("labels", [[1, 1, 1], [1, 2, 3]])
def test_album_triplets_impossible(labels: list) -> None:
    with pytest.raises(ParameterError, match="album triplets need"):
        album_triplets(np.array(labels), 5)


def test_retrieval_hand_example() -> None:
    # 1-D points; MinMaxScaler is affine in 1-D, so euclidean rankings are those of the raw values.
    x = np.array([[0.0], [1.0], [3.0], [7.0], [8.0], [100.0]])
    labels = np.array(["A", "A", "B", "A", "B", "C"])
    # s0: ranks s1(A) s2 -> P@1 hit, AP=(1/1)/2=0.5.  s1: s0(A) s2 -> hit, 0.5.
    # s2 (R=1): s1 -> miss, 0.  s3: s4 s2 -> miss, 0.  s4 (R=1): s3 -> miss, 0.  s5: alone, skipped.
    assert precision_at_1(x, labels, metric="euclidean", scaler="MinMaxScaler") == pytest.approx(2 / 5)
    assert map_at_r(x, labels, metric="euclidean", scaler="MinMaxScaler") == pytest.approx(1.0 / 5)


def test_map_at_r_counts_late_hits() -> None:
    x = np.array([[0.0], [2.0], [1.0], [10.0], [11.0]])
    labels = np.array([0, 0, 1, 1, 0])
    # s0 (R=2): s2, s1 -> (0 + 1/2)/2 = .25.  s1: s2, s0 -> .25.  s2 (R=1): s0 -> 0.
    # s3 (R=1): s4 -> 0.  s4 (R=2): s3, s1 -> .25.  MAP@R = .75/5.
    p1, mapr = retrieval_scores(x, labels, metric="euclidean", scaler="MinMaxScaler")
    assert p1 == 0.0 and mapr == pytest.approx(0.15)


def _naive_retrieval(X: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    hits, aps = [], []
    for i in range(len(X)):
        R = int((labels == labels[i]).sum()) - 1
        if R == 0:
            continue
        d = 1 - U @ U[i]
        d[i] = np.inf
        ranked = np.lexsort((np.arange(len(X)), d))[:R]
        rel = labels[ranked] == labels[i]
        hits.append(rel[0])
        aps.append(sum(rel[: j + 1].sum() / (j + 1) for j in range(R) if rel[j]) / R)
    return float(np.mean(hits)), float(np.mean(aps))


def test_retrieval_matches_naive_loop(rng: np.random.Generator) -> None:
    labels = rng.integers(0, 8, size=60)
    X = rng.normal(size=(8, 5))[labels] + rng.normal(scale=0.8, size=(60, 5))
    p1, mapr = retrieval_scores(X, labels)
    assert (p1, mapr) == pytest.approx(_naive_retrieval(X, labels))


def test_label_balanced_p_at_1_weighs_every_album_the_same() -> None:
    # one big album of perfect hits and a small one of misses: pooled 9/12, balanced (0.9 + 0) / 2
    assert label_balanced_p_at_1({"big": (9, 10), "small": (0, 2)}) == pytest.approx(0.45)
    assert label_balanced_p_at_1({"a": (1, 2), "b": (1, 2)}) == pytest.approx(0.5)
    assert np.isnan(label_balanced_p_at_1({}))


def test_retrieval_report_counts_same_label_hits_per_label() -> None:
    # a0, a1 are each other's nearest; b0's nearest is a1 (a miss), b1's nearest is b0; c is alone
    X = np.array([[0.0], [0.1], [0.25], [0.45], [9.0]])
    labels = np.array(["a", "a", "b", "b", "c"])
    report = retrieval_report(X, labels, metric="euclidean", scaler="MinMaxScaler")
    assert report.by_label == {"a": (2, 2), "b": (1, 2)}  # "c" has no partner, so no query
    assert report.p_at_1 == pytest.approx(3 / 4)
    assert (report.p_at_1, report.map_at_r) == retrieval_scores(
        X, labels, metric="euclidean", scaler="MinMaxScaler"
    )


def test_retrieval_needs_a_shared_label() -> None:
    with pytest.raises(ParameterError, match="no label is shared"):
        precision_at_1(np.eye(3), np.array([1, 2, 3]))


HEADER = "song1,song2,song3,odd\n"


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "triplets.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_read_triplets_valid(tmp_path: Path) -> None:
    text = '\ufeffodd, song3 ,song1,song2,comment\n2,c.mp3,a.mp3,b b.mp3,x\n\n3,"d,1.mp3",a.mp3,b b.mp3,\n'
    got = read_triplets_csv(_write(tmp_path, text), known_paths={"a.mp3", "b b.mp3", "c.mp3", "d,1.mp3"})
    assert got == [Triplet("a.mp3", "b b.mp3", "c.mp3", 2), Triplet("a.mp3", "b b.mp3", "d,1.mp3", 3)]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("song1,song2,odd\na,b,1\n", "line 1: missing column.*song3"),
        (HEADER + "a,b,c,1\na,b,d,4\n", "line 3: odd must be 1, 2 or 3, found 4"),
        (HEADER + "a,b,c,one\n", "line 2: odd must be 1, 2 or 3, found 'one'"),
        (HEADER + "a,b,c,1\na,b,zzz,2\n", "line 3: unknown song 'zzz'"),
        (HEADER + "a,b,c,1\na,b,d,2\na,b,c,1\n", "lines 2 and 4 are the same triplet"),
        (HEADER + "a,b,c,1\na,b\n", "line 3: expected 4 fields, found 2"),
        (HEADER + "a,a,c,1\n", "line 2: the same song appears twice"),
        (HEADER + "a,,c,1\n", "line 2: a song path is empty"),
        (HEADER, "no triplets after the header"),
        ("", "the file is empty"),
        (" \n\n", "the file is empty"),
    ],
)
def test_read_triplets_errors(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        read_triplets_csv(_write(tmp_path, text), known_paths={"a", "b", "c", "d"})


def test_read_triplets_reports_non_utf8_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER.encode() + b"a,b,c,1\na,b,caf\xe9.mp3,2\n")
    with pytest.raises(ParameterError, match="line 3 is not valid UTF-8"):
        read_triplets_csv(path)


def test_append_then_read(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    append_triplets_csv(path, [Triplet("a", "b", "c", 1)])
    append_triplets_csv(path, [Triplet("a", "b", "d", 3), Triplet("é", "b", "c", 2)])
    assert path.read_text(encoding="utf-8").count("song1") == 1
    assert read_triplets_csv(path)[-1] == Triplet("é", "b", "c", 2)
    no_newline = tmp_path / "old.csv"
    no_newline.write_text(HEADER + "a,b,c,1", encoding="utf-8")
    append_triplets_csv(no_newline, [Triplet("x", "y", "z", 2)])
    assert len(read_triplets_csv(no_newline)) == 2
    with pytest.raises(ParameterError, match="odd must be"):
        append_triplets_csv(path, [Triplet("a", "b", "c", 0)])


def _bench() -> BenchResult:
    rows = [
        ScoreRow(d, s, float(i), 5) for i, (d, s) in enumerate((d, s) for s in SCALERS for d in DISTANCES)
    ]
    return BenchResult(
        "ours/test",
        rows,
        p_at_1=0.5,
        map_at_r=0.25,
        n_songs=5,
        n_triplets=5,
        triplet_source="album",
        extra={"note": "x"},
    )


def test_bench_result_order_best_and_table() -> None:
    result = _bench()
    assert [(r.distance, r.scaler) for r in result.sorted_rows()] == [
        (d, s) for d in DISTANCES for s in SCALERS
    ]
    assert (result.best().distance, result.best().scaler) == ("kulsinski", "Normalizer")
    table = result.format_table().splitlines()
    starred = [line for line in table if line.startswith("*")]
    assert len(starred) == 1 and "kulsinski" in starred[0] and "Normalizer" in starred[0]
    assert sum(line[2:].split()[0] in DISTANCES for line in table if len(line) > 2) == 27
    assert any("P@1" in line and "0.5000" in line for line in table)
    assert any("MAP@R" in line and "0.2500" in line for line in table)


def test_bench_result_files_round_trip(tmp_path: Path) -> None:
    result = _bench()
    result.to_json(tmp_path / "r.json")
    assert BenchResult.from_json(tmp_path / "r.json") == result
    result.to_csv(tmp_path / "r.csv")
    tables = load_reference_tables(tmp_path / "r.csv")
    assert tables["ours/test"] == result.sorted_rows()
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ParameterError, match="cannot read"):
        BenchResult.from_json(tmp_path / "bad.json")


def test_load_appendix_a() -> None:
    tables = load_reference_tables(APPENDIX_A)
    assert len(tables) == 10 and all(len(rows) == 27 for rows in tables.values())
    model1 = {(r.distance, r.scaler): r.score_percent for r in tables["triplet/Model1"]}
    assert model1[("euclidean", "MinMaxScaler")] == pytest.approx(47.657)
    assert model1[("minkowski", "MinMaxScaler")] == model1[("euclidean", "MinMaxScaler")]


def test_load_reference_rejects_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    path.write_text(
        "model,table,distance,scaler,score_percent\nm,1,cosine,Normalizer,abc\n", encoding="utf-8"
    )
    with pytest.raises(ParameterError, match="line 2"):
        load_reference_tables(path)


def _clustered(n_albums: int = 6, per_album: int = 8, spread: float = 0.8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_albums, 16))
    X = np.repeat(centres, per_album, axis=0) + spread * rng.normal(size=(n_albums * per_album, 16))
    return X, np.repeat(np.arange(n_albums), per_album).astype(str)


def test_song_bootstrap_replicates_bracket_the_point_figures():
    from trainer.bootstrap import bootstrap_replicates, interval95, replicates_of, song_draws
    from trainer.evaluate import retrieval_report, triplet_correct

    X, labels = _clustered()
    idx, odd = album_triplets(labels, 2000, seed=0)
    correct = triplet_correct(X, idx, odd, "cosine", "Normalizer")
    report = retrieval_report(X, labels)
    assert report.hits.mean() == pytest.approx(report.p_at_1) and len(report.queries) == len(X)

    # Every song drawn once is the data itself: the replicate is the point figure.
    once = np.ones((1, len(X)), dtype=np.int64)
    acc, p1 = replicates_of(once, idx, correct, report.queries, report.hits)
    assert acc[0] == pytest.approx(100 * correct.mean()) and p1[0] == pytest.approx(100 * report.p_at_1)

    counts = np.concatenate(list(song_draws(len(X), draws=500, seed=3)))
    assert counts.shape == (500, len(X)) and (counts.sum(axis=1) == len(X)).all()
    again = np.concatenate(list(song_draws(len(X), draws=500, seed=3)))
    assert np.array_equal(counts, again)  # the same resamplings for every model: paired differences
    acc, p1 = bootstrap_replicates(len(X), idx, correct, report.queries, report.hits, draws=500, seed=3)
    for replicates, point in ((acc, 100 * correct.mean()), (p1, 100 * report.p_at_1)):
        low, high = interval95(replicates)
        assert low <= point <= high and high - low > 1.0  # 48 songs cannot pin a score to a point


def test_draws_come_in_chunks_of_bounded_size_for_big_libraries():
    from trainer.bootstrap import song_draws

    chunks = list(song_draws(1_000_000, draws=50))
    assert sum(len(c) for c in chunks) == 50 and max(c.size for c in chunks) <= 4_000_000
    assert all((c.sum(axis=1) == 1_000_000).all() for c in chunks)


def test_fewer_songs_give_wider_intervals():
    from trainer.bootstrap import bootstrap_replicates, interval95
    from trainer.evaluate import retrieval_report, triplet_correct

    widths = []
    for per_album in (4, 40):
        X, labels = _clustered(per_album=per_album, seed=1)
        idx, odd = album_triplets(labels, 3000, seed=0)
        rep = retrieval_report(X, labels)
        correct = triplet_correct(X, idx, odd, "cosine", "Normalizer")
        acc, _ = bootstrap_replicates(len(X), idx, correct, rep.queries, rep.hits, draws=400)
        low, high = interval95(acc)
        widths.append(high - low)
    assert widths[0] > 1.5 * widths[1]


def test_album_draws_resample_whole_albums():
    from trainer.bootstrap import album_draws

    labels = np.repeat(np.array(["x", "y", "z", "w"]), [3, 5, 2, 6])
    counts = np.concatenate(list(album_draws(labels, draws=300, seed=2)))
    assert counts.shape == (300, 16)
    for album in np.unique(labels):  # every song of an album is drawn as often as the album
        block = counts[:, labels == album]
        assert (block == block[:, :1]).all()
    per_album = np.stack([counts[:, labels == a][:, 0] for a in np.unique(labels)], axis=1)
    assert (per_album.sum(axis=1) == 4).all()  # four albums drawn per row, with replacement
    assert np.array_equal(counts, np.concatenate(list(album_draws(labels, draws=300, seed=2))))


def test_album_resampling_is_wider_when_an_albums_songs_err_together():
    from trainer.bootstrap import bootstrap_replicates, interval95, replicates_of
    from trainer.evaluate import retrieval_report, triplet_correct

    # Albums differ in how tight they are, so whether a triplet is right depends on its albums:
    # resampling albums must show that spread, resampling songs hides it.
    rng = np.random.default_rng(4)
    spreads = np.linspace(0.2, 2.5, 10)
    centres = rng.normal(size=(10, 16))
    X = np.concatenate([c + s * rng.normal(size=(8, 16)) for c, s in zip(centres, spreads, strict=True)])
    labels = np.repeat(np.arange(10), 8).astype(str)
    idx, odd = album_triplets(labels, 3000, seed=0)
    rep = retrieval_report(X, labels)
    correct = triplet_correct(X, idx, odd, "cosine", "Normalizer")
    widths = {}
    for level, albums in (("songs", None), ("albums", labels)):
        acc, p1 = bootstrap_replicates(len(X), idx, correct, rep.queries, rep.hits, draws=400, albums=albums)
        low, high = interval95(acc)
        assert low <= 100 * correct.mean() <= high
        widths[level] = high - low
    assert widths["albums"] > 1.3 * widths["songs"], widths
    # a row that draws no triplet at all is NaN, and intervals skip it
    acc, p1 = replicates_of(np.zeros((1, len(X)), np.int64), idx, correct, rep.queries, rep.hits)
    assert np.isnan(acc[0]) and np.isnan(p1[0])
    assert interval95(np.array([np.nan, 1.0, 2.0, 3.0]))[1] <= 3.0
    assert all(np.isnan(interval95(np.array([np.nan]))))


def test_bench_gives_album_resampled_intervals_where_there_are_enough_albums(tmp_path):
    from synth import write_library
    from trainer.bench import run_benchmark
    from trainer.bootstrap import MIN_ALBUMS_TO_RESAMPLE

    lib = tmp_path / "lib"
    for artist in ("a", "b", "c"):  # 3 x 3 = 9 albums of two songs
        write_library(lib, songs_per_album=2, seconds=3.0, artist=artist)
    results, _ = run_benchmark(lib, ["default", "classic"], home=tmp_path / "home", n_triplets=500, workers=1)
    assert 9 >= MIN_ALBUMS_TO_RESAMPLE
    default, classic = (r.uncertainty for r in results)
    cos_n = next(
        r.score_percent for r in results[0].rows if (r.distance, r.scaler) == ("cosine", "Normalizer")
    )
    low, high = (
        default.albums.intervals["cosine_normalizer"].low,
        default.albums.intervals["cosine_normalizer"].high,
    )
    assert low <= cos_n <= high
    diff = classic.albums.differences["cosine_normalizer"]
    point, low, high = diff.estimate, diff.low, diff.high
    assert point == classic.songs.differences["cosine_normalizer"].estimate and low <= point <= high
    assert "p_at_1" in classic.albums.differences
    from trainer.cli_bench import summary

    line = next(x for x in summary(results).splitlines() if x.strip().startswith("default - classic"))
    assert line.count("(") == 2 and line.count("[") == 2  # song and album intervals of both figures


#: pytorch-metric-learning's AccuracyCalculator on the rows and labels given on stdin.  In a process
#: of its own: importing it patches faiss's index classes for torch tensors (faiss.contrib.torch_utils),
#: which would break the HNSW graphs of every later test in this process.
_PML_ACCURACY = """
import json, sys
import torch
from pytorch_metric_learning.distances import CosineSimilarity
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

data = json.load(sys.stdin)
accuracy = AccuracyCalculator(
    include=("precision_at_1", "mean_average_precision_at_r"),
    k="max_bin_count",
    knn_func=CustomKNN(CosineSimilarity()),
).get_accuracy(torch.tensor(data["X"]), torch.tensor(data["labels"]))
print(json.dumps({key: float(value) for key, value in accuracy.items()}))
"""


def test_p_at_1_and_map_at_r_agree_with_pytorch_metric_learning():
    """P@1 and MAP@R on random data, against pytorch-metric-learning's AccuracyCalculator (the
    definitions of Musgrave et al. 2020): cosine on unit rows ranks as its normalised L2 does."""
    import json
    import subprocess
    import sys

    for seed in range(3):
        rng = np.random.default_rng(seed)
        n_labels, per_label = 7, rng.integers(2, 9, size=7)
        labels = np.repeat(np.arange(n_labels), per_label)
        centres = rng.normal(size=(n_labels, 12))
        X = (centres[labels] + 1.2 * rng.normal(size=(len(labels), 12))).astype(np.float32)
        ours = retrieval_report(X, labels.astype(str), metric="cosine", scaler="Normalizer")
        done = subprocess.run(
            [sys.executable, "-c", _PML_ACCURACY],
            input=json.dumps({"X": X.tolist(), "labels": labels.tolist()}),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        theirs = json.loads(done.stdout.strip().splitlines()[-1])
        assert ours.p_at_1 == pytest.approx(theirs["precision_at_1"], abs=1e-6)
        assert ours.map_at_r == pytest.approx(theirs["mean_average_precision_at_r"], abs=1e-6)
