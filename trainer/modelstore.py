"""Trained models on disk: a folder with ``weights.safetensors`` and ``config.json``.

(Longer than most modules: listing, checking, loading and saving a model folder share the checks
a stranger's folder must pass, kept in one place.)

Loading reads JSON and raw tensors only, so a model from a stranger cannot execute code (no
pickle anywhere).  The config names the architecture and the exact ``FeatureConfig``; a model is
refused with a reason when its architecture is unknown or its weights do not fit it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError

from . import __version__, bounds
from .config import FeatureConfig
from .errors import ModelError, ParameterError
from .paths import default_model_dir, models_dir, shipped_model_dirs
from .safetext import shown

if TYPE_CHECKING:  # torch is imported where a model is built, saved or loaded: listing models stays fast
    import torch

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1
CLASSIC = "classic"
DEFAULT = "default"
RESERVED_NAMES = frozenset({CLASSIC, DEFAULT})
#: A config.json larger than this is not read (a real one is a few kB).
MAX_CONFIG_BYTES = 1 << 20
#: Weights larger than this are refused before they are read (a ResNet-50 is ~100 MB).
MAX_WEIGHTS_BYTES = 2 << 30
MAX_NAME_CHARS = 100


@dataclass
class ModelInfo:
    """Everything ``config.json`` records: enough to rebuild the model and reproduce embeddings."""

    name: str
    arch: str
    embedding_dim: int
    features: FeatureConfig = field(default_factory=FeatureConfig)
    loss: str | None = None
    epochs: int = 0
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    weights_sha256: str = ""
    musicsim_version: str = __version__
    format_version: int = FORMAT_VERSION

    @property
    def key(self) -> str:
        """Identifies this model's embeddings in the library index: its name, its weights and —
        when they differ from the standard ``FeatureConfig`` — its feature settings, so that the
        same weights embedding longer or more excerpts get their own embeddings instead of being
        mixed with (or refused by) the ones already indexed.  Standard features add nothing, so
        the keys of models with standard features stay what they were before features counted."""
        key = f"{self.name}@{self.weights_sha256[:12] or 'noweights'}"
        features = self.features.identity_dict()
        if features != FeatureConfig().identity_dict():
            key += "+" + hashlib.sha256(json.dumps(features, sort_keys=True).encode()).hexdigest()[:8]
        return key

    def to_json(self) -> str:
        data = asdict(self)
        data["features"] = self.features.to_dict()
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config.json") -> ModelInfo:
        """Every field typed and bounded (``trainer.bounds``) before anything is built from it."""
        if not isinstance(data, dict):
            raise ModelError(f"{where}: expected a JSON object")
        missing = [k for k in ("name", "arch", "embedding_dim") if k not in data]
        if missing:
            raise ModelError(f"{where}: missing field(s) {', '.join(missing)}")
        try:
            version = int(bounds.number(data.get("format_version", 1), int, 1, 2**31, "format_version"))
        except ValueError as exc:
            raise ModelError(f"{where}: malformed field ({exc})") from exc
        if version > FORMAT_VERSION:
            raise ModelError(f"{where}: written by a newer MusicSim (format {version})")
        try:
            training = _object_or_empty(data.get("training"), "training")
            if "crop_seconds" in training:
                bounds.number(training["crop_seconds"], float, 0.1, 120.0, "training.crop_seconds")
            sha = bounds.text(data.get("weights_sha256", ""), "weights_sha256", max_chars=64, empty=True)
            if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
                raise ValueError("weights_sha256 must be 64 lower-case hex digits")
            loss = data.get("loss")
            return cls(
                name=bounds.text(data["name"], "name", max_chars=MAX_NAME_CHARS),
                arch=bounds.text(data["arch"], "arch", max_chars=MAX_NAME_CHARS),
                embedding_dim=bounds.embedding_dim(data["embedding_dim"]),
                features=bounds.check_features({} if data.get("features") is None else data["features"]),
                loss=None if loss is None else bounds.text(loss, "loss", max_chars=MAX_NAME_CHARS),
                epochs=int(bounds.number(data.get("epochs", 0), int, 0, 10**7, "epochs")),
                training=training,
                metrics=_object_or_empty(data.get("metrics"), "metrics"),
                created=bounds.text(data.get("created", ""), "created", max_chars=100, empty=True),
                weights_sha256=sha,
                musicsim_version=bounds.text(
                    data.get("musicsim_version", ""), "musicsim_version", max_chars=100, empty=True
                ),
                format_version=version,
            )
        except ValueError as exc:
            raise ModelError(f"{where}: malformed field ({exc})") from exc


def _object_or_empty(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object, found {type(value).__name__}")
    return value


@dataclass
class LoadedModel:
    model: torch.nn.Module
    info: ModelInfo
    path: Path | None


@dataclass(frozen=True)
class ModelRef:
    name: str
    path: Path | None
    info: ModelInfo


class LazyModel:
    """A model known by its ``config.json`` whose weights — and torch — load on first use.

    Indexing a folder whose songs are all embedded already, or shipped with precomputed
    embeddings, needs only the model's key and feature settings; the app's first window uses
    this so that it does not wait for torch to import.
    """

    def __init__(self, ref: ModelRef) -> None:
        self.ref = ref
        self.info = ref.info
        self._loaded: LoadedModel | None = None

    def get(self) -> LoadedModel:
        if self._loaded is None:
            ref = self.ref
            loaded = load_model_folder(ref.path) if ref.path is not None else load_model(ref.name)
            if loaded.info.key != self.info.key:
                raise ModelError(
                    f"model '{ref.name}' changed on disk while in use "
                    f"({self.info.key} → {loaded.info.key}); pick it again"
                )
            self._loaded = loaded
        return self._loaded


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (models and shipped embeddings are verified by it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: (real path, size, mtime, ctime, inode) -> SHA-256 of weights hashed by this process.
_VERIFIED: dict[tuple[str, int, int, int, int], str] = {}


def _stat_key(path: Path) -> tuple[str, int, int, int, int]:
    st = os.stat(path)
    return os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def weights_sha256(path: Path) -> str:
    """SHA-256 of a weights file, computed once per process and file version (size, mtime, ctime
    and inode: any rewrite changes the ctime, which no user can set back)."""
    key = _stat_key(path)
    if key[1] > MAX_WEIGHTS_BYTES:
        raise ModelError(f"'{path}' is larger than {MAX_WEIGHTS_BYTES >> 30} GiB")
    digest = _VERIFIED.get(key)
    if digest is None:
        digest = _VERIFIED[key] = sha256_file(path)
    return digest


def validate_name(name: str) -> str:
    if (
        not name
        or name in reserved_names()
        or name.startswith(".")
        or any(c in name for c in "/\\:\0")
        or len(name) > MAX_NAME_CHARS
        or not name.isprintable()
    ):
        raise ParameterError(
            f"invalid model name '{shown(name, 60)}': use letters, digits, '-', '_' (at most "
            f"{MAX_NAME_CHARS}; not 'classic' or a built-in model's name: {', '.join(shipped_model_dirs())})"
        )
    return name


def reserved_names() -> frozenset[str]:
    """Names a trained model cannot take: the classic baseline and every shipped model."""
    return RESERVED_NAMES | frozenset(shipped_model_dirs())


def save_model(folder: Path, model: torch.nn.Module, info: ModelInfo) -> Path:
    """Write the model folder atomically: a crash or full disk never leaves a half-written model."""
    from safetensors.torch import save_file

    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is ordinary readable data
    except OSError as exc:
        raise ModelError(f"cannot write model to '{folder.parent}': {exc.strerror or exc}") from exc
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILE))
        (tmp / WEIGHTS_FILE).chmod(0o644)
        info.weights_sha256 = sha256_file(tmp / WEIGHTS_FILE)
        info.created = info.created or now_iso()
        (tmp / CONFIG_FILE).write_text(info.to_json(), encoding="utf-8")
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        try:
            os.replace(tmp, folder)
        except OSError:
            if old is not None:
                os.replace(old, folder)  # put the previous model back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except (OSError, SafetensorError) as exc:  # safetensors reports a full disk as SafetensorError
        shutil.rmtree(tmp, ignore_errors=True)
        why = getattr(exc, "strerror", None) or exc
        raise ModelError(f"cannot write model to '{folder}': {why}") from exc
    return folder


def classic_info(features: FeatureConfig | None = None) -> ModelInfo:
    """The classic baseline's identity; its key hashes the feature settings (it has no weights)."""
    from .classic_names import N_FEATURES

    cfg = features or FeatureConfig()
    return ModelInfo(
        name=CLASSIC,
        arch=CLASSIC,
        embedding_dim=N_FEATURES,
        features=cfg,
        weights_sha256=hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest(),
    )


def classic_model(features: FeatureConfig | None = None) -> LoadedModel:
    from .models import build_model

    info = classic_info(features)
    return LoadedModel(build_model(CLASSIC, info.features).eval(), info, None)


def read_info(folder: Path) -> ModelInfo:
    """The model's ``config.json``, checked, with ``weights_sha256`` the hash of the weights that
    are really there: a config naming other weights than its folder holds is refused, so a model's
    embeddings are always keyed by what was verified (an impostor cannot borrow another's key)."""
    cfg_path = Path(folder) / CONFIG_FILE
    try:
        with open(cfg_path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError as exc:
        raise ModelError(f"'{shown(folder)}' is not a model folder (no {CONFIG_FILE})") from exc
    except OSError as exc:
        raise ModelError(f"cannot read {shown(cfg_path)}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelError(f"{shown(cfg_path)}: larger than {MAX_CONFIG_BYTES >> 20} MB, not a model config")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelError(f"{shown(cfg_path)}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{shown(cfg_path)}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError as exc:
        raise ModelError(f"{shown(cfg_path)}: JSON nested too deeply") from exc
    info = ModelInfo.from_dict(data, where=shown(cfg_path))
    weights = Path(folder) / WEIGHTS_FILE
    if weights.is_file():
        try:
            actual = weights_sha256(weights)
        except OSError as exc:
            raise ModelError(
                f"model '{shown(info.name)}': cannot read {WEIGHTS_FILE} ({exc.strerror or exc})"
            ) from exc
        if info.weights_sha256 and info.weights_sha256 != actual:
            raise ModelError(
                f"model '{shown(info.name)}': {WEIGHTS_FILE} is not the file its {CONFIG_FILE} "
                f"names (SHA-256 {actual[:12]}…, config says {info.weights_sha256[:12]}…): "
                "the weights were replaced or edited"
            )
        # the key must be the same whether the model is listed (here) or loaded (load_model_folder)
        info.weights_sha256 = actual
    return info


def load_model_folder(folder: Path) -> LoadedModel:
    from safetensors.torch import load as load_bytes

    from .models import build_model, get_spec

    folder = Path(folder)
    info = read_info(folder)
    try:
        spec = get_spec(info.arch)
    except ParameterError as exc:
        raise ModelError(
            f"model '{shown(info.name)}' names an unknown architecture '{shown(info.arch)}'"
        ) from exc
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(f"model '{shown(info.name)}' has no {WEIGHTS_FILE}")
    try:
        data = weights.read_bytes()  # the bytes hashed are the bytes loaded: no swap in between
    except OSError as exc:
        raise ModelError(
            f"model '{shown(info.name)}': cannot read {WEIGHTS_FILE} ({exc.strerror or exc})"
        ) from exc
    if hashlib.sha256(data).hexdigest() != info.weights_sha256:
        raise ModelError(f"model '{shown(info.name)}': {WEIGHTS_FILE} changed while it was loaded; try again")
    try:
        state = load_bytes(data)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(
            f"model '{shown(info.name)}': {WEIGHTS_FILE} is not a valid safetensors file ({shown(exc, 200)})"
        ) from exc
    del data
    model = build_model(spec.name, info.features, embedding_dim=info.embedding_dim)
    width = int(getattr(model, "embedding_dim", info.embedding_dim))
    if width != info.embedding_dim:
        raise ModelError(
            f"model '{shown(info.name)}': {CONFIG_FILE} says embedding_dim {info.embedding_dim} "
            f"but architecture '{info.arch}' gives {width}"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:3]
        raise ModelError(
            f"model '{shown(info.name)}': weights do not match architecture '{info.arch}' "
            f"({' '.join(s.strip() for s in first)[:300]})"
        ) from exc
    return LoadedModel(model.eval(), info, folder)


def _user_model_folder(name: str, home: Path | None) -> Path | None:
    if home is None:
        return None
    candidate = models_dir(home) / name
    return candidate if (candidate / CONFIG_FILE).is_file() else None


def load_model(ref: str | os.PathLike[str], home: Path | None = None) -> LoadedModel:
    """Load by name (``classic``, ``default``, a trained model in ``home``) or by folder path."""
    text = os.fspath(ref)
    if text == CLASSIC:
        return classic_model()
    if text == DEFAULT and not (default_model_dir() / CONFIG_FILE).is_file():
        raise ModelError("the default model is missing from resources/models/default")
    shipped = shipped_model_dirs()
    if text in shipped:
        return load_model_folder(shipped[text])
    user = _user_model_folder(text, home)
    if user is not None:
        return load_model_folder(user)
    path = Path(text).expanduser()
    if path.is_dir():
        return load_model_folder(path)
    names = ", ".join(r.name for r in available_models(home))
    raise ParameterError(f"unknown model '{text}'; available: {names}")


def available_models(home: Path | None = None) -> list[ModelRef]:
    """Every model the user can pick: the shipped default, the classic baseline, trained ones.
    Folders that cannot be used are left out; :func:`unusable_models` says why."""
    return _scan_models(home)[0]


def unusable_models(home: Path | None = None) -> list[tuple[str, str]]:
    """``(folder name, reason)`` of every model folder in ``home`` (and the shipped default) that
    cannot be used: a malformed or oversized config, settings out of bounds, replaced weights."""
    return _scan_models(home)[1]


def _scan_models(home: Path | None) -> tuple[list[ModelRef], list[tuple[str, str]]]:
    refs: list[ModelRef] = []
    bad: list[tuple[str, str]] = []
    shipped = shipped_model_dirs()
    for name, folder in shipped.items():
        try:
            refs.append(ModelRef(name, folder, read_info(folder)))
        except ModelError as exc:
            bad.append((name, str(exc)))
        if name == DEFAULT:
            refs.append(ModelRef(CLASSIC, None, classic_info()))
    if DEFAULT not in shipped:
        refs.append(ModelRef(CLASSIC, None, classic_info()))
    if home is not None and models_dir(home).is_dir():
        for folder in sorted(models_dir(home).iterdir()):
            if folder.name.startswith(".") or not (folder / CONFIG_FILE).is_file():
                continue
            name = os.fsdecode(folder.name)
            if name in RESERVED_NAMES or name in shipped:
                bad.append((name, f"'{name}' is reserved for the built-in model"))
                continue
            try:
                info = read_info(folder)
                if not (folder / WEIGHTS_FILE).is_file():
                    raise ModelError(f"model '{shown(info.name)}' has no {WEIGHTS_FILE}")
                refs.append(ModelRef(name, folder, info))
            except ModelError as exc:
                bad.append((name, str(exc)))
            except OSError as exc:
                bad.append((name, f"cannot read '{shown(folder)}': {exc.strerror or exc}"))
    return refs, bad
