"""Training recipes: which models the course compares on each track, and how each is trained.

The notebooks and the leaderboard benchmark (``python -m segedu.bench``) use the same recipes,
so a learner who runs a notebook reproduces a row of the leaderboard. Fairness rules, as the
benchmark checks them: the models compared on a track get the same data, the same number of
epochs, the same optimiser settings and the same time cap, and parameter counts within a
factor of 3 of each other.

A *run name* (``"fcn8s"``, ``"pspnet_noppm"``, ...) is a model of :mod:`segedu.models` with
options; a *recipe* says how long and how to train on a track. Both scale down in fast mode.
"""

from __future__ import annotations

import dataclasses

from segedu import config

RUNS: dict[str, tuple[str, dict]] = {
    "plain": ("plain", {}),
    "encdec": ("encdec", {}),
    "fcn32s": ("fcn32s", {}),
    "fcn16s": ("fcn16s", {}),
    "fcn8s": ("fcn8s", {}),
    "unet": ("unet", {}),
    "pspnet": ("pspnet", {}),
    "pspnet_noppm": ("pspnet", {"ppm": False}),
    "pspnet_b1": ("pspnet", {"bins": (1,)}),
    "pspnet_max": ("pspnet", {"pooling": "max"}),
    "pspnet_nodr": ("pspnet", {"reduce": False}),
}
"""Run name -> (model name for :func:`segedu.models.build`, options)."""

TRACK_OPTIONS: dict[tuple[str, str], dict] = {
    # Against the 57 k-parameter plain CNN, a narrower encoder-decoder (109 k instead of 433 k)
    # keeps the parameter counts within a factor of 3.
    ("encdec", "shapes"): {"widths": (8, 16, 24, 32, 48)},
    # On thin, the encoder-decoder halves five times, like the FCNs' backbone: FCN-32s/16s/8s and
    # the encoder-decoder then share a stride-32 bottleneck and differ only in the skips.
    ("encdec", "thin"): {"depth": 5},
}
"""Extra model options for a (run, track) pair, e.g. a narrower network to keep parameters comparable."""

TRACK_RUNS: dict[str, tuple[str, ...]] = {
    "shapes": ("plain", "encdec"),
    "thin": ("encdec", "fcn32s", "fcn16s", "fcn8s", "unet"),
    "context": ("pspnet_noppm", "pspnet", "pspnet_b1", "pspnet_max", "pspnet_nodr", "unet"),
    "mixed": ("encdec", "fcn8s", "unet", "pspnet"),
}
"""The runs the leaderboard trains on each track (the pretraining comparison is separate)."""

PRETRAIN_MODEL = "fcn8s"
"""The model whose backbone is compared pretrained vs from scratch (notebook 06)."""
PRETRAIN_TRACK = "shapes"
PRETRAIN_LABELLED = (16, 64)
"""Numbers of labelled training scenes in the pretraining comparison."""


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train on one track (learner-mode values; :func:`recipe` scales them in fast mode).

    Attributes:
        track: the synthetic track (see :mod:`segedu.data`).
        image_size: side of the square images.
        train_scenes, val_scenes, test_scenes: dataset lengths (val picks the best epoch,
            test gives the reported scores).
        epochs, batch_size, lr, weight_decay, schedule: passed to :func:`segedu.train.fit`.
        max_seconds: time cap per run (the slowest model must finish its epochs within it).

    Why these numbers: the slowest models (the plain CNN and the U-Net, full-resolution
    convolutions) train 125 to 180 images/s at 64 px on two CPU threads, so 3 epochs of 4,096
    scenes (12,288 images) take them under 2 minutes, well inside the cap on a slower laptop;
    batches of 16 give them twice the optimiser steps of batches of 32, which mattered more than
    anything else we tried.

    The context track uses 1,024 scenes of 128 px (as many pixels per epoch as 4,096 of 64 px):
    at 64 px the dilated backbone's receptive field (211 px) covers the whole image and finds the
    band without help, so pyramid pooling had nothing to add (+0.006 mIoU over three seeds); at
    128 px the band is out of the backbone's effective reach, and the pyramid's global view gains.

    The mixed track, with seven classes and all the difficulties at once, trains 5 epochs in
    batches of 8 (2,560 steps): with 3 epochs of batches of 16 every model was still far from
    converged (U-Net's val mIoU 0.55; telling triangles from disks is learned last). U-Net, the
    slowest, needs about 135 s for it, inside the 3-minute cap.
    """

    track: str
    image_size: int = 64
    train_scenes: int = 4096
    val_scenes: int = 256
    test_scenes: int = 512
    epochs: int = 3
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    max_seconds: float = 180.0

    def fit_kwargs(self) -> dict:
        """Keyword arguments for :func:`segedu.train.fit`."""
        return {
            "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
            "weight_decay": self.weight_decay, "schedule": self.schedule, "max_seconds": self.max_seconds,
        }


RECIPES: dict[str, Recipe] = {
    "shapes": Recipe("shapes"),
    "thin": Recipe("thin"),
    "context": Recipe("context", image_size=128, train_scenes=1024),
    "mixed": Recipe("mixed", epochs=5, batch_size=8),
}


def recipe(track: str, **overrides) -> Recipe:
    """The recipe for ``track`` in the current mode (fast mode: tiny data, one epoch)."""
    if track not in RECIPES:
        raise ValueError(f"no recipe for track {track!r}; tracks with recipes: {', '.join(RECIPES)}")
    base = dataclasses.replace(RECIPES[track], **overrides)
    if not config.is_fast():
        return base
    fast = config.FAST_BUDGET
    return dataclasses.replace(
        base, image_size=fast.image_size, train_scenes=min(base.train_scenes, fast.train_scenes),
        val_scenes=fast.val_scenes, test_scenes=fast.test_scenes, epochs=fast.epochs,
        batch_size=fast.batch_size,
    )


def model_spec(run: str, track: str | None = None) -> tuple[str, dict]:
    """``(model name, options)`` for a run name (with the track's extra options, if any)."""
    base = run.removesuffix("_pretrained").removesuffix("_scratch")
    if base not in RUNS:
        raise ValueError(f"unknown run {run!r}; known runs: {', '.join(RUNS)} (plus <run>_pretrained/_scratch)")
    name, options = RUNS[base]
    options = {**options, **TRACK_OPTIONS.get((base, track), {})}
    if run.endswith("_pretrained"):
        options["pretrained"] = "course"
    return name, options


def build_run(run: str, num_classes: int, track: str | None = None):
    """Build the (untrained) model of run ``run`` for ``num_classes`` classes."""
    from segedu.models import build

    name, options = model_spec(run, track)
    return build(name, num_classes, **options)
