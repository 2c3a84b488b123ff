"""Model registry (timm-style): ``@register`` fills one dict; everything else reads it.

The CLI's ``choices=``, the GUI's combo boxes and the parametrized tests are all built from
:func:`list_models`, so adding a model is one decorated constructor.

A constructor has the signature ``(cfg: FeatureConfig, embedding_dim: int = 128) -> nn.Module``.
Every model takes log-mel excerpts ``(B, 1, n_mels, n_frames)`` float32 and returns ``(B, D)``
float32, and exposes ``model.embedding_dim == D``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

from trainer.config import FeatureConfig
from trainer.errors import ParameterError

Family = Literal["thesis-triplet", "thesis-contrastive", "pretrained", "ours", "classic"]
Constructor = Callable[..., nn.Module]

FAMILIES: tuple[str, ...] = ("thesis-triplet", "thesis-contrastive", "pretrained", "ours", "classic")


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one model besides its constructor.

    ``thesis_params`` is the parameter count the thesis reports (``None`` for models that are
    not in the thesis); ``default_batch_size`` is the thesis's training batch size where it
    gives one; ``trainable`` is False for the parameter-free ``classic`` baseline.
    """

    name: str
    family: Family
    description: str
    thesis_params: float | None = None
    default_batch_size: int = 32
    trainable: bool = True
    default_loss: str = "triplet"
    features: FeatureConfig | None = None


_SPECS: dict[str, ModelSpec] = {}
_CONSTRUCTORS: dict[str, Constructor] = {}


def register(
    name: str,
    *,
    family: Family,
    description: str,
    thesis_params: float | None = None,
    default_batch_size: int = 32,
    trainable: bool = True,
    default_loss: str = "triplet",
    features: FeatureConfig | None = None,
) -> Callable[[Constructor], Constructor]:
    """Decorator registering ``fn(cfg, embedding_dim=128) -> nn.Module`` under ``name``."""
    if family not in FAMILIES:
        raise ParameterError(f"unknown model family {family!r}; choose one of: {', '.join(FAMILIES)}")

    def decorator(fn: Constructor) -> Constructor:
        if name in _SPECS:
            raise ParameterError(f"model {name!r} is registered twice")
        _SPECS[name] = ModelSpec(
            name=name,
            family=family,
            description=description,
            thesis_params=thesis_params,
            default_batch_size=default_batch_size,
            trainable=trainable,
            default_loss=default_loss,
            features=features,
        )
        _CONSTRUCTORS[name] = fn
        return fn

    return decorator


def list_models() -> list[ModelSpec]:
    """All registered models: thesis (triplet, contrastive), ours, classic; registration order within."""
    return sorted(_SPECS.values(), key=lambda spec: FAMILIES.index(spec.family))


def model_names() -> list[str]:
    """Names of :func:`list_models`, in the same order (for ``choices=`` and combo boxes)."""
    return [spec.name for spec in list_models()]


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; raises :class:`ParameterError` when unknown."""
    try:
        return _SPECS[name]
    except KeyError:
        raise ParameterError(f"unknown model {name!r}; choose one of: {', '.join(model_names())}") from None


def build_model(name: str, cfg: FeatureConfig | None = None, embedding_dim: int = 128) -> nn.Module:
    """A freshly initialised model ``name`` for input shaped by ``cfg``.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_models`).
    cfg : FeatureConfig, optional
        Feature settings; the default ``FeatureConfig()`` when omitted.
    embedding_dim : int
        Output size ``D``; ignored by ``classic``, whose size is fixed (read ``model.embedding_dim``).
    """
    spec = get_spec(name)
    if embedding_dim < 1:
        raise ParameterError(f"embedding_dim must be positive, got {embedding_dim}")
    if cfg is None:
        cfg = spec.features or FeatureConfig()
    model = _CONSTRUCTORS[spec.name](cfg, embedding_dim)
    if not hasattr(model, "embedding_dim"):
        model.embedding_dim = embedding_dim
    return model


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
