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

SONGS = [
    "synth/tones/tones-0.wav",
    "synth/tones/tones-1.wav",
    "synth/squares/squares-0.wav",
    "synth/noise/noise-0.wav",
]
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
@pytest.mark.parametrize(
    "args,pattern",
    [
        (
            ["index", "{lib}", "--model", "no-such-model"],
            r"unknown model 'no-such-model'; available: .*classic",
        ),
        (["bench", "--library", "{lib}", "--labels", "folders", "--model", "nope"], r"unknown model 'nope'"),
        (["train", "--library", "{lib}", "--name", "x", "--init-from", "nope"], r"unknown model 'nope'"),
        (
            ["train", "--library", "{lib}", "--name", "x", "--arch", "resnet999"],
            r"(--arch: invalid choice: |unknown model )'resnet999'",
        ),
        (["query", "{song}", "--distance", "manhatan"], r"--distance: invalid choice: 'manhatan'"),
        (["query", "{song}", "--scaler", "MinMax"], r"--scaler: invalid choice: 'MinMax'"),
        (["index", "{lib}", "--device", "tpu"], r"--device: invalid choice: 'tpu'"),
        (
            ["train", "--library", "{lib}", "--name", "x", "--loss", "hinge"],
            r"--loss: invalid choice: 'hinge'",
        ),
        (["query", "{song}", "--k", "0"], r"--k: must be at least 1, found 0"),
        (["train", "--library", "{lib}", "--name", "x", "--epochs", "0"], r"epochs must be >= 1"),
        (["train", "--library", "{lib}", "--name", "classic"], r"invalid model name 'classic'"),
        (
            ["train", "--library", "{lib}", "--name", "x", "--triplets", "{song}", "--self-supervised"],
            r"--self-supervised goes with --labels folders or alone, not with --triplets",
        ),
        (["index", "{lib}", "--workers", "many"], r"--workers: invalid int value: 'many'"),
    ],
)
def test_unknown_names_and_bad_values(capsys, cli_home, synth_library, args, pattern):
    song = synth_library / SONGS[0]
    argv = ["--home", cli_home] + [a.format(lib=synth_library, song=song) for a in args]
    rc, _, err = run_cli(capsys, *argv)
    assert_one_line_error(rc, err, pattern)


@pytest.mark.parametrize("device", ["cuda", "mps"])
@pytest.mark.parametrize(
    "command",
    [
        ["index", "{lib}", "--model", "classic"],
        ["train", "--library", "{lib}", "--name", "x", "--epochs", "1"],
        ["bench", "--library", "{lib}", "--labels", "folders", "--model", "classic"],
        ["embed", "{lib}", "--out", "{tmp}/e.npz", "--model", "classic"],
    ],
)
def test_a_gpu_that_is_not_there(capsys, cli_home, synth_library, tmp_path, no_gpu, device, command):
    argv = ["--home", cli_home] + [a.format(lib=synth_library, tmp=tmp_path) for a in command]
    rc, _, err = run_cli(capsys, *argv, "--device", device)
    assert_one_line_error(rc, err, rf"device '{device}' was asked for but .* available here")


# -- paths ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        ["index", "{p}"],
        ["embed", "{p}", "--out", "x.npz"],
        ["train", "--library", "{p}", "--name", "x"],
        ["bench", "--library", "{p}", "--labels", "folders"],
    ],
)
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


@pytest.mark.parametrize(
    "make,pattern",
    [
        (lambda t: (t / "f").write_text("x") and t / "f", r"home '.*' exists and is not a folder"),
        (
            lambda t: (t / "g").write_text("x") and t / "g" / "sub",
            r"cannot create MusicSim home '.*': Not a directory",
        ),
    ],
)
def test_home_that_cannot_be_a_folder(capsys, synth_library, tmp_path, make, pattern):
    rc, _, err = run_cli(capsys, "--home", make(tmp_path), "index", synth_library, "--model", "classic")
    assert_one_line_error(rc, err, pattern)


def test_output_folder_that_does_not_exist(capsys, cli_home, synth_library, tmp_path):
    rc, _, err = run_cli(
        capsys,
        "--home",
        cli_home,
        "embed",
        synth_library,
        "--model",
        "classic",
        "--workers",
        "0",
        "--out",
        tmp_path / "no" / "such" / "dir" / "e.npz",
    )
    assert_one_line_error(rc, err, r"--out '.*no/such/dir/e.npz': the folder '.*no/such/dir' does not exist")


# -- triplet CSVs ----------------------------------------------------------------------------------
BAD_CSVS = {
    "missing-column": (
        "song1,song2,odd\n" + f"{SONGS[0]},{SONGS[1]},1\n",
        r"line 1: missing column\(s\) song3",
    ),
    "unknown-song": (
        HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n{SONGS[0]},{SONGS[1]},nope.wav,3\n",
        r"line 3: unknown song 'nope.wav'",
    ),
    "odd-0": (HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},0\n", r"line 2: odd must be 1, 2 or 3, found 0"),
    "odd-4": (
        HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n{SONGS[0]},{SONGS[1]},{SONGS[3]},4\n",
        r"line 3: odd must be 1, 2 or 3, found 4",
    ),
    "odd-text": (
        HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},third\n",
        r"line 2: odd must be 1, 2 or 3, found 'third'",
    ),
    "duplicate": (
        HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n{SONGS[0]},{SONGS[1]},{SONGS[3]},3\n"
        f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n",
        r"lines 2 and 4 are the same triplet",
    ),
    "latin-1": (
        (HEADER + f"{SONGS[0]},{SONGS[1]},{SONGS[2]},3\n").encode() + b"caf\xe9.wav,a.wav,b.wav,1\n",
        r"line 3 is not valid UTF-8",
    ),
    "empty": ("", r"the file is empty"),
}


def _csv(tmp_path: Path, name: str) -> Path:
    text, _ = BAD_CSVS[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("name", sorted(BAD_CSVS))
def test_bench_with_a_bad_triplets_csv(capsys, cli_home, synth_library, tmp_path, name):
    rc, _, err = run_cli(
        capsys,
        "--home",
        cli_home,
        "bench",
        "--library",
        synth_library,
        "--model",
        "classic",
        "--workers",
        "0",
        "--triplets",
        _csv(tmp_path, name),
        "--out",
        tmp_path / "out",
    )
    line = assert_one_line_error(rc, err, BAD_CSVS[name][1])
    assert f"{name}.csv" in line
    assert not (tmp_path / "out").exists()


def test_malformed_csv_fails_before_any_audio_is_decoded(capsys, synth_library, tmp_path):
    """A typo in the CSV must not cost a whole indexing or decoding pass first."""
    home = tmp_path / "home"
    rc, _, err = run_cli(
        capsys,
        "--home",
        home,
        "bench",
        "--library",
        synth_library,
        "--model",
        "classic",
        "--workers",
        "0",
        "--triplets",
        _csv(tmp_path, "odd-4"),
    )
    assert_one_line_error(rc, err, "line 3: odd must be")
    import sqlite3

    db = home / "index.db"
    assert not db.exists() or sqlite3.connect(db).execute("SELECT COUNT(*) FROM songs").fetchone()[0] == 0
    rc, _, err = run_cli(
        capsys,
        "--home",
        home,
        "train",
        "--library",
        synth_library,
        "--name",
        "x",
        "--workers",
        "0",
        "--triplets",
        _csv(tmp_path, "duplicate"),
    )
    assert_one_line_error(rc, err, "lines 2 and 4 are the same triplet")
    assert not (home / "cache").exists() and not (home / "runs" / "x").exists()


def test_train_with_a_csv_naming_unknown_songs(capsys, cli_home, synth_library, tmp_path):
    rc, _, err = run_cli(
        capsys,
        "--home",
        cli_home,
        "train",
        "--library",
        synth_library,
        "--name",
        "csv-x",
        "--arch",
        "musicnet-small",
        "--epochs",
        "1",
        "--workers",
        "0",
        "--segments",
        "2",
        "--triplets",
        _csv(tmp_path, "unknown-song"),
    )
    assert_one_line_error(rc, err, r"unknown-song.csv: line 3: unknown song 'nope.wav'")


def test_missing_csv_file(capsys, cli_home, synth_library, tmp_path):
    rc, _, err = run_cli(
        capsys, "--home", cli_home, "bench", "--library", synth_library, "--triplets", tmp_path / "nope.csv"
    )
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

    _edit_config(
        folder, weights_sha256=hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()
    )


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['BOOM_MARKER']}",))


@pytest.mark.parametrize(
    "kind,pattern",
    [
        ("unknown-arch", r"names an unknown architecture 'evil-net'"),
        ("wrong-weights", r"weights do not match architecture 'musicnet-small'"),
        ("pickle", r"not a valid safetensors file"),
        ("newer-format", r"written by a newer MusicSim"),
        ("replaced-weights", r"weights.safetensors is not the file its config.json names"),
    ],
)
def test_index_refuses_a_strangers_model(
    capsys, cli_home, synth_library, tmp_path, monkeypatch, kind, pattern
):
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
        save_file(
            build_model("musicnet-small", FeatureConfig(), embedding_dim=16).state_dict(),
            str(folder / "weights.safetensors"),
        )
    else:
        _edit_config(folder, format_version=99)
    rc, _, err = run_cli(
        capsys, "--home", cli_home, "index", synth_library, "--model", folder, "--workers", "0"
    )
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
    rc, out, err = run_cli(
        capsys, "--home", home, "index", synth_library, "--model", folder, "--workers", "0"
    )
    assert rc == 0 and out.startswith("indexed 12,"), err
    first_key = load_model_folder(folder).info.key
    _edit_config(folder, features={"hop_length": 256})
    edited = load_model_folder(folder)
    assert edited.info.key.startswith(first_key + "+")
    rc, out, err = run_cli(
        capsys, "--home", home, "index", synth_library, "--model", folder, "--workers", "0"
    )
    assert rc == 0 and out.startswith("indexed 12,"), err
    with Library(home) as lib:
        assert len(lib.embeddings(first_key)[0]) == len(lib.embeddings(edited.info.key)[0]) == 12
    with sqlite3.connect(home / "index.db") as db:
        db.execute("UPDATE models SET features = '{}' WHERE key = ?", (edited.info.key,))
    rc, _, err = run_cli(capsys, "--home", home, "query", synth_library / SONGS[0], "--model", folder)
    assert_one_line_error(
        rc,
        err,
        r"model 'stranger' does not match the embeddings already in this index "
        r"\(representation differs in: .*hop_length",
    )


# == issue 19: models, arguments and files from strangers ==========================================
import hashlib  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

from strangers import index, query, small_library  # noqa: E402
from trainer.paths import default_model_dir  # noqa: E402


def _bad_folder(home: Path, name: str, edit) -> Path:  # type: ignore[no-untyped-def]
    """A real model folder in ``home``, then its config.json edited (a dict of changes, or text)."""
    folder = _stranger(home / "models", name)
    if isinstance(edit, str):
        (folder / "config.json").write_text(edit)
    else:
        _edit_config(folder, **edit)
    return folder


#: config edits a stranger might ship, and the reason every command gives
MALFORMED_CONFIGS = {
    "format_version [2]": ({"format_version": [2]}, r"format_version must be a number, found list"),
    "embedding_dim 1e400": (
        '{"name": "x", "arch": "musicnet-small", "embedding_dim": 1e400}',
        r"embedding_dim must be a finite number, found inf",
    ),
    "embedding_dim 1e9": (
        {"embedding_dim": 10**9},
        r"embedding_dim must be between 1 and 8192, found 1e\+09",
    ),
    "deep JSON": (
        '{"name": "x", "arch": "musicnet-small", "embedding_dim": 16, "training": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",
        r"JSON nested too deeply",
    ),
    "n_mels 'many'": ({"features": {"n_mels": "many"}}, r"features.n_mels must be a number, found str"),
    "n_mels 1e7": ({"features": {"n_mels": 10**7}}, r"features.n_mels must be between 1 and 512"),
    "hop_length 0": (
        {"features": {"hop_length": 0}},
        r"features.hop_length must be between 1 and 65536, found 0",
    ),
    "hop_length 1": ({"features": {"hop_length": 1}}, r"mel bands x 66151 frames exceed"),
    "n_fft -1": ({"features": {"n_fft": -1}}, r"features.n_fft must be between 16 and 65536, found -1"),
    "n_excerpts 1e8": ({"features": {"n_excerpts": 1e8}}, r"features.n_excerpts must be between 1 and 256"),
    "f_max above Nyquist": ({"features": {"f_max": 40000.0}}, r"need f_min < f_max <= sample_rate / 2"),
    "name with escapes": ({"name": "\x1b[2Jx"}, r"name holds control characters"),
    "2 MB config": ('{"name": "x", "pad": "' + "x" * (2 << 20) + '"}', r"larger than 1 MB"),
}


@pytest.mark.parametrize("what", sorted(MALFORMED_CONFIGS))
def test_a_malformed_model_folder_is_listed_as_unusable(capsys, tmp_path, synth_library, what):
    """The folder is named with its reason by 'models', kept by 'prune', refused in one line by
    'index' -- and refused before anything is built or allocated."""
    edit, reason = MALFORMED_CONFIGS[what]
    home = tmp_path / "home"
    folder = _bad_folder(home, "bad", edit)
    rc, out, err = run_cli(capsys, "--home", home, "models")
    assert rc == 0 and "Traceback" not in err, err
    listed = out.split("model folders that cannot be used:")[1].strip().splitlines()
    assert len(listed) == 1 and listed[0].startswith("bad ") and re.search(reason, listed[0]), out
    assert "\n  default " in out and "\n  classic " in out
    assert "\x1b" not in out
    rc, out, err = run_cli(capsys, "--home", home, "prune", "--dry-run")
    assert rc == 0 and "kept the embeddings of 'bad', whose folder cannot be used now" in out, out + err
    rc, _, err = run_cli(capsys, "--home", home, "index", synth_library, "--model", "bad", "--workers", "0")
    assert_one_line_error(rc, err, reason)
    from trainer.errors import ModelError
    from trainer.modelstore import load_model_folder

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ModelError):
            load_model_folder(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40e6 and time.perf_counter() - started < 10


@pytest.fixture(scope="module")
def default_clean(tmp_path_factory):
    """The default model's answers on a small library, in a clean home."""
    lib = small_library(tmp_path_factory.mktemp("impostor") / "music")
    home = tmp_path_factory.mktemp("default-clean")
    rc, out, err = index(home, lib, "default")
    assert rc == 0 and out.startswith("indexed 9,"), out + err
    return lib, query(home, lib / "synth" / "tones" / "tones-1.wav", "default")


@pytest.mark.parametrize("claims_hash", [True, False])
def test_an_impostor_cannot_take_the_default_models_key(tmp_path, default_clean, claims_hash):
    """A folder whose config says 'default' (with the default's weights hash, or none) but holds
    other weights: it is refused, or keyed by its own weights; the default's answers stay its own."""
    lib, want = default_clean
    impostor = tmp_path / "impostor"
    shutil.copytree(default_model_dir(), impostor)
    weights = load_file_pt(impostor / "weights.safetensors")
    first = sorted(k for k, v in weights.items() if v.is_floating_point())[0]
    weights[first] = weights[first] + 0.5  # other weights that still fit the architecture
    save_file(weights, str(impostor / "weights.safetensors"))
    if not claims_hash:
        cfg = json.loads((impostor / "config.json").read_text())
        del cfg["weights_sha256"]
        (impostor / "config.json").write_text(json.dumps(cfg))
    home = tmp_path / "home"
    rc, out, err = index(home, lib, str(impostor))
    if claims_hash:
        assert rc == 2 and re.fullmatch(
            r"musicsim: error: model 'default': weights.safetensors is not the file "
            r"its config.json names \(SHA-256 [0-9a-f]{12}…, config says "
            r"[0-9a-f]{12}…\): the weights were replaced or edited\n",
            err,
        ), err
    else:
        assert rc == 0 and out.startswith("indexed 9,"), out + err
    rc, out, err = index(home, lib, "default")
    assert rc == 0 and out.startswith("indexed 9,"), out + err  # nothing of the impostor's was taken
    assert query(home, lib / "synth" / "tones" / "tones-1.wav", "default") == want


def load_file_pt(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def _nan_model(folder: Path) -> Path:
    model = build_model("musicnet-small", FeatureConfig(), embedding_dim=16)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    return save_model(folder, model, ModelInfo(name=folder.name, arch="musicnet-small", embedding_dim=16))


def test_a_model_whose_output_is_not_finite_stores_nothing(capsys, tmp_path, synth_library):
    folder = _nan_model(tmp_path / "nan-model")
    home = tmp_path / "home"
    rc, out, err = run_cli(
        capsys, "--home", home, "index", synth_library, "--model", folder, "--workers", "0"
    )
    assert rc == 0 and out.startswith("indexed 0, unchanged 0, removed 0, skipped 12 "), out + err
    assert out.count("the model gave an unusable embedding (") == 12
    rc, _, err = run_cli(capsys, "--home", home, "query", synth_library / SONGS[0], "--model", folder)
    assert_one_line_error(rc, err, r"no songs are indexed with model 'nan-model'")


def test_training_that_diverges_stops_and_saves_nothing(capsys, tmp_path, synth_library):
    """Fine-tuning a model whose weights are NaN: the first loss is NaN; the run stops with one
    line and no model (nor a checkpoint of the diverged epoch) is written."""
    start = _nan_model(tmp_path / "nan-start")
    home = tmp_path / "home"
    rc, _, err = run_cli(
        capsys,
        "--home",
        home,
        "--quiet",
        "train",
        "--library",
        synth_library,
        "--name",
        "x",
        "--init-from",
        start,
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--segments",
        "2",
        "--workers",
        "0",
        "--device",
        "cpu",
    )
    assert_one_line_error(
        rc,
        err,
        r"training diverged at epoch 1, step 1: the loss is nan; nothing of it was "
        r"saved \(try a lower --lr",
    )
    assert not (home / "models" / "x").exists()
    assert not (home / "runs" / "x" / "checkpoint.safetensors").exists()


@pytest.mark.parametrize(
    "args,pattern",
    [
        (
            ["bench", "--library", "{lib}", "--labels", "folders", "--n-triplets", "1000000000"],
            r"--n-triplets: must be between 1 and 1,000,000, found 1000000000",
        ),
        (
            ["train", "--library", "{lib}", "--name", "x", "--lr", "inf"],
            r"lr must be a finite number, found inf",
        ),
        (["train", "--library", "{lib}", "--name", "x", "--lr", "nan"], r"learning rate > 0"),
        (
            ["train", "--library", "{lib}", "--name", "x", "--temperature", "0"],
            r"temperature must be between 0.001 and 100, found 0",
        ),
        (["train", "--library", "{lib}", "--name", "x", "--margin=-inf"], r"margin must be a finite number"),
        (
            ["train", "--library", "{lib}", "--name", "x", "--seed", "-1"],
            r"--seed: must be at least 0, found -1",
        ),
        (
            ["train", "--library", "{lib}", "--name", "x", "--segments", "0"],
            r"--segments: must be between 1 and 64",
        ),
        (
            ["train", "--library", "{lib}", "--name", "x", "--batch-size", "100000000"],
            r"batch size must be between 2 and 4096",
        ),
        (["index", "{lib}", "--workers", "-3"], r"--workers: must be between 0 and 64, found -3"),
    ],
)
def test_absurd_numbers_are_one_line(capsys, cli_home, synth_library, args, pattern):
    started = time.perf_counter()
    rc, _, err = run_cli(capsys, "--home", cli_home, *[a.format(lib=synth_library) for a in args])
    assert_one_line_error(rc, err, pattern)
    assert time.perf_counter() - started < 30  # refused before any decoding or allocation


def test_training_engine_refuses_absurd_settings(tmp_path, synth_library):
    """The window calls the engine directly: the same bounds hold there."""
    from trainer.errors import ParameterError
    from trainer.train import TrainConfig, train

    for field_, value in (
        ("seed", -1),
        ("lr", float("inf")),
        ("temperature", 0.0),
        ("segments_per_song", 0),
        ("time_stretch", 5.0),
        ("embedding_dim", 10**9),
    ):
        with pytest.raises(ParameterError, match=field_.replace("_", " ").split()[0]):
            train(TrainConfig(library=synth_library, name="x", **{field_: value}), home=tmp_path / "h")
    assert not (tmp_path / "h" / "cache").exists()


def test_rerunning_a_finished_training_says_so(capsys, tmp_path, synth_library):
    """A finished run is not retrained silently: the second 'train --name x' is refused (nothing
    decoded, the model kept), '--restart' trains it again and replaces it."""
    home = tmp_path / "home"
    argv = [
        "--home",
        home,
        "--quiet",
        "train",
        "--library",
        synth_library,
        "--name",
        "x",
        "--arch",
        "musicnet-small",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--segments",
        "2",
        "--workers",
        "0",
        "--device",
        "cpu",
    ]
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 0, err
    before = (home / "models" / "x" / "config.json").read_bytes()
    rc, _, err = run_cli(capsys, *argv)
    assert_one_line_error(
        rc,
        err,
        r"a model named 'x' is trained already \(.*models/x\); train it again with "
        r"--restart \(it is replaced when the run ends\) or pick another name",
    )
    assert (home / "models" / "x" / "config.json").read_bytes() == before
    rc, out, err = run_cli(capsys, *argv, "--restart")
    assert rc == 0 and out.startswith("epoch 1/1"), err
    assert (home / "models" / "x" / "config.json").read_bytes() != before  # a new 'created' time at least


def test_empty_home_is_refused(capsys, synth_library):
    rc, _, err = run_cli(capsys, "--home", "", "index", synth_library, "--model", "classic")
    assert_one_line_error(rc, err, r"the MusicSim home is an empty path")


def test_output_paths_are_checked_before_any_work(capsys, cli_home, synth_library, tmp_path):
    rc, _, err = run_cli(
        capsys, "--home", cli_home, "embed", synth_library, "--model", "classic", "--out", "/dev/null"
    )
    assert_one_line_error(rc, err, r"--out '/dev/null' exists and is not a regular file")
    assert not Path("/dev/null.npz").exists()
    missing = tmp_path / "nonexistent"
    rc, _, err = run_cli(
        capsys,
        "--home",
        cli_home,
        "bench",
        "--library",
        synth_library,
        "--labels",
        "folders",
        "--model",
        "classic",
        "--out",
        missing / "x",
    )
    assert_one_line_error(rc, err, r"--out '.*nonexistent/x': the folder '.*nonexistent' does not exist")
    assert not missing.exists()


def test_query_says_how_many_it_found_and_checks_the_device(capsys, tmp_path, synth_library, no_gpu):
    home = tmp_path / "home"
    assert (
        run_cli(capsys, "--home", home, "index", synth_library, "--model", "classic", "--workers", "0")[0]
        == 0
    )
    rc, out, err = run_cli(
        capsys, "--home", home, "query", synth_library / SONGS[0], "--model", "classic", "--k", "10000000"
    )
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith("11 nearest to ") and len(lines) == 12, out + err
    assert lines[0].endswith("; 10000000 asked for, the index has 12 songs):")
    rc, _, err = run_cli(
        capsys, "--home", home, "query", synth_library / SONGS[0], "--model", "classic", "--device", "cuda"
    )  # the song is indexed, so no model runs: still an error
    assert_one_line_error(rc, err, r"device 'cuda' was asked for but no CUDA GPU is available here")


def test_triplet_csv_bounds(capsys, cli_home, synth_library, tmp_path):
    """A 10 MB line and 100,001 rows: one line each, quickly, before any audio is decoded."""
    long_line = tmp_path / "long.csv"
    long_line.write_text(HEADER + "a" * 10_000_000 + ",b.wav,c.wav,1\n")
    rows = tmp_path / "rows.csv"
    rows.write_text(HEADER + "".join(f"s{i}.wav,b.wav,c.wav,1\n" for i in range(100_001)))
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.write(HEADER.encode())
        f.truncate(40 << 20)
    for path, pattern in (
        (long_line, r"long.csv: line 2: field larger than field limit"),
        (rows, r"rows.csv: line 100002: more than 100,000 triplets; split the file"),
        (big, r"big.csv: 40 MB is more than a triplets CSV may be \(32 MB\)"),
    ):
        started = time.perf_counter()
        rc, _, err = run_cli(
            capsys,
            "--home",
            cli_home,
            "bench",
            "--library",
            synth_library,
            "--model",
            "classic",
            "--triplets",
            path,
        )
        assert_one_line_error(rc, err, pattern)
        assert time.perf_counter() - started < 20


def test_a_config_whose_width_is_not_its_architectures_is_refused(capsys, tmp_path, synth_library):
    """config.json says 16 dimensions, the architecture gives 89: refused before anything is stored
    (every vector is also checked against the key's width when it is stored)."""
    classic = build_model("classic", FeatureConfig())
    folder = save_model(
        tmp_path / "narrow", classic, ModelInfo(name="narrow", arch="classic", embedding_dim=16)
    )
    rc, _, err = run_cli(
        capsys, "--home", tmp_path / "home", "index", synth_library, "--model", folder, "--workers", "0"
    )
    assert_one_line_error(
        rc,
        err,
        r"model 'narrow': config.json says embedding_dim 16 but architecture 'classic' "
        r"gives 89",
    )
