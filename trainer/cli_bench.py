"""``musicsim bench``: run the benchmark, print each model's table, the summary with its 95 %
intervals and paired differences, and the per-album P@1 (typed results: :mod:`trainer.results`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .results import FIGURES, BenchResult, by_album_table

#: Above this many albums the per-album lines would bury the summary; the JSON files keep them.
_MAX_ALBUM_LINES = 30
_BALANCED = "mean over albums"


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_benchmark
    from .cli import _Bar, _check_output_folder, _home

    models = args.model or ["default", "classic"]
    if args.out:
        _check_output_folder(Path(args.out).expanduser(), "--out")
    bar = _Bar("bench", args.quiet)
    results, out = run_benchmark(
        args.library,
        models,
        args.triplets or "folders",
        home=_home(args),
        n_triplets=args.n_triplets,
        seed=args.seed,
        device=args.device,
        workers=args.workers,
        out_dir=Path(args.out).expanduser() if args.out else None,
        progress=bar,
    )
    bar.close()
    for res in results:
        print(res.format_table())
        print()
    if len(results) > 1:
        print(summary(results))
    by_album = by_album_text(results)
    if by_album:
        print(by_album)
    print(f"results saved to {out}")
    return 0


def by_album_text(results: list[BenchResult]) -> str:
    """Per album and model: how many of its songs have a song of the same album as nearest; then
    the mean over albums, where a big album cannot outweigh the others."""
    from .cli import _show

    albums, cells = by_album_table(results)
    if not albums:
        return ""
    width = max(len(a) for a in albums) if len(albums) <= _MAX_ALBUM_LINES else 0
    width = max(width, len(_BALANCED))
    lines = [
        "\nsame album first (P@1 per album, cosine-Normalizer):",
        f"  {'album':<{width}}  " + "  ".join(f"{r.model[:16]:>16}" for r in results),
    ]
    if len(albums) <= _MAX_ALBUM_LINES:
        for album, row in zip(albums, cells, strict=True):
            lines.append(
                f"  {_show(album, 200):<{width}}  "
                + "  ".join(f"{f'{c[0]}/{c[1]}' if c else '-':>16}" for c in row)
            )
    balanced = [r.balanced_p_at_1 for r in results]
    lines.append(f"  {_BALANCED:<{width}}  " + "  ".join(f"{f'{100 * b:.1f} %':>16}" for b in balanced))
    return "\n".join(lines)


def summary(results: list[BenchResult]) -> str:
    """One line per model, with 95 % song-bootstrap intervals, then each model's difference to the
    first: an interval that holds 0 means this library cannot tell the two apart."""

    def iv(r: BenchResult, key: str) -> str:
        i = r.uncertainty.songs.intervals.get(key) if r.uncertainty else None
        return f"[{i.low:4.1f}, {i.high:4.1f}]" if i else ""

    lines = [f"{'model':<27} {'cosine-Normalizer':<22} {'best (distance-scaler)':<36} {'P@1':<22} MAP@R"]
    for r in results:
        cn = r.cell("cosine", "Normalizer")
        b = r.best()
        best = f"{b.score_percent:5.1f} % ({b.distance}-{b.scaler})"
        lines.append(
            f"{r.model:<27} {cn:5.1f} % {iv(r, 'cosine_normalizer'):<13} {best:<36} "
            f"{r.p_at_1 * 100:5.1f} % {iv(r, 'p_at_1'):<13} {r.map_at_r * 100:5.1f} %"
        )
    diffs = [r for r in results[1:] if r.uncertainty and r.uncertainty.songs.first]
    if diffs:
        first = results[0].model
        by_albums = diffs[0].uncertainty.albums is not None  # type: ignore[union-attr]
        lines.append(
            f"\n{first} minus each model (95 % song-bootstrap interval"
            + ("; in ( ) resampling whole albums" if by_albums else "")
            + "; one that holds 0: this library cannot tell the two apart):"
        )
        width = max(len(r.model) for r in diffs)
        for r in diffs:
            u = r.uncertainty
            songs = u.songs.differences  # type: ignore[union-attr]
            albums = u.albums.differences if u.albums else {}  # type: ignore[union-attr]
            cells = []
            for key, name in FIGURES:
                if v := songs.get(key):
                    a = albums.get(key)
                    cells.append(
                        f"{name} {v.estimate:+5.1f} [{v.low:+5.1f}, {v.high:+5.1f}]"
                        + (f" ({a.low:+5.1f}, {a.high:+5.1f})" if a else "")
                    )
            lines.append(f"  {first} - {r.model:<{width}}  " + "   ".join(cells))
    return "\n".join(lines)
