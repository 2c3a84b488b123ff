"""A training run's checkpoint: weights, Adam moments and the run's state (epoch, history, the
settings it must be resumed with) in one safetensors file, written atomically every epoch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .atomic import atomic_path
from .errors import ModelError

CHECKPOINT = "checkpoint.safetensors"


def save_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Write weights, optimiser state and the run's ``state`` (JSON) to ``path`` atomically."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    osd = opt.state_dict()
    for idx, st in osd["state"].items():
        for k, v in st.items():
            tensors[f"optim.{idx}.{k}"] = (
                (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
            )
    meta = {"state": json.dumps(state), "param_groups": json.dumps(osd["param_groups"])}
    try:
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
    except (OSError, SafetensorError) as exc:  # safetensors reports a full disk as SafetensorError
        why = getattr(exc, "strerror", None) or exc
        raise ModelError(f"cannot write checkpoint '{path}': {why}") from exc


def load_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, identity: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load weights and optimiser state; return the run state.  A checkpoint whose identity
    differs from ``identity`` is returned without loading (its weights may not even fit)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
        saved = json.loads(meta["state"])
        groups = json.loads(meta["param_groups"])
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise ModelError(f"checkpoint '{path}' is unreadable ({exc}); use --restart") from exc
    if identity is not None and saved.get("identity") != identity:
        return saved
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ModelError(f"checkpoint '{path}' does not fit this model; use --restart") from exc
    return saved
