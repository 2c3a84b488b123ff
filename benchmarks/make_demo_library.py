#!/usr/bin/env python3
"""Build the demo library that ships with the app (``resources/demo/``) from the dev and extra corpora.

usage: make_demo_library.py CORPUS_DIR OUT_DIR --extra EXTRA_DIR [--sample-rate 22050] [--quality-level 0.6]

CORPUS_DIR is the tree written by ``build_dev_corpus.py`` and EXTRA_DIR the one written by
``benchmarks/build_extra_corpus.py`` (both ``<game>/<album>/<track>`` plus ``CREDITS.md`` holding
each Debian package's copyright file).  For every album in ``PLAN`` the
script picks a fixed number of tracks, deterministically (licence-cleared tracks of at least
``MIN_TRACK_S`` seconds, sorted by file name, evenly spaced), cuts a ``EXCERPT_S``-second excerpt
from the middle of each (so intros are skipped), fades it in and out, resamples it and writes it
as Ogg Vorbis to ``OUT_DIR/<Game>/<Album>/<NN - Title>.ogg`` with Vorbis tags (title, artist,
album, albumartist, genre, tracknumber, copyright, license, comment).  It then writes
``OUT_DIR/CREDITS.md`` (source package, original file, game, authors, licence and excerpt
position for every track) and ``OUT_DIR/README.md``.

Licences are not guessed: each game's licence statement below is checked against its package's
copyright text in ``CORPUS_DIR/CREDITS.md`` (``evidence`` must be found there), and a game whose
evidence is missing is skipped.  Tracks whose status is unclear are listed in ``SKIP``.

OUT_DIR is emptied of ``*.ogg`` files first (only if it is empty or was made by this script), so a
rerun reproduces the same library byte for byte.  The default model's embeddings of the clips are
written afterwards by ``musicsim precompute OUT_DIR`` (verified per file by SHA-256, so a byte-equal
rebuild keeps them valid).
Needs numpy, soundfile (libsndfile with Ogg Vorbis/Opus), soxr and mutagen.
"""

from __future__ import annotations

import argparse
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from mutagen import File as MutagenFile
from mutagen.ogg import OggPage
from mutagen.oggvorbis import OggVorbis

EXCERPT_S = 30.0
FADE_S = 0.5
#: Tracks shorter than this are not used: a middle excerpt of them would still contain the intro.
MIN_TRACK_S = 60.0
#: libsndfile's Ogg encoder crashes on one huge write, so audio is written in blocks of this many frames.
WRITE_BLOCK = 65536
#: An excerpt whose RMS is below this (about -40 dBFS) is treated as (near) silence and skipped.
MIN_RMS = 0.01
#: Excerpts whose peak exceeds this are scaled down to it (instead of hard clipping at 1.0).
PEAK = 0.9
GENRE = "Game soundtrack"
SIZE_LIMIT_MB = 15.0


@dataclass(frozen=True)
class GameSource:
    """Where a game's tracks came from and under what licence (from its Debian copyright file)."""

    name: str  # display name, used as the artist folder
    package: str  # Debian package (bookworm version the corpus was built from)
    package_dir: str  # folder of the album folders inside the package ('{album}' is substituted)
    licence: str
    holders: str  # copyright holders as the Debian copyright file names them
    evidence: tuple[str, ...]  # regexes that must all match the package's copyright text
    note: str = ""
    corpus: str = "dev"  # "dev": build_dev_corpus.py's tree; "extra": build_extra_corpus.py's
    composer: str = ""  # for tracks whose tags name nobody, when the copyright file names the composer


GAMES: dict[str, GameSource] = {
    "hedgewars": GameSource(
        "Hedgewars",
        "hedgewars-data 1.0.2-6",
        "usr/share/games/hedgewars/Data/Music",
        "GPL-2",
        "2004-2018 Andrey Korotaev, 2006-2008 Igor Ulyanov aka Displacer, 2004-2015 Hedgewars Project",
        (r"Files: \*\nCopyright:[^\n]*\n[^\n]*Andrey Korotaev[\s\S]*?License: GPL-2\n",),
        "The copyright file has no separate stanza for Data/Music, so its `Files: *` stanza (GPL-2) applies.",
    ),
    "nexuiz": GameSource(
        "Nexuiz",
        "nexuiz-music 2.5.2-12",
        "usr/share/games/nexuiz/data/music.pk3:sound/cdtracks",
        "GPL-2+",
        "2002-2009 Alientrap, Lee Vermeulen",
        (
            r"Nexuiz is \S+ 2002 - 2009 Alientrap",
            r"either version 2\s+of the License, or \(at your option\) any later",
        ),
        "The copyright file covers the whole package; composers are taken from the files' own Vorbis tags. "
        "Tracks are members of the zip archive music.pk3.",
    ),
    "supertux": GameSource(
        "SuperTux",
        "supertux-data 0.6.3-2",
        "usr/share/games/supertux2/music/{album}",
        "GPL-2+",
        "Marek Moeckel <wansti@gmx.de> (Debian copyright, Files: data/music/*); SuperTux Devel Team",
        (r"Files: data/music/\*\nCopyright: Marek Moeckel[^\n]*\nLicense: GPL-2\+",),
        "The copyright file credits all of data/music/* to Marek Moeckel; the files' own tags and the game's "
        "credits name further composers, given per track below.",
    ),
    "warzone2100": GameSource(
        "Warzone 2100",
        "warzone2100-music 4.3.3-3",
        "usr/share/games/warzone2100/music/albums/{album}",
        "GPL-2+",
        "1999-2004 Eidos Interactive, 2005-2013 Warzone 2100 Project",
        (
            r"Files: \*\nCopyright: 1999-2004, Eidos Interactive\n"
            r"\s+2005-2013, Warzone 2100 Project\nLicense: GPL-2\+",
        ),
        "Upstream's album.json names the composers; its license.txt offers the Legacy and Aftermath "
        "albums (LupusMechanicus) under CC-BY-SA-3.0-or-later or GPL-2+ (track3_enhanced: GPL-2+ only).",
    ),
    "wesnoth": GameSource(
        "The Battle for Wesnoth",
        "wesnoth-1.16-music 1:1.16.9-1",
        "usr/share/games/wesnoth/1.16/data/core/music",
        "GPL-2+",
        "2003-2009 David White and the Wesnoth contributors",
        (r"GNU General Public License version 2\s+or at your option any later version",),
        "The copyright file covers the whole package; composers are taken from the files' own Vorbis tags "
        "(which also say license=GPL).",
    ),
    "0ad": GameSource(
        "0 A.D.",
        "0ad-data 0.0.26-1",
        "usr/share/games/0ad/mods/public/public.zip:audio/music",
        "CC-BY-SA-3.0",
        "2010 Wildfire Games",
        (r"Files: \*\nCopyright: 2010 Wildfire Games\nLicense: CC-BY-SA-3.0\n",),
        "The copyright file's `Files: *` stanza (CC-BY-SA-3.0, Wildfire Games) covers the music. "
        "Tracks are members of the zip archive public.zip. The files name no composer; the game's "
        "credits (gui/credits/texts/audio.json in public.zip) list Omri Lahav (lead composer), Allan "
        "Brown, Sam Gossner, Boris Hansen, Jeff Willet, Mike Skalandunas and Shlomi Nogay.",
        corpus="extra",
    ),
    "redeclipse": GameSource(
        "Red Eclipse",
        "redeclipse-data 1.6.0-1",
        "usr/share/games/redeclipse/data/sounds/music",
        "CC-BY-SA-3.0",
        'Derek "JoJo" Stegall',
        (
            r'Files: data/sounds/music/track_\*\.ogg\nCopyright: Derek "JoJo" Stegall\n'
            r"License: CC-BY-SA-3.0\n",
        ),
        "The copyright file has a stanza for data/sounds/music/track_*.ogg naming the composer.",
        corpus="extra",
        composer='Derek "JoJo" Stegall',
    ),
    "widelands": GameSource(
        "Widelands",
        "widelands-data 2:1.1-3",
        "usr/share/games/widelands/data/music",
        "GPL-2+",
        "2002-2019 by the Widelands Development Team",
        (
            r"Files: \*\nCopyright: 2002-2019 by the Widelands Development Team\nLicense: GPL-2\+\n",
            r"Files: data/music/ingame_24\.ogg data/music/ingame_25\.ogg data/music/ingame_26\.ogg\n"
            r"Copyright: Stuart Marshall\nLicense: CC-BY-SA-3.0\n",
        ),
        "The copyright file's `Files: *` stanza (GPL-2+) covers the music except ingame_24-26 "
        "(Stuart Marshall, CC-BY-SA-3.0); composers are taken from the files' own Vorbis tags.",
        corpus="extra",
    ),
    "freedroidrpg": GameSource(
        "FreedroidRPG",
        "freedroidrpg-data 1.0-1",
        "usr/share/freedroidrpg/data/sound/music",
        "GPL-2+",
        "1994, 2002-2004 Johannes Prix, Reinhard Prix; 2009-2010 the Freedroid dev team; "
        "2006 Arvid Picciani; and others named in the package's copyright file",
        (r"Files: \*\nCopyright: 1994, 2002-2004 Johannes Prix\n(?:[ \t]+[^\n]*\n)*License: GPL-2\+\n",),
        "The copyright file has no separate stanza for the music, so its `Files: *` stanza (GPL-2+) "
        "applies; composers are taken from the files' own Vorbis tags where they name one.",
        corpus="extra",
    ),
}

#: (corpus game folder, corpus album folder, album name in the demo library, number of tracks).
#: Only music the default model never trained on (it saw hedgewars, supertux and wesnoth), so the
#: demo shows what a user's own music will get -- a model trained self-supervised pushes apart the
#: very songs it trained on, and the demo would understate it there.  One album per game: the
#: sub-albums of one soundtrack (Warzone's Aftermath and Legacy, one composer) are folders, not
#: different music.
PLAN: list[tuple[str, str, str, int]] = [
    ("nexuiz", "cdtracks", "Nexuiz CD Tracks", 6),
    ("warzone2100", "aftermath_soundtrack", "Aftermath Soundtrack", 6),
    ("0ad", "music", "0 A.D. Soundtrack", 6),
    ("redeclipse", "music", "Red Eclipse Soundtrack", 6),
    ("widelands", "music", "Widelands Soundtrack", 6),
    ("freedroidrpg", "music", "FreedroidRPG Soundtrack", 6),
]

#: Tracks whose licence differs from their game's (relative to their corpus).
FILE_LICENCES: dict[str, str] = {f"widelands/music/ingame_{n}.ogg": "CC-BY-SA-3.0" for n in (24, 25, 26)}

#: Tracks never used, with the reason (relative to CORPUS_DIR).
SKIP: dict[str, str] = {
    "supertux/forest/greatgigantic.ogg": (
        "derivative of Chris Huelsbeck's Giana Sisters title theme 'with kind permission'; terms unclear"
    ),
    "nexuiz/cdtracks/breakdown-easy.ogg": (
        "its tag says 'Unreleased - Downloaded at www.loopnet.de'; provenance unclear"
    ),
    "nexuiz/cdtracks/thunder.ogg": "11 kHz, poor audio quality (not a licence problem)",
}

#: Warzone 2100 titles/authors from upstream album.json (not copied into the corpus).
WARZONE: dict[str, tuple[str, str]] = {
    "menu_enhanced": ("Menu Theme - Enhanced", "LupusMechanicus"),
    "track3_enhanced": ("Track 3 - Enhanced", "LupusMechanicus (after Martin Severn)"),
    "track1": ("Track 1", "Martin Severn"),
    "track2": ("Track 2", "Martin Severn"),
    "track3": ("Track 3", "Martin Severn"),
    "track4": ("Uncertain Future", "LupusMechanicus"),
    "track5": ("Recovery Ops", "LupusMechanicus"),
    "track6": ("Incoming Transmission", "LupusMechanicus"),
    "track7": ("My Kind of Wasteland", "LupusMechanicus"),
    "track8": ("Advanced Manufacturing", "LupusMechanicus"),
    "track9": ("The Project", "LupusMechanicus"),
    "track10": ("The Collective", "LupusMechanicus"),
    "track11": ("Awakened", "LupusMechanicus"),
    "track12": ("New Dawn", "LupusMechanicus"),
    "track13": ("Broken Dreams", "LupusMechanicus"),
    "track14": ("Artifact Beacon", "LupusMechanicus"),
    "track15": ("Unexpected Outcome", "LupusMechanicus"),
    "track16": ("Geiger Ghosts", "LupusMechanicus"),
    "track17": ("Nuclear Heartbeat", "LupusMechanicus"),
    "track18": ("Moonlight Tactics", "LupusMechanicus"),
    "track19": ("Undisclosed Location", "LupusMechanicus"),
    "track20": ("Shifting Realities", "LupusMechanicus"),
    "track21": ("The Collapse", "LupusMechanicus"),
    "track22": ("Aftershocks", "LupusMechanicus"),
    "track23": ("Blast Zone", "LupusMechanicus"),
    "track24": ("Reclamation", "LupusMechanicus"),
    "track25": ("Rainout", "LupusMechanicus"),
    "track26": ("Just Rewards", "LupusMechanicus"),
    "track27": ("Launch Codes", "LupusMechanicus"),
}
WARZONE_LUPUS_LICENCE = "GPL-2+ (upstream also offers CC-BY-SA-3.0 or later)"

#: Title fixes for files whose tag is missing or is not a title.
TITLE_OVERRIDES: dict[str, str] = {
    "hedgewars/music/sdmusic.ogg": "Sudden Death",
    "hedgewars/music/olympics_sd.ogg": "Olympics (Sudden Death)",
    "hedgewars/music/EarthRise.ogg": "Earth Rise",
    "hedgewars/music/Nature.ogg": "Nature",
    "nexuiz/cdtracks/calling-bogus.ogg": "Calling Bogus",
    "nexuiz/cdtracks/sixtyfour_.ogg": "Sixtyfour",
    "nexuiz/cdtracks/ninesix.ogg": "Ninesix",
    "supertux/antarctic/voc-daytime2.ogg": "Voc Daytime 2",
    "nexuiz/cdtracks/subcities.ogg": "Subcities",
    "supertux/retro/cave_old.ogg": "The Cave (Retro)",
    "supertux/retro/fortress_old.ogg": "Fortress (Retro)",
    "supertux/retro/classic.ogg": "Classic",
    "supertux/retro/ice_music.ogg": "Ice Level",
    "supertux/retro/worldmap_old.ogg": "Title (Retro)",
}

#: Normalised composer names for the artist strings found in tags.
ARTIST_ALIASES: dict[str, str] = {
    "wansti": 'Marek "Wansti" Moeckel',
    "elysis": 'Gerd "elysis" Raudenbusch',
    "www.elysis.de": 'Gerd "elysis" Raudenbusch',
    "gerd (elysis) raudenbusch": 'Gerd "elysis" Raudenbusch',
    "http://zhaymusic.com/": "Joseph G. Toscano (Zhaytee)",
    "mortimer twang": "Mortimer Twang (Lukas Nystrand)",
}


@dataclass
class Track:
    game: str
    album_dir: str
    album: str
    src: Path
    rel: str
    duration: float
    title: str = ""
    composer: str = ""
    licence: str = ""
    start: float = 0.0
    out: Path | None = None


def package_sections(credits_md: Path) -> dict[str, str]:
    """Split the corpus CREDITS.md into {package: copyright text}."""
    text = credits_md.read_text(errors="replace")
    parts = re.split(r"^## (\S+)\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def cleared_games(corpora: dict[str, Path]) -> dict[str, GameSource]:
    """Games whose licence statement is confirmed by their package's copyright text.

    ``corpora`` maps a :attr:`GameSource.corpus` name to its tree (each with a CREDITS.md)."""
    sections = {name: package_sections(root / "CREDITS.md") for name, root in corpora.items()}
    ok: dict[str, GameSource] = {}
    for key, g in GAMES.items():
        pkg = g.package.split()[0]
        text = sections.get(g.corpus, {}).get(pkg, "")
        missing = [e for e in g.evidence if not re.search(e, text)]
        if missing:
            print(
                f"warning: skipping {key}: licence evidence not found in {pkg}'s copyright: {missing}",
                file=sys.stderr,
            )
        else:
            ok[key] = g
    return ok


def _tag(tags: dict[str, list[str]], *names: str) -> str:
    for n in names:
        v = tags.get(n)
        if v and v[0].strip():
            return v[0].strip()
    return ""


def _from_filename(stem: str) -> str:
    """'Dried_Tears' -> 'Dried Tears', 'HellFortressEntrance' -> 'Hell Fortress Entrance'."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)
    words = re.sub(r"[_\-]+", " ", spaced).strip().split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def describe(t: Track, g: GameSource) -> None:
    """Fill in title, composer and licence of a track."""
    tags: dict[str, list[str]] = {}
    try:
        m = MutagenFile(str(t.src))
        if m is not None and m.tags is not None:
            for k, v in m.tags.items():
                tags.setdefault(k.lower(), []).extend(v if isinstance(v, list) else [str(v)])
    except Exception:  # unreadable tags just mean fallbacks
        tags = {}
    stem = t.src.stem
    t.licence = FILE_LICENCES.get(t.rel, g.licence)
    if t.game == "warzone2100" and stem in WARZONE:
        t.title, t.composer = WARZONE[stem]
        if "LupusMechanicus" in t.composer and stem != "track3_enhanced":
            t.licence = WARZONE_LUPUS_LICENCE
        return
    title = TITLE_OVERRIDES.get(t.rel) or _tag(tags, "title")
    if not title or "supertux" in title.lower().replace(" ", ""):
        title = _from_filename(stem)
    elif "_" in title or title.islower():  # 'SixtyFour_Revisited', 'temple'
        title = _from_filename(title)
    t.title = title
    artist = _tag(tags, "composer", "artist")
    t.composer = ARTIST_ALIASES.get(artist.lower(), artist) if artist else g.composer


def safe_name(s: str) -> str:
    s = re.sub(r'[\\/:*?"<>|]+', " ", s)
    s = re.sub(r"\s+", " ", s).strip(" .")
    return s[:80] or "Untitled"


def choose(candidates: list[Track], k: int) -> list[Track]:
    """k tracks evenly spaced over the name-sorted candidates (all of them if there are fewer)."""
    n = len(candidates)
    if n <= k:
        return candidates
    return [candidates[int((i + 0.5) * n / k)] for i in range(k)]


def excerpt(path: Path, duration: float, sr_out: int) -> tuple[np.ndarray, float]:
    """The middle EXCERPT_S seconds, resampled to sr_out, faded in/out; and its start in seconds."""
    with sf.SoundFile(str(path)) as f:
        sr = f.samplerate
        start = max(0.0, (duration - EXCERPT_S) / 2.0)
        first = int(start * sr)
        f.seek(min(first, max(0, f.frames - 1)))
        x = f.read(int(EXCERPT_S * sr), dtype="float32", always_2d=True)
    if x.shape[1] > 2:
        x = x[:, :2]
    y = soxr.resample(x, sr, sr_out).astype(np.float32) if sr != sr_out else x
    n_fade = int(FADE_S * sr_out)
    ramp = np.linspace(0.0, 1.0, n_fade, dtype=np.float32)[:, None]
    y[:n_fade] *= ramp
    y[-n_fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > PEAK:  # some sources overshoot full scale: scale down rather than clip
        y *= PEAK / peak
    return y, start


def write_ogg(path: Path, y: np.ndarray, sr: int, level: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(
        str(path), "w", sr, y.shape[1], format="OGG", subtype="VORBIS", compression_level=level
    ) as f:
        for i in range(0, len(y), WRITE_BLOCK):
            f.write(y[i : i + WRITE_BLOCK])


def write_tags(t: Track, g: GameSource, number: int, total: int) -> None:
    assert t.out is not None
    a = OggVorbis(str(t.out))
    a.delete()
    a["title"] = t.title
    a["artist"] = t.composer or g.name
    a["album"] = t.album
    a["albumartist"] = g.name
    a["genre"] = GENRE
    a["tracknumber"] = f"{number}/{total}"
    a["copyright"] = g.holders
    a["license"] = t.licence
    a["comment"] = (
        f"{EXCERPT_S:.0f}-second excerpt (from {t.start:.1f} s) of {t.src.name} from the Debian "
        f"package {g.package}, game {g.name}; see CREDITS.md"
    )
    a.save()


def fix_serial(path: Path, key: str) -> None:
    """Give the Ogg stream a serial number derived from ``key`` (libsndfile picks a random one),
    so that rerunning the script reproduces the files byte for byte."""
    serial = zlib.crc32(key.encode("utf-8")) & 0x7FFFFFFF
    with open(path, "rb") as f:
        pages = []
        while True:
            try:
                pages.append(OggPage(f))
            except EOFError:
                break
    for page in pages:
        page.serial = serial
    path.write_bytes(b"".join(page.write() for page in pages))


CREDITS_HEADER = "# Demo library credits"


def check_out_dir(out: Path) -> None:
    """Refuse to clear a folder that is not empty and was not made by this script."""
    if not out.exists() or not any(out.iterdir()):
        return
    credits = out / "CREDITS.md"
    if not (credits.is_file() and credits.read_text(errors="replace").startswith(CREDITS_HEADER)):
        raise SystemExit(f"{out} is not empty and has no demo CREDITS.md; refusing to overwrite it")


def build(corpora: dict[str, Path], out: Path, sr_out: int, level: float) -> list[Track]:
    games = cleared_games(corpora)
    check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in sorted(out.rglob("*.ogg")):
        old.unlink()
    for d in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    made: list[Track] = []
    for game, album_dir, album, k in PLAN:
        g = games.get(game)
        src_dir = corpora[g.corpus] / game / album_dir if g is not None else None
        if g is None or src_dir is None or not src_dir.is_dir():
            print(f"warning: skipping album {game}/{album_dir}", file=sys.stderr)
            continue
        cands: list[Track] = []
        for p in sorted(src_dir.iterdir(), key=lambda p: p.name.lower()):
            rel = f"{game}/{album_dir}/{p.name}"
            if p.suffix.lower() not in (".ogg", ".opus", ".flac", ".wav", ".mp3") or rel in SKIP:
                continue
            try:
                dur = sf.info(str(p)).duration
            except Exception as e:  # undecodable: leave it out
                print(f"warning: {rel}: {e}", file=sys.stderr)
                continue
            if dur >= MIN_TRACK_S:
                cands.append(Track(game, album_dir, album, p, rel, dur))
        first = choose(cands, k)
        picked: list[Track] = []
        for t in first + [c for c in cands if all(c is not f for f in first)]:  # spares if one is silent
            if len(picked) == k:
                break
            y, t.start = excerpt(t.src, t.duration, sr_out)
            if float(np.sqrt(np.mean(y**2))) < MIN_RMS:
                print(f"note: {t.rel}: middle excerpt nearly silent, trying another track", file=sys.stderr)
                continue
            describe(t, g)
            picked.append(t)
            t.out = (
                out / safe_name(g.name) / safe_name(album) / f"{len(picked):02d} - {safe_name(t.title)}.ogg"
            )
            write_ogg(t.out, y, sr_out, level)
        for i, t in enumerate(picked, 1):
            write_tags(t, g, i, len(picked))
            assert t.out is not None
            fix_serial(t.out, t.rel)
        made.extend(picked)
    write_credits(out, made, games, sr_out)
    write_readme(out, made)
    return made


def write_credits(out: Path, tracks: list[Track], games: dict[str, GameSource], sr: int) -> None:
    lines = [
        CREDITS_HEADER,
        "",
        f"Every file here is a {EXCERPT_S:.0f}-second excerpt taken from the middle of a track shipped in a "
        "Debian (bookworm, main) game-music package. The excerpts were **modified**: cut, faded in/out "
        f"over {FADE_S} s, resampled to {sr} Hz and re-encoded as Ogg Vorbis by "
        "`benchmarks/make_demo_library.py`. The complete original tracks are in the named packages "
        "(`apt-get source <package>` or the games' upstream repositories).",
        "",
        "All tracks are free software/free culture works redistributable under the licence given for "
        "each (GPL-2 = GNU General Public License version 2; GPL-2+ = version 2 or any later version; "
        "full texts: https://www.gnu.org/licenses/old-licenses/gpl-2.0.html and "
        "https://creativecommons.org/licenses/by-sa/3.0/). Each file also carries `artist`, `copyright` "
        "and `license` tags.",
        "",
        "## Games, packages and licences (from the packages' Debian copyright files)",
        "",
    ]
    for key in sorted({t.game for t in tracks}):
        g = games[key]
        lines += [
            f"- **{g.name}** — package `{g.package}`, "
            f"files under `{g.package_dir.replace('{album}', '<album>')}`; "
            f"licence **{g.licence}**; copyright: {g.holders}. {g.note}"
        ]
    lines += [
        "",
        "## Tracks",
        "",
        "| Demo file | Title | Game | Source package | Original file | Author(s) / copyright holder | "
        "Licence | Excerpt |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in tracks:
        g = games[t.game]
        assert t.out is not None
        author = f"{t.composer}; © {g.holders}" if t.composer else f"© {g.holders}"
        lines.append(
            f"| `{t.out.relative_to(out).as_posix()}` | {t.title} | {g.name} | `{g.package}` | "
            f"`{g.package_dir.replace('{album}', t.album_dir)}/{t.src.name}` | {author} | {t.licence} | "
            f"{t.start:.1f}–{t.start + EXCERPT_S:.1f} s of {t.duration:.0f} s |"
        )
    lines += ["", "## Left out on purpose", ""]
    lines += [f"- `{k}`: {v}" for k, v in sorted(SKIP.items())]
    lines += [
        "",
        "Composer names come from the original files' Vorbis tags (Warzone 2100: upstream "
        "`album.json`); where none is known the artist tag is the game's name.",
        "",
    ]
    (out / "CREDITS.md").write_text("\n".join(lines))


def write_readme(out: Path, tracks: list[Track]) -> None:
    n_albums = len({(t.game, t.album) for t in tracks})
    n_games = len({t.game for t in tracks})
    (out / "README.md").write_text(
        f"Demo music library the app opens when the user has none: {len(tracks)} "
        f"{EXCERPT_S:.0f}-second excerpts of freely licensed game soundtracks, {n_albums} albums from "
        f"{n_games} games, laid out `<game>/<album>/<NN - title>.ogg` "
        "(licences and authors in CREDITS.md).\n"
        "Made by `python benchmarks/make_demo_library.py CORPUS_DIR resources/demo --extra EXTRA_DIR` from "
        "the corpora built by `build_dev_corpus.py` and `benchmarks/build_extra_corpus.py` (Debian "
        "game-music packages): one album per game, middle excerpt, 0.5 s fades, "
        "Ogg Vorbis with tags.\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="corpus folder from build_dev_corpus.py (with CREDITS.md)")
    ap.add_argument(
        "--extra",
        type=Path,
        required=True,
        help="folder from benchmarks/build_extra_corpus.py (with CREDITS.md): 0 A.D. and Red Eclipse",
    )
    ap.add_argument("out", type=Path, help="output folder, e.g. resources/demo")
    ap.add_argument("--sample-rate", type=int, default=22050, choices=(22050, 32000))
    ap.add_argument(
        "--quality-level",
        type=float,
        default=0.6,
        help="libsndfile compression level 0 (best quality, biggest) .. 1 (smallest)",
    )
    args = ap.parse_args(argv)
    corpora = {"dev": args.corpus, "extra": args.extra}
    for name, root in corpora.items():
        if not (root / "CREDITS.md").is_file():
            ap.error(
                f"{root} has no CREDITS.md; build it with "
                + ("build_dev_corpus.py" if name == "dev" else "benchmarks/build_extra_corpus.py")
            )
    tracks = build(corpora, args.out, args.sample_rate, args.quality_level)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 1e6
    print(
        f"{len(tracks)} tracks, {len({(t.game, t.album) for t in tracks})} albums, "
        f"{len({t.game for t in tracks})} games, {size:.1f} MB in {args.out}"
    )
    print(f"then: musicsim precompute {args.out}   (ships the default model's embeddings of these clips)")
    if size > SIZE_LIMIT_MB:
        print(f"warning: over {SIZE_LIMIT_MB} MB; raise --quality-level", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
