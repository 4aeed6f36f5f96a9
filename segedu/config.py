"""One place for the things that differ between machines and modes.

* Mode: **learner mode** (the default) runs the real training; **fast mode**
  (``SEGEDU_FAST=1``, set by ``make test``) runs the same code on tiny data and budgets
  so that the whole course executes under test in minutes. Notebooks never hard-code
  epochs or dataset sizes: they ask :func:`segedu.experiments.recipe`, the one place where
  the two modes differ.
* Device: :func:`get_device` picks CUDA, then Apple MPS, then the CPU, unless
  ``SEGEDU_DEVICE`` says otherwise.
* Seeding: :func:`seed_everything`.
* Paths: :func:`repo_root`, :func:`data_dir`, :func:`results_dir`.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from importlib import metadata
from pathlib import Path

import numpy
import torch

import segedu

FAST_ENV = "SEGEDU_FAST"
DEVICE_ENV = "SEGEDU_DEVICE"
DATA_ENV = "SEGEDU_DATA"
RESULTS_ENV = "SEGEDU_RESULTS"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_fast() -> bool:
    """Return True in fast mode, i.e. when the environment variable ``SEGEDU_FAST`` is ``1``.

    Accepts 1/true/yes/on and 0/false/no/off (any case); anything else is an error, so a
    typo cannot silently start an hour of training.
    """
    value = os.environ.get(FAST_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{FAST_ENV}={os.environ[FAST_ENV]!r} is not understood: use {FAST_ENV}=1 for fast mode "
        f"or unset it (or {FAST_ENV}=0) for learner mode."
    )


def mode() -> str:
    """Return ``"fast"`` or ``"learner"``."""
    return "fast" if is_fast() else "learner"


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: ``prefer``, else ``$SEGEDU_DEVICE``, else the best available.

    The automatic order is CUDA, then Apple MPS, then the CPU. Asking for a device that
    this machine does not have raises a ``RuntimeError`` that says what is available.
    """
    requested = prefer or os.environ.get(DEVICE_ENV, "").strip()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as error:
            raise ValueError(
                f"Device {requested!r} is not a device name; use 'cpu', 'cuda', 'cuda:0' or 'mps'."
            ) from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"Device {requested!r} was requested but CUDA is not available here; "
                f"available: {', '.join(available_devices())}. Unset {DEVICE_ENV} to choose automatically."
            )
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(
                f"Device {requested!r} was requested but Apple MPS is not available here; "
                f"available: {', '.join(available_devices())}. Unset {DEVICE_ENV} to choose automatically."
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Names of the device types this machine can compute on, e.g. ``["cuda", "cpu"]``."""
    names = []
    if torch.cuda.is_available():
        names.append("cuda")
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's, NumPy's and torch's random generators with ``seed``.

    Returns a fresh ``torch.Generator`` seeded with ``seed``, handy for a ``DataLoader``
    whose shuffling must be reproducible on its own.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    numpy.random.seed(seed % 2**32)  # noqa: NPY002  (learners' code may use the global generator)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def repo_root() -> Path:
    """The folder that holds ``segedu/`` (the repository root in a clone or editable install)."""
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Where course data lives: ``$SEGEDU_DATA`` if set, else ``data/`` in the repository."""
    override = os.environ.get(DATA_ENV)
    return Path(override).expanduser() if override else repo_root() / "data"


def results_dir() -> Path:
    """Where benchmark and notebook results are written: ``$SEGEDU_RESULTS`` or ``results/``."""
    override = os.environ.get(RESULTS_ENV)
    return Path(override).expanduser() if override else repo_root() / "results"


def environment_report(print_it: bool = True) -> dict[str, str]:
    """Collect (and by default print) versions, device, mode and CPU thread count.

    Returns the same facts as a ``dict`` of strings, so a test or a bug report can use them.
    """
    facts = {
        "segedu": segedu.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "torch": torch.__version__,
        "torchvision": _version_of("torchvision"),
        "ipywidgets": _version_of("ipywidgets"),
        "matplotlib": _version_of("matplotlib"),
        "device": str(get_device()),
        "mode": mode(),
        "cpu threads": str(torch.get_num_threads()),
        "in colab": str("google.colab" in sys.modules),
    }
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    if print_it:
        width = max(len(key) for key in facts)
        for key, value in facts.items():
            print(f"{key:<{width}}  {value}")
    return facts


def _version_of(module_name: str) -> str:
    try:
        return metadata.version(module_name)
    except metadata.PackageNotFoundError:
        return "not installed"
