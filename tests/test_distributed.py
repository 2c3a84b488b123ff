"""The optional Dask path embeds a folder exactly as the single-machine embedder does.

Skipped unless Dask is installed (``pip install 'musicsim[distributed]'``).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

from synth import tone, write  # noqa: E402


def test_local_dask_cluster_embeds_a_folder_like_the_embedder(tmp_path):
    from dask.distributed import Client, LocalCluster

    from trainer.distributed import embed_folder
    from trainer.embed import Embedder
    from trainer.modelstore import load_model

    root = tmp_path / "lib"
    songs = [
        write(root / "a" / f"song{i}.wav", tone(110.0 * (i + 1), 4.0, harmonics=2, seed=i)) for i in range(5)
    ]
    (root / "a" / "broken.wav").write_bytes(b"RIFF not really audio")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        seen = []
        out = embed_folder(
            root,
            "classic",
            client=client,
            chunk=2,
            progress=lambda done, total, msg: seen.append((done, total)),
        )

    assert [p.name for p in out.paths] == [p.name for p in songs]
    assert list(out.failures) and next(iter(out.failures)).name == "broken.wav"
    assert out.matrix.shape == (5, load_model("classic").info.embedding_dim)
    assert out.audio_seconds == pytest.approx(20.0, abs=0.1)
    assert seen[-1] == (6, 6)
    reference = Embedder(load_model("classic"))
    for path, vector in zip(out.paths, out.matrix, strict=False):
        np.testing.assert_allclose(vector, reference.embed_file(path), rtol=1e-5, atol=1e-5)


def test_embed_folder_rejects_a_missing_folder(tmp_path):
    from trainer.distributed import audio_files
    from trainer.errors import ParameterError

    with pytest.raises(ParameterError):
        audio_files(tmp_path / "nope")
