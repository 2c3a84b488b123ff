"""Shared helpers for the benchmark scripts: machine facts, the model option, result tables.

Every benchmark prints the exact command line, the machine (cores, CPU, load average before and
after) and its measurements *with the baseline measured in the same run*, because the absolute
numbers move with whatever else the machine is doing; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as ``python benchmarks/bench_x.py`` from anywhere
    sys.path.insert(0, str(REPO))

#: Where the real-music corpus lives (``game/album/track``); never copied into the repository.
DEFAULT_CORPUS = os.environ.get("MUSICSIM_CORPUS", "/work/corpus")


# -- machine ------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} {five:.2f} {fifteen:.2f}"
    except OSError:
        return "n/a"


def mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def gpu_name() -> str | None:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - a broken CUDA install just means "no GPU"
        pass
    return None


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": usable_cores(),
        "cpu": cpu_model(),
        "mem_gb": round(mem_total_gb() or 0.0, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "gpu": gpu_name(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def command_line() -> str:
    exe = sys.executable
    return shlex.join([exe, *sys.argv])


# -- results --------------------------------------------------------------------------------------
@dataclass
class Row:
    figure: str
    value: float | None
    unit: str
    goal: str = ""
    baseline: str = ""
    ratio: str = ""
    note: str = ""
    ok: bool | None = None


@dataclass
class Report:
    """Collects rows; prints them as an aligned table (and optionally JSON) at the end."""

    title: str
    args: argparse.Namespace | None = None
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.machine = machine()
        self.load_before = load_average()
        print(f"== {self.title}")
        print(f"command : {command_line()}")
        m = self.machine
        print(
            f"machine : {m['cores']} cores ({m['cpu']}), {m['mem_gb']} GB RAM, {m['platform']}, "
            f"python {m['python']}, torch {m.get('torch', '-')} ({m.get('torch_threads', '-')} threads), "
            f"GPU: {m['gpu'] or 'none'}"
        )
        print(f"load avg: {self.load_before} (1/5/15 min) at start")
        sys.stdout.flush()

    def add(
        self,
        figure: str,
        value: float | None,
        unit: str,
        *,
        goal: str = "",
        baseline: str = "",
        ratio: str = "",
        note: str = "",
        ok: bool | None = None,
    ) -> Row:
        row = Row(figure, value, unit, goal, baseline, ratio, note, ok)
        self.rows.append(row)
        return row

    def log(self, text: str) -> None:
        print(f"  .. {text}")
        sys.stdout.flush()

    def finish(self, json_path: str | None = None) -> None:
        self.load_after = load_average()
        print()
        headers = ("figure", "measured", "goal", "baseline (same run)", "ratio", "met", "note")
        table = []
        for r in self.rows:
            measured = "-" if r.value is None else f"{fmt(r.value)} {r.unit}".strip()
            met = "" if r.ok is None else ("yes" if r.ok else "NO")
            table.append((r.figure, measured, r.goal, r.baseline, r.ratio, met, r.note))
        widths = [
            max(len(h), *(len(str(t[i])) for t in table)) if table else len(h) for i, h in enumerate(headers)
        ]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
        print(line)
        print("-" * len(line))
        for t in table:
            print("  ".join(str(c).ljust(w) for c, w in zip(t, widths, strict=False)))
        print(f"\nload avg: {self.load_after} (1/5/15 min) at end; {time.time() - self.started:.0f} s in all")
        if json_path:
            out = {
                "title": self.title,
                "command": command_line(),
                "machine": self.machine,
                "load_before": self.load_before,
                "load_after": self.load_after,
                "rows": [r.__dict__ for r in self.rows],
                "extra": self.extra,
            }
            Path(json_path).write_text(json.dumps(out, indent=2, default=str))
            print(f"wrote {json_path}")
        sys.stdout.flush()


def fmt(x: float) -> str:
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    if ax >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2g}"


def ratio(a: float, b: float, unit: str = "×") -> str:
    return f"{a / b:.2f}{unit}" if b else "-"


def percentile(values: Iterable[float], q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def timeit(fn: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> list[float]:
    """Seconds of each of ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


# -- options and models ------------------------------------------------------------------------
def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p


def add_model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default="default",
        help="model to use: 'default' (shipped; falls back to musicnet with random weights "
        "when it is missing), 'classic', 'random:ARCH', a trained model name or folder",
    )


def load_model_arg(ref: str, home: Path | None = None):
    """``(LoadedModel, note)`` for ``--model``; ``random:ARCH`` builds ARCH with random weights.

    The computational cost of a network does not depend on its weights, so a random-weights
    ``musicnet`` measures the same speed as the trained default model; the note says which ran.
    """
    import torch

    from trainer.config import FeatureConfig
    from trainer.errors import ModelError
    from trainer.models import build_model
    from trainer.modelstore import LoadedModel, ModelInfo, load_model

    arch = None
    if ref.startswith("random:"):
        arch = ref.split(":", 1)[1]
    else:
        try:
            loaded = load_model(ref, home)
            return loaded, f"model '{ref}' ({loaded.info.arch}, key {loaded.info.key})"
        except ModelError as exc:
            if ref != "default":
                raise
            arch = "musicnet"
            print(f"note    : {exc}; using musicnet with random weights (same cost)")
    torch.manual_seed(0)
    cfg = FeatureConfig()
    model = build_model(arch, cfg)
    digest = hashlib.sha256(f"random:{arch}:0".encode()).hexdigest()
    info = ModelInfo(
        name=f"random-{arch}",
        arch=arch,
        embedding_dim=int(model.embedding_dim),
        features=cfg,
        weights_sha256=digest,
    )
    return LoadedModel(model.eval(), info, None), f"{arch} with random weights (key {info.key})"


# -- files ---------------------------------------------------------------------------------------
def corpus_files(root: str | os.PathLike[str], limit: int | None = None) -> list[Path]:
    """Audio files of the corpus in a stable order; ``limit`` picks evenly across the whole list."""
    from trainer.audio import AUDIO_EXTENSIONS

    root = Path(root)
    if not root.is_dir():
        raise SystemExit(f"corpus folder '{root}' not found (set --corpus or MUSICSIM_CORPUS)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if limit is not None and 0 < limit < len(files):
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return files


def link_tree(files: list[Path], root: Path, dest: Path) -> Path:
    """Mirror ``files`` (under ``root``) as symlinks under ``dest``: a library folder with a subset."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        target = dest / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(f)
    return dest


def warm_page_cache(files: Iterable[Path]) -> int:
    """Read every file once so the timed stages all find it in the page cache."""
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                total += len(chunk)
    return total


def audio_duration(files: Iterable[Path]) -> float:
    import soundfile as sf

    return float(sum(sf.info(str(f)).duration for f in files))


def synth_library(
    dest: Path,
    n_files: int,
    *,
    seconds: float = 4.0,
    distinct: int = 40,
    per_folder: int = 100,
    sample_rate: int = 44100,
    fmt_: str = "OGG",
) -> Path:
    """A large library that costs little disk: ``distinct`` short stereo Ogg Vorbis files with
    different tones and noise, hard-linked as ``n_files`` files in ``artist/album`` folders.

    Hard links are separate directory entries (scanned, stat'ed, decoded and indexed one by one)
    that share one inode, so 10,000 of them cost the disk ``distinct`` files.  Reused when it
    exists with the same parameters.
    """
    import numpy as np
    import soundfile as sf

    stamp = dest / ".synth.json"
    params = {
        "n": n_files,
        "s": seconds,
        "distinct": distinct,
        "per_folder": per_folder,
        "sr": sample_rate,
        "fmt": fmt_,
    }
    if stamp.is_file() and json.loads(stamp.read_text()) == params:
        return dest
    import shutil

    shutil.rmtree(dest, ignore_errors=True)
    base = dest.parent / f".{dest.name}-base"  # outside the library folder, so it is not scanned
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ext = ".ogg" if fmt_ == "OGG" else ".wav"
    bases = []
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for i in range(distinct):
        f0 = 55.0 * 2 ** (i / 7.0)
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 5))
        env = 0.5 + 0.5 * np.sin(2 * np.pi * (0.5 + i % 5) * t)
        y = 0.2 * tone * env + 0.05 * rng.standard_normal(t.size)
        stereo = np.stack([y, np.roll(y, 100)], 1).astype(np.float32) * 0.8
        path = base / f"base{i:03d}{ext}"
        sf.write(str(path), stereo, sample_rate, format=fmt_)
        bases.append(path)
    for k in range(n_files):
        folder = dest / f"artist{k // (per_folder * 10):03d}" / f"album{k // per_folder:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        os.link(bases[k % distinct], folder / f"track{k:05d}{ext}")
    stamp.write_text(json.dumps(params))
    return dest


# -- memory ---------------------------------------------------------------------------------------
def rss_tree_mb(pid: int | None = None) -> float:
    """Resident memory (MB) of a process and all its descendants now, summed (Linux /proc)."""
    pid = os.getpid() if pid is None else pid
    total = 0
    stack = [pid]
    seen = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{p}/task").iterdir():
                try:
                    stack += [int(c) for c in (task / "children").read_text().split()]
                except OSError:
                    pass
        except OSError:
            continue
    return total / 1024


def peak_rss_mb() -> tuple[float, float]:
    """``(self, largest child)`` peak resident memory in MB from ``getrusage`` (Linux: KiB)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


class RssSampler:
    """Samples the summed RSS of this process tree every ``interval`` s on a background thread."""

    def __init__(self, interval: float = 0.1) -> None:
        import threading

        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - t0, rss_tree_mb()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max((s[1] for s in self.samples), default=0.0)
