#!/usr/bin/env python3
"""Training-step throughput of every trainable architecture, and the overhead of our loop.

For each architecture two loops run on the same model class, the same batches and Adam:

* ``ours`` -- ``trainer.train.train`` itself on a small real-music library (album labels from the
  folders, online triplet mining or NT-Xent as the architecture's default loss).  A step is the
  time between two ``on_step`` callbacks: batch sampling from the log-mel cache, the step, the
  loss read-back, progress reporting.  The run is cancelled (``should_stop``) after the timed steps.
* ``bare`` -- the plain PyTorch loop over the *very batches* ``ours`` drew (recorded), with the
  same loss function: ``zero_grad; loss_fn(model(x), ...); backward; step; loss.item()``.

The two alternate for ``--rounds`` rounds and the least disturbed round of each is compared, since
the machine's load moves more than the overhead being measured.

Overhead = ours / bare - 1 (goal: under 10 %).  Augmentation is off in both (``--augment`` turns
it on in ``ours`` only, to show its cost); samples/s counts batch items (a contrastive batch of B
items is 2B views through the network).  Runs on the GPU too when one is present (``--device``).

usage: python benchmarks/bench_train_step.py [--archs musicnet,model1] [--batch-size 32] [--steps 5]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_CORPUS, Report, base_parser, corpus_files, link_tree, median  # noqa: E402

GOAL_OVERHEAD = 0.10


def pick_training_songs(corpus: Path, n_songs: int) -> list[Path]:
    """Up to ``n_songs`` songs, a few from each album, so album-labelled batches can be formed."""
    files = corpus_files(corpus)
    by_album: dict[Path, list[Path]] = {}
    for f in files:
        by_album.setdefault(f.parent, []).append(f)
    albums = [a for a in by_album.values() if len(a) >= 4]
    per = max(4, n_songs // max(1, len(albums)))
    out = [f for a in albums for f in a[:per]]
    return out[:n_songs]


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=DEFAULT_CORPUS)
    p.add_argument("--archs", default="all", help="comma-separated architectures, or 'all' trainable ones")
    p.add_argument("--batch-size", default="32", help="items per batch, or 'default' for each arch's own")
    p.add_argument("--steps", type=int, default=5, help="timed steps per loop (after --warmup)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of ours and bare; best of each")
    p.add_argument("--songs", type=int, default=48, help="training songs (symlinked from the corpus)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    p.add_argument("--augment", action="store_true", help="augment in 'ours' (shows augmentation's cost)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()

    import torch

    from trainer import data as data_mod
    from trainer.device import resolve_device
    from trainer.errors import Cancelled
    from trainer.losses import make_loss
    from trainer.models import build_model, get_spec, list_models
    from trainer.train import TrainConfig, train

    rep = Report("bench_train_step: training throughput, our loop vs a bare PyTorch loop", args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    archs = [s.name for s in list_models() if s.trainable] if args.archs == "all" else args.archs.split(",")
    corpus = Path(args.corpus)
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    recorded: list = []
    original_batch = data_mod.LabelledSource.batch

    def recording_batch(self, batch_size, gen):
        b = original_batch(self, batch_size, gen)
        recorded.append(b)
        return b

    try:
        songs = pick_training_songs(corpus, args.songs)
        lib = link_tree(songs, corpus, tmp / "library")
        home = tmp / "home"
        rep.log(
            f"{len(songs)} songs from {len({s.parent for s in songs})} albums; device {device}; "
            f"torch threads {torch.get_num_threads()}; first run builds the log-mel cache"
        )
        data_mod.LabelledSource.batch = recording_batch
        n_total = args.warmup + args.steps
        for arch in archs:
            spec = get_spec(arch)
            bs = spec.default_batch_size if args.batch_size == "default" else int(args.batch_size)
            loss_name = spec.default_loss
            cfg = TrainConfig(
                library=lib,
                arch=arch,
                loss=loss_name,
                source="folders",
                epochs=1,
                batch_size=bs,
                lr=1e-4,
                device=str(device),
                name=f"bench-{arch}",
                augment="auto" if args.augment else "none",
            )
            ours_rounds, bare_rounds, ours_cpu, bare_cpu, setup = [], [], [], [], float("nan")
            for _round in range(args.rounds):  # alternate the loops, so a load change hits both
                stamps: list[float] = []
                cpu: list[float] = []
                recorded.clear()

                def on_step(step: int, loss: float, stamps=stamps, cpu=cpu) -> None:
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    stamps.append(time.perf_counter())
                    cpu.append(time.process_time())

                def should_stop(stamps=stamps) -> bool:
                    return len(stamps) >= n_total + 1

                t0 = time.perf_counter()
                try:
                    train(cfg, home=home, restart=True, on_step=on_step, should_stop=should_stop)
                except Cancelled:
                    pass
                if len(stamps) < n_total + 1:
                    break
                setup = stamps[0] - t0
                ours_rounds.append(
                    median(
                        [
                            b - a
                            for a, b in zip(stamps[args.warmup :], stamps[args.warmup + 1 :], strict=False)
                        ]
                    )
                )
                ours_cpu.append(
                    median([b - a for a, b in zip(cpu[args.warmup :], cpu[args.warmup + 1 :], strict=False)])
                )

                # the bare loop: the same batches, a fresh model of the same architecture, Adam
                torch.manual_seed(0)
                model = build_model(arch, cfg.features, embedding_dim=cfg.embedding_dim).to(device).train()
                opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
                loss_fn = make_loss(loss_name, margin=cfg.margin, temperature=cfg.temperature)
                batches = [
                    (
                        b.x.to(device),
                        b.labels.to(device),
                        tuple(t.to(device) for t in b.triplets) if b.triplets else None,
                    )
                    for b in recorded
                ]
                bare, bcpu = [], []
                for i, (x, y, trip) in enumerate(batches[: n_total + 1]):
                    t, c = time.perf_counter(), time.process_time()
                    opt.zero_grad(set_to_none=True)
                    if loss_name == "contrastive":
                        loss = loss_fn(model(torch.cat([x, x])), torch.cat([y, y]))
                    else:
                        loss = loss_fn(model(x), y, trip)
                    loss.backward()
                    opt.step()
                    float(loss.detach())  # ours reads the loss back every step; so does any real loop
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    if i > args.warmup:
                        bare.append(time.perf_counter() - t)
                        bcpu.append(time.process_time() - c)
                bare_rounds.append(median(bare))
                bare_cpu.append(median(bcpu))
                n_params = sum(p.numel() for p in model.parameters())
                del model, opt, batches
            if not ours_rounds:
                rep.log(f"{arch}: fewer than {n_total + 1} steps in one epoch (use more --songs); skipped")
                continue
            ours, bare = ours_rounds, bare_rounds
            o, b = min(ours), min(bare)  # the least disturbed round of each
            oc, bc = min(ours_cpu), min(bare_cpu)
            overhead, overhead_cpu = o / b - 1, oc / bc - 1
            rep.add(
                f"{arch} ({loss_name}, batch {bs}, {device.type})",
                bs / o,
                "samples/s",
                baseline=f"bare loop {bs / b:.1f} samples/s",
                ratio=f"overhead {overhead:+.1%} wall",
                goal=f"overhead < {GOAL_OVERHEAD:.0%}",
                ok=overhead < GOAL_OVERHEAD,
                note=f"{o * 1e3:.0f} vs {b * 1e3:.0f} ms/step; CPU {oc * 1e3:.0f} vs {bc * 1e3:.0f} ms/step "
                f"({overhead_cpu:+.1%}); {n_params / 1e6:.1f}M params",
            )
            rep.log(
                f"{arch}: ours {o * 1e3:.0f} ms/step, bare {b * 1e3:.0f} ms/step ({overhead:+.1%}); CPU "
                f"{oc * 1e3:.0f} vs {bc * 1e3:.0f} ms ({overhead_cpu:+.1%}); setup {setup:.1f} s"
            )
            rep.extra[arch] = {
                "ours_s": ours,
                "bare_s": bare,
                "ours_cpu_s": ours_cpu,
                "bare_cpu_s": bare_cpu,
                "batch": bs,
                "loss": loss_name,
            }
    finally:
        data_mod.LabelledSource.batch = original_batch
        shutil.rmtree(tmp, ignore_errors=True)
    rep.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
