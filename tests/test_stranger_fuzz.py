"""Issue 19, fuzzed: whatever a shared folder's embeddings file or a model's config.json says, reading
it gives either a ``ModelError`` (one line) or values that are all typed and bounded -- never
another exception, never a NaN duration, a dict for a title, a 1e9-wide model or a hop of 0."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from trainer import bounds
from trainer.errors import ModelError
from trainer.modelstore import ModelInfo, read_info
from trainer.precomputed import FORMAT, read_precomputed
from trainer.safetext import MAX_TAG_CHARS, has_unsafe

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: any JSON value (as Python parses it): NaN and infinities, huge integers, lone surrogates, nesting
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "\x1b[31m", "\ud800", "../x", "a" * 70_000, "0" * 64, "ab" * 32]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
HEX = "0123456789abcdef"
good_entry = st.fixed_dictionaries(
    {
        "rel": st.sampled_from(["a/b.wav", "c.flac", "x/../y.wav", "\udce9.wav"]),
        "size": st.integers(0, 10**9),
        "sha256": st.text(HEX, min_size=64, max_size=64),
        "duration_s": st.floats(0, 1e4),
        "sample_rate": st.sampled_from([22050, 44100]),
        "channels": st.integers(1, 2),
        "title": st.text(max_size=20),
    }
)
FIELDS = [
    "rel",
    "size",
    "sha256",
    "duration_s",
    "sample_rate",
    "channels",
    "title",
    "artist",
    "album",
    "genre",
]
entries = st.one_of(
    good_entry,
    st.tuples(good_entry, st.sampled_from(FIELDS), json_values).map(lambda t: {**t[0], t[1]: t[2]}),
    json_values,
)


def _meta(songs: list, top: dict) -> dict:
    meta = {
        "format": FORMAT,
        "version": 1,
        "model_key": "m@0",
        "model_name": "m",
        "features": {},
        "songs": songs,
    }
    meta.update(top)
    return meta


@FUZZ
@given(
    songs=st.lists(entries, max_size=6),
    top=st.dictionaries(
        st.sampled_from(["format", "version", "model_key", "model_name", "features", "songs"]),
        json_values,
        max_size=2,
    ),
    width=st.integers(1, 4),
)
def test_shared_file_metadata_is_typed_or_refused(songs, top, width):
    meta = _meta(songs, top)
    n = len(meta["songs"]) if isinstance(meta["songs"], list) else 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "musicsim-embeddings.safetensors"
        save_file(
            {"embeddings": np.ones((n, width), np.float32)},
            str(path),
            metadata={"musicsim": json.dumps(meta)},
        )
        try:
            got = read_precomputed(path)
        except ModelError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 1000
            return
    assert len(got.songs) == len(got.vectors) <= n and len(got.songs) + len(got.problems) == n
    assert isinstance(got.model_key, str) and isinstance(got.features, dict)
    for s in got.songs:
        assert isinstance(s.rel, str) and s.rel and ".." not in s.rel.split("/") and "\0" not in s.rel
        assert isinstance(s.size, int) and s.size >= 0 and len(s.sha256) == 64
        assert s.duration_s is None or (isinstance(s.duration_s, float) and math.isfinite(s.duration_s))
        for value in (s.sample_rate, s.channels):
            assert value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
        for tag in (s.title, s.artist, s.album, s.genre):
            assert tag is None or (isinstance(tag, str) and len(tag) <= MAX_TAG_CHARS and not has_unsafe(tag))


GOOD_CONFIG = {
    "name": "m",
    "arch": "musicnet-small",
    "embedding_dim": 16,
    "epochs": 1,
    "loss": "triplet",
    "format_version": 1,
    "features": {
        "sample_rate": 22050,
        "n_fft": 1024,
        "hop_length": 512,
        "n_mels": 96,
        "excerpt_seconds": 3.0,
        "n_excerpts": 8,
    },
}
#: mostly plausible numbers (so that accepted configs are fuzzed too), sometimes anything at all
feature_values = st.one_of(
    st.integers(1, 2048), st.floats(0.0, 30000.0), st.sampled_from([0, -1, 10**8, 1e400]), json_values
)
plausible_features = st.fixed_dictionaries(
    {},
    optional={
        "sample_rate": st.sampled_from([8000, 16000, 22050, 44100, 48000.0]),
        "n_fft": st.sampled_from([256, 512, 1024, 2048]),
        "hop_length": st.sampled_from([64, 128, 256, 512]),
        "n_mels": st.sampled_from([32, 64, 96, 128]),
        "f_min": st.floats(0, 100),
        "f_max": st.floats(3000, 12000),
        "excerpt_seconds": st.floats(0.5, 10),
        "n_excerpts": st.integers(1, 40),
        "log_compression": st.sampled_from(["db", "log10_1p"]),
        "edge_fraction": st.floats(0, 0.3),
    },
)
configs = st.tuples(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "arch",
                "embedding_dim",
                "epochs",
                "loss",
                "format_version",
                "features",
                "training",
                "metrics",
                "weights_sha256",
                "created",
            ]
        ),
        st.one_of(st.integers(0, 9000), json_values),
        max_size=1,
    ),
    st.one_of(
        plausible_features,
        st.dictionaries(
            st.sampled_from(sorted(bounds.FEATURE_BOUNDS) + ["log_compression"]), feature_values, max_size=2
        ),
    ),
)


@FUZZ
@given(edits=configs)
def test_model_config_is_bounded_or_refused(edits):
    top, features = edits
    data = json.loads(json.dumps(GOOD_CONFIG))
    data["features"].update(features)
    data.update(top)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(data))
        try:
            info = read_info(Path(tmp))
        except ModelError as exc:
            assert "\n" not in str(exc)
            return
    assert isinstance(info, ModelInfo)
    assert isinstance(info.embedding_dim, int) and 1 <= info.embedding_dim <= bounds.MAX_EMBEDDING_DIM
    assert isinstance(info.name, str) and info.name.isprintable() and isinstance(info.arch, str)
    assert isinstance(info.format_version, int) and isinstance(info.training, dict)
    cfg = info.features
    assert bounds.features_problem(cfg) is None
    for name, (kind, low, high) in bounds.FEATURE_BOUNDS.items():
        value = getattr(cfg, name)
        assert type(value) is kind and low <= value <= high, (name, value)
    assert cfg.n_excerpts * cfg.excerpt_samples <= bounds.MAX_SONG_SAMPLES
    assert cfg.n_mels * cfg.n_frames <= bounds.MAX_EXCERPT_VALUES
