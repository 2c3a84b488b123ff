#!/usr/bin/env python3
"""Per-excerpt musicnn pooled layers of every song of a library, for choosing the default offline.

usage: python research/musicnn_features.py LIBRARY OUT.npz [--excerpts 16] [--seconds 2.976]
                                          [--weights MTT_musicnn.safetensors]

Writes ``rels`` (paths relative to LIBRARY), ``albums`` (the bench's folder label) and
``features`` ``(songs, excerpts, 1506)`` float32 — ``[max_pool, mean_pool]`` of each excerpt,
excerpts spread over the song as the indexer spreads them (so every 2nd of 16 is close to the
8-excerpt layout, every 4th to the 4-excerpt one).  ``research/musicnn_choose.py`` scores
layouts, standardisations and heads from these files without running the network again.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.data import library_songs  # noqa: E402
from trainer.decode import decode_many  # noqa: E402
from trainer.features import LogMel  # noqa: E402
from trainer.models.musicnn import MUSICNN_FEATURES, MusiCNN, load_pretrained  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("library", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--excerpts", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=MUSICNN_FEATURES.excerpt_seconds)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="another converted checkpoint (benchmarks/convert_musicnn.py --checkpoint MTT_musicnn)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = replace(MUSICNN_FEATURES, n_excerpts=args.excerpts, excerpt_seconds=args.seconds)
    songs = library_songs(args.library)
    logmel = LogMel(cfg)
    if args.weights is None:
        net = load_pretrained(MusiCNN()).eval()
    else:
        from safetensors.torch import load_file

        net = MusiCNN()
        net.load_state_dict(load_file(str(args.weights)))
        net.eval()
    album = {s.path: s.album for s in songs}
    rel = {s.path: s.rel for s in songs}
    rels, albums, feats = [], [], []
    for k, dec in enumerate(decode_many([s.path for s in songs], cfg, workers=1, want_tags=False)):
        if dec.waves is None:
            print("skipped", dec.path, dec.error, file=sys.stderr)
            continue
        with torch.no_grad():
            f = net.pooled(logmel(torch.from_numpy(dec.waves)))
        rels.append(rel[dec.path])
        albums.append(album[dec.path])
        feats.append(f.numpy())
        if k % 20 == 0:
            print(f"{k + 1}/{len(songs)}", flush=True)
    np.savez(args.out, rels=np.array(rels), albums=np.array(albums), features=np.stack(feats))
    print(f"wrote {args.out}: {len(rels)} songs")


if __name__ == "__main__":
    main()
