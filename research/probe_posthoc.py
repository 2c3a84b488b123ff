#!/usr/bin/env python3
"""Changes on top of the shipped default's song embeddings that did *not* help (docs/QUALITY.md).

Works on what the app itself indexes (8 excerpts of 6 s per song, mean of normalised excerpt
embeddings), read back from a home's index after ``Library.index`` — the same path as ``musicsim
bench`` — for the default and the classic features, on every ``--set``:

* ``hubness``: re-scoring the cosine distances of a library by mutual proximity (Gaussian and
  empirical; Schnitzer et al. 2012, made for music similarity's "hub" songs), local scaling
  (k = 5) or CSLS (k = 5, 10) — P@1 / MAP@R only, as they change rankings, not vectors;
* ``fusion``: the classic features, standardised and reduced to 16 directions on the first
  selection set, appended to the default's output with weight 0.3 / 0.5 / 0.7;
* ``weights``: the default's five parts (CNN 64, timbre, timbre motion, envelope, modulation 16
  each) re-weighted by 0.5 / 1 / 1.5 each (243 combinations), ranked by the selection sets;
* ``stereo``: stereo-image blocks the mono models never see (per band of 32: side/mid energy ratio,
  its spread over frames, left/right coherence) and key-invariant chroma statistics (mean + covariance
  of the 12 pitch classes, rolled to the strongest), decoded afresh from the files; also the
  stereo blocks restricted to bands below 2, 4 and 6 kHz.

Figures: odd-one-out at cosine-Normalizer (5,000 album triplets, seed 0) / P@1 / MAP@R, in percent.
Choose on the ``--select`` sets, then read the others.

    python research/probe_posthoc.py --home PROBE_HOME \\
        --set train=TRAIN_GAMES --set sel8=EIGHT_OTHER_GAMES --select train --select sel8 \\
        --set wznex=HELD_OUT --set heldx4=HELDX4 --set demo=resources/demo --set testpool=TEST_POOL \\
        [--part hubness fusion weights stereo]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
import torchaudio.functional as AF
from scipy.spatial.distance import cdist
from scipy.stats import norm as gaussian
from sklearn.decomposition import PCA

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # common.py
from common import command_line, machine  # noqa: E402
from trainer.audio import excerpt_starts, probe  # noqa: E402
from trainer.config import FeatureConfig  # noqa: E402
from trainer.evaluate import album_triplets, retrieval_report, triplet_correct  # noqa: E402
from trainer.library import Library  # noqa: E402
from trainer.modelstore import load_model  # noqa: E402
from trainer.paths import home_dir  # noqa: E402

PARTS = (slice(0, 64), slice(64, 80), slice(80, 96), slice(96, 112), slice(112, 128))
SR, N_FFT, HOP = 22050, 2048, 512


class LibrarySet:
    """One labelled folder: the default's and classic's song vectors, album labels, triplets."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        vectors = {}
        with Library(home) as lib:
            for name in ("default", "classic"):
                loaded = load_model(name, home)
                lib.index(root, loaded)
                ids, matrix = lib.embeddings(loaded.info.key, root=root)
                rel = {s.id: s.rel for s in lib.songs(root)}
                vectors[name] = {rel[i]: v for i, v in zip(ids.tolist(), matrix, strict=True)}
        self.rels = sorted(set(vectors["default"]) & set(vectors["classic"]))
        self.default = np.array([vectors["default"][r] for r in self.rels], dtype=np.float64)
        self.classic = np.array([vectors["classic"][r] for r in self.rels], dtype=np.float64)
        self.labels = np.array(["/".join(Path(r).parts[-3:-1]) for r in self.rels])
        self.idx, self.odd = album_triplets(self.labels, 5000, seed=0)

    def score(self, X: np.ndarray) -> np.ndarray:
        correct = triplet_correct(X, self.idx, self.odd, "cosine", "Normalizer").mean()
        r = retrieval_report(X, self.labels)
        return 100.0 * np.array([correct, r.p_at_1, r.map_at_r])


def unit(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def figures(v: np.ndarray) -> str:
    return "/".join(f"{x:5.1f}" for x in v)


def ranked(D: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """P@1 and MAP@R of a full distance matrix (the query itself excluded)."""
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1)
    same = labels[order] == labels[:, None]
    r = (labels[:, None] == labels[None, :]).sum(1) - 1
    aps = [
        float(np.sum(s[:k] * np.cumsum(s[:k]) / np.arange(1, k + 1)) / k)
        for s, k in zip(same, r, strict=True)
        if k
    ]
    return 100.0 * same[:, 0].mean(), 100.0 * float(np.mean(aps))


# -- hubness ------------------------------------------------------------------------------------
def mutual_proximity_gaussian(D: np.ndarray) -> np.ndarray:
    off = ~np.eye(len(D), dtype=bool)
    mu = np.array([row[m].mean() for row, m in zip(D, off, strict=True)])
    sd = np.array([row[m].std() for row, m in zip(D, off, strict=True)])
    return 1.0 - gaussian.sf(D, mu[:, None], sd[:, None]) * gaussian.sf(D, mu[None, :], sd[None, :])


def mutual_proximity_empirical(D: np.ndarray) -> np.ndarray:
    n = len(D)
    out = np.zeros_like(D)
    for i in range(n):
        further_i = D[i][None, :] > D[i][:, None]  # [j, k]: is k further from i than j is?
        further_j = D > D[i][:, None]  # [j, k]: is k further from j than i is?
        both = further_i & further_j
        both[:, i] = False
        both[np.arange(n), np.arange(n)] = False
        out[i] = 1.0 - both.sum(1) / (n - 2)
    return out


def local_scaling(D: np.ndarray, k: int = 5) -> np.ndarray:
    sigma = np.sort(D + np.eye(len(D)) * 1e9, axis=1)[:, k - 1]
    return 1.0 - np.exp(-(D**2) / np.outer(sigma, sigma))


def csls(D: np.ndarray, k: int) -> np.ndarray:
    S = 1.0 - D
    r = np.sort(S - np.eye(len(S)) * 1e9, axis=1)[:, -k:].mean(1)
    return -(2.0 * S - r[:, None] - r[None, :])


def part_hubness(sets: dict[str, LibrarySet]) -> None:
    print("\n== hubness corrections of cosine distances (P@1 / MAP@R)")
    for name, s in sets.items():
        for model, X in (("default", s.default), ("classic", s.classic)):
            D = cdist(unit(X), unit(X), "cosine")
            variants: dict[str, Callable[[np.ndarray], np.ndarray]] = {
                "cosine": lambda d: d,
                "MP-gauss": mutual_proximity_gaussian,
                "MP-emp": mutual_proximity_empirical,
                "LS-5": local_scaling,
                "CSLS-5": lambda d: csls(d, 5),
                "CSLS-10": lambda d: csls(d, 10),
            }
            cells = "  ".join(
                f"{k} {'/'.join(f'{x:5.1f}' for x in ranked(f(D), s.labels))}" for k, f in variants.items()
            )
            print(f"{name:9} {model:8} {cells}", flush=True)


# -- a block appended to the default ------------------------------------------------------------
def appended(
    sets: dict[str, LibrarySet],
    fit_on: str,
    block: Callable[[LibrarySet], np.ndarray],
    title: str,
    weights: tuple[float, ...] = (0.3, 0.5, 0.7),
) -> None:
    """The block standardised and reduced to 16 directions on ``fit_on``, appended with each weight."""
    fitted = block(sets[fit_on])
    mu, sd = fitted.mean(0), fitted.std(0) + 1e-6
    pca = PCA(min(16, fitted.shape[1])).fit((fitted - mu) / sd)
    print(f"\n== {title}: default | block alone | " + " | ".join(f"+ w {w}" for w in weights))
    for name, s in sets.items():
        raw = (block(s) - mu) / sd
        z = unit(pca.transform(raw))
        cols = [s.score(unit(s.default)), s.score(unit(raw))] + [
            s.score(np.hstack([unit(s.default), w * z])) for w in weights
        ]
        print(f"{name:9} " + "  ".join(figures(c) for c in cols), flush=True)


def part_weights(sets: dict[str, LibrarySet], select: list[str]) -> None:
    base = {n: s.score(s.default) for n, s in sets.items()}
    rows = []
    for w in itertools.product((0.5, 1.0, 1.5), repeat=len(PARTS)):
        scale = np.concatenate([np.full(p.stop - p.start, wi) for p, wi in zip(PARTS, w, strict=True)])
        gain = {n: s.score(s.default * scale) - base[n] for n, s in sets.items()}
        rows.append((float(np.mean([gain[n].mean() for n in select])), w, gain))
    rows.sort(key=lambda r: -r[0])
    print(
        "\n== part weights (CNN, timbre, motion, envelope, modulation): change from the shipped "
        "equal weights, ranked by the mean change over the selection sets"
    )
    for sel, w, gain in rows[:8]:
        changes = "  ".join(f"{n} {'/'.join(f'{x:+.1f}' for x in g)}" for n, g in gain.items())
        print(f"{w} {sel:+.2f}  {changes}")


# -- stereo image and chroma --------------------------------------------------------------------
class StereoFeatures:
    """Per song: stereo-image blocks of 32 mel bands and key-invariant chroma, from 8 × 6 s excerpts."""

    def __init__(self, features: FeatureConfig) -> None:
        self.features = features  # the default's: where its excerpts are and how long
        self.bands = AF.melscale_fbanks(N_FFT // 2 + 1, 30.0, SR / 2, 32, SR)  # (bins, 32)
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
        self.centres = freqs[self.bands.argmax(0).numpy()]
        pitch = np.full(len(freqs), -1)
        voiced = (freqs > 55) & (freqs < 4200)
        pitch[voiced] = np.round(12 * np.log2(freqs[voiced] / 440.0)).astype(int) % 12
        self.chroma = torch.from_numpy((pitch[:, None] == np.arange(12)[None, :]).astype(np.float32))
        self.cache: dict[Path, dict[str, np.ndarray]] = {}

    def excerpts(self, path: Path) -> list[np.ndarray]:
        info = probe(path)
        out = []
        with sf.SoundFile(str(path)) as f:
            for start in excerpt_starts(info.duration_s, self.features):
                f.seek(min(int(start * info.sample_rate), max(0, info.frames - 1)))
                frames = int(self.features.excerpt_seconds * info.sample_rate)
                block = f.read(frames, dtype="float32", always_2d=True)
                block = np.repeat(block, 2, 1) if block.shape[1] == 1 else block[:, :2]
                if info.sample_rate != SR:
                    block = soxr.resample(block, info.sample_rate, SR)
                out.append(np.ascontiguousarray(block.T, dtype=np.float32))
        return out

    def song(self, path: Path) -> dict[str, np.ndarray]:
        rows: dict[str, list[np.ndarray]] = {}
        eps = 1e-10
        for wave in self.excerpts(path):
            Z = torch.stft(
                torch.from_numpy(wave), N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True
            )
            left, right = Z[0], Z[1]
            mid, side = (left + right) / 2, (left - right) / 2

            def energy(a: torch.Tensor) -> torch.Tensor:
                return (a.abs() ** 2).T @ self.bands  # (frames, 32)

            e_mid, e_side, e_left, e_right = energy(mid), energy(side), energy(left), energy(right)
            cross = (left * right.conj()).real.T @ self.bands
            c = (mid.abs() ** 2).T @ self.chroma
            c = c / (c.sum(1, keepdim=True) + eps)
            c = torch.roll(c, -int(torch.argmax(c.mean(0))), 1)
            upper = torch.triu_indices(12, 12)
            for key, value in {
                "side": torch.log((e_side.sum(0) + eps) / (e_mid.sum(0) + eps)),
                "side_spread": torch.log((e_side + eps) / (e_mid + eps)).std(0),
                "coherence": cross.sum(0) / torch.sqrt(e_left.sum(0) * e_right.sum(0) + eps),
                "chroma": torch.cat([c.mean(0), torch.cov(c.T)[upper[0], upper[1]]]),
            }.items():
                rows.setdefault(key, []).append(value.numpy())
        return {k: np.mean(v, 0) for k, v in rows.items()}

    def block(self, s: LibrarySet, keys: tuple[str, ...], below_hz: float | None = None) -> np.ndarray:
        bands = self.centres < below_hz if below_hz else np.ones(32, bool)
        out = []
        for rel in s.rels:
            path = s.root / rel
            if path not in self.cache:
                self.cache[path] = self.song(path)
            f = self.cache[path]
            out.append(np.concatenate([f[k] if k == "chroma" else f[k][bands] for k in keys]))
        return np.array(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--home",
        type=Path,
        default=Path("probe-posthoc-home"),
        help="home whose index holds the sets' embeddings (indexed on first use)",
    )
    p.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="NAME=FOLDER",
        help="a labelled library (album = the two folders above each file)",
    )
    p.add_argument("--select", action="append", default=[], help="a set to choose by (the first fits)")
    p.add_argument(
        "--part",
        nargs="+",
        default=["hubness", "fusion", "weights", "stereo"],
        choices=["hubness", "fusion", "weights", "stereo"],
    )
    args = p.parse_args()
    print("command:", command_line())
    print("machine:", machine(), flush=True)
    home = home_dir(args.home)
    sets = {}
    for item in args.set:
        name, _, folder = item.partition("=")
        sets[name] = LibrarySet(Path(folder).resolve(), home)
        print(f"{name}: {len(sets[name].rels)} songs, {len(set(sets[name].labels))} labels", flush=True)
    select = args.select or [next(iter(sets))]
    if "hubness" in args.part:
        part_hubness(sets)
    if "fusion" in args.part:
        appended(sets, select[0], lambda s: s.classic, "classic features appended")
    if "weights" in args.part:
        part_weights(sets, select)
    if "stereo" in args.part:
        stereo = StereoFeatures(load_model("default", home).info.features)
        blocks = ("side", "side_spread", "coherence")
        appended(sets, select[0], lambda s: stereo.block(s, blocks), "stereo image, 32 bands", (0.3, 0.5))
        for hz in (2000.0, 4000.0, 6000.0):
            appended(
                sets,
                select[0],
                lambda s, hz=hz: stereo.block(s, blocks, hz),
                f"stereo image, bands below {hz:.0f} Hz",
                (0.3, 0.5),
            )
        appended(sets, select[0], lambda s: stereo.block(s, ("chroma",)), "key-invariant chroma", (0.3, 0.5))


if __name__ == "__main__":
    main()
