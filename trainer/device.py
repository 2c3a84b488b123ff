"""Pick the compute device once and pass it explicitly everywhere else."""

from __future__ import annotations

import torch

from .config import DEVICE_CHOICES
from .errors import ParameterError

__all__ = ["DEVICE_CHOICES", "resolve_device", "describe_device", "mps_available"]


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` prefers CUDA, then Apple-Silicon MPS, then the CPU; an explicit choice must exist."""
    name = (name or "auto").lower()
    if name not in DEVICE_CHOICES:
        raise ParameterError(f"unknown device '{name}'; choose one of: {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device 'cuda' was asked for but no CUDA GPU is available here")
    if name == "mps" and not mps_available():
        raise ParameterError("device 'mps' was asked for but Apple-Silicon MPS is not available here")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "MPS (Apple Silicon)"
    return f"CPU ({torch.get_num_threads()} threads)"
