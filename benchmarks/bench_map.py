#!/usr/bin/env python3
"""Embedding map: projection and first draw of 10,000 songs, then pan and zoom frame times.

Uses the app's own code: ``musicsim_app.projection.project`` (PCA, the map's default method) and
``musicsim_app.map_view.MapView`` (one pyqtgraph ScatterPlotItem, a brush per album), drawn
offscreen (``QT_QPA_PLATFORM=offscreen``, Qt's software rasteriser) by ``QWidget.grab()``, which
paints the whole widget as a screen update would.

* ``projection + first draw`` -- ``project`` + ``set_map`` + the first full paint (goal < 3 s).
* ``pan`` / ``zoom`` frames    -- ``ViewBox.translateBy`` / ``scaleBy`` followed by a full paint;
                                  "no visible lag" is taken as 95 % of frames under 33 ms (30 fps);
                                  the worst frame is printed too.
* baselines in the same run: a plain ``ScatterPlotItem`` with one brush for all points (what the
  per-album brushes cost), and the optional t-SNE projection (``--tsne``, the map's other method).

usage: python benchmarks/bench_map.py [--songs 10000] [--albums 500] [--tsne]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import synthetic  # noqa: E402
from common import Report, base_parser, percentile  # noqa: E402

GOAL_FIRST_S = 3.0
FRAME_MS = 33.0


def main() -> int:
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--songs", type=int, default=10_000)
    p.add_argument("--albums", type=int, default=500, help="colour groups")
    p.add_argument("--frames", type=int, default=30, help="pan and zoom frames each")
    p.add_argument("--size", default="1200x800", help="widget size in pixels")
    p.add_argument("--tsne", action="store_true", help="also time t-SNE (slow) as the other projection")
    args = p.parse_args()

    import numpy as np
    from PySide6.QtWidgets import QApplication

    import trainer.search  # noqa: F401 - the app has it (and scikit-learn) loaded once a library is open
    from musicsim_app.map_view import MapView
    from musicsim_app.projection import available_methods, project

    app = QApplication.instance() or QApplication(sys.argv)
    rep = Report("bench_map: embedding map projection, first draw, pan and zoom", args)
    n = args.songs
    X = synthetic(n, 128)
    ids = np.arange(n, dtype=np.int64)
    groups = [f"album {i % args.albums}" for i in range(n)]
    tooltips = [f"song {i} — artist {i % 50} — album {i % args.albums}" for i in range(n)]
    w, h = (int(v) for v in args.size.split("x"))

    view = MapView(available_methods())
    view.resize(w, h)
    view.show()
    app.processEvents()
    view.grab()  # first paint of the empty widget (not part of the figure)

    t0 = time.perf_counter()
    pos = project(X, "PCA")
    t_proj = time.perf_counter() - t0
    view.set_map(ids, pos, groups, tooltips)
    app.processEvents()
    view.grab()
    t_first = time.perf_counter() - t0
    t_draw = t_first - t_proj
    t = time.perf_counter()
    project(X, "PCA")
    t_proj_warm = time.perf_counter() - t

    vb = view.plot.plotItem.vb

    def frames(action) -> list[float]:
        out = []
        for i in range(args.frames):
            t = time.perf_counter()
            action(i)
            app.processEvents()
            view.plot.grab()
            out.append((time.perf_counter() - t) * 1e3)
        return out

    span = float(np.ptp(pos[:, 0])) or 1.0
    pan = frames(lambda i: vb.translateBy(x=span * (0.02 if (i // 10) % 2 == 0 else -0.02), y=0.0))
    zoom = frames(lambda i: vb.scaleBy((0.9, 0.9) if i < args.frames // 2 else (1 / 0.9, 1 / 0.9)))

    # baseline: a bare scatter with one brush for every point
    import pyqtgraph as pg

    plain = pg.PlotWidget()
    plain.resize(w, h)
    plain.show()
    app.processEvents()
    plain.grab()
    t = time.perf_counter()
    item = pg.ScatterPlotItem(pos=pos, size=7, pen=None, brush=pg.mkBrush("#88aaff"), pxMode=True)
    plain.addItem(item)
    app.processEvents()
    plain.grab()
    t_plain = time.perf_counter() - t

    rep.add(
        f"{n:,} songs: PCA projection + first draw",
        t_first,
        "s",
        goal=f"< {GOAL_FIRST_S:g} s",
        baseline=f"projection {t_proj:.2f} s + draw {t_draw:.2f} s",
        ok=t_first < GOAL_FIRST_S,
        note=f"{args.albums} colours, {w}×{h} px; first PCA of the session (imports included)",
    )
    rep.add("PCA projection again (warm)", t_proj_warm, "s")
    rep.add(
        "first draw, one brush per point (app)",
        t_draw,
        "s",
        baseline=f"one brush for all {t_plain:.2f} s",
        ratio=f"{t_draw / t_plain:.1f}×" if t_plain else "",
    )
    for name, vals in (("pan", pan), ("zoom", zoom)):
        p50, p95, worst = percentile(vals, 50), percentile(vals, 95), max(vals)
        rep.add(
            f"{name} frame (full repaint), p95",
            p95,
            "ms",
            goal=f"p95 < {FRAME_MS:g} ms (30 fps)",
            note=f"p50 {p50:.1f} ms, worst {worst:.1f} ms over {len(vals)} frames",
            ok=p95 < FRAME_MS,
        )
    if args.tsne:
        t = time.perf_counter()
        project(X, "t-SNE")
        t_tsne = time.perf_counter() - t
        rep.add(
            f"{n:,} songs: t-SNE projection (other method)",
            t_tsne,
            "s",
            baseline=f"PCA {t_proj:.2f} s",
            ratio=f"{t_tsne / t_proj:.0f}× PCA",
            note="runs on a worker thread in the app",
        )
    rep.extra.update({"pan_ms": pan, "zoom_ms": zoom})
    rep.finish(args.json)
    view.close()
    plain.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
