"""Files that are never half-written: model weights and JSON records.

* :func:`save` / :func:`load`: a model's weights and a little metadata (re-exported by
  :mod:`segedu.train`). A checkpoint is a ``torch.save`` file holding one dict::

      {"format": "segedu-checkpoint", "version": 1, "state_dict": {...}, "meta": {...}}

  Reading uses ``torch.load(weights_only=True)``, which cannot run code hidden in a file, and
  a file that is not a segedu checkpoint gets an error that says what it is.
* :func:`read_json`, :func:`write_json` and :func:`update_json`: JSON values such as the
  leaderboard's records; :func:`plain` turns a value into plain JSON types first.

Every write goes to a temporary file next to the target, which is then renamed over it
(:func:`write_atomically`): a crash or a full disk never leaves half a file, and the old file
stays whole. :func:`update_json` holds a lock (:func:`locked`) while it reads, changes and writes,
so that processes sharing a file take turns. How that is done, and the errors that say why a
folder cannot be written, are in :mod:`segedu.helpers.writing`: a first reading can skip them.
"""

from __future__ import annotations

import datetime
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from segedu.helpers.checkpoints import check_map_location, describe_file, describe_object
from segedu.helpers.writing import WriteError, locked, make_folder, plain, write_atomically

__all__ = ["FORMAT", "VERSION", "CheckpointError", "WriteError", "load", "locked", "make_folder", "plain",
           "read_json", "save", "update_json", "write_atomically", "write_json"]

FORMAT = "segedu-checkpoint"
VERSION = 1


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
    check_map_location(map_location)
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


# -- JSON ---------------------------------------------------------------------------------------------


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


def update_json(path, change: Callable, missing=None, read: Callable = read_json, write: Callable = write_json):
    """Read the value in ``path``, ``change`` it and write the result back, while holding :func:`locked`.

    Several processes may update the same file at once: they take turns, so none overwrites what
    another just added.

    Args:
        path: the file; ``missing`` stands for its value while it does not exist.
        change: ``change(value) -> new value``.
        read, write: how the file is read (``read(path) -> value``) and written (``write(path, value)``);
            by default plain JSON (:func:`read_json`, :func:`write_json`). A file with a format of its own
            (the leaderboard's records) passes its own checked reader and writer.

    Returns:
        The new value, as written.
    """
    path = Path(path)
    with locked(path):
        value = read(path) if path.exists() else missing
        new = change(value)
        write(path, new)
    return new
