"""Notebook 07's street photos: CamVid as the camvid track trains on it, or the shipped subset offline.

::

    streets = load_streets()            # the recipe and (train, val, test), standardised
    streets.show(image)                 # a standardised image back to [0, 1], to look at
    top_confusions(scores.confusion)    # the largest shares of a class predicted as another
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
from torch.utils.data import Dataset

from segedu.data import CamVid, DatasetNotAvailable
from segedu.experiments.recipes import FAST_PHOTOS, Recipe
from segedu.experiments.tracks import camvid_datasets, recipe

THIN = ("pole", "sign", "pedestrian", "bicyclist")
"""The thin and small classes: what skip connections should keep."""
LARGE = ("road", "pavement", "sky", "building")
"""The large classes, told apart by where they are in the scene: what context should help."""


@dataclasses.dataclass
class Streets:
    """The camvid track's recipe and data: ``train`` (random crops), ``val`` and ``test`` (whole photos).

    ``on_subset``: True when these are the few photos that ship with the course (fast mode, or
    offline), too few to learn from; ``why`` then says why.
    """

    plan: Recipe
    train: Dataset
    val: Dataset
    test: Dataset
    on_subset: bool
    why: str = ""

    def show(self, image: torch.Tensor) -> torch.Tensor:
        """A standardised ``3 x H x W`` item back to colours in [0, 1] (to look at it)."""
        return self.test.transform.undo(image).clamp(0, 1)


def load_streets() -> Streets:
    """The camvid track's recipe and datasets; the shipped subset (with the reason) if the full data cannot be had."""
    plan = recipe("camvid")
    try:
        train, val, test = camvid_datasets(plan, seed=0)
        why = "fast mode trains on the photos that ship with the course" if train.subset else ""
        return Streets(plan, train, val, test, train.subset, why)
    except DatasetNotAvailable as error:
        small = dataclasses.replace(plan, **FAST_PHOTOS["camvid"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reason is returned instead, for the notebook to print once
            train, val, test = camvid_datasets(small, seed=0, subset=True)
        return Streets(small, train, val, test, True, str(error))


def top_confusions(confusion, classes=CamVid.classes, count: int = 5) -> list[tuple[str, str, float]]:
    """The ``count`` largest confusions: ``(true class, predicted class, share of the true class's pixels)``.

    ``confusion``: a :class:`segedu.metrics.ConfusionMatrix` or its ``C x C`` counts (rows truth,
    columns prediction).
    """
    matrix = torch.as_tensor(getattr(confusion, "matrix", confusion), dtype=torch.float64)
    shares = matrix / matrix.sum(dim=1, keepdim=True).clamp(min=1)
    shares.fill_diagonal_(0)
    order = shares.flatten().argsort(descending=True)[:count]
    size = shares.shape[1]
    return [(classes[int(i) // size], classes[int(i) % size], float(shares.flatten()[i])) for i in order]
