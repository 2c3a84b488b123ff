"""The command line as a user runs it: subprocesses, real files, exit codes and output."""

import re
import subprocess
import sys

import numpy as np
import pytest


def musicsim(home, *args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "trainer.cli", "--home", str(home), "-q", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, synth_library):
    home = tmp_path_factory.mktemp("clihome")
    out = musicsim(home, "index", synth_library, "--model", "classic", "--workers", "2")
    return home, synth_library, out.stdout


def test_index_reports_counts_and_rescan_is_incremental(indexed):
    home, lib, first = indexed
    assert first.startswith("indexed 12, unchanged 0, removed 0, skipped 0")
    again = musicsim(home, "index", lib, "--model", "classic").stdout
    assert again.startswith("indexed 0, unchanged 12")


def test_query_lists_same_album_first(indexed):
    home, lib, _ = indexed
    out = musicsim(
        home,
        "query",
        lib / "synth" / "tones" / "tones-0.wav",
        "--k",
        "3",
        "--model",
        "classic",
        "--distance",
        "cosine",
        "--scaler",
        "StandardScaler",
    ).stdout
    lines = [line for line in out.splitlines() if line.strip()[:2].rstrip(".").isdigit()]
    assert len(lines) == 3
    assert all("tones" in line for line in lines), out
    assert "tones-0.wav" not in out.split("\n", 1)[1]  # the query itself is not its own neighbour


def test_query_a_file_from_outside_the_library(indexed, tmp_path):
    import shutil

    home, lib, _ = indexed
    outside = tmp_path / "elsewhere" / "heard on the radio.wav"
    outside.parent.mkdir()
    shutil.copy(lib / "synth" / "squares" / "squares-1.wav", outside)
    out = musicsim(home, "query", outside, "--k", "3", "--model", "classic").stdout
    lines = [line for line in out.splitlines() if line.strip()[:2].rstrip(".").isdigit()]
    assert out.startswith(f"3 nearest to {outside} ") and "; the file is not in the library):" in out
    assert "squares-1.wav" in lines[0] and float(lines[0].split()[1]) == 0.0  # its twin, nothing left out
    assert all("squares" in line for line in lines), out

    junk = tmp_path / "elsewhere" / "not audio.ogg"
    junk.write_bytes(b"OggS" + bytes(200))
    bad = musicsim(home, "query", junk, "--model", "classic", check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "not audio.ogg could not be used" in bad.stderr


def test_query_ranks_by_one_part_and_says_why(indexed):
    home, lib, _ = indexed
    song = lib / "synth" / "tones" / "tones-0.wav"
    out = musicsim(home, "query", song, "--k", "3", "--model", "classic", "--part", "spectral balance").stdout
    assert "(in spectral balance alone, model 'classic')" in out
    lines = [line for line in out.splitlines() if line.strip()[:2].rstrip(".").isdigit()]
    assert len(lines) == 3 and all("alike in " in line for line in lines)
    # a library of 12 songs: places among the 11 others, as the window says them, not "top 9 %"
    assert all(re.search(r"\((1st|2nd|3rd|\d+th) of 11\)", line) for line in lines), out
    assert " %)" not in out
    distances = [float(line.split()[1]) for line in lines]
    assert distances == sorted(distances)
    bad = musicsim(home, "query", song, "--model", "classic", "--part", "tempo", check=False)
    assert bad.returncode == 2
    assert "its parts: timbre, timbre changes, spectral balance, loudness, rhythm" in bad.stderr


def test_embed_writes_relative_paths(indexed, tmp_path):
    home, lib, _ = indexed
    out = tmp_path / "e.npz"
    musicsim(home, "embed", lib, "--out", out, "--model", "classic")
    data = np.load(out)
    assert data["embeddings"].shape[0] == 12 and np.isfinite(data["embeddings"]).all()
    assert sorted(data["paths"])[0] == "synth/noise/noise-0.wav"


def test_bench_prints_the_27_row_table(indexed):
    home, lib, _ = indexed
    out = musicsim(
        home, "bench", "--library", lib, "--labels", "folders", "--model", "classic", "--n-triplets", "200"
    ).stdout
    rows = [
        line
        for line in out.splitlines()
        if line.strip().lstrip("* ").split(" ")[0]
        in {
            "chebyshev",
            "euclidean",
            "minkowski",
            "hamming",
            "cosine",
            "cityblock",
            "seuclidean",
            "correlation",
            "kulsinski",
        }
    ]
    assert len(rows) == 27
    assert "P@1" in out and "MAP@R" in out and "results saved to" in out
    per_album = out.split("same album first (P@1 per album, cosine-Normalizer):")[1].splitlines()
    cells = {line.split()[0]: line.split()[-1] for line in per_album[2:] if line.startswith("  synth/")}
    assert {"synth/noise", "synth/tones"} <= set(cells)
    hits_queries = [tuple(map(int, c.split("/"))) for c in cells.values()]
    assert sum(q for _, q in hits_queries) == 12 and all(0 <= h <= q for h, q in hits_queries), cells
    balanced = next(line for line in per_album if line.startswith("  mean over albums"))
    shares = [h / q for h, q in hits_queries]
    assert float(balanced.split()[-2]) == pytest.approx(100 * sum(shares) / len(shares), abs=0.06)


def test_models_lists_every_architecture(indexed):
    home, _, _ = indexed
    out = musicsim(home, "models").stdout
    for name in (
        "model1",
        "model6",
        "model7-resnet18",
        "model8-resnet50",
        "contrastive-resnet50",
        "musicnet",
        "classic",
    ):
        assert name in out
    assert "7.4M" in out  # the thesis's count beside ours


@pytest.mark.parametrize(
    "args,needle",
    [
        (["index", "/does/not/exist"], "does not exist"),
        (["query", "/does/not/exist.ogg"], "does not exist"),
        (["index", "{lib}", "--model", "nope"], "unknown model 'nope'"),
        (["query", "{song}", "--distance", "manhattan"], "invalid choice: 'manhattan'"),
        (["query", "{song}", "--scaler", "Robust"], "invalid choice: 'Robust'"),
        (["index", "{lib}", "--device", "tpu"], "invalid choice: 'tpu'"),
    ],
)
def test_bad_arguments_give_one_line_and_nonzero_exit(indexed, args, needle):
    home, lib, _ = indexed
    args = [a.format(lib=lib, song=lib / "synth" / "tones" / "tones-0.wav") for a in args]
    result = musicsim(home, *args, check=False)
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("musicsim")


def test_prune_deletes_embeddings_of_models_no_longer_installed(indexed, tmp_path):
    import json
    import shutil

    from trainer.paths import default_model_dir

    home, lib, _ = indexed
    retired = tmp_path / "retired-model"  # a model folder outside the home, e.g. one since deleted
    shutil.copytree(default_model_dir(), retired)
    config = json.loads((retired / "config.json").read_text())
    (retired / "config.json").write_text(json.dumps({**config, "name": "retired"}))  # a key of its own
    musicsim(home, "index", lib, "--model", retired)
    assert "nothing to delete" in musicsim(home, "prune", "--keep", retired).stdout
    assert "would delete 12 embeddings" in musicsim(home, "prune", "--dry-run").stdout
    out = musicsim(home, "prune").stdout
    assert "deleted 12 embeddings and 0 failure notes of 1 model no longer installed; index" in out, out
    assert "nothing to delete" in musicsim(home, "prune").stdout
    assert musicsim(home, "index", lib, "--model", "classic").stdout.startswith("indexed 0, unchanged 12")


def test_bench_of_two_models_says_which_differences_the_library_can_resolve(indexed, tmp_path):
    import json

    home, lib, _ = indexed
    out = musicsim(
        home,
        "bench",
        "--library",
        lib,
        "--labels",
        "folders",
        "--model",
        "default",
        "--model",
        "classic",
        "--n-triplets",
        "300",
        "--out",
        tmp_path / "b",
    ).stdout
    summary = out.split("MAP@R\n", 1)[1]
    assert "default minus each model (95 % song-bootstrap interval" in summary
    line = next(x for x in summary.splitlines() if x.strip().startswith("default - classic"))
    assert "cosine-Normalizer" in line and "P@1" in line
    for name in ("default", "classic"):
        result = json.loads((tmp_path / "b" / f"{name}.json").read_text())
        cos_n = next(
            r["score_percent"]
            for r in result["rows"]
            if (r["distance"], r["scaler"]) == ("cosine", "Normalizer")
        )
        low, high = result["extra"]["intervals"]["cosine_normalizer"]
        assert low <= cos_n <= high
        low, high = result["extra"]["intervals"]["p_at_1"]
        assert low <= 100 * result["p_at_1"] <= high
        assert "albums" not in result["extra"]["intervals"]  # 3 albums: too few to resample
    assert "resampling whole albums" not in summary
    diff = json.loads((tmp_path / "b" / "classic.json").read_text())["extra"]["intervals"]["first_minus_this"]
    assert diff["first"] == "default"
    point, low, high = diff["cosine_normalizer"]
    assert low <= point <= high


@pytest.mark.parametrize(
    "args,says",
    [
        (["query", "no-such-song.wav"], "argument song: 'no-such-song.wav' does not exist or is not a file"),
        (["index"], "the following arguments are required: dir"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_a_bad_command_line_gives_one_error_line_and_exit_2(tmp_path, args, says):
    """What the README promises: one 'musicsim: error: …' line (no usage block above it), exit 2."""
    done = musicsim(tmp_path, *args, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicsim: error: ") and says in lines[0], done.stderr
    assert "--help" in lines[0]
