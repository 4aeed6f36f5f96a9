"""Pretrained weights for the backbones: torchvision's ImageNet ResNet-18, or the course's own small backbone.

"Training can start from a network pretrained on a large-scale image classification data
set to compensate for the limited availability of segmentation ground truth."

* ImageNet weights come from torchvision (``ResNet18_Weights.IMAGENET1K_V1``) and need a
  network the first time (then they sit in torch's hub cache); a server that does not answer
  for :data:`DOWNLOAD_TIMEOUT_SECONDS` counts as no network. Pretrained ResNets expect
  images normalised with :data:`IMAGENET_MEAN` and :data:`IMAGENET_STD`.
* The course's weights are a segedu checkpoint (:func:`segedu.files.save`) of a
  :class:`~segedu.models.backbones.SmallBackbone`, pretrained on synthetic classification of
  outlines that no segmentation track of the comparison uses, by ``python -m segedu.course.pretrain``,
  and stored in ``data/pretrained/small_backbone.pt`` (see :func:`save_course_backbone`).

Every file is read with ``torch.load(..., weights_only=True)``: tensors and plain Python
containers only, never arbitrary pickled code.
"""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

import torch
from torch import nn

from segedu.config import data_dir
from segedu.files import CheckpointError, load, save

PRETRAINED_CHOICES = (None, "imagenet", "course")
FALLBACKS = ("course", "random", "error")
COURSE_WEIGHTS_FORMAT = "segedu-backbone-v2"
PRETRAIN_SCRIPT = "-m segedu.course.pretrain --replace-course-weights"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DOWNLOAD_TIMEOUT_SECONDS = 30.0
"""Longest wait for the weights' server (to connect, or for the next bytes) before giving up."""


class PretrainedWeightsWarning(UserWarning):
    """Pretrained weights could not be loaded and a fallback was used instead."""


def course_weights_path() -> Path:
    """Where the course's pretrained small backbone lives: ``data_dir() / "pretrained" / "small_backbone.pt"``."""
    return data_dir() / "pretrained" / "small_backbone.pt"


def _architecture(backbone: nn.Module) -> dict:
    return {"architecture": type(backbone).__name__, "in_channels": int(backbone.in_channels),
            "channels": [int(c) for c in backbone.channels.values()]}


def save_course_backbone(backbone: nn.Module, path: str | Path | None = None, **metadata) -> Path:
    """Save ``backbone``'s weights with its architecture and ``metadata`` to ``path`` (a segedu checkpoint).

    ``path`` defaults to :func:`course_weights_path`. Written with :func:`segedu.files.save`
    (atomically); the checkpoint's meta holds ``kind`` (:data:`COURSE_WEIGHTS_FORMAT`), the
    architecture, ``in_channels``, ``channels`` and ``metadata`` (e.g. ``pretrained_on``, the
    classes it was pretrained on). Returns the path written.
    """
    path = Path(path) if path is not None else course_weights_path()
    meta = {"kind": COURSE_WEIGHTS_FORMAT, **_architecture(backbone), "metadata": dict(metadata)}
    return save(backbone, path, meta=meta)


def load_course_weights_(backbone: nn.Module, path: str | Path | None = None, missing: str = "error") -> bool:
    """Load the course's pretrained weights into ``backbone`` (a SmallBackbone), in place.

    Returns True when loaded; ``backbone.pretrained_on`` then lists the classes it was pretrained
    on. A missing file raises ``FileNotFoundError`` (``missing="error"``) or warns and leaves the
    random weights (``missing="warn"``, returns False); either way the message names the file and
    the script that makes it. A file made for another architecture raises ``ValueError`` saying
    what differs.
    """
    path = Path(path) if path is not None else course_weights_path()
    if not path.is_file():
        message = (f"The course's pretrained small backbone {path} does not exist. It is made by "
                   f"`python {PRETRAIN_SCRIPT}` (pretraining on synthetic classification); set SEGEDU_DATA "
                   f"if your data folder is elsewhere, or use pretrained=None for random initialisation.")
        if missing == "error":
            raise FileNotFoundError(message)
        warnings.warn(message + " Continuing with random initialisation.", PretrainedWeightsWarning, stacklevel=3)
        return False
    try:
        state_dict, meta = load(path)
    except CheckpointError as error:
        raise ValueError(f"{error} Re-create it with `python {PRETRAIN_SCRIPT}`.") from error
    if meta.get("kind") != COURSE_WEIGHTS_FORMAT:
        raise ValueError(f"{path} is a segedu checkpoint but not of a course backbone (its meta has no "
                         f"kind={COURSE_WEIGHTS_FORMAT!r}); re-create it with `python {PRETRAIN_SCRIPT}`.")
    expected = _architecture(backbone)
    found = {key: meta.get(key) for key in expected}
    if found != expected:
        raise ValueError(f"{path} holds weights for a different architecture: file {found}, model {expected}. "
                         f"Build the model with the backbone the file was made for, or re-create the file "
                         f"with `python {PRETRAIN_SCRIPT}`.")
    try:
        backbone.load_state_dict(state_dict)
    except RuntimeError as error:
        raise ValueError(f"{path} does not fit {expected['architecture']}: {error}") from error
    backbone.weights_source = "course"
    backbone.pretrained_on = list((meta.get("metadata") or {}).get("pretrained_on") or [])
    return True


def load_imagenet_weights_(backbone: nn.Module, fallback: str = "course") -> bool:
    """Load torchvision's ImageNet ResNet-18 weights into ``backbone`` (a ResNet18Backbone), in place.

    Returns True when loaded. When the download fails (or the server sends nothing for
    :data:`DOWNLOAD_TIMEOUT_SECONDS`), raises a ``RuntimeError`` if ``fallback == "error"``, else
    warns (:class:`PretrainedWeightsWarning`) and returns False; the caller then applies ``fallback``.
    """
    # heavy dependency: torchvision is slow to import, and only the ImageNet weights need it
    from torchvision.models import ResNet18_Weights

    if backbone.in_channels != 3:
        raise ValueError(f"ImageNet weights need in_channels=3, got {backbone.in_channels}; use pretrained=None.")
    weights = ResNet18_Weights.IMAGENET1K_V1
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)  # urllib waits for ever by default
    try:
        state_dict = weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except Exception as error:  # offline, firewall, proxy, corrupt download: all end here
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        reason = f"Could not get torchvision's ImageNet weights for ResNet-18 ({type(error).__name__}: {error})."
        if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
            reason += (f" The server did not answer within {DOWNLOAD_TIMEOUT_SECONDS:g} s: a firewall or proxy may "
                       f"be holding the connection open.")
        offline_hint = (f"To use them offline, download {weights.url} on a connected machine and copy it into "
                        f"{cache}.")
        if fallback == "error":
            raise RuntimeError(f"{reason} {offline_hint}") from error
        then = {"course": f"Falling back to the course's small backbone pretrained on synthetic classification "
                          f"({course_weights_path()}): the model uses SmallBackbone, not ResNet-18.",
                "random": "Falling back to a randomly initialised ResNet-18."}[fallback]
        warnings.warn(f"{reason} {then} {offline_hint}", PretrainedWeightsWarning, stacklevel=3)
        return False
    finally:
        socket.setdefaulttimeout(previous_timeout)
    state_dict = {key: value for key, value in state_dict.items() if not key.startswith("fc.")}
    backbone.net.load_state_dict(state_dict)
    backbone.weights_source = "imagenet"
    backbone.pretrained_on = ["ImageNet-1k (1,000 classes)"]
    return True
