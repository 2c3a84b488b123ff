"""Issue 6, inputs: ``musicsim index``, the GUI scan (``Library.index``, the same engine call) and
training survive the hostile corpus of ``tests/hostile.py``: every bad file is skipped with a clear
reason, every good one is finished, and the long and huge files cost bounded memory and time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hostile import (
    NOT_AUDIO,
    build_corpus,
    expected_ok,
    expected_skips,
    give_away,
    unprivileged_prefix,
)
from clirun import run_cli
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
            rel, _, reason = line[len(prefix):].partition(": ")
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
        facts = {os.fsdecode(r[0]): r[1:] for r in
                 lib.conn.execute("SELECT path, sample_rate, channels, duration FROM songs")}
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
    rc, out, err = run_cli("--home", tmp_path / "home", "--quiet", "train", "--library", root,
                           "--name", "hostile", "--arch", "musicnet-small", "--labels", "folders",
                           "--epochs", "1", "--batch-size", "8", "--segments", "2", "--workers", "0",
                           "--device", "cpu")
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
        proc = subprocess.Popen([*prefix, sys.executable, "-c", PERMISSION_SCRIPT, str(base)], cwd=REPO,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
    return base, json.loads(lines[0][len("RESULT "):])


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
