"""The plumbing of :mod:`segedu.files`: plain JSON values, atomic writes, locks, and errors that say why.

* :func:`plain` turns a value into plain JSON types before it is written.
* :func:`write_atomically` writes to a temporary file next to the target, then renames it over the
  target: a crash or a full disk never leaves half a file, and the old file stays whole. A writer
  that was killed leaves its temporary behind; the next writer removes it
  (:func:`remove_stale_temporaries`: the writer's process id is in the temporary's name).
* :func:`locked` serialises read-modify-write cycles between processes (a ``.lock`` file beside the target).
* :func:`make_folder` creates a folder, and every write here turns the operating system's errors
  (a read-only or full disk, no permission, a path that cannot hold a folder) into a
  :class:`WriteError` that names the path, the reason and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

import torch

from segedu import config

try:
    import fcntl  # optional: POSIX only; on Windows the lock is skipped
except ImportError:
    fcntl = None


# -- plain JSON values ----------------------------------------------------------------------------------


def plain(value, where: str = "value", tensors: bool = False):
    """``value`` as plain JSON types: dicts with str keys, lists, str, int, float, bool, None.

    Tuples become lists, NaN and infinities become None, numpy and torch scalars become numbers,
    and (unless ``tensors``, where tensors are kept as they are for ``torch.save``) tensors and
    arrays become nested lists. Anything else is a ``TypeError`` that names ``where`` it is.
    """
    if value is None or (tensors and isinstance(value, torch.Tensor)):
        return value
    if isinstance(value, bool):
        return bool(value)
    if hasattr(value, "tolist") and callable(value.tolist) and not isinstance(value, (str, int, float)):
        return plain(value.tolist(), where, tensors)
    for kind in (str, int):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, (list, tuple)):
        return [plain(item, f"{where}[{index}]", tensors) for index, item in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{where} keys must be strings, got {key!r}")
        return {key: plain(item, f"{where}[{key!r}]", tensors) for key, item in value.items()}
    raise TypeError(f"{where} is a {type(value).__name__}, which cannot be stored; use plain numbers, strings, "
                    f"lists or dicts (convert it, e.g. with str(value)).")


# -- errors that say why a path cannot be written -----------------------------------------------------------


class WriteError(OSError):
    """A file or folder could not be written. The message names the path, the reason in plain words and what
    to do; ``errno`` is the operating system's error number."""


_REASONS = {
    errno.EROFS: "the file system there is read-only",
    errno.EACCES: "you have no permission to write there",
    errno.EPERM: "you have no permission to write there",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "your disk quota is used up",
    errno.ENOENT: "a folder on that path does not exist and cannot be created there",
    errno.ENOTDIR: "a part of that path is a file, not a folder",
    errno.EEXIST: "a part of that path is a file, not a folder",
}


def explain_write_error(error: OSError, path: Path, action: str) -> OSError:
    """A :class:`WriteError` saying that ``action`` (e.g. "write") on ``path`` failed, why and what to do,
    for the errors of a folder that cannot be written; ``error`` itself for any other error."""
    reason = _REASONS.get(error.errno)
    if reason is None:
        return error
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "Free some space (old checkpoints in results/checkpoints/ can go), or write somewhere else"
    else:
        fix = "Write into a folder you can write to"
    where, results = Path(os.path.abspath(path)), Path(os.path.abspath(config.results_dir()))
    if where == results or results in where.parents:
        fix += (f"; the course writes its results into {results}: set the environment variable "
                f"{config.RESULTS_ENV} to another folder, e.g. {config.RESULTS_ENV}=~/segedu-results")
    explained = WriteError(f"Could not {action} {path}: {reason} ({os.strerror(error.errno)}). {fix}.")
    explained.errno = error.errno
    return explained


def make_folder(folder) -> Path:
    """Create ``folder`` and its parents if needed; return it as a ``Path``.

    A path that cannot hold a folder (a file on the way, a read-only disk, ``/proc``) raises a
    :class:`WriteError` that says so.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise explain_write_error(error, folder, "create the folder") from None
    return folder


# -- writing without losing anything ------------------------------------------------------------------


def write_atomically(path, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then rename it to ``path``.

    The folder is created if needed; leftovers of earlier writers of ``path`` that were killed
    are removed first. If ``write`` raises, ``path`` is left as it was and no temporary file
    stays behind. A folder that cannot be written raises a :class:`WriteError`. Returns ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name inside it, e.g. {path / 'model.pt'}")
    make_folder(path.parent)
    remove_stale_temporaries(path)
    temporary = _temporary_name(path)
    try:
        with open(temporary, "xb" if binary else "x", **({} if binary else {"encoding": "utf-8"})) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        _discard(temporary)
        raise explain_write_error(error, path, "write") from None
    except BaseException:
        _discard(temporary)
        raise
    return path


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock tied to ``path`` (a ``.lock`` file beside it) while the block runs.

    Two processes that update the same file inside ``locked`` take turns, so neither overwrites
    what the other just added. Without ``fcntl`` (Windows) the block runs unlocked.
    """
    path = Path(path)
    lock = path.with_name(path.name + ".lock")
    make_folder(path.parent)
    try:
        handle = open(lock, "a")
    except OSError as error:
        raise explain_write_error(error, lock, "create the lock file") from None
    with handle:
        if fcntl is None:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temporaries(path) -> list[Path]:
    """Delete the temporary files that a killed writer of ``path`` left behind; return them.

    Best effort: a leftover that cannot be deleted (a read-only folder) stays, and is not returned.
    """
    path = Path(path)
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        if _writer_is_gone(candidate) and _discard(candidate):
            removed.append(candidate)
    return removed


def _temporary_name(path: Path) -> Path:
    # The writer's process id is in the name, so that a later save can tell a dead writer's leftovers.
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")


def _writer_is_gone(temporary: Path) -> bool:
    try:
        pid = int(temporary.name.split(".")[-3])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _discard(temporary: Path) -> bool:
    """Delete ``temporary`` if it exists; False when it cannot be (the write's own error is the one to report)."""
    try:
        temporary.unlink(missing_ok=True)
    except OSError:
        return False
    return True
