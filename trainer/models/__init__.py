"""Embedding models: the thesis's nets, ours, and the classic no-training baseline.

Importing this package registers every model; see :mod:`trainer.models.registry`.
"""

from trainer.models import classic, musicnn_heads, ours, stats, thesis  # noqa: F401  (registration side effects)
from trainer.models.registry import (
    ModelSpec,
    build_model,
    count_parameters,
    get_spec,
    list_models,
    model_names,
    register,
)

__all__ = [
    "ModelSpec",
    "build_model",
    "count_parameters",
    "get_spec",
    "list_models",
    "model_names",
    "register",
]
