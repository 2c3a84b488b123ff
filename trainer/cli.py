"""The ``musicsim`` command line.  With no arguments it opens the desktop app.

Longer than most modules: it holds the parser of every subcommand (one place for their options,
bounds and help) and the short commands that only print; the work is the engine's, and the
longer outputs have their own modules (``cli_bench``: bench; ``cli_playlists``: path, radio;
``cli_duplicates``: duplicates).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from .atomic import atomic_path
from .errors import Cancelled, MusicSimError
from .safetext import MAX_SHOWN_CHARS, shown

if TYPE_CHECKING:
    from .library import IndexReport


class _Bar:
    """tqdm progress bar driven by the engine's progress callback."""

    def __init__(self, desc: str, quiet: bool = False) -> None:
        self.desc = desc
        self.quiet = quiet or not sys.stderr.isatty() and os.environ.get("MUSICSIM_PROGRESS") != "1"
        self.bar = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self.bar is None or (total and self.bar.total != total):
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total or None, desc=self.desc, unit="", leave=False, dynamic_ncols=True)
        self.bar.n = done
        if message:
            self.bar.set_postfix_str(message[:60], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as the one line the README promises -- ``musicsim: error: …``
    and exit 2 -- instead of a usage block before it (``--help`` still shows the usage).
    Subcommand parsers are of this class too (``add_subparsers`` makes them of the parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"musicsim: error: {message} (see '{self.prog} --help')\n")


def _existing_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"'{text}' does not exist")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' is a file, not a folder")
    return path


def _existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"'{_show(text)}' does not exist or is not a file")
    return path


def _int_in(low: int, high: int):  # type: ignore[no-untyped-def]
    """An argparse type: a whole number in ``[low, high]`` (the bound is said in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: '{_show(text, 40)}'") from None
        if not low <= value <= high:
            bound = f"at least {low}" if high >= 2**31 - 1 else f"between {low} and {high:,}"
            raise argparse.ArgumentTypeError(f"must be {bound}, found {value}")
        return value

    parse.__name__ = "int"
    return parse


class _Architectures(Sequence[str]):
    """``--arch``'s choices: the model registry's names, read when an ``--arch`` is given (the
    registry imports torch, which no other command's start-up should wait for)."""

    def _names(self) -> list[str]:
        from .models import model_names

        return model_names()

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()


#: Bounds of numeric options: each is generous for real use and keeps memory and time finite.
MAX_K = 2**31 - 1
MAX_WORKERS = 64
MAX_SEED = 2**31 - 1
MAX_SEGMENTS = 64


def build_parser() -> argparse.ArgumentParser:
    from .cli_bench import cmd_bench
    from .config import AUGMENTATIONS, DEVICE_CHOICES, LOSSES
    from .distances import DISTANCES, SCALERS
    from .evaluate import MAX_TRIPLETS

    p = _Parser(
        prog="musicsim", description="Find songs that sound alike. Run without a command to open the app."
    )
    p.add_argument(
        "--home",
        help="data folder (index, models, benchmarks); default: $MUSICSIM_HOME or the "
        "platform's user data folder",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("app", help="open the desktop app (the default)")
    s.add_argument("library", nargs="?", type=_existing_dir, help="music folder to open")

    s = sub.add_parser("index", help="scan a folder and embed new or changed songs")
    s.add_argument("dir", type=_existing_dir)
    s.add_argument("--model", default="default", help="model name or folder (default: the shipped model)")
    s.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    s.add_argument(
        "--workers",
        type=_int_in(0, MAX_WORKERS),
        default=None,
        help="decoder processes (default: CPU count, max 4)",
    )

    s = sub.add_parser("embed", help="write a folder's embeddings to an .npz file")
    s.add_argument("dir", type=_existing_dir)
    s.add_argument("--out", required=True, help="output .npz with arrays 'paths' and 'embeddings'")
    s.add_argument("--model", default="default")
    s.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    s.add_argument("--workers", type=_int_in(0, MAX_WORKERS), default=None)

    s = sub.add_parser(
        "precompute",
        help="ship a folder's embeddings inside it, so opening it needs no indexing",
        description="Index DIR and write its embeddings to DIR/musicsim-embeddings.safetensors. Whoever "
        "opens DIR with the same model (same weights) gets them without decoding; songs whose bytes differ "
        "from the ones written here are embedded as usual.",
    )
    s.add_argument("dir", type=_existing_dir)
    s.add_argument("--model", default="default")
    s.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    s.add_argument("--workers", type=_int_in(0, MAX_WORKERS), default=None)

    s = sub.add_parser("query", help="the songs in the index that sound most like SONG")
    s.add_argument("song", type=_existing_file)
    s.add_argument(
        "--k",
        type=_int_in(1, MAX_K),
        default=10,
        help="how many results (fewer when the index has fewer songs)",
    )
    s.add_argument("--distance", default="cosine", choices=DISTANCES)
    s.add_argument("--scaler", default="Normalizer", choices=SCALERS)
    s.add_argument("--model", default="default")
    s.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    s.add_argument(
        "--part",
        metavar="PART",
        help="rank by one named part of the model's vector alone, e.g. rhythm or timbre "
        "(the list is printed for a model that has parts)",
    )

    s = sub.add_parser("train", help="train a model on a music folder")
    s.add_argument("--library", required=True, type=_existing_dir)
    s.add_argument(
        "--arch",
        default="musicnet",
        metavar="ARCH",
        choices=_Architectures(),
        help="architecture (see 'musicsim models')",
    )
    s.add_argument("--loss", default="triplet", choices=LOSSES)
    src = s.add_mutually_exclusive_group()
    src.add_argument("--triplets", type=_existing_file, help="ground-truth CSV: song1,song2,song3,odd")
    src.add_argument(
        "--labels", choices=["folders"], help="folder labels (parent = album, grandparent = artist)"
    )
    s.add_argument(
        "--self-supervised",
        action="store_true",
        help="excerpts of the same song are positives; with --labels folders, both at once",
    )
    s.add_argument("--epochs", type=int, default=10)
    s.add_argument("--batch-size", type=int, default=None, help="default: the thesis's for the architecture")
    s.add_argument("--lr", type=float, default=1e-5)
    s.add_argument("--margin", type=float, default=0.2)
    s.add_argument("--temperature", type=float, default=0.1)
    s.add_argument("--augment", default="auto", choices=AUGMENTATIONS)
    s.add_argument(
        "--pitch-shift",
        type=int,
        default=0,
        metavar="BINS",
        help="also shift pitch by up to BINS mel bins (augmentation; default off)",
    )
    s.add_argument(
        "--time-stretch",
        type=float,
        default=0.0,
        metavar="X",
        help="also stretch time by a factor in [1-X, 1+X] (augmentation; default off)",
    )
    s.add_argument("--init-from", help="fine-tune from this model (e.g. 'default')")
    s.add_argument(
        "--neighbours",
        type=float,
        default=0.0,
        metavar="P",
        help="with --self-supervised: chance (0-1) that a song's positive is its nearest "
        "neighbour in the library; 0.5 adapts a model to a library (docs/QUALITY.md)",
    )
    s.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0)
    s.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    s.add_argument("--workers", type=_int_in(0, MAX_WORKERS), default=None)
    s.add_argument("--segments", type=_int_in(1, MAX_SEGMENTS), default=8, help="segments cached per song")
    s.add_argument("--restart", action="store_true", help="discard an interrupted run of this name")
    s.add_argument("--name", required=True, help="name of the trained model")

    s = sub.add_parser("bench", help="27-way distance x scaler table, P@1 and MAP@R")
    s.add_argument("--library", required=True, type=_existing_dir)
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--triplets", type=_existing_file)
    src.add_argument("--labels", choices=["folders"])
    s.add_argument(
        "--model", action="append", help="model to compare (repeatable); default: default and classic"
    )
    s.add_argument(
        "--n-triplets",
        type=_int_in(1, MAX_TRIPLETS),
        default=5000,
        help=f"album triplets to draw with --labels folders (at most {MAX_TRIPLETS:,})",
    )
    s.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0)
    s.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    s.add_argument("--workers", type=_int_in(0, MAX_WORKERS), default=None)
    s.add_argument("--out", help="folder for JSON/CSV results (default: <home>/benchmarks/<time>)")
    s.set_defaults(run=cmd_bench)

    sub.add_parser("models", help="list architectures and trained models")

    s = sub.add_parser("prune", help="delete the index's embeddings of models that are no longer installed")
    s.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="MODEL",
        help="also keep this model's embeddings (a folder outside the home; repeatable)",
    )
    s.add_argument("--dry-run", action="store_true", help="only list what would be deleted")

    s = sub.add_parser(
        "check",
        help="check the library index and, with --repair, repair it",
        description="Run SQLite's integrity check on the index and look for rows that cannot be used "
        "(embeddings that are NaN, infinite, absurd or the wrong size, unreadable model records, songs "
        "with malformed fields). --repair rebuilds a damaged file from every row that can be read (the "
        "damaged file is kept beside it) and drops or cleans the rest; the next 'musicsim index' embeds "
        "the songs affected anew. Exit code 1 when problems were found and not repaired.",
    )
    s.add_argument("--repair", action="store_true", help="repair what was found")

    from .cli_duplicates import add_parsers as add_duplicates
    from .cli_playlists import add_parsers  # path, radio (set args.run)

    add_parsers(sub)
    add_duplicates(sub)  # duplicates (sets args.run)
    return p


def _cmd_index(args: argparse.Namespace) -> int:
    from .device import resolve_device
    from .library import Library
    from .modelstore import load_model

    loaded = load_model(args.model, _home(args))
    device = resolve_device(args.device)
    bar = _Bar("index", args.quiet)
    with Library(_home(args)) as lib:
        rep = lib.index(args.dir, loaded, device=str(device), workers=args.workers, progress=bar)
    bar.close()
    _print_index_report(rep, loaded.info.name)
    return 0


def _print_index_report(rep: IndexReport, model_name: str) -> None:
    speed = f", {rep.audio_seconds / rep.seconds:.0f}x real time" if rep.indexed and rep.seconds else ""
    shipped = f", {rep.precomputed} from the folder's precomputed embeddings" if rep.precomputed else ""
    print(
        f"indexed {rep.indexed}{shipped}, unchanged {rep.unchanged}, removed {rep.scan.removed}, "
        f"skipped {len(rep.skipped)} ({rep.seconds:.1f} s{speed}) with model '{model_name}'"
    )
    for note in rep.notes:
        print(f"  note: {_show(note)}")
    for path, reason in rep.skipped:
        print(f"  skipped {_show(path)}: {_show(reason)}")


def _cmd_precompute(args: argparse.Namespace) -> int:
    from .device import resolve_device
    from .library import Library
    from .modelstore import load_model

    loaded = load_model(args.model, _home(args))
    bar = _Bar("index", args.quiet)
    with Library(_home(args)) as lib:
        rep = lib.index(
            args.dir, loaded, device=str(resolve_device(args.device)), workers=args.workers, progress=bar
        )
        bar.close()
        _print_index_report(rep, loaded.info.name)
        out, n = lib.write_precomputed(args.dir, loaded)
    print(f"wrote {n} embeddings of model '{loaded.info.name}' ({loaded.info.key}) to {_show(out)}")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from .device import resolve_device
    from .library import Library
    from .modelstore import load_model

    given = Path(args.out).expanduser()
    out = given if given.suffix == ".npz" else given.with_name(given.name + ".npz")
    _check_output_file(given, "--out")
    _check_output_file(out, "--out")
    device = resolve_device(args.device)
    loaded = load_model(args.model, _home(args))
    bar = _Bar("embed", args.quiet)
    with Library(_home(args)) as lib:
        rep = lib.index(args.dir, loaded, device=str(device), workers=args.workers, progress=bar)
        ids, matrix = lib.embeddings(loaded.info.key, root=args.dir)
        by_id = {s.id: s for s in lib.songs(args.dir)}
    bar.close()
    paths = np.array([by_id[i].rel for i in ids.tolist()])
    with atomic_path(out, suffix=".npz") as tmp:
        np.savez(tmp, paths=paths, embeddings=matrix)
    print(
        f"wrote {len(paths)} embeddings ({matrix.shape[1] if matrix.size else 0}-d, model "
        f"'{_show(loaded.info.name)}') to {_show(out)}; skipped {len(rep.skipped)}"
    )
    return 0


def _check_output_file(path: Path, option: str) -> None:
    """Before any work: ``path`` can be written as a new or replaced regular file."""
    if path.exists() and not path.is_file():
        raise MusicSimError(f"{option} '{_show(path)}' exists and is not a regular file")
    if not path.parent.is_dir():
        raise MusicSimError(f"{option} '{_show(path)}': the folder '{_show(path.parent)}' does not exist")


def _check_output_folder(path: Path, option: str) -> None:
    """Before any work: ``path`` is a folder, or can be made in a folder that exists."""
    if path.exists() and not path.is_dir():
        raise MusicSimError(f"{option} '{_show(path)}' exists and is not a folder")
    if not path.exists() and not path.parent.is_dir():
        raise MusicSimError(f"{option} '{_show(path)}': the folder '{_show(path.parent)}' does not exist")


def _cmd_query(args: argparse.Namespace) -> int:
    from .aspects import place_text
    from .query import query_file

    found = query_file(
        _home(args),
        args.song,
        model=args.model,
        k=args.k,
        distance=args.distance,
        scaler=args.scaler,
        part=args.part,
        device=args.device,
    )
    matches = found.answer.matches
    how = f"in {args.part} alone" if args.part else f"{args.distance}, {args.scaler}"
    fewer = (
        f"; {args.k} asked for, the index has {found.library_songs} songs" if len(matches) < args.k else ""
    )
    outside = "; the file is not in the library" if found.others == found.library_songs else ""
    model = _show(found.model_name)
    print(f"{len(matches)} nearest to {_show(args.song)} ({how}, model '{model}'{fewer}{outside}):")
    for rank, m in enumerate(matches, 1):
        s = found.songs[m.song_id]
        who = " — ".join(_show(x, MAX_SHOWN_CHARS) for x in (s.artist, s.album) if x)
        why = ""
        if m.alike:  # the parts this result is closest in, as its place in the library
            best = sorted(((share, label) for label, share in m.alike), reverse=True)[:3]
            why = "  alike in " + ", ".join(
                f"{label} ({place_text(share, found.others)})" for share, label in best
            )
        title = _show(s.display_title, MAX_SHOWN_CHARS)
        print(
            f"{rank:3d}. {m.distance:9.4f}  {_show(s.path)}"
            + (f"  [{title}{' — ' + who if who else ''}]")
            + why
        )
    return 0


def _train_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The run ``musicsim train`` asks for (checked by ``TrainConfig`` itself)."""
    from .train_config import TrainConfig

    if args.triplets and args.self_supervised:
        raise MusicSimError("--self-supervised goes with --labels folders or alone, not with --triplets")
    if args.triplets:
        source, csv = "csv", args.triplets
    elif args.self_supervised and args.labels:
        source, csv = "both", None
    elif args.self_supervised:
        source, csv = "self", None
    else:
        source, csv = "folders", None
    return TrainConfig(
        library=args.library,
        arch=args.arch,
        loss=args.loss,
        source=source,
        triplets_csv=csv,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        name=args.name,
        seed=args.seed,
        margin=args.margin,
        temperature=args.temperature,
        augment=args.augment,
        init_from=args.init_from,
        pitch_shift_bins=args.pitch_shift,
        time_stretch=args.time_stretch,
        workers=args.workers,
        segments_per_song=args.segments,
        neighbours=args.neighbours,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import train

    cfg = _train_config(args)
    bar = _Bar("train", args.quiet)

    def on_epoch(stats) -> None:  # type: ignore[no-untyped-def]
        bar.close()
        val = f", validation {stats.val_score:.1f} %" if stats.val_score is not None else ""
        print(
            f"epoch {stats.epoch}/{stats.epochs}: loss {stats.train_loss:.4f}{val} ({stats.seconds:.1f} s)",
            flush=True,
        )

    skipped: list[tuple[Path, str]] = []
    folder = train(
        cfg, home=_home(args), restart=args.restart, progress=bar, on_epoch=on_epoch, skipped=skipped
    )
    bar.close()
    print(f"saved model '{args.name}' to {folder}; skipped {len(skipped)}")
    for path, reason in skipped:
        print(f"  skipped {_show(path)}: {_show(reason)}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from .models import build_model, count_parameters, list_models
    from .modelstore import available_models, unusable_models

    print("architectures (use with 'musicsim train --arch'):")
    print(f"  {'name':<22}{'family':<20}{'parameters':>12}{'thesis':>10}  description")
    for spec in list_models():
        n = count_parameters(build_model(spec.name))  # with the architecture's own features (musicnn's)
        thesis = f"{spec.thesis_params / 1e6:.1f}M" if spec.thesis_params else "-"
        print(f"  {spec.name:<22}{spec.family:<20}{n / 1e6:>11.2f}M{thesis:>10}  {spec.description}")
    print("\nmodels ready to use (--model):")
    for ref in available_models(_home(args)):
        i = ref.info
        where = _show(ref.path) if ref.path else "built in"
        extra = f", {_show(i.loss)} loss, {i.epochs} epochs" if i.loss else ""
        print(f"  {_show(ref.name):<22}{_show(i.arch)}{extra}  ({where})")
    unusable = unusable_models(_home(args))
    if unusable:
        print("\nmodel folders that cannot be used:")
        for name, reason in unusable:
            print(f"  {_show(name):<22}{_show(reason, 300)}")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from .library import Library
    from .modelstore import available_models, load_model, unusable_models

    keep = {ref.info.key for ref in available_models(_home(args))}
    keep |= {load_model(ref, _home(args)).info.key for ref in args.keep}
    unusable = unusable_models(_home(args))
    for name, reason in unusable:  # its embeddings are kept: the folder may be mended
        print(
            f"  kept the embeddings of '{_show(name)}', whose folder cannot be used now: {_show(reason, 300)}"
        )
    with Library(_home(args)) as lib:
        rep = lib.forget_models(keep, dry_run=args.dry_run, keep_names={name for name, _ in unusable})
    if not rep.models:
        print("nothing to delete: every model in the index is installed")
        return 0
    verb = "would delete" if args.dry_run else "deleted"
    for name, key, songs in rep.models:
        print(f"  {_show(name or '(unnamed)', 60):<24}{_show(key, 60):<40}{songs:>8} songs")
    mb = (rep.bytes_before / 1e6, rep.bytes_after / 1e6)
    size = "" if args.dry_run else f"; index {mb[0]:.1f} MB -> {mb[1]:.1f} MB"
    n = len(rep.models)
    print(
        f"{verb} {rep.embeddings} embeddings and {rep.failures} failure notes of {n} "
        f"model{'s' if n != 1 else ''} no longer installed{size}"
    )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .repair import check_index

    rep = check_index(_home(args), repair=args.repair)
    if not rep.exists:
        print(f"no library index in '{_show(_home(args))}' yet: nothing to check")
        return 0
    print(f"library index {_show(rep.db_path)}: {rep.songs} songs")
    if rep.damage:
        print(f"  damaged: {_show('; '.join(rep.damage), 300)}")
    if rep.damaged_copy is not None:
        rows = ", ".join(f"{n} {table}" for table, n in rep.salvaged.items())
        print(
            f"  rebuilt from what could be read ({rows or 'nothing'}); the damaged file is kept as "
            f"{_show(rep.damaged_copy)}"
        )
    for key, n in rep.bad_embeddings.items():
        print(
            f"  {n} embedding(s) of {_show(key, 60)} unusable "
            "(not finite, absurd, all zeros or the wrong size)"
        )
    for key in rep.bad_models:
        print(f"  the record of model {_show(key, 60)} cannot be read: its embeddings are not trusted")
    if rep.bad_songs:
        print(
            f"  {rep.bad_songs} song(s) with malformed fields (a duration or tag of the wrong type, control "
            "characters, a path that is not bytes)"
        )
    if rep.orphans:
        print(f"  {rep.orphans} embedding(s) or failure note(s) of songs that are not in the index")
    if not rep.problems:
        print("no problems found")
        return 0
    if rep.repaired:
        print(
            "repaired: what could not be used was dropped or cleaned; 'musicsim index FOLDER' embeds the "
            "songs affected anew"
        )
        return 0
    print("problems found: 'musicsim check --repair' repairs them")
    return 1


def _home(args: argparse.Namespace) -> Path:
    from .paths import home_dir

    if getattr(args, "_home_path", None) is None:
        args._home_path = home_dir(args.home)
    return args._home_path  # type: ignore[no-any-return]


def _show(value: object, limit: int | None = None) -> str:
    """One printable UTF-8 line: control characters escaped, undecodable bytes as ``\\udcXX``."""
    return shown(value, limit)


COMMANDS = {
    "index": _cmd_index,
    "embed": _cmd_embed,
    "precompute": _cmd_precompute,
    "query": _cmd_query,
    "train": _cmd_train,
    "models": _cmd_models,
    "prune": _cmd_prune,
    "check": _cmd_check,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "app"):
        try:
            from musicsim_app.app import main as app_main
        except ImportError as exc:
            print(f"musicsim: error: the desktop app is not available ({exc})", file=sys.stderr)
            return 2
        # The app's own parser must not re-read this command line ("app FOLDER" is ours, not its).
        return int(app_main([], library=getattr(args, "library", None), home=args.home))
    try:
        if args.home is not None:
            _home(args)  # a --home that cannot be one ("", a file) fails before any work
        return (getattr(args, "run", None) or COMMANDS[args.command])(args)
    except Cancelled:
        print("musicsim: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(
            "\nmusicsim: interrupted; finished work is kept (run the same command again to resume)",
            file=sys.stderr,
        )
        return 130
    except MusicSimError as exc:
        print(f"musicsim: error: {_show(exc)}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # a damaged page, a file that is not an index
        home = getattr(args, "_home_path", None)
        where = f" in '{_show(home)}'" if home is not None else ""
        print(
            f"musicsim: error: the library index{where} is damaged or unreadable ({_show(exc)}); "
            "'musicsim check --repair' repairs it",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:  # e.g. an output folder that is missing, read-only or full
        where = f" ('{_show(exc.filename)}')" if isinstance(exc.filename, (str, bytes)) else ""
        print(f"musicsim: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
