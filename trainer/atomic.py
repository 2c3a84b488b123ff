"""Write a file so that a reader sees the old one or the new one, never half of either."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, suffix: str = ".tmp", mode: int | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on success it replaces ``path`` (with
    permissions ``mode`` when given), on any error it is removed and the error goes on.

    ``suffix`` ends the temporary name, for writers that insist on an extension (``np.savez``
    adds ``.npz`` to any other name).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{suffix}")
    try:
        yield tmp
        if mode is not None:
            tmp.chmod(mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
