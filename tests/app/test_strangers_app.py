"""Issue 19 in the window: model folders a stranger left in the home and an index with poisoned
rows do not stop the app from starting, and its search and map use only usable rows."""

from __future__ import annotations

import json

import numpy as np

from conftest import indexed


def test_window_starts_with_malformed_models_and_poisoned_rows(qtbot, music_library, home):
    from musicsim_app.main_window import MainWindow
    from musicsim_app.settings import AppSettings
    from trainer.library import Library
    from trainer.modelstore import classic_model

    for name, config in {
        "format-list": {"name": "f", "arch": "musicnet", "embedding_dim": 8, "format_version": [2]},
        "many-mels": {"name": "m", "arch": "musicnet", "embedding_dim": 8, "features": {"n_mels": "many"}},
        "huge-dim": {"name": "h", "arch": "musicnet", "embedding_dim": 10**9},
    }.items():
        (home / "models" / name).mkdir(parents=True)
        (home / "models" / name / "config.json").write_text(json.dumps(config))
    (home / "models" / "deep").mkdir()
    (home / "models" / "deep" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    model = classic_model()
    with Library(home) as lib:  # an index an older version left: one song's vector is NaN
        lib.index(music_library, model, workers=0)
        sid = lib.embeddings(model.info.key)[0][0]
        lib.conn.execute(
            "UPDATE embeddings SET vector = ? WHERE song_id = ?",
            (np.full(model.info.embedding_dim, np.nan, np.float32).tobytes(), int(sid)),
        )
        lib.conn.commit()
    settings = AppSettings(home)
    settings.model = "classic"
    settings.sync()
    w = MainWindow(home, library=music_library, audio="null", device="cpu")
    w.session.decode_workers = 0
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: indexed(w), timeout=120_000)
    combo = w.library_page.query_panel.model_combo
    names = [combo.itemData(i) for i in range(combo.count())]
    assert "classic" in names and not {"format-list", "many-mels", "huge-dim", "deep"} & set(names)
    ids, X = w.session.embeddings()
    assert len(ids) == 9 and np.isfinite(X).all()  # the NaN row was embedded anew by the rescan
    song = next(s for s in w.session.songs if str(s.path).endswith("01 - Low song 1.wav"))
    w.library_page.library_view.select_song(song.id)
    w.library_page.library_view.query_selected()
    assert len(w.session.results) == 8 and all(np.isfinite(r.distance) for r in w.session.results)
    w.close()
