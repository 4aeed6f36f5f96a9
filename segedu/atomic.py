"""Write a file so that a crash never leaves half of it behind: write a temporary file next to
it, flush it to disk, then rename it over the target (a rename is atomic on one filesystem)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomically(path, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then move it to ``path``.

    The folder is created if needed. The final file gets the permissions that a plain ``open``
    would give it (``tempfile`` makes files readable by their owner only). If ``write`` raises,
    ``path`` is left as it was and the temporary file is removed. Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read the umask is to set it, so put it straight back
    os.umask(mask)
    return mask
