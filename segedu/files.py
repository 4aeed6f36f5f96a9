"""Files that are never half-written: model weights and JSON records.

* :func:`save` / :func:`load`: a model's weights and a little metadata (re-exported by
  :mod:`segedu.train`). A checkpoint is a ``torch.save`` file holding one dict::

      {"format": "segedu-checkpoint", "version": 1, "state_dict": {...}, "meta": {...}}

  Reading uses ``torch.load(weights_only=True)``, which cannot run code hidden in a file, and
  a file that is not a segedu checkpoint gets an error that says what it is.
* :func:`read_json`, :func:`write_json` and :func:`append_json`: lists of records, such as the
  leaderboard's; :func:`plain` turns a value into plain JSON types first.
* Every write goes to a temporary file next to the target, which is then renamed over it
  (:func:`write_atomically`): a crash or a full disk never leaves half a file, and the old file
  stays whole. :func:`locked` serialises read-modify-write cycles between processes.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

import torch
from torch import nn

FORMAT = "segedu-checkpoint"
VERSION = 1


# -- writing without losing anything ------------------------------------------------------------------


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


def remove_stale_temporaries(path) -> list[Path]:
    """Delete the temporary files that a killed writer of ``path`` left behind; return them."""
    path = Path(path)
    stale = [candidate for candidate in path.parent.glob(f".{path.name}.*.tmp") if _writer_is_gone(candidate)]
    for candidate in stale:
        candidate.unlink(missing_ok=True)
    return stale


def write_atomically(path, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then rename it to ``path``.

    The folder is created if needed; leftovers of earlier writers of ``path`` that were killed
    are removed first. If ``write`` raises, ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name inside it, e.g. {path / 'model.pt'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    temporary = _temporary_name(path)
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


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock tied to ``path`` (a ``.lock`` file beside it) while the block runs.

    Two processes that update the same file inside ``locked`` take turns, so neither overwrites
    what the other just added. Without ``fcntl`` (Windows) the block runs unlocked.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        try:
            import fcntl
        except ImportError:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- JSON ---------------------------------------------------------------------------------------------


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


def read_json(path, what: str = "file"):
    """The JSON value in ``path``; a clear ``ValueError`` naming the file if it is not valid JSON or UTF-8."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"The {what} {path} is not UTF-8 text ({error}); rename or delete it.") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"The {what} {path} is not valid JSON (line {error.lineno}, column {error.colno}: "
                         f"{error.msg}); rename or delete it.") from error


def write_json(path, value) -> Path:
    """Write ``value`` (made :func:`plain`) to ``path`` as indented JSON, atomically."""
    text = json.dumps(plain(value), indent=1)
    return write_atomically(path, lambda file: file.write(text + "\n"))


def append_json(path, items: list, read: Callable[[Path], list] | None = None) -> list:
    """Append ``items`` to the JSON list in ``path`` (created if missing), under :func:`locked`.

    ``read(path)`` reads and checks the existing list (default :func:`read_json`). Returns the
    whole list as written. Safe when several processes append to the same file at once.
    """
    path = Path(path)
    with locked(path):
        existing = (read or read_json)(path) if path.exists() else []
        if not isinstance(existing, list):
            raise ValueError(f"{path} should hold a JSON list; rename or delete it.")
        combined = [*existing, *plain(list(items))]
        write_json(path, combined)
    return combined


# -- model weights --------------------------------------------------------------------------------------


class CheckpointError(ValueError):
    """The file exists but is not a segedu checkpoint this version can read."""


def save(model: nn.Module | dict, path, meta: dict | None = None) -> Path:
    """Write ``model``'s weights (or a ``state_dict``) and ``meta`` to ``path`` atomically.

    Args:
        model: an ``nn.Module`` or a ``state_dict`` (dict of name -> tensor).
        path: destination file (folders are created). Conventional suffix: ``.pt``.
        meta: anything useful to reload the model (its name, options, scores...): plain
            dicts/lists/str/numbers/bool/None/tensors. ``model_class``, ``torch_version`` and
            ``saved_at`` are added unless present.

    Returns:
        The path written, as a ``Path``.
    """
    if isinstance(model, nn.Module):
        state_dict, model_class = model.state_dict(), type(model).__name__
    elif isinstance(model, dict) and all(isinstance(v, torch.Tensor) for v in model.values()):
        state_dict, model_class = model, None
    else:
        raise TypeError(f"save() needs an nn.Module or a state_dict, got {type(model).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict or None, got {type(meta).__name__}")
    meta = plain(dict(meta or {}), "meta", tensors=True)
    if model_class is not None:
        meta.setdefault("model_class", model_class)
    meta.setdefault("torch_version", str(torch.__version__))
    meta.setdefault("saved_at", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    payload = {"format": FORMAT, "version": VERSION,
               "state_dict": {name: tensor.detach().cpu() for name, tensor in state_dict.items()}, "meta": meta}
    return write_atomically(path, lambda file: torch.save(payload, file), binary=True)


def describe_file(path: Path, error: Exception | None = None) -> str:
    """A short guess of what an unreadable file is, from its first bytes (and torch's error)."""
    size = path.stat().st_size
    if size == 0:
        return "an empty file (0 bytes)"
    with open(path, "rb") as file:
        head = file.read(256)
    if head.startswith(b"PK") and error is not None and "Weights only load failed" in str(error):
        return ("a file written by torch.save that holds Python objects other than tensors and plain "
                "containers (for instance a whole model saved with torch.save(model)), which cannot be loaded "
                "safely with weights_only=True")
    if head.startswith(b"PK"):
        return (f"a zip archive of {size} bytes that torch cannot read: probably a truncated or damaged "
                f"torch file (an interrupted copy or download)")
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file (use numpy.load)"
    if head.startswith(b"\x80"):
        return "a plain Python pickle (not written by torch.save)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"an unknown binary file of {size} bytes starting with {head[:8]!r}"
    first_line = text.strip().splitlines()[0][:60] if text.strip() else ""
    return f"a text file starting with {first_line!r}"


def describe_object(obj) -> str:
    """A short description of a loaded object that is not a segedu checkpoint."""
    if isinstance(obj, torch.Tensor):
        return f"a single tensor of shape {tuple(obj.shape)} (saved with torch.save(tensor))"
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return (f"a bare state_dict with {len(obj)} tensors (saved with torch.save(model.state_dict())); load it "
                f"with model.load_state_dict(torch.load(path, weights_only=True)), or save it again with "
                f"segedu.train.save(model, path) to get a checkpoint")
    if isinstance(obj, dict):
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        return f"a dict with keys {keys}"
    return f"a {type(obj).__name__}"


def _check_map_location(map_location) -> None:
    """A clear error for a device this machine lacks (torch would blame the file instead)."""
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return
    try:
        device = torch.device(map_location)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"map_location={map_location!r} is not a device; use 'cpu', 'cuda' or 'mps'.") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"map_location={map_location!r} asks for CUDA, but this machine has no CUDA device; "
                           f"load with map_location='cpu' (the default) and move the model afterwards.")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError(f"map_location={map_location!r} asks for Apple MPS, which this machine lacks; "
                           f"load with map_location='cpu'.")


def load(path, model: nn.Module | None = None, map_location="cpu"):
    """Read a checkpoint written by :func:`save`.

    Args:
        path: the checkpoint file.
        model: if given, its weights are replaced by the checkpoint's (strictly: names and
            shapes must match).
        map_location: where to put the tensors (default the CPU).

    Returns:
        ``(model, meta)`` when ``model`` is given, else ``(state_dict, meta)``.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not a readable segedu checkpoint; the message says what it is.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a checkpoint file; name the .pt file inside it.")
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path} (there is no such file).")
    _check_map_location(map_location)
    expected = f"expected a segedu checkpoint written by segedu.train.save (format {FORMAT!r})"
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path} cannot be loaded: it is {describe_file(path, error)}; {expected}.") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a segedu checkpoint: it holds {describe_object(payload)}; {expected}.")
    if not isinstance(payload.get("version"), int) or payload["version"] > VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload.get('version')!r}; this segedu reads "
                              f"versions up to {VERSION}. Update segedu.")
    state_dict, meta = payload["state_dict"], payload.get("meta") or {}
    if model is None:
        return state_dict, meta
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        saved_from = meta.get("model_class", "an unknown model")
        raise CheckpointError(
            f"The weights in {path} (saved from {saved_from}) do not fit this {type(model).__name__}: build the "
            f"model with the same options as when it was saved (see the checkpoint's meta).\n{error}"
        ) from error
    return model, meta
