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
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: package -> (game, folder inside the unpacked package, or "zip:<archive>:<member prefix>")
SOURCES: dict[str, list[tuple[str, str]]] = {
    "0ad-data": [("0ad", "zip:usr/share/games/0ad/mods/public/public.zip:audio/music/")],
    "supertuxkart-data": [("supertuxkart", "usr/share/games/supertuxkart/data/music")],
    "widelands-data": [("widelands", "usr/share/games/widelands/data/music")],
    "freedroidrpg-data": [("freedroidrpg", "usr/share/freedroidrpg/data/sound/music")],
    "warmux-data": [("warmux", "usr/share/games/warmux/music/ingame"),
                    ("warmux", "usr/share/games/warmux/music/menu")],
    "redeclipse-data": [("redeclipse", "usr/share/games/redeclipse/data/sounds/music")],
    "extremetuxracer-data": [("extremetuxracer", "usr/share/games/etr/music")],
    "megaglest-data": [("megaglest", "usr/share/games/megaglest/data/core/menu/music")]
    + [("megaglest", f"usr/share/games/megaglest/techs/megapack/factions/{f}/music")
       for f in ("egypt", "indian", "magic", "norsemen", "persian", "romans", "tech")],
    "openclonk-data": [("openclonk", "usr/share/games/openclonk/Music.ocg")],
    "xmoto-data": [("xmoto", "usr/share/games/xmoto/Textures/Musics")],
    "blobwars-data": [("blobwars", "usr/share/games/blobwars/music")],
    "lincity-ng-data": [("lincity-ng", "usr/share/games/lincity-ng/music/default")],
}
MIN_SECONDS = 30.0
OGG_MAGIC = b"OggS"


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
            return [(Path(m).name, z.read(m)) for m in sorted(z.namelist())
                    if m.startswith(prefix) and not m.endswith("/")]
    folder = root / src
    if not folder.is_dir():
        return []
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dest = Path(sys.argv[1]).resolve()
    credits = ["# Credits\n\nTraining music from these Debian packages; "
               "each package's copyright file follows.\n"]
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", *SOURCES], cwd=tmp, check=True)
        for deb in sorted(Path(tmp).glob("*.deb")):
            pkg = deb.name.split("_")[0]
            root = Path(tmp) / pkg
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
            kept = 0
            for game, src in SOURCES[pkg]:
                out = dest / game / "music"
                out.mkdir(parents=True, exist_ok=True)
                for name, data in _members(root, src):
                    if _keep(data, name):
                        stem = name[:-4] if name.lower().endswith(".ogg") else name
                        (out / f"{stem}.ogg").write_bytes(data)
                        kept += 1
            total += kept
            print(f"{pkg}: {kept} tracks")
            copyright_file = root / "usr/share/doc" / pkg / "copyright"
            if copyright_file.exists():
                credits.append(f"\n## {pkg}\n\n```\n{copyright_file.read_text(errors='replace')}\n```\n")
            shutil.rmtree(root)
            deb.unlink()
    (dest / "CREDITS.md").write_text("".join(credits))
    print(f"{total} tracks under {dest}")


if __name__ == "__main__":
    main()
