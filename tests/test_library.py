import os
import sqlite3

import numpy as np
import pytest

from synth import tone, write
from trainer.errors import LibraryBusyError, ModelError, ParameterError
from trainer.library import Library
from trainer.modelstore import classic_model


@pytest.fixture
def lib(home):
    with Library(home) as library:
        yield library


def copy_lib(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_index_then_rescan_reads_only_changes(lib, synth_library, tmp_path):
    root = copy_lib(synth_library, tmp_path / "music")
    model = classic_model()
    first = lib.index(root, model, workers=0)
    assert first.indexed == 12 and first.unchanged == 0 and not first.skipped
    ids, matrix = lib.embeddings(model.info.key)
    assert matrix.shape == (12, model.info.embedding_dim) and np.isfinite(matrix).all()

    again = lib.index(root, model, workers=0)
    assert again.indexed == 0 and again.unchanged == 12

    changed = root / "synth" / "tones" / "tones-0.wav"
    write(changed, tone(700, 5.0))
    os.utime(changed, (1, 1))
    (root / "synth" / "noise" / "noise-3.wav").unlink()
    write(root / "synth" / "noise" / "new.wav", tone(90, 4.0))
    third = lib.index(root, model, workers=0)
    assert (third.indexed, third.scan.changed, third.scan.new, third.removed) == (2, 1, 1, 1)
    assert len(lib.songs(root)) == 12
    assert lib.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_songs_have_tags_or_file_name_fallback(lib, synth_library):
    lib.index(synth_library, classic_model(), workers=0)
    songs = lib.songs(synth_library)
    assert {s.folder_album for s in songs} == {"synth/tones", "synth/squares", "synth/noise"}
    assert all(s.display_title == s.path.stem for s in songs)  # synth files carry no tags
    assert all(s.duration_s == pytest.approx(4.0, abs=0.05) for s in songs)


def test_worker_processes_give_same_embeddings(home, synth_library, tmp_path):
    model = classic_model()
    with Library(home) as a:
        a.index(synth_library, model, workers=0)
        ids_a, m_a = a.embeddings(model.info.key)
    with Library(tmp_path / "other") as b:
        b.index(synth_library, model, workers=2)
        ids_b, m_b = b.embeddings(model.info.key)
    np.testing.assert_allclose(m_a, m_b, rtol=1e-5, atol=1e-6)


def test_missing_or_file_library_path_is_a_clear_error(lib, tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        lib.scan(tmp_path / "nope")
    f = tmp_path / "file.ogg"
    f.write_bytes(b"x")
    with pytest.raises(ParameterError, match="is a file"):
        lib.scan(f)


def test_second_writer_is_told_why(home, synth_library):
    with Library(home) as a, Library(home) as b:
        with a.writing():
            with pytest.raises(LibraryBusyError, match="another MusicSim process"):
                b.scan(synth_library)
        b.scan(synth_library)  # free again


def test_other_features_get_their_own_key_and_a_mismatch_is_refused(lib, synth_library):
    from dataclasses import replace

    model = classic_model()
    lib.index(synth_library, model, workers=0)
    other = classic_model(replace(model.info.features, n_mels=64))
    assert other.info.key != model.info.key  # embedded beside, never mixed with, the first ones
    lib.conn.execute(
        "UPDATE models SET features = ? WHERE key = ?", ('{"n_mels": 64}', model.info.key)
    )  # an index that says otherwise for this key
    with pytest.raises(ModelError, match="n_mels"):
        lib.register_model(model)


def test_non_utf8_names_survive_a_restart(home, tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    name = os.fsdecode(b"caf\xe9 \xf0\x9f\x8e\xb5 'q\".wav")
    bad = os.fsdecode(b"latin1-\xe9.wav")
    write(root / name, tone(300, 2.0))
    write(root / bad, tone(500, 2.0))
    with Library(home) as lib:
        lib.index(root, classic_model(), workers=0)
    with Library(home) as lib:
        paths = {p.path.name for p in lib.songs(root)}
    assert paths == {name, bad}
    assert sqlite3.connect(str(home / "index.db")).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_forget_models_deletes_only_the_other_keys_and_nothing_is_lost_but_time(lib, synth_library):
    from dataclasses import replace

    current = classic_model()
    retired = classic_model(replace(current.info.features, n_mels=64))  # e.g. a model before retraining
    lib.index(synth_library, current, workers=0)
    lib.index(synth_library, retired, workers=0)
    ids, vectors = lib.embeddings(current.info.key)
    n = len(ids)
    assert n > 0 and len(lib.embeddings(retired.info.key)[0]) == n

    dry = lib.forget_models({current.info.key}, dry_run=True)
    assert [(key, songs) for _, key, songs in dry.models] == [(retired.info.key, n)]
    assert dry.embeddings == n and len(lib.embeddings(retired.info.key)[0]) == n  # a dry run deletes nothing

    rep = lib.forget_models({current.info.key})
    assert rep.embeddings == n and rep.bytes_after <= rep.bytes_before
    assert len(lib.embeddings(retired.info.key)[0]) == 0 and retired.info.key not in lib.model_keys()
    kept_ids, kept = lib.embeddings(current.info.key)
    assert np.array_equal(kept_ids, ids) and np.array_equal(kept, vectors)
    assert lib.forget_models({current.info.key}).models == []
    assert lib.index(synth_library, retired, workers=0).indexed == n  # used again: embedded again
