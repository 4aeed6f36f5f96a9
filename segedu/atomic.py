"""Write a file so that a crash never leaves half of it behind: write a temporary file next to
it, flush it to disk, then rename it over the target (a rename is atomic on one filesystem)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomically(path, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then move it to ``path``.

    The folder is created if needed. The temporary file is opened like any new file (``"x"``
    mode), so the result gets the usual permissions (``tempfile.mkstemp`` would make it readable
    by its owner only). If ``write`` raises, ``path`` is left as it was and the temporary file is
    removed. Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # unique: no clash between processes
    try:
        with open(temporary, "xb" if binary else "x", **({} if binary else {"encoding": "utf-8"})) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
