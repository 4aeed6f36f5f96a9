"""Small helpers the notebooks share: reuse a model trained by an earlier notebook, find deep object pixels.

* :func:`save_trained` / :func:`load_trained` -- notebook 01 saves its trained plain CNN; notebook 02
  reloads it if it was trained with the same recipe in the same mode, to the end of that recipe
  (else it says why and trains its own, so every notebook still runs top to bottom on its own).
* :func:`distance_to_edge` / :func:`deepest_object_pixel` -- how far a pixel is from the nearest
  pixel of another class: the distance a receptive field must reach for that pixel to see an outline.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from segedu import config
from segedu.files import CheckpointError, load, plain, save
from segedu.metrics import IGNORE_INDEX

__all__ = ["checkpoint_path", "save_trained", "load_trained", "distance_to_edge", "deepest_object_pixel"]


def checkpoint_path(name: str) -> Path:
    """``results_dir() / "checkpoints" / "<name>_<mode>.pt"`` (learner and fast runs never mix)."""
    return config.results_dir() / "checkpoints" / f"{name}_{config.mode()}.pt"


def _recipe_dict(plan) -> dict:
    return plain(dataclasses.asdict(plan), "recipe")


def save_trained(model: nn.Module, name: str, plan, history, **meta) -> Path:
    """Save ``model`` as :func:`checkpoint_path` ``(name)`` with the recipe ``plan`` it was trained with, and
    what ``history`` (the :class:`~segedu.train.History` of its training) says: the steps done and planned,
    and what stopped it (``meta["training"]``). ``meta``: anything else to keep (run, track...)."""
    training = {"steps_done": history.steps, "steps": history.planned_steps, "completed": history.completed,
                "stopped_by": history.stopped_by}
    return save(model, checkpoint_path(name), meta={"recipe": _recipe_dict(plan), "training": training, **meta})


def load_trained(model: nn.Module, name: str, plan) -> dict | None:
    """Load the weights saved under ``name`` into ``model`` if they were trained with recipe ``plan``, to its end.

    Returns the checkpoint's meta, or None (weights untouched) when there is no checkpoint, it was
    trained with another recipe, it is undertrained (its training was stopped before the end of
    its recipe, or it does not say), or it does not fit ``model``; the reason is printed, so that
    the notebook trains a full model instead.
    """
    path = checkpoint_path(name)
    if not path.is_file():
        print(f"no saved model at {path}")
        return None
    try:
        state_dict, meta = load(path)
    except CheckpointError as error:
        print(f"cannot use {path}: {error}")
        return None
    if meta.get("recipe") != _recipe_dict(plan):
        print(f"{path} was trained with another recipe; training a new model")
        return None
    training = meta.get("training") or {}
    if not training.get("completed"):
        done = (f"its training stopped after {training.get('steps_done')} of {training.get('steps')} steps "
                f"({training.get('stopped_by') or 'stopped'})" if training
                else "it does not say whether its training ran to the end")
        print(f"the model saved at {path} is undertrained: {done}. Its numbers would not be the lesson's: "
              f"training a full model here instead")
        return None
    try:
        model.load_state_dict(state_dict)
    except RuntimeError:
        print(f"the weights in {path} do not fit this model; training a new model")
        return None
    print(f"loaded the model saved at {path}")
    return meta


def distance_to_edge(mask: torch.Tensor, limit: int | None = None) -> torch.Tensor:
    """Chessboard distance from each pixel to the nearest pixel with another label.

    ``mask``: int ``H x W`` or ``N x H x W`` -> int64 of the same shape. A pixel next to another
    label has distance 1; the image frame is not an edge (a region that fills its image gets
    ``limit``, default ``max(H, W)``). Ignored pixels (255) count as another label for their
    neighbours; their own distance is 0.

    Computed for the whole batch at once: the pixels at distance 1 are those whose 3x3
    window holds another label, and a pixel at distance r is r - 1 steps (3x3 dilations) from them.
    """
    if mask.dim() not in (2, 3):
        raise ValueError(f"mask must be H x W or N x H x W, got shape {tuple(mask.shape)}")
    single = mask.dim() == 2
    masks = mask[None] if single else mask
    limit = limit or max(masks.shape[-2:])
    labels = masks.float()[:, None]
    high = F.max_pool2d(labels, 3, stride=1, padding=1)
    low = -F.max_pool2d(-labels, 3, stride=1, padding=1)
    reached = high != low  # N x 1 x H x W: pixels at distance 1
    distance = torch.where(reached, 1, limit).long()
    for radius in range(2, limit):
        if bool(reached.all()):
            break
        grown = F.max_pool2d(reached.float(), 3, stride=1, padding=1) > 0
        distance[grown & ~reached] = radius
        reached = grown
    distance = distance[:, 0]
    distance[masks == IGNORE_INDEX] = 0
    return distance[0] if single else distance


def deepest_object_pixel(masks: torch.Tensor, margin: int = 0) -> tuple[int, int, int, int]:
    """The object pixel (class > 0, not 255) farthest from any other label, over a batch of masks.

    ``masks``: int ``N x H x W``; ``margin``: only pixels at least this far from the image frame
    are candidates (e.g. so that a receptive field around the pixel fits in the image).
    Returns ``(image index, row, col, distance)`` (the first such pixel in row-major order when
    several tie).
    """
    distance = distance_to_edge(masks)
    distance[(masks == 0) | (masks == IGNORE_INDEX)] = -1
    if margin > 0:
        distance[:, :margin], distance[:, -margin:] = -1, -1
        distance[:, :, :margin], distance[:, :, -margin:] = -1, -1
    flat = int(distance.flatten().argmax())
    height, width = masks.shape[-2:]
    index, rest = divmod(flat, height * width)
    return index, rest // width, rest % width, int(distance.flatten()[flat])
