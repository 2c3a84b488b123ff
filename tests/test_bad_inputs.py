"""Issue 6, other inputs: every bad argument is a one-line error that names the problem, with a
non-zero exit and no traceback -- bad CSVs (naming the line), unknown model/distance/scaler/device,
a GPU that is not there, a library or home path that is missing or a file, and models from
strangers refused through the command line too (``test_modelstore`` covers the loader itself).

The CLI runs in-process (``trainer.cli.main``): the same code as the ``musicsim`` entry point,
without paying torch's import once per case.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from trainer.cli import main
from trainer.config import FeatureConfig
from trainer.models import build_model
from trainer.modelstore import ModelInfo, save_model

pytestmark = pytest.mark.usefixtures("_one_torch_thread")

SONGS = ["synth/tones/tones-0.wav", "synth/tones/tones-1.wav", "synth/squares/squares-0.wav",
         "synth/noise/noise-0.wav"]
HEADER = "song1,song2,song3,odd\n"


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    try:
        rc = main([os.fspath(a) if isinstance(a, Path) else str(a) for a in argv])
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, pattern: str) -> str:
    """Non-zero exit; stderr is one 'musicsim: error: ...' line, or argparse's usage + one error line."""
    assert rc != 0, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln]
    assert len(errors) == 1, err
    if lines[0].startswith("usage:"):
        assert lines[-1] == errors[0], err
    else:
        assert len(lines) == 1 and lines[0].startswith("musicsim: error: "), err
    assert re.search(pattern, errors[0]), f"{pattern!r} not in {errors[0]!r}"
    return errors[0]


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory):
    return tmp_path_factory.mktemp("bad-inputs-home")


@pytest.fixture
def no_gpu(monkeypatch):
    """Make CUDA and MPS absent whatever this machine has."""
    import trainer.device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(trainer.device, "mps_available", lambda: False)


# -- names that do not exist ---------------------------------------------------------------------
@pytest.mark.parametrize("args,pattern", [
    (["index", "{lib}", "--model", "no-such-model"], r"unknown model 'no-such-model'; available: .*classic"),
    (["bench", "--library", "{lib}", "--labels", "folders", "--model", "nope"], r"unknown model 'nope'"),
    (["train", "--library", "{lib}", "--name", "x", "--init-from", "nope"], r"unknown model 'nope'"),
    (["train", "--library", "{lib}", "--name", "x", "--arch", "resnet999"],
     r"(--arch: invalid choice: |unknown model )'resnet999'"),
    (["query", "{song}", "--distance", "manhatan"], r"--distance: invalid choice: 'manhatan'"),
    (["query", "{song}", "--scaler", "MinMax"], r"--scaler: invalid choice: 'MinMax'"),
    (["index", "{lib}", "--device", "tpu"], r"--device: invalid choice: 'tpu'"),
    (["train", "--library", "{lib}", "--name", "x", "--loss", "hinge"], r"--loss: invalid choice: 'hinge'"),
    (["query", "{song}", "--k", "0"], r"--k: must be at least 1, found 0"),
    (["train", "--library", "{lib}", "--name", "x", "--epochs", "0"], r"epochs must be >= 1"),
    (["train", "--library", "{lib}", "--name", "classic"], r"invalid model name 'classic'"),
    (["train", "--library", "{lib}", "--name", "x", "--triplets", "{song}", "--self-supervised"],
     r"--self-supervised goes with --labels folders or alone, not with --triplets"),
    (["index", "{lib}", "--workers", "many"], r"--workers: invalid int value: 'many'"),
])
def test_unknown_names_and_bad_values(capsys, cli_home, synth_library, args, pattern):
    song = synth_library / SONGS[0]
    argv = ["--home", cli_home] + [a.format(lib=synth_library, song=song) for a in args]
    rc, _, err = run_cli(capsys, *argv)
    assert_one_line_error(rc, err, pattern)


@pytest.mark.parametrize("device", ["cuda", "mps"])
@pytest.mark.parametrize("command", [
    ["index", "{lib}", "--model", "classic"],
    ["train", "--library", "{lib}", "--name", "x", "--epochs", "1"],
    ["bench", "--library", "{lib}", "--labels", "folders", "--model", "classic"],
    ["embed", "{lib}", "--out", "{tmp}/e.npz", "--model", "classic"],
])
def test_a_gpu_that_is_not_there(capsys, cli_home, synth_library, tmp_path, no_gpu, device, command):
    argv = ["--home", cli_home] + [a.format(lib=synth_library, tmp=tmp_path) for a in command]
    rc, _, err = run_cli(capsys, *argv, "--device", device)
    assert_one_line_error(rc, err, rf"device '{device}' was asked for but .* available here")


# -- paths ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["index", "{p}"], ["embed", "{p}", "--out", "x.npz"],
                                     ["train", "--library", "{p}", "--name", "x"],
                                     ["bench", "--library", "{p}", "--labels", "folders"]])
@pytest.mark.parametrize("kind", ["missing", "file"])
def test_library_path_missing_or_a_file(capsys, cli_home, tmp_path, command, kind):
    p = tmp_path / "music"
    if kind == "file":
        p.write_bytes(b"not a folder")
    rc, _, err = run_cli(capsys, "--home", cli_home, *[a.format(p=p) for a in command])
    want = "does not exist" if kind == "missing" else "is a file, not a folder"
    line = assert_one_line_error(rc, err, want)
    assert str(p) in line


def test_library_path_errors_in_the_engine(cli_home, tmp_path):
    """The GUI calls the engine directly: the same problems are ParameterErrors with the path."""
    from trainer.data import library_songs
    from trainer.errors import ParameterError
    from trainer.library import Library
    from trainer.modelstore import classic_model

    (tmp_path / "f.ogg").write_bytes(b"x")
    with Library(tmp_path / "h") as lib:
        with pytest.raises(ParameterError, match="does not exist"):
            lib.index(tmp_path / "missing", classic_model())
        with pytest.raises(ParameterError, match="is a file"):
            lib.index(tmp_path / "f.ogg", classic_model())
    with pytest.raises(ParameterError, match="does not exist or is not a folder"):
        library_songs(tmp_path / "f.ogg")


@pytest.mark.parametrize("make,pattern", [
    (lambda t: (t / "f").write_text("x") and t / "f", r"home '.*' exists and is not a folder"),
    (lambda t: (t / "g").write_text("x") and t / "g" / "sub",
     r"cannot create MusicSim home '.*': Not a directory"),
])
def test_home_that_cannot_be_a_folder(capsys, synth_library, tmp_path, make, pattern):
    rc, _, err = run_cli(capsys, "--home", make(tmp_path), "index", synth_library, "--model", "classic")
    assert_one_line_error(rc, err, pattern)


def test_output_folder_that_does_not_exist(capsys, cli_home, synth_library, tmp_path):
    rc, _, err = run_cli(capsys, "--home", cli_home, "embed", synth_library, "--model", "classic",
                         "--workers", "0", "--out", tmp_path / "no" / "such" / "dir" / "e.npz")
    assert_one_line_error(rc, err, r"--out '.*no/such/dir/e.npz': the folder '.*no/such/dir' does not exist")


# -- triplet CSVs ----------------------------------------------------------------------------------
BAD_CSVS = {
    "missing-column": ("song1,song2,odd\n" + f"{SONGS[0]},{SONGS[1]},1\n",
                       r"line 1: missing column\(s\) song3"),
    "unknown-song": (HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n{SONGS[0]},{SONGS[1]},nope.wav,3\n",
                     r"line 3: unknown song 'nope.wav'"),
    "odd-0": (HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},0\n", r"line 2: odd must be 1, 2 or 3, found 0"),
    "odd-4": (HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n{SONGS[0]},{SONGS[1]},{SONGS[3]},4\n",
              r"line 3: odd must be 1, 2 or 3, found 4"),
    "odd-text": (HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},third\n",
                 r"line 2: odd must be 1, 2 or 3, found 'third'"),
    "duplicate": (HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n{SONGS[0]},{SONGS[1]},{SONGS[3]},3\n"
                  f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n", r"lines 2 and 4 are the same triplet"),
    "latin-1": ((HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n").encode() + b"caf\xe9.wav,a.wav,b.wav,1\n",
                r"line 3 is not valid UTF-8"),
    "empty": ("", r"the file is empty"),
}


def _csv(tmp_path: Path, name: str) -> Path:
    text, _ = BAD_CSVS[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("name", sorted(BAD_CSVS))
def test_bench_with_a_bad_triplets_csv(capsys, cli_home, synth_library, tmp_path, name):
    rc, _, err = run_cli(capsys, "--home", cli_home, "bench", "--library", synth_library, "--model",
                         "classic", "--workers", "0", "--triplets", _csv(tmp_path, name),
                         "--out", tmp_path / "out")
    line = assert_one_line_error(rc, err, BAD_CSVS[name][1])
    assert f"{name}.csv" in line
    assert not (tmp_path / "out").exists()


def test_malformed_csv_fails_before_any_audio_is_decoded(capsys, synth_library, tmp_path):
    """A typo in the CSV must not cost a whole indexing or decoding pass first."""
    home = tmp_path / "home"
    rc, _, err = run_cli(capsys, "--home", home, "bench", "--library", synth_library, "--model", "classic",
                         "--workers", "0", "--triplets", _csv(tmp_path, "odd-4"))
    assert_one_line_error(rc, err, "line 3: odd must be")
    import sqlite3

    db = home / "index.db"
    assert not db.exists() or sqlite3.connect(db).execute("SELECT COUNT(*) FROM songs").fetchone()[0] == 0
    rc, _, err = run_cli(capsys, "--home", home, "train", "--library", synth_library, "--name", "x",
                         "--workers", "0", "--triplets", _csv(tmp_path, "duplicate"))
    assert_one_line_error(rc, err, "lines 2 and 4 are the same triplet")
    assert not (home / "cache").exists() and not (home / "runs" / "x").exists()


def test_train_with_a_csv_naming_unknown_songs(capsys, cli_home, synth_library, tmp_path):
    rc, _, err = run_cli(capsys, "--home", cli_home, "train", "--library", synth_library, "--name", "csv-x",
                         "--arch", "musicnet-small", "--epochs", "1", "--workers", "0", "--segments", "2",
                         "--triplets", _csv(tmp_path, "unknown-song"))
    assert_one_line_error(rc, err, r"unknown-song.csv: line 3: unknown song 'nope.wav'")


def test_missing_csv_file(capsys, cli_home, synth_library, tmp_path):
    rc, _, err = run_cli(capsys, "--home", cli_home, "bench", "--library", synth_library,
                         "--triplets", tmp_path / "nope.csv")
    assert_one_line_error(rc, err, r"--triplets: '.*nope.csv' does not exist or is not a file")


# -- models from strangers, through the command line ---------------------------------------------
def _stranger(tmp_path: Path, name: str = "stranger") -> Path:
    model = build_model("musicnet-small", FeatureConfig(), embedding_dim=16)
    return save_model(tmp_path / name, model, ModelInfo(name=name, arch="musicnet-small", embedding_dim=16))


def _edit_config(folder: Path, **changes: object) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    (folder / "config.json").write_text(json.dumps(cfg))


def _claim_weights(folder: Path) -> None:
    """What a stranger does after swapping the weights: make config.json name their hash."""
    import hashlib

    _edit_config(folder, weights_sha256=hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest())


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['BOOM_MARKER']}",))


@pytest.mark.parametrize("kind,pattern", [
    ("unknown-arch", r"names an unknown architecture 'evil-net'"),
    ("wrong-weights", r"weights do not match architecture 'musicnet-small'"),
    ("pickle", r"not a valid safetensors file"),
    ("newer-format", r"written by a newer MusicSim"),
    ("replaced-weights", r"weights.safetensors is not the file its config.json names"),
])
def test_index_refuses_a_strangers_model(capsys, cli_home, synth_library, tmp_path, monkeypatch, kind,
                                        pattern):
    folder = _stranger(tmp_path)
    marker = tmp_path / "pwned"
    monkeypatch.setenv("BOOM_MARKER", str(marker))
    if kind == "unknown-arch":
        _edit_config(folder, arch="evil-net")
    elif kind == "wrong-weights":
        save_file({"conv.weight": torch.zeros(3, 3)}, str(folder / "weights.safetensors"))
        _claim_weights(folder)
    elif kind == "pickle":
        (folder / "weights.safetensors").write_bytes(pickle.dumps({"w": _Boom()}))
        _claim_weights(folder)
    elif kind == "replaced-weights":  # other weights that fit, under the config of the first ones
        torch.manual_seed(7)
        save_file(build_model("musicnet-small", FeatureConfig(), embedding_dim=16).state_dict(),
                  str(folder / "weights.safetensors"))
    else:
        _edit_config(folder, format_version=99)
    rc, _, err = run_cli(capsys, "--home", cli_home, "index", synth_library, "--model", folder,
                         "--workers", "0")
    assert_one_line_error(rc, err, pattern)
    assert not marker.exists()


def test_model_whose_representation_differs_from_the_index(capsys, tmp_path, synth_library):
    """Same name and weights, other features (an edited config): its own key, so it is embedded
    anew beside the first embeddings, never mixed with them; a key whose stored representation
    differs (an index written otherwise) is refused with the difference named."""
    import sqlite3

    from trainer.library import Library
    from trainer.modelstore import load_model_folder

    home = tmp_path / "home"
    folder = _stranger(tmp_path)
    rc, out, err = run_cli(capsys, "--home", home, "index", synth_library, "--model", folder,
                           "--workers", "0")
    assert rc == 0 and out.startswith("indexed 12,"), err
    first_key = load_model_folder(folder).info.key
    _edit_config(folder, features={"hop_length": 256})
    edited = load_model_folder(folder)
    assert edited.info.key.startswith(first_key + "+")
    rc, out, err = run_cli(capsys, "--home", home, "index", synth_library, "--model", folder,
                           "--workers", "0")
    assert rc == 0 and out.startswith("indexed 12,"), err
    with Library(home) as lib:
        assert len(lib.embeddings(first_key)[0]) == len(lib.embeddings(edited.info.key)[0]) == 12
    with sqlite3.connect(home / "index.db") as db:
        db.execute("UPDATE models SET features = '{}' WHERE key = ?", (edited.info.key,))
    rc, _, err = run_cli(capsys, "--home", home, "query", synth_library / SONGS[0], "--model", folder)
    assert_one_line_error(rc, err, r"model 'stranger' does not match the embeddings already in this index "
                                   r"\(representation differs in: .*hop_length")
