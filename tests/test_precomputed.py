"""Embeddings shipped inside a folder (the demo library's): used only for the same model and the
same bytes, ignored with a reason otherwise, and never needed — deleting them changes nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from clirun import run_cli
from synth import tone, write
from trainer.embed import Embedder
from trainer.library import Library
from trainer.modelstore import classic_model, load_model
from trainer.paths import demo_library_dir
from trainer.precomputed import FILE_NAME, read_precomputed


@pytest.fixture
def shipped(synth_library, tmp_path):
    """A copy of the synthetic library with the classic model's embeddings written into it."""
    root = shutil.copytree(synth_library, tmp_path / "music")
    with Library(tmp_path / "maker") as maker:
        maker.index(root, classic_model(), workers=0)
        out, n = maker.write_precomputed(root, classic_model())
        _, made = maker.embeddings(classic_model().info.key, root=root)
    assert out == root / FILE_NAME and n == 12
    return root, made


def test_a_fresh_index_takes_them_without_decoding(home, shipped):
    root, made = shipped
    with Library(home) as lib:
        rep = lib.index(root, classic_model(), workers=0)
        ids, matrix = lib.embeddings(classic_model().info.key, root=root)
        songs = lib.songs(root)
    assert (rep.indexed, rep.precomputed, rep.notes) == (0, 12, [])
    assert rep.audio_seconds == 0.0  # nothing was decoded
    np.testing.assert_array_equal(matrix, made)
    assert all(s.duration_s == pytest.approx(4.0, abs=0.05) for s in songs)  # the probed facts came along


def test_a_changed_song_is_embedded_anew_and_the_rest_still_used(home, shipped):
    root, _ = shipped
    changed = root / "synth" / "tones" / "tones-0.wav"
    write(changed, tone(700, 5.0))
    with Library(home) as lib:
        rep = lib.index(root, classic_model(), workers=0)
        song = lib.song_by_path(changed)
    assert (rep.indexed, rep.precomputed) == (1, 11)
    assert "1 song(s) differ" in rep.notes[0]
    assert song is not None and song.duration_s == pytest.approx(5.0, abs=0.05)


def test_another_model_ignores_them_silently(home, shipped):
    root, _ = shipped
    other = load_model("default")
    with Library(home) as lib:
        rep = lib.index(root, other, workers=0)
    assert (rep.indexed, rep.precomputed, rep.notes) == (12, 0, [])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign"])
def test_an_unreadable_file_is_noted_and_everything_indexed_as_usual(home, shipped, damage):
    root, made = shipped
    file = root / FILE_NAME
    if damage == "garbage":
        file.write_bytes(b"not a safetensors file at all" * 10)
    elif damage == "truncated":
        file.write_bytes(file.read_bytes()[:-100])
    else:  # a valid safetensors file whose metadata is not ours
        from safetensors.numpy import save_file

        save_file({"embeddings": made}, str(file), metadata={"musicsim": "[1, 2]"})
    with Library(home) as lib:
        rep = lib.index(root, classic_model(), workers=0)
        _, matrix = lib.embeddings(classic_model().info.key, root=root)
    assert (rep.indexed, rep.precomputed) == (12, 0)
    assert "unusable" in rep.notes[0] and FILE_NAME in rep.notes[0]
    np.testing.assert_allclose(matrix, made, rtol=1e-5, atol=1e-5)


def test_cli_precompute_writes_a_readable_file_for_everyone(home, synth_library, tmp_path):
    root = shutil.copytree(synth_library, tmp_path / "music")
    code, out, err = run_cli("--home", home, "precompute", root, "--model", "classic", "--workers", "0")
    assert code == 0, err
    assert "wrote 12 embeddings of model 'classic'" in out
    file = root / FILE_NAME
    assert file.stat().st_mode & 0o777 == 0o644
    data = read_precomputed(file)
    assert data.model_key == classic_model().info.key
    assert data.vectors.shape == (12, classic_model().info.embedding_dim)
    wavs = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    assert sorted(s.rel for s in data.songs) == wavs


def test_the_shipped_demo_embeddings_match_the_shipped_default_model():
    """Retraining the default model makes the demo's file stale (it would just be ignored, and the
    demo indexed as usual); this test says so, so whoever retrains it also runs the command."""
    demo = demo_library_dir()
    default = load_model("default")
    data = read_precomputed(demo / FILE_NAME)
    regenerate = "stale: run `musicsim precompute resources/demo` after changing the default model"
    assert data.model_key == default.info.key, regenerate
    tracks = sorted(p.relative_to(demo).as_posix() for p in demo.rglob("*.ogg"))
    assert sorted(s.rel for s in data.songs) == tracks, regenerate
    embedder = Embedder(default)
    by_rel = data.by_rel()
    fresh = np.stack([embedder.embed_file(demo / rel) for rel in tracks])
    shipped = np.stack([by_rel[rel][1] for rel in tracks])
    np.testing.assert_allclose(shipped, fresh, atol=1e-4)
