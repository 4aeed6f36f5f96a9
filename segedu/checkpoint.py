"""Save and load model weights safely: :func:`save` and :func:`load` (re-exported by :mod:`segedu.train`).

A checkpoint is a ``torch.save`` file holding one dict::

    {"format": "segedu-checkpoint", "version": 1, "state_dict": {...}, "meta": {...}}

* Writing is atomic: the file is written next to its destination under a temporary name,
  then renamed over it (``os.replace``), so a crash or a full disk mid-write never leaves
  a half-written checkpoint, and an older checkpoint of the same name stays intact.
* Reading uses ``torch.load(weights_only=True)``, which cannot run code hidden in a file.
* A file that is not a segedu checkpoint (truncated, a bare state_dict, a tensor, a text
  file, some other pickle) gives an error that says what the file is and what was expected.
"""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path

import torch
from torch import nn

from segedu.atomic import write_atomically

FORMAT = "segedu-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """The file exists but is not a segedu checkpoint this version can read."""


def _plain_meta(value, where: str = "meta"):
    """A copy of ``value`` that ``weights_only`` loading accepts: plain dicts (str keys), lists, str,
    int, float, bool, None and tensors. Subclasses (numpy scalars, ``torch.__version__``) become
    their plain type; anything else is a ``TypeError`` naming where it is."""
    if value is None or isinstance(value, torch.Tensor):
        return value
    for plain in (bool, str, int, float):
        if isinstance(value, plain):
            return plain(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy scalar
        return _plain_meta(value.item(), where)
    if isinstance(value, (list, tuple)):
        return [_plain_meta(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{where} keys must be strings, got {key!r}")
        return {str(key): _plain_meta(item, f"{where}[{key!r}]") for key, item in value.items()}
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoint meta may hold only dicts, lists, strings, numbers, "
        f"booleans, None and tensors (so that it loads with weights_only=True). Convert it, e.g. str(value)."
    )


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
    meta = _plain_meta(dict(meta or {}))
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
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path} (there is no such file).")
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
