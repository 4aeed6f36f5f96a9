"""How much and how the course trains: one :class:`Recipe` per track, the runs each track compares.

A recipe is a number of optimiser steps (``epochs`` passes over ``train_scenes`` scenes in
batches of ``batch_size``), never a number of seconds: the same seed gives the same model on a
fast, a slow or a busy machine. The notebooks and the leaderboard benchmark use the same recipes,
so a learner who runs a notebook reproduces a row of the leaderboard. In fast mode
(``SEGEDU_FAST=1``, the tests) :func:`recipe` shrinks every recipe to a few steps on tiny images:
the two modes differ here and nowhere else.

Fairness rules, which the tests check: the runs compared on a track get the same data, the same
steps and the same optimiser settings, and parameter counts within a factor of 3 of each other.

A *run name* (``"fcn8s"``, ``"pspnet_noppm"``, ...) is a model of :mod:`segedu.models` with
options (:data:`RUNS`); :func:`build_run` builds it.
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
    "unet_s32": ("unet", {"widths": (16, 32, 48, 64, 96, 96)}),
    "pspnet": ("pspnet", {}),
    "pspnet_noppm": ("pspnet", {"ppm": False}),
    "pspnet_b1": ("pspnet", {"bins": (1,)}),
    "pspnet_max": ("pspnet", {"pooling": "max"}),
    "pspnet_nodr": ("pspnet", {"reduce": False}),
    "unet_ppm": ("unet_ppm", {}),
    "unet_context": ("unet_context", {}),
    # The ablation of unet_context's auxiliary classifier (notebook 09): the context without the auxiliary
    # loss, and the auxiliary loss (the same classifier on the bottleneck and its pooled context) without
    # the context before U-Net's classifier.
    "unet_context_noaux": ("unet_context", {"aux_head": False}),
    "unet_aux": ("unet_context", {"context": False}),
    "deeplabv3plus": ("deeplabv3plus", {}),
}
"""Run name -> (model name for :func:`segedu.models.build`, options)."""

TRACK_OPTIONS: dict[tuple[str, str], dict] = {
    # Against the 57 k-parameter plain CNN, a narrower encoder-decoder (109 k instead of 433 k)
    # keeps the parameter counts within a factor of 3.
    ("encdec", "shapes"): {"widths": (8, 16, 24, 32, 48)},
    # On thin, the encoder-decoder halves five times, like the FCNs' backbone: FCN-32s/16s/8s, the
    # encoder-decoder and unet_s32 then share a stride-32 bottleneck and differ only in the skips.
    ("encdec", "thin"): {"depth": 5},
}
"""Extra model options for a (run, track) pair, e.g. a narrower network to keep parameters comparable."""

TRACK_RUNS: dict[str, tuple[str, ...]] = {
    "shapes": ("plain", "encdec"),
    "thin": ("encdec", "fcn32s", "fcn16s", "fcn8s", "unet_s32", "unet"),
    "context": ("pspnet_noppm", "pspnet", "pspnet_b1", "pspnet_max", "pspnet_nodr", "unet"),
    "harbour": ("pspnet_noppm", "pspnet_b1", "pspnet"),
    "mixed": ("encdec", "fcn8s", "unet", "pspnet", "unet_ppm", "unet_context", "unet_context_noaux", "unet_aux",
              "deeplabv3plus"),
}
"""The runs the leaderboard trains on each track (the pretraining comparison is separate)."""

PRETRAIN_MODEL = "fcn8s"
"""The model whose backbone is compared pretrained vs from scratch (notebook 06)."""
PRETRAIN_TRACK = "shapes"
PRETRAIN_LABELLED = (16, 64)
"""Numbers of labelled training scenes in the pretraining comparison."""


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train on one track (learner-mode values; :func:`recipe` scales them down in fast mode).

    Attributes:
        track: the synthetic track (see :mod:`segedu.data`), or ``"pets"`` for photos.
        image_size: side of the square images.
        train_scenes, val_scenes, test_scenes: dataset lengths (val picks the best epoch,
            test gives the reported scores).
        epochs, batch_size, lr, weight_decay, schedule: passed to :func:`segedu.train.fit`.

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
    image_size: int = 64
    train_scenes: int = 4096
    val_scenes: int = 256
    test_scenes: int = 512
    epochs: int = 3
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch (the last partial batch counts)."""
        return -(-self.train_scenes // self.batch_size)

    @property
    def steps(self) -> int:
        """Optimiser steps of the whole recipe."""
        return self.epochs * self.steps_per_epoch

    def fit_kwargs(self) -> dict:
        """Keyword arguments for :func:`segedu.train.fit`."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "schedule": self.schedule}

    def __str__(self) -> str:
        return (f"{self.track}: {self.train_scenes} scenes of {self.image_size} x {self.image_size} px, "
                f"{self.epochs} epochs in batches of {self.batch_size} = {self.steps} steps, "
                f"{self.schedule} schedule up to lr {self.lr:g}")


RECIPES: dict[str, Recipe] = {
    "shapes": Recipe("shapes"),
    "thin": Recipe("thin"),
    "context": Recipe("context", image_size=128, train_scenes=1024, epochs=6),
    "harbour": Recipe("harbour", image_size=128, train_scenes=1024, epochs=6),
    "mixed": Recipe("mixed", epochs=5, batch_size=8),
}

FAST = {"image_size": 32, "train_scenes": 64, "val_scenes": 16, "test_scenes": 16, "epochs": 1, "batch_size": 16}
"""Fast mode (the tests): every recipe becomes one epoch of at most 64 scenes of 32 px in batches of 16."""


def recipe(track: str, **overrides) -> Recipe:
    """The recipe for ``track`` in the current mode, with ``overrides`` (fields of :class:`Recipe`) applied.

    In fast mode the sizes and epochs of :data:`FAST` win over both (``train_scenes`` is at most 64).
    """
    if track not in RECIPES:
        raise ValueError(f"no recipe for track {track!r}; tracks with recipes: {', '.join(RECIPES)}")
    base = dataclasses.replace(RECIPES[track], **overrides)
    if not config.is_fast():
        return base
    return dataclasses.replace(base, **{**FAST, "train_scenes": min(base.train_scenes, FAST["train_scenes"])})


PHOTO_RECIPES: dict[str, Recipe] = {
    # On a CPU: a few hundred photos at 96 px and the small backbone; on a GPU: every training photo at 160 px.
    "cpu": Recipe("pets", image_size=96, train_scenes=768, val_scenes=128, test_scenes=256, epochs=4,
                  schedule="poly"),
    "gpu": Recipe("pets", image_size=160, train_scenes=3680, val_scenes=368, test_scenes=1024, epochs=8, lr=1e-3,
                  schedule="poly"),
}
"""Notebook 07 on Oxford-IIIT Pet photos, by the device it runs on ("poly": the PSPNet paper's schedule)."""


def photo_recipe(source: str, device) -> Recipe:
    """Notebook 07's recipe for ``source`` (``"pets"`` or ``"synthetic"``) on ``device`` (a torch.device).

    Photos: :data:`PHOTO_RECIPES` (half the fast-mode scenes in fast mode). Synthetic scenes (no
    network): the ``mixed`` recipe, on a CPU with half the scenes and 3 epochs (768 steps).
    """
    gpu = getattr(device, "type", str(device)) == "cuda"
    if source == "pets":
        base = PHOTO_RECIPES["gpu" if gpu else "cpu"]
        if config.is_fast():
            return dataclasses.replace(base, **{**FAST, "train_scenes": FAST["train_scenes"] // 2})
        return base
    if source == "synthetic":
        return recipe("mixed") if gpu else recipe("mixed", train_scenes=2048, epochs=3)
    raise ValueError(f"unknown data source {source!r}; choose 'pets' or 'synthetic'")


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


def all_recipes() -> dict[str, Recipe]:
    """Every track's recipe in the current mode (what notebook 00 shows)."""
    return {track: recipe(track) for track in RECIPES}
