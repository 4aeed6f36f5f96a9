"""The plumbing of :func:`segedu.files.load`: what an unreadable file or a foreign object is, and whether a
``map_location`` exists on this machine, so that a failed load says what the file is instead of a
torch traceback."""

from __future__ import annotations

from pathlib import Path

import torch


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


def check_map_location(map_location) -> None:
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
