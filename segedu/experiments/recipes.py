"""How much and how a track is trained: a :class:`Recipe`, and how fast mode shrinks it.

A recipe is a number of optimiser steps (``epochs`` passes over ``train_scenes`` scenes in
batches of ``batch_size``), never a number of seconds: the same seed gives the same model on a
fast, a slow or a busy machine. The notebooks and the leaderboard benchmark use the same recipes
(the table of :mod:`segedu.experiments.tracks`), so a learner who runs a notebook reproduces a row
of the leaderboard. In fast mode (``SEGEDU_FAST=1``, the tests) :func:`in_current_mode` shrinks
every recipe to a few steps on tiny images: the two modes differ here and nowhere else.
"""

from __future__ import annotations

import dataclasses

from segedu import config


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train on one track (learner-mode values; :func:`in_current_mode` scales them down in fast mode).

    Attributes:
        track: the track's name (for synthetic data, the :class:`segedu.data.SyntheticScenes` track).
        image_size: side of the square images the data is drawn at, or ``(height, width)`` of the photos
            loaded (CamVid at half resolution: ``(180, 240)``); :attr:`image_shape` is always the pair.
        train_scenes, val_scenes, test_scenes: dataset lengths (val picks the best epoch,
            test gives the reported scores).
        epochs, batch_size, lr, weight_decay, schedule: passed to :func:`segedu.train.fit`.
        data: where the scenes come from: a key of :data:`segedu.experiments.tracks.DATA_SOURCES`
            (``"synthetic"``: drawn by :class:`segedu.data.SyntheticScenes`; ``"camvid"``: street
            photos, notebook 07).
        crop_size: side of the random square crops the model trains on (``None``: whole images);
            validation and test score whole images, which a fully convolutional network accepts.
        class_weights: one weight per class for the cross-entropy (``fit(..., class_weights=...)``),
            or ``None`` for the plain mean over pixels.
        val_every: score the validation data every this many epochs (and after the last); the model
            keeps the weights of its best scored epoch.

    Why these numbers: 3 epochs of 4,096 scenes in batches of 16 is 768 steps, which the slowest
    models (the plain CNN and U-Net, full-resolution convolutions) run in about 2 minutes at 64 px
    on two CPU threads. Batches of 16 gave twice the steps of batches of 32, which mattered more
    than anything else we tried.

    The context track uses 1,024 scenes of 128 px (as many pixels per epoch as 4,096 of 64 px):
    at 64 px the dilated backbone's receptive field (211 px) covers the whole image and finds the
    band without help; at 128 px the band is out of its effective reach at first. It trains 6 epochs
    (384 steps): with 3, whether a model had picked up the far cue yet was a matter of luck (on val,
    seeds 0-4, PSPNet 0.50 to 0.85 and the same network without pyramid pooling 0.45 to 0.71); with
    6, PSPNet reaches 0.88 to 0.90 in every seed. The harbour track follows the same recipe.

    The mixed track, with seven classes and all the difficulties at once, trains 5 epochs in
    batches of 8 (2,560 steps): with 3 epochs of batches of 16 every model was still far from
    converged (telling triangles from disks is learned last).
    """

    track: str
    image_size: int | tuple[int, int] = 64
    train_scenes: int = 4096
    val_scenes: int = 256
    test_scenes: int = 512
    epochs: int = 3
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    data: str = "synthetic"
    crop_size: int | None = None
    class_weights: tuple[float, ...] | None = None
    val_every: int = 1

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the whole images (validation and test score these)."""
        size = self.image_size
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch (the last partial batch counts)."""
        return -(-self.train_scenes // self.batch_size)

    @property
    def steps(self) -> int:
        """Optimiser steps of the whole recipe."""
        return self.epochs * self.steps_per_epoch

    def fit_kwargs(self) -> dict:
        """Keyword arguments for :func:`segedu.train.fit` (``class_weights`` only when the recipe has them)."""
        kwargs = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                  "weight_decay": self.weight_decay, "schedule": self.schedule, "val_every": self.val_every}
        if self.class_weights is not None:
            kwargs["class_weights"] = list(self.class_weights)
        return kwargs

    def __str__(self) -> str:
        crops = f" (random {self.crop_size} x {self.crop_size} crops)" if self.crop_size else ""
        weights = ", class-weighted loss" if self.class_weights is not None else ""
        height, width = self.image_shape
        return (f"{self.track}: {self.train_scenes} scenes of {height} x {width} px{crops}, "
                f"{self.epochs} epochs in batches of {self.batch_size} = {self.steps} steps, "
                f"{self.schedule} schedule up to lr {self.lr:g}{weights}")


FAST = {"image_size": 32, "train_scenes": 64, "val_scenes": 16, "test_scenes": 16, "epochs": 1, "batch_size": 16}
"""Fast mode (the tests): every recipe becomes one epoch of at most 64 scenes of 32 px in batches of 16
(and crops of at most 32 px). Photos keep their size, and fast mode reads the few that ship with the
course (:data:`FAST_PHOTOS`)."""

FAST_PHOTOS = {"camvid": {"train_scenes": 24, "val_scenes": 6, "test_scenes": 6}}
"""Fast mode's counts for a recipe whose ``data`` is photos: those of the subset that ships with the course."""


def in_current_mode(plan: Recipe, most_scenes: int = FAST["train_scenes"]) -> Recipe:
    """``plan`` itself in learner mode; in fast mode, ``plan`` with the sizes and epochs of :data:`FAST`.

    ``most_scenes``: the most training scenes fast mode keeps (fewer if the recipe has fewer).
    """
    if not config.is_fast():
        return plan
    crop = None if plan.crop_size is None else min(plan.crop_size, FAST["image_size"])
    fast = {**FAST, "train_scenes": min(plan.train_scenes, most_scenes), "crop_size": crop, "val_every": 1}
    if plan.data in FAST_PHOTOS:
        fast.update(FAST_PHOTOS[plan.data], image_size=plan.image_size)
    return dataclasses.replace(plan, **fast)
