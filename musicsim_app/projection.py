"""2-D projections of an embedding matrix for the map (runs on a worker thread)."""

from __future__ import annotations

import importlib.util

import numpy as np

from trainer.jobs import check_stop, report


def available_methods() -> list[str]:
    methods = ["PCA", "t-SNE"]
    if importlib.util.find_spec("umap") is not None:
        methods.append("UMAP")
    return methods


def project(
    X: np.ndarray, method: str = "PCA", *, seed: int = 0, progress=None, should_stop=None
) -> np.ndarray:
    """``(n, d)`` -> ``(n, 2)`` float32.  Degenerate inputs (n < 3) get a simple layout."""
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if n < 3 or X.shape[1] < 2:
        return np.column_stack([np.arange(n), np.zeros(n)]).astype(np.float32)
    report(progress, 0, 1, f"{method} of {n} songs…")
    check_stop(should_stop)
    if method == "PCA":
        from sklearn.decomposition import PCA

        out = PCA(n_components=2, random_state=seed).fit_transform(X)
    elif method == "t-SNE":
        from sklearn.manifold import TSNE

        out = TSNE(
            n_components=2, perplexity=float(min(30, max(2, (n - 1) // 3))), init="pca", random_state=seed
        ).fit_transform(X)
    elif method == "UMAP":
        import umap

        out = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed).fit_transform(X)
    else:
        from trainer.errors import ParameterError

        raise ParameterError(
            f"unknown projection '{method}'; choose one of: {', '.join(available_methods())}"
        )
    check_stop(should_stop)
    report(progress, 1, 1, "done")
    return np.ascontiguousarray(out, dtype=np.float32)
