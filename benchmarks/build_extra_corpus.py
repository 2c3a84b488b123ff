#!/usr/bin/env python3
"""More freely licensed game music for *training* the default model: 12 more Debian packages.

usage: build_extra_corpus.py DEST          (Debian-family machine; `apt-get update` first)

Why: the dev corpus (../shared/corpus/build_dev_corpus.py) leaves 106 tracks from three games
once warzone2100 and nexuiz are held out for the benchmark.  Every recipe trained on those 106
scored the same on the held-out games (docs/QUALITY.md): the model learns what three soundtracks
sound like and no more.  These packages add ~220 tracks from 12 other games and composers
(orchestral, world, rock, electronic, chiptune), none of them by a held-out game's composers.
All come from Debian *main*, so every track is DFSG-free; DEST/CREDITS.md keeps each package's
copyright file.  Layout: DEST/<game>/music/<track>.ogg, like the dev corpus.  About 4 GB of
packages are downloaded into a temporary folder (0ad-data alone is 1.4 GB); DEST holds ~1 GB.

usage: build_extra_corpus.py --test-pool DEST

builds instead a pool of 6 more games that no choice was ever made on (enigma, flare, lugaru,
naev, pushover, starfighter; 61 tracks, at most 15 per game, evenly spaced, so one big soundtrack
does not outweigh the rest): with the 6 held-out games (8 albums) it gives 14 labels to benchmark
on, where the 2 held-out games alone give 4 and cannot tell the default from classic
(docs/QUALITY.md).
About 0.8 GB of packages are downloaded.

usage: build_extra_corpus.py --fresh-pool DEST

builds instead an independent evaluation set: 23 more games (FRESH_POOL) that are in no other
corpus and that no choice is made on, enough albums (one album = one game's music folder) for
album-level confidence intervals.  Same layout, same cap of 15 evenly spaced tracks per game; a
game needs at least 4 tracks.  Tracks are de-duplicated by content (sha256) within the pool, and
a game is dropped whole if any of its tracks is already in one of the other corpora found next
to DEST (DEST/../dev or DEST/../corpus, DEST/../extra, DEST/../testpool; a missing one is said).
Tracker modules and MIDI are not taken.
About 1 GB of packages are downloaded (ufoai-music alone is 210 MB); DEST holds 189 tracks, 0.4 GB.

usage: build_extra_corpus.py --fresh-pool-2 DEST

builds a second independent evaluation set the same way (FRESH_POOL_2: 15 games found in
session 10 by listing the Ogg files of ~150 game packages), de-duplicated against the fresh pool
too (DEST/../freshpool).  Its games are smaller, so a game needs 3 tracks; 14 games and 71 tracks
are kept (tuxtype repeats a track of another corpus).  With the 22 unseen albums and the fresh
pool it makes 59 albums, enough to resolve the default's lead over the previous default at album
level (docs/QUALITY.md, "What the bar needs").
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: package -> (game, folder inside the unpacked package, or "zip:<archive>:<member prefix>")
SOURCES: dict[str, list[tuple[str, str]]] = {
    "0ad-data": [("0ad", "zip:usr/share/games/0ad/mods/public/public.zip:audio/music/")],
    "supertuxkart-data": [("supertuxkart", "usr/share/games/supertuxkart/data/music")],
    "widelands-data": [("widelands", "usr/share/games/widelands/data/music")],
    "freedroidrpg-data": [("freedroidrpg", "usr/share/freedroidrpg/data/sound/music")],
    "warmux-data": [
        ("warmux", "usr/share/games/warmux/music/ingame"),
        ("warmux", "usr/share/games/warmux/music/menu"),
    ],
    "redeclipse-data": [("redeclipse", "usr/share/games/redeclipse/data/sounds/music")],
    "extremetuxracer-data": [("extremetuxracer", "usr/share/games/etr/music")],
    "megaglest-data": [("megaglest", "usr/share/games/megaglest/data/core/menu/music")]
    + [
        ("megaglest", f"usr/share/games/megaglest/techs/megapack/factions/{f}/music")
        for f in ("egypt", "indian", "magic", "norsemen", "persian", "romans", "tech")
    ],
    "openclonk-data": [("openclonk", "usr/share/games/openclonk/Music.ocg")],
    "xmoto-data": [("xmoto", "usr/share/games/xmoto/Textures/Musics")],
    "blobwars-data": [("blobwars", "usr/share/games/blobwars/music")],
    "lincity-ng-data": [("lincity-ng", "usr/share/games/lincity-ng/music/default")],
}
#: Test-only games (``--test-pool``): same format as SOURCES.
TEST_POOL: dict[str, list[tuple[str, str]]] = {
    "enigma-data": [
        ("enigma", "usr/share/games/enigma/music/game"),
        ("enigma", "usr/share/games/enigma/music/menu"),
    ],
    "flare-game": [("flare", "usr/share/games/flare/mods/fantasycore/music")],
    "lugaru-data": [("lugaru", "usr/share/games/lugaru/Sounds")],
    "naev-data": [("naev", "usr/share/naev/dat/snd/music")],
    "pushover-data": [("pushover", "usr/share/pushover/themes")],
    "starfighter-data": [("starfighter", "usr/share/starfighter/music")],
}
#: Evaluation-only games (``--fresh-pool``): same format as SOURCES; in no other corpus.
FRESH_POOL: dict[str, list[tuple[str, str]]] = {
    "ardentryst": [("ardentryst", "usr/share/games/ardentryst/Music")],
    "btanks-data": [("btanks", "usr/share/games/btanks/data/tunes")],
    "colobot-common-sounds": [("colobot", "usr/share/games/colobot/music")],
    "drascula-music": [("drascula", "usr/share/scummvm/drascula/audio")],
    "fillets-ng-data": [("fillets-ng", "usr/share/games/fillets-ng/music")],
    "freecol": [("freecol", "usr/share/games/freecol/default/resources/music/default")],
    "freedink-data": [("freedink", "usr/share/games/dink/dink/Sound")],
    "gunroar-data": [("gunroar", "usr/share/games/gunroar/sounds/musics")],
    "hyperrogue-music": [("hyperrogue", "usr/share/hyperrogue/music")],
    "lordsawar-data": [("lordsawar", "usr/share/games/lordsawar/music")],
    "marsshooter-data": [
        ("marsshooter", "usr/share/games/marsshooter/audio"),
        ("marsshooter", "usr/share/games/marsshooter/audio/music"),
    ],
    "mu-cade-data": [("mu-cade", "usr/share/games/mu-cade/sounds/musics")],
    "neverball-common": [("neverball", "usr/share/games/neverball/bgm")],
    "openarena-088-data": [("openarena", "zip:usr/share/games/openarena/baseoa/pak6-patch088.pk3:music/")],
    "parsec47-data": [("parsec47", "usr/share/games/parsec47/sounds")],
    "singularity-music": [("singularity", "usr/share/games/singularity/music")],
    "torus-trooper-data": [("torus-trooper", "usr/share/games/torus-trooper/sounds/musics")],
    "trackballs-data": [("trackballs", "usr/share/games/trackballs/music")],
    "tumiki-fighters-data": [("tumiki-fighters", "usr/share/games/tumiki-fighters/sounds")],
    "tuxmath-data": [("tuxmath", "usr/share/tuxmath/sounds")],
    "ufoai-music": [("ufoai", "zip:usr/share/games/ufoai/base/0music.pk3:music/")],
    "wordwarvi-sound": [("wordwarvi", "usr/share/wordwarvi/sounds")],
    "zaz-data": [("zaz", "usr/share/games/zaz")],
}
#: The second evaluation-only pool (``--fresh-pool-2``); in no other corpus, the first fresh pool
#: included.  A ``*`` in a folder takes every match, named by its path below the ``*``
#: (Frets on Fire keeps each song as ``<song>/song.ogg`` beside its guitar stem).
FRESH_POOL_2: dict[str, list[tuple[str, str]]] = {
    "a7xpg-data": [("a7xpg", "usr/share/games/a7xpg/sounds")],
    "adonthell-data": [("adonthell", "usr/share/games/adonthell/games/wastesedge/audio")],
    "amoebax-data": [("amoebax", "usr/share/games/amoebax/music")],
    "fretsonfire-songs-muldjord": [
        ("muldjord", "usr/share/games/fretsonfire/data/songs/muldjord/*/song.ogg"),
    ],
    "frozen-bubble-data": [("frozen-bubble", "usr/share/games/frozen-bubble/snd")],
    "glob2-data": [("glob2", "usr/share/games/glob2/data/zik")],
    "noiz2sa-data": [("noiz2sa", "usr/share/games/noiz2sa/sounds")],
    "pinball-data": [
        ("pinball", "usr/share/games/pinball/professor"),
        ("pinball", "usr/share/games/pinball/tux"),
    ],
    "powermanga-data": [("powermanga", "usr/share/games/powermanga/sound/handheld_console")],
    "rrootage-data": [("rrootage", "usr/share/games/rrootage/sounds")],
    "scorched3d-data": [("scorched3d", "usr/share/games/scorched3d/data/globalmods/none/data/music")],
    "seahorse-adventures": [("seahorse-adventures", "usr/share/games/seahorse-adventures/data/music")],
    "titanion-data": [("titanion", "usr/share/games/titanion/sounds/musics")],
    "tuxtype-data": [("tuxtype", "usr/share/tuxtype/sounds")],
    "unknown-horizons": [
        ("unknown-horizons", "usr/share/unknown-horizons/content/audio/music"),
        ("unknown-horizons", "usr/share/unknown-horizons/content/audio/music/menu"),
    ],
}
#: A fresh-pool game with fewer tracks than this (after de-duplication) is left out.
FRESH_POOL_MIN_TRACKS = 4
FRESH_POOL_2_MIN_TRACKS = 3
#: Corpora, next to the fresh pool's DEST, whose tracks the fresh pool must not repeat (the dev
#: corpus is "dev" here and "corpus" in benchmarks/reproduce_default_model.sh).
FRESH_POOL_AVOID = ("dev", "corpus", "extra", "testpool")
FRESH_POOL_2_AVOID = (*FRESH_POOL_AVOID, "freshpool")
#: Long files in those folders that are not music of their own: ambience (lugaru), another track's
#: unmixed variant (ardentryst) and a test clip (ufoai).
NOT_MUSIC = {"DesertAmbient.ogg", "Wind.ogg", "theme1_raw.ogg", "dynamictest-battle-41-74sec.ogg"}
#: At most this many tracks per test- or fresh-pool game, evenly spaced over its sorted tracks.
TEST_POOL_CAP = 15
MIN_SECONDS = 30.0
OGG_MAGIC = b"OggS"


@dataclass(frozen=True)
class CorpusKind:
    """What one command-line flag builds: which packages, for what, and how they are filtered."""

    sources: dict[str, list[tuple[str, str]]]
    purpose: str  #: the CREDITS.md heading's first words
    capped: bool = True  #: at most TEST_POOL_CAP tracks per game
    #: corpora next to DEST a game must not repeat (None: no de-duplication, no minimum)
    avoid: tuple[str, ...] | None = None
    min_tracks: int = 0


CORPUS_KINDS: dict[str, CorpusKind] = {
    "": CorpusKind(SOURCES, "Training music", capped=False),
    "--test-pool": CorpusKind(TEST_POOL, "Test-only music"),
    "--fresh-pool": CorpusKind(
        FRESH_POOL, "Evaluation-only music", avoid=FRESH_POOL_AVOID, min_tracks=FRESH_POOL_MIN_TRACKS
    ),
    "--fresh-pool-2": CorpusKind(
        FRESH_POOL_2, "Evaluation-only music", avoid=FRESH_POOL_2_AVOID, min_tracks=FRESH_POOL_2_MIN_TRACKS
    ),
}


def _keep(data: bytes, name: str) -> bool:
    """Ogg files only (blobwars names them without an extension), at least MIN_SECONDS long."""
    if not data.startswith(OGG_MAGIC):
        return False
    import io

    import soundfile

    try:
        return soundfile.info(io.BytesIO(data)).duration >= MIN_SECONDS
    except RuntimeError:
        print(f"  skipped {name}: not readable audio", file=sys.stderr)
        return False


def _members(root: Path, src: str) -> list[tuple[str, bytes]]:
    if src.startswith("zip:"):
        _, archive, prefix = src.split(":")
        with zipfile.ZipFile(root / archive) as z:
            return [
                (Path(m).name, z.read(m))
                for m in sorted(z.namelist())
                if m.startswith(prefix) and not m.endswith("/")
            ]
    if "*" in src:
        fixed = Path(src.split("*", 1)[0])
        return [
            ("-".join(p.relative_to(root / fixed).parts), p.read_bytes())
            for p in sorted(root.glob(src))
            if p.is_file()
        ]
    folder = root / src
    if not folder.is_dir():
        return []
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def _evenly(items: list, cap: int) -> list:
    if len(items) <= cap:
        return items
    return [items[round(i * (len(items) - 1) / (cap - 1))] for i in range(cap)]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _avoided_hashes(dest: Path, corpora: tuple[str, ...]) -> set[str]:
    """Content hashes of every file in the corpora the fresh pool must not repeat."""
    seen: set[str] = set()
    for name in corpora:
        corpus = dest.parent / name
        if not corpus.is_dir():
            print(f"  ({corpus} not found: not de-duplicated against it)")
            continue
        seen.update(_sha256(p.read_bytes()) for p in corpus.rglob("*") if p.is_file())
    return seen


def _fresh_tracks(
    pkg: str,
    tracks: dict[str, list[tuple[str, bytes]]],
    avoid: set[str],
    pool_seen: set[str],
    min_tracks: int,
) -> dict[str, list[tuple[str, bytes]]]:
    """Drop a game that repeats an avoided corpus, repeats within the pool, and small games."""
    kept: dict[str, list[tuple[str, bytes]]] = {}
    for game, found in tracks.items():
        hashes = [_sha256(data) for _, data in found]
        if avoid.intersection(hashes):
            print(f"  {pkg}: dropped {game}, it repeats a track of another corpus")
            continue
        unique: dict[str, tuple[str, bytes]] = {}
        for (name, data), digest in zip(found, hashes, strict=True):
            if digest in pool_seen or digest in unique:
                print(f"  {pkg}: skipped {name}, a duplicate within the pool")
                continue
            unique[digest] = (name, data)
        if len(unique) < min_tracks:
            print(f"  {pkg}: dropped {game}, {len(unique)} tracks < {min_tracks}")
            continue
        pool_seen.update(unique)
        kept[game] = list(unique.values())
    return kept


def main() -> None:
    args = sys.argv[1:]
    flag = args[0] if args and args[0] in CORPUS_KINDS else ""
    args = args[1:] if flag else args
    if len(args) != 1:
        sys.exit(__doc__)
    kind = CORPUS_KINDS[flag]
    sources, fresh_pool = kind.sources, kind.avoid is not None
    dest = Path(args[0]).resolve()
    avoid = _avoided_hashes(dest, kind.avoid) if kind.avoid is not None else set()
    pool_seen: set[str] = set()
    credits = [
        f"# Credits\n\n{kind.purpose} from these Debian packages; each package's copyright file follows.\n"
    ]
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", *sources], cwd=tmp, check=True)
        for deb in sorted(Path(tmp).glob("*.deb")):
            pkg = deb.name.split("_")[0]
            root = Path(tmp) / pkg
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
            tracks: dict[str, list[tuple[str, bytes]]] = {}
            for game, src in sources[pkg]:
                tracks.setdefault(game, []).extend(
                    (name, data)
                    for name, data in _members(root, src)
                    if name not in NOT_MUSIC and _keep(data, name)
                )
            if fresh_pool:
                tracks = _fresh_tracks(pkg, tracks, avoid, pool_seen, kind.min_tracks)
            kept = 0
            for game, found in tracks.items():
                out = dest / game / "music"
                out.mkdir(parents=True, exist_ok=True)
                for name, data in _evenly(found, TEST_POOL_CAP) if kind.capped else found:
                    stem = name[:-4] if name.lower().endswith(".ogg") else name
                    (out / f"{stem}.ogg").write_bytes(data)
                    kept += 1
            total += kept
            print(f"{pkg}: {kept} tracks")
            copyright_file = root / "usr/share/doc" / pkg / "copyright"
            if copyright_file.exists() and (kept or not fresh_pool):
                credits.append(f"\n## {pkg}\n\n```\n{copyright_file.read_text(errors='replace')}\n```\n")
            shutil.rmtree(root)
            deb.unlink()
    (dest / "CREDITS.md").write_text("".join(credits))
    print(f"{total} tracks under {dest}")


if __name__ == "__main__":
    main()
