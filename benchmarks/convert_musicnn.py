#!/usr/bin/env python3
"""Convert musicnn's ``MSD_musicnn`` TensorFlow checkpoint to safetensors, and record its outputs.

usage: python3 benchmarks/convert_musicnn.py [--venv DIR] [--out resources/pretrained/musicnn]
                                             [--fixture tests/data/musicnn_parity.npz]

Run it with any Python 3.11: it makes (or reuses) a throwaway virtualenv with the pinned
TensorFlow stack below, installs the ``musicnn`` wheel there without its dependencies (which pin a
numpy from 2019), and re-runs itself inside it.  TensorFlow never becomes a dependency of MusicSim,
its tests or CI: what comes out is

* ``OUT/MSD_musicnn.safetensors`` — every variable of the graph, renamed to the PyTorch port's
  ``state_dict`` keys (``trainer/models/musicnn.py``) and transposed to PyTorch's layouts;
* ``OUT/config.json`` — where the weights came from (wheel version, SHA-256 of the checkpoint
  files, the variable map) and what the port must take as input;
* ``OUT/LICENSE.md`` — musicnn's ISC licence, copied from the wheel;
* ``FIXTURE`` — for a few real clips of the demo library (freely licensed game music): each
  clip's 16-kHz audio as librosa decoded it, the log-mel patches musicnn computed from it, and
  TensorFlow's outputs for those patches (taggram, max_pool, mean_pool, penultimate).
  ``tests/test_musicnn.py`` checks the port against them without TensorFlow.

The conversion is deterministic: the same wheel gives byte-identical safetensors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PINNED = ["tensorflow-cpu==2.15.1", "numpy==1.26.4", "librosa==0.10.2.post1", "safetensors==0.4.5"]
WHEEL = "musicnn==0.1.0"
MODEL = "MSD_musicnn"
#: The wheel's musicnn checkpoints with this architecture -> the name of their tag list in
#: ``musicnn.configuration``.  MusicSim ships MSD_musicnn; ``--checkpoint MTT_musicnn`` converts the
#: MagnaTagATune one for experiments (docs/QUALITY.md, "musicnn and the statistics").
CHECKPOINTS = {"MSD_musicnn": "MSD_LABELS", "MTT_musicnn": "MTT_LABELS"}
#: Real clips for the parity fixture: (demo file, offset in s).  Three games, three styles.
CLIPS = [
    ("Nexuiz/Nexuiz CD Tracks/01 - Brainsukker.ogg", 5.0),
    ("0 A.D/0 A.D. Soundtrack/03 - Highland Mist.ogg", 8.0),
    ("FreedroidRPG/FreedroidRPG Soundtrack/05 - Temple.ogg", 3.0),
]
PATCHES_PER_CLIP = 1


def _tf_to_torch_names() -> list[tuple[str, str]]:
    """``(TensorFlow variable, PyTorch key)`` in the order ``musicnn.models.build_musicnn``
    creates its variables (each layer's kernel/bias, each batch norm's four tensors)."""

    def bn(tf_name: str, torch_name: str) -> list[tuple[str, str]]:
        return [
            (f"{tf_name}/gamma", f"{torch_name}.weight"),
            (f"{tf_name}/beta", f"{torch_name}.bias"),
            (f"{tf_name}/moving_mean", f"{torch_name}.running_mean"),
            (f"{tf_name}/moving_variance", f"{torch_name}.running_var"),
        ]

    def layer(tf_name: str, torch_name: str) -> list[tuple[str, str]]:
        return [(f"{tf_name}/kernel", f"{torch_name}.weight"), (f"{tf_name}/bias", f"{torch_name}.bias")]

    names = bn("batch_normalization", "input_bn")
    torch_convs = [
        "timbral.0",
        "timbral.1",
        "temporal.0",
        "temporal.1",
        "temporal.2",
        "midend.0",
        "midend.1",
        "midend.2",
    ]
    torch_bns = [
        "timbral_bn.0",
        "timbral_bn.1",
        "temporal_bn.0",
        "temporal_bn.1",
        "temporal_bn.2",
        "midend_bn.0",
        "midend_bn.1",
        "midend_bn.2",
    ]
    for k, (conv, norm) in enumerate(zip(torch_convs, torch_bns, strict=True)):
        names += layer("conv2d" if k == 0 else f"conv2d_{k}", conv) + bn(f"batch_normalization_{k + 1}", norm)
    names += bn("batch_normalization_9", "pool_bn") + layer("dense", "dense")
    names += bn("batch_normalization_10", "dense_bn") + layer("dense_1", "logits")
    return names


def _to_torch_layout(torch_key: str, value):
    """TensorFlow stores conv kernels (kh, kw, in, out) and dense kernels (in, out)."""
    import numpy as np

    if torch_key.endswith(".weight") and value.ndim == 4:
        value = value.transpose(3, 2, 0, 1)  # (out, in, kh, kw)
        if torch_key.startswith("midend."):  # a (7, C) kernel over the whole channel axis: a 1-D conv
            out, _, kh, width = value.shape
            value = value[:, 0].transpose(0, 2, 1).reshape(out, width, kh)
    elif torch_key.endswith(".weight") and value.ndim == 2:
        value = value.T
    return np.ascontiguousarray(value, dtype=np.float32)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inside(out: Path, fixture: Path, model: str = MODEL) -> None:
    """Runs in the TensorFlow virtualenv."""
    import librosa
    import musicnn
    import numpy as np
    import tensorflow as tf
    from musicnn import configuration as mcfg
    from musicnn import models
    from safetensors.numpy import save_file

    tf.compat.v1.disable_eager_execution()
    labels = getattr(mcfg, CHECKPOINTS[model])
    package = Path(musicnn.__file__).parent
    ckpt = package / model
    n_frames = librosa.time_to_frames(3, sr=mcfg.SR, n_fft=mcfg.FFT_SIZE, hop_length=mcfg.FFT_HOP) + 1
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, mcfg.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, _t, _tp, _c1, _c2, _c3, mean_pool, max_pool, penultimate = models.define_model(
            x, is_training, model, len(labels)
        )
        taggram = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(sess, str(ckpt) + "/")  # musicnn's own way of loading it

    variables = {v.name.split(":")[0]: v for v in tf.compat.v1.global_variables()}
    names = _tf_to_torch_names()
    if sorted(variables) != sorted(tf_name for tf_name, _ in names):
        raise SystemExit(f"unexpected variables in {model}: {sorted(variables)}")
    values = sess.run([variables[tf_name] for tf_name, _ in names])
    tensors = {
        torch_key: _to_torch_layout(torch_key, v) for (_, torch_key), v in zip(names, values, strict=True)
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / f"{model}.safetensors"), metadata={"source": f"{WHEEL} {model}"})
    dist = next(package.parent.glob("musicnn-0.1.0.dist-info"))
    shutil.copyfile(dist / "LICENSE.md", out / "LICENSE.md")
    record = {
        "source": f"pip wheel {WHEEL} (https://github.com/jordipons/musicnn), checkpoint '{model}'",
        "authors": "Jordi Pons and Xavier Serra, Music Technology Group, Universitat Pompeu Fabra",
        "licence": "ISC (LICENSE.md, copied from the wheel)",
        "paper": "Pons & Serra, musicnn: pre-trained convolutional neural networks for music audio "
        "tagging, ISMIR 2019 late-breaking/demo",
        "checkpoint_sha256": {p.name: _sha256(p) for p in sorted(ckpt.iterdir()) if p.name.startswith(".")},
        "converted_by": "benchmarks/convert_musicnn.py with " + ", ".join(PINNED),
        "input": {
            "sample_rate": mcfg.SR,
            "n_fft": mcfg.FFT_SIZE,
            "hop_length": mcfg.FFT_HOP,
            "n_mels": mcfg.N_MELS,
            "patch_frames": int(n_frames),
            "compression": "log10(1 + 10000 * mel)",
            "mel": "librosa defaults (Slaney scale and norm, "
            "fmin 0, fmax sr/2, power 2, hann window, centred frames)",
        },
        "tags": list(labels),
        "variables": {torch_key: tf_name for tf_name, torch_key in names},
        "weights_sha256": _sha256(out / f"{model}.safetensors"),
    }
    (out / "config.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    clips, patches = [], []
    demo = REPO / "resources" / "demo"
    for rel, offset in CLIPS:
        # musicnn's extractor.batch_data, on a clip of the file: librosa at 16 kHz, its mel, the
        # float16 cast, log10(1 + 10000 mel), patches of 187 frames.
        audio, sr = librosa.load(
            str(demo / rel),
            sr=mcfg.SR,
            offset=offset,
            duration=(PATCHES_PER_CLIP * n_frames + 1) * mcfg.FFT_HOP / mcfg.SR,
        )
        clips.append(audio.astype(np.float32))
        batch, _spec = _batch_from_audio(audio, sr, n_frames, librosa, mcfg)
        patches.append(batch[:PATCHES_PER_CLIP])
    patches_arr = np.concatenate(patches).astype(np.float32)
    outputs = sess.run(
        [taggram, max_pool, mean_pool, penultimate], feed_dict={x: patches_arr, is_training: False}
    )
    mel_power = np.stack(
        [
            librosa.feature.melspectrogram(
                y=c,
                sr=mcfg.SR,
                hop_length=mcfg.FFT_HOP,
                n_fft=mcfg.FFT_SIZE,
                n_mels=mcfg.N_MELS,
                pad_mode="reflect",
            ).T
            for c in clips
        ]
    )
    fixture.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        fixture,
        clips=np.stack(clips),
        mel_power=mel_power.astype(np.float32),
        patches=patches_arr,
        taggram=outputs[0],
        max_pool=outputs[1],
        mean_pool=outputs[2],
        penultimate=outputs[3],
        clip_names=np.array([rel for rel, _ in CLIPS]),
        clip_offsets=np.array([o for _, o in CLIPS]),
        tags=np.array(labels),
    )
    print(
        f"wrote {out / (model + '.safetensors')} ({len(tensors)} tensors, "
        f"{sum(t.size for t in tensors.values()):,} values) and {fixture}"
    )


def _batch_from_audio(audio, sr, n_frames, librosa, mcfg):
    """``musicnn.extractor.batch_data`` after its ``librosa.load`` (which takes a path)."""
    import numpy as np

    rep = librosa.feature.melspectrogram(
        y=audio, sr=sr, hop_length=mcfg.FFT_HOP, n_fft=mcfg.FFT_SIZE, n_mels=mcfg.N_MELS
    ).T
    rep = np.log10(10000 * rep.astype(np.float16) + 1)
    starts = range(0, rep.shape[0] - n_frames + 1, n_frames)
    return np.stack([rep[s : s + n_frames] for s in starts]), rep


def outside(venv: Path, out: Path, fixture: Path, model: str = MODEL) -> None:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINNED], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", WHEEL], check=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    subprocess.run(
        [
            str(python),
            __file__,
            "--inside",
            "--out",
            str(out),
            "--fixture",
            str(fixture),
            "--checkpoint",
            model,
        ],
        check=True,
        env=env,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "musicsim-musicnn-tf")
    ap.add_argument("--out", type=Path, default=REPO / "resources" / "pretrained" / "musicnn")
    ap.add_argument("--fixture", type=Path, default=REPO / "tests" / "data" / "musicnn_parity.npz")
    ap.add_argument(
        "--checkpoint", choices=sorted(CHECKPOINTS), default=MODEL, help="which of the wheel's networks"
    )
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        inside(args.out.resolve(), args.fixture.resolve(), args.checkpoint)
    else:
        outside(args.venv, args.out.resolve(), args.fixture.resolve(), args.checkpoint)


if __name__ == "__main__":
    main()
