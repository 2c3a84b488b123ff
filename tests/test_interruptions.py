"""Issue 6, interruptions: a killed indexer or training run loses nothing that was finished, two
processes on one library do not corrupt it, and a full disk gives a clear error instead of a
half-written model or index.

"Full disk" is real where it can be without privileges: ``RLIMIT_FSIZE`` makes the kernel fail
writes past a size (EFBIG, as ENOSPC would) inside the real ``safetensors`` call, and SQLite's
``max_page_count`` makes the index full the way a full disk does (SQLITE_FULL).  Read-only data
folders are tested as an unprivileged user in ``test_hostile_files.py``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from clirun import run_cli
from synth import noise_bursts, square, tone, write
from trainer.errors import Cancelled, LibraryBusyError, ModelError, ParameterError
from trainer.library import Library
from trainer.modelstore import classic_model

pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="uses fork, signals and resource limits"),
    pytest.mark.usefixtures("_one_torch_thread"),
]

REPO = Path(__file__).resolve().parent.parent
N_SONGS = 40


def one_line_error(rc: int, err: str, pattern: str) -> str:
    import re

    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musicsim: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


FORK_SERVER = r"""
import json, os, sys
from trainer.cli import main  # imports torch once; no torch thread pool exists yet, so forking is safe
import trainer.library, trainer.train  # noqa: F401
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    argv = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the child is a fresh 'musicsim' command
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        rc = 1
        try:
            rc = main(argv)
        finally:
            os._exit(rc)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                      "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}), flush=True)
"""


class Commands:
    """Runs ``musicsim`` commands as separate processes that can be SIGKILLed.

    Each command is a child forked from one server process that imported the engine once, so a
    kill costs milliseconds instead of torch's import time.  To the command, it is the CLI.
    """

    def __init__(self, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICSIM")}
        env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.log = log
        self.server = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER],
            cwd=REPO,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
        )
        self._ready = False
        self.pids: list[int] = []

    def _read(self) -> dict:
        line = self.server.stdout.readline()
        if not line:
            pytest.fail(f"the command server died:\n{self.log.read_text()}")
        return json.loads(line)

    def start(self, *argv: object) -> int:
        if not self._ready:
            assert self._read() == {"ready": True}
            self._ready = True
        args = [os.fspath(a) if isinstance(a, Path) else str(a) for a in argv]
        self.server.stdin.write(json.dumps(args) + "\n")
        self.server.stdin.flush()
        pid = self._read()["pid"]
        self.pids.append(pid)
        return pid

    def kill_when(self, pid: int, condition, timeout: float = 180.0) -> None:
        """SIGKILL ``pid`` as soon as ``condition()`` holds; fail if it ended by itself first."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out waiting for the command"
            if not self._alive(pid):
                status = self._read()  # reaped by the server: forget the pid, it may be reused
                self.pids.remove(pid)
                pytest.fail(f"the command ended before it could be killed: {status}\n{self.log.read_text()}")
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        status = self._read()
        self.pids.remove(pid)
        assert status == {"signal": signal.SIGKILL, "rc": None}

    @staticmethod
    def _alive(pid: int) -> bool:
        """Running, not a zombie waiting for the server to reap it."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
        except OSError:  # no /proc (macOS): signal 0 says whether it exists
            try:
                os.kill(pid, 0)
                return True
            except ProcessLookupError:
                return False

    def close(self) -> None:
        for pid in self.pids:  # a command left running by a failed test (not reaped: the pid is still its)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.server.stdin.close()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()


@pytest.fixture(scope="module", autouse=True)
def commands(tmp_path_factory):
    """Started with the module's first test, so its import overlaps the in-process tests before
    the kill tests (which come last in this file)."""
    cmds = Commands(tmp_path_factory.mktemp("commands") / "server.log")
    yield cmds
    cmds.close()


@pytest.fixture(scope="module")
def forty(tmp_path_factory):
    """40 short songs: enough batches (the indexer commits every 8) to be killed between them."""
    root = tmp_path_factory.mktemp("forty") / "music"
    makers = (
        lambda i: tone(100 + 30 * i, 2.0, harmonics=2, seed=i),
        lambda i: square(500 + 40 * i, 2.0, seed=i),
        lambda i: noise_bursts(2.0, seed=i),
    )
    for i in range(N_SONGS):
        write(root / f"album-{i % 3}" / f"song {i:02d}.wav", makers[i % 3](i))
    return root.resolve()


def _db_state(db: Path) -> tuple[str, int, dict[int, bytes]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        n_songs = con.execute("SELECT COUNT(*) FROM songs").fetchone()[0]
        vectors = dict(con.execute("SELECT song_id, vector FROM embeddings"))
        return check, n_songs, vectors
    finally:
        con.close()


def _n_embedded(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:  # not created yet
        return 0


# -- training, killed -----------------------------------------------------------------------------
TRAIN_ARGS = dict(
    arch="musicnet-small",
    epochs=3,
    batch_size=8,
    lr=1e-3,
    seed=0,
    segments_per_song=4,
    workers=0,
    device="cpu",
    name="resume",
    source="folders",
)


@contextlib.contextmanager
def one_thread():
    """Same arithmetic in this process as in the killed one (started with OMP_NUM_THREADS=1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _checkpoint_epoch(path: Path) -> int:
    with safe_open(str(path), framework="pt") as f:
        return int(json.loads(f.metadata()["state"])["epoch"])


def test_resuming_with_other_settings_is_refused(synth_library, tmp_path):
    from trainer.train import TrainConfig, train

    steps = []
    cfg = TrainConfig(library=synth_library, **{**TRAIN_ARGS, "epochs": 2, "segments_per_song": 2})
    with pytest.raises(Cancelled):
        train(cfg, home=tmp_path, on_step=lambda s, loss: steps.append(s), should_stop=lambda: len(steps) > 3)
    ckpt = tmp_path / "runs" / cfg.name / "checkpoint.safetensors"
    assert ckpt.is_file() and _checkpoint_epoch(ckpt) == 1
    for other in ({"arch": "musicnet"}, {"lr": 0.5}):  # other weights' shapes, or just other settings
        with pytest.raises(ParameterError, match="exists with other settings; use --restart"):
            train(
                TrainConfig(
                    library=synth_library, **{**TRAIN_ARGS, "epochs": 2, "segments_per_song": 2, **other}
                ),
                home=tmp_path,
            )
    ckpt.write_bytes(ckpt.read_bytes()[:200])  # a checkpoint cut short (not by us: ours are atomic)
    with pytest.raises(ModelError, match="unreadable.*use --restart"):
        train(cfg, home=tmp_path)


# -- two processes on one library -----------------------------------------------------------------
HOLDER = (
    "import filelock, sys; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
    "print('locked', flush=True); sys.stdin.readline(); lock.release()"
)


def test_a_second_process_is_told_why_or_waits(synth_library, tmp_path):
    """Another process (the GUI, say) holds the writer lock: the CLI says why and exits; a caller
    that asks to wait (``lock_timeout``) proceeds once the lock is free; readers never block."""
    import threading

    home = tmp_path / "home"
    home.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home / "index.lock")],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc, _, err = run_cli(
            "--home", home, "--quiet", "index", synth_library, "--model", "classic", "--workers", "0"
        )
        one_line_error(rc, err, r"another MusicSim process is updating the library in '.*'; wait for it")
        with Library(home) as lib, pytest.raises(LibraryBusyError):
            lib.index(synth_library, classic_model(), workers=0)
        with Library(home) as reader:
            assert reader.songs() == []
        release = threading.Timer(1.0, lambda: (holder.stdin.write("go\n"), holder.stdin.flush()))
        release.start()
        started = time.monotonic()
        with Library(home, lock_timeout=120) as patient:
            rep = patient.index(synth_library, classic_model(), workers=0)
        release.join()
        assert time.monotonic() - started >= 0.9
        assert rep.indexed == 12
    finally:
        holder.kill()
        holder.wait()
    check, n_songs, vectors = _db_state(home / "index.db")
    assert check == "ok" and n_songs == len(vectors) == 12


# -- full disk --------------------------------------------------------------------------------------
@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """Writes past ``nbytes`` fail with EFBIG (SIGXFSZ ignored), as on a disk that is full."""
    resource = pytest.importorskip("resource")
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def on_full_disk(real):
    def save_file(*args, **kwargs):
        with file_size_limit(64 * 1024):
            return real(*args, **kwargs)

    return save_file


def _small_model(seed: int):
    from trainer.config import FeatureConfig
    from trainer.models import build_model
    from trainer.modelstore import ModelInfo

    torch.manual_seed(seed)
    model = build_model("musicnet-small", FeatureConfig(), embedding_dim=16)
    return model, ModelInfo(name="m", arch="musicnet-small", embedding_dim=16)


def test_full_disk_while_saving_a_model_keeps_the_previous_one(tmp_path, monkeypatch):
    import trainer.modelstore as store

    folder = tmp_path / "models" / "m"
    store.save_model(folder, *_small_model(1))
    before = load_file(str(folder / "weights.safetensors"))
    import safetensors.torch  # save_model imports save_file from here when it runs

    monkeypatch.setattr(safetensors.torch, "save_file", on_full_disk(safetensors.torch.save_file))
    with pytest.raises(ModelError, match=r"cannot write model to '.*models/m': .*File too large"):
        store.save_model(folder, *_small_model(2))
    assert sorted(os.listdir(tmp_path / "models")) == ["m"]  # no temporary or half-written folder
    after = store.load_model_folder(folder)
    for k, v in before.items():
        assert torch.equal(after.model.state_dict()[k], v)


def test_failed_swap_puts_the_previous_model_back(tmp_path, monkeypatch):
    import trainer.modelstore as store

    folder = tmp_path / "models" / "m"
    store.save_model(folder, *_small_model(1))
    sha = json.loads((folder / "config.json").read_text())["weights_sha256"]
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == folder and Path(src).name != ".m.old":  # the new model's final rename fails
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ModelError, match="cannot write model to .*Input/output error"):
        store.save_model(folder, *_small_model(2))
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path / "models")) == ["m"]
    assert json.loads((folder / "config.json").read_text())["weights_sha256"] == sha
    store.load_model_folder(folder)


def test_full_disk_during_training_is_one_line_and_the_rerun_works(synth_library, tmp_path, monkeypatch):
    import trainer.checkpoint

    home = tmp_path / "home"
    argv = [
        "--home",
        home,
        "--quiet",
        "train",
        "--library",
        synth_library,
        "--name",
        "full",
        "--arch",
        "musicnet-small",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--segments",
        "1",
        "--workers",
        "0",
        "--device",
        "cpu",
    ]
    monkeypatch.setattr(trainer.checkpoint, "save_file", on_full_disk(trainer.checkpoint.save_file))
    rc, _, err = run_cli(*argv)
    one_line_error(rc, err, r"cannot write checkpoint '.*runs/full/checkpoint.safetensors': .*File too large")
    assert os.listdir(home / "runs" / "full") == []
    assert not (home / "models" / "full").exists()
    monkeypatch.undo()
    rc, out, err = run_cli(*argv)
    assert rc == 0 and "saved model 'full'" in out, err


def test_full_disk_while_indexing_keeps_committed_songs(forty, tmp_path, monkeypatch):
    home = tmp_path / "home"
    real = Library.register_model

    def register_then_fill_the_disk(self, loaded):
        real(self, loaded)
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    monkeypatch.setattr(Library, "register_model", register_then_fill_the_disk)
    rc, _, err = run_cli("--home", home, "--quiet", "index", forty, "--model", "classic", "--workers", "0")
    one_line_error(
        rc,
        err,
        r"cannot write the library index '.*index.db': database or disk is full; "
        r"songs finished before this are kept",
    )
    monkeypatch.undo()
    check, n_songs, vectors = _db_state(home / "index.db")
    assert check == "ok" and n_songs == N_SONGS and 0 < len(vectors) < N_SONGS
    with Library(home) as lib:
        rep = lib.index(forty, classic_model(), workers=0)
    assert (rep.indexed, rep.unchanged) == (N_SONGS - len(vectors), len(vectors))


# -- killed processes (last: the command server has started by now) ---------------------------------
def test_training_killed_mid_epoch_resumes_to_the_uninterrupted_result(commands, synth_library, tmp_path):
    from trainer.train import TrainConfig, train

    cfg = TrainConfig(library=synth_library, **TRAIN_ARGS)
    killed_home = tmp_path / "killed"
    pid = commands.start(
        "--home",
        killed_home,
        "--quiet",
        "train",
        "--library",
        synth_library,
        "--arch",
        cfg.arch,
        "--labels",
        "folders",
        "--epochs",
        cfg.epochs,
        "--batch-size",
        cfg.batch_size,
        "--lr",
        cfg.lr,
        "--seed",
        cfg.seed,
        "--segments",
        cfg.segments_per_song,
        "--workers",
        "0",
        "--device",
        "cpu",
        "--name",
        cfg.name,
    )
    ckpt = killed_home / "runs" / cfg.name / "checkpoint.safetensors"
    commands.kill_when(pid, ckpt.is_file)  # as soon as epoch 1 is saved: inside epoch 2
    assert not (killed_home / "models" / cfg.name).exists()
    done = _checkpoint_epoch(ckpt)
    assert 1 <= done < cfg.epochs  # killed inside a later epoch, not after the last

    epochs = []
    with one_thread():
        reference = train(cfg, home=tmp_path / "straight")
        resumed = train(cfg, home=killed_home, on_epoch=lambda s: epochs.append(s.epoch))
    assert epochs == list(range(done + 1, cfg.epochs + 1))  # only the epochs that were not finished
    a, b = load_file(str(reference / "weights.safetensors")), load_file(str(resumed / "weights.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    hist = [json.loads((f / "config.json").read_text())["metrics"]["history"] for f in (reference, resumed)]
    assert [h["train_loss"] for h in hist[0]] == [h["train_loss"] for h in hist[1]]
    assert not (killed_home / "runs" / cfg.name).exists()  # the finished run cleans up its checkpoint


def test_sigkilled_indexer_keeps_finished_songs_and_the_next_run_finishes(commands, forty, tmp_path):
    home = tmp_path / "home"
    db = home / "index.db"
    rng = np.random.default_rng(6)
    kept: dict[int, bytes] = {}
    for _ in range(2):  # kill twice, each time after a random number of newly embedded songs
        target = len(kept) + int(rng.integers(1, 9))
        pid = commands.start(
            "--home", home, "--quiet", "index", forty, "--model", "classic", "--workers", "0"
        )
        commands.kill_when(pid, lambda target=target: _n_embedded(db) >= target)
        check, n_songs, vectors = _db_state(db)
        assert check == "ok"
        assert n_songs == N_SONGS  # the scan was committed before embedding began
        assert target <= len(vectors) < N_SONGS, "the indexer finished before it was killed"
        assert all(vectors[k] == v for k, v in kept.items())  # nothing finished was lost or rewritten
        kept = vectors
    with Library(home) as lib:  # the next run: no lock left behind, and only the rest is embedded
        rep = lib.index(forty, classic_model(), workers=0)
    assert (rep.indexed, rep.unchanged, len(rep.skipped)) == (N_SONGS - len(kept), len(kept), 0)
    check, _, vectors = _db_state(db)
    assert check == "ok" and len(vectors) == N_SONGS
    assert all(vectors[k] == v for k, v in kept.items())


# == issue 19 ====================================================================================
def _children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_decoder_processes_end_with_a_sigkilled_indexer(commands, forty, tmp_path):
    """kill -9 of 'musicsim index' runs no cleanup; its decoder processes see their parent gone and
    end by themselves within seconds instead of living on."""
    home = tmp_path / "home"
    pid = commands.start("--home", home, "--quiet", "index", forty, "--model", "classic", "--workers", "2")
    seen: list[int] = []

    def decoding() -> bool:
        seen[:] = _children(pid)
        return _n_embedded(home / "index.db") >= 1 and len(seen) >= 2

    commands.kill_when(pid, decoding)
    assert seen, "no decoder processes were started"
    deadline = time.monotonic() + 15
    while any(Commands._alive(c) for c in seen):
        assert time.monotonic() < deadline, f"decoder processes outlived their parent: {seen}"
        time.sleep(0.1)


def test_two_trainings_of_one_name_are_not_run_at_once(commands, forty, tmp_path):
    home = tmp_path / "home"
    argv = [
        "--home",
        home,
        "--quiet",
        "train",
        "--library",
        forty,
        "--name",
        "x",
        "--arch",
        "musicnet-small",
        "--epochs",
        "50",
        "--batch-size",
        "8",
        "--segments",
        "2",
        "--workers",
        "0",
        "--device",
        "cpu",
    ]
    pid = commands.start(*argv)
    deadline = time.monotonic() + 120
    while not (home / "runs" / "x").is_dir():  # made once the first run holds the name
        assert time.monotonic() < deadline and Commands._alive(pid), "the first training did not start"
        time.sleep(0.05)
    rc, _, err = run_cli(*argv)
    one_line_error(
        rc,
        err,
        r"another MusicSim process is training 'x' in '.*home'; wait for it to finish or "
        r"pick another name",
    )
    commands.kill_when(pid, lambda: True)
    rc, _, err = run_cli(
        *argv[:-8],
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
    )  # a killed run leaves no lock behind
    assert rc == 0, err
