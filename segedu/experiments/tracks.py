"""The tracks of the course, as one table: each track's recipe, the runs it trains, and on how many seeds.

:data:`TRACKS` is what the leaderboard trains (``python -m segedu.leaderboard``) and what the
notebooks ask for their recipes (:func:`recipe`) and data (:func:`datasets`). Adding a track is one
entry here, a data source in :data:`DATA_SOURCES` if its scenes are not synthetic, and its claims
in :mod:`segedu.experiments.claims`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from torch.utils.data import Dataset

from segedu.data import CamVid, SyntheticScenes
from segedu.data import camvid as camvid_data
from segedu.data.standardize import Standardize
from segedu.experiments.recipes import Recipe, in_current_mode

SEEDS = 5
"""Seeds of the full benchmark: every claim must hold in each of them."""

FEW_SEEDS = 3
"""Seeds of the rows that no claim compares (a track's ``few_seed_runs``): the first three of :data:`SEEDS`."""

PRETRAIN_MODEL = "fcn8s"
"""The model whose backbone is compared pretrained vs from scratch (notebook 06)."""
PRETRAIN_TRACK = "shapes"
PRETRAIN_LABELLED = (16, 64)
"""Numbers of labelled training scenes in the pretraining comparison."""


@dataclasses.dataclass(frozen=True)
class Track:
    """One track of the leaderboard.

    Attributes:
        recipe: how its runs train (learner mode; :func:`recipe` gives the current mode's).
        runs: the run names it trains on all its scenes (:mod:`segedu.experiments.runs`).
        few_seed_runs: those of ``runs`` that no claim compares: they train on :data:`FEW_SEEDS`
            seeds only (every run a claim compares trains on all :data:`SEEDS`; a test checks it).
        quick_runs: the runs of ``--quick`` (one pair per claim, one seed).
        labelled_runs, labelled: runs trained on only ``labelled`` training scenes each (the
            pretraining comparison), for as many steps as the full recipe.
        quick_labelled: the ``labelled`` counts of ``--quick``.
        unmatched_runs: those of ``runs`` shown for reference only, whose parameter count is not held
            within a factor of 3 of the others (the fairness rule of :mod:`segedu.experiments.runs`);
            no claim may compare them (a test checks it).
    """

    recipe: Recipe
    runs: tuple[str, ...]
    few_seed_runs: tuple[str, ...] = ()
    quick_runs: tuple[str, ...] = ()
    labelled_runs: tuple[str, ...] = ()
    labelled: tuple[int, ...] = ()
    quick_labelled: tuple[int, ...] = ()
    unmatched_runs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.recipe.track

    def seeds_of(self, run: str, seeds: int = SEEDS) -> range:
        """The seeds ``run`` trains on, out of the benchmark's first ``seeds``."""
        return range(min(seeds, FEW_SEEDS) if run in self.few_seed_runs else seeds)


CAMVID_RECIPE = Recipe(
    "camvid", image_size=camvid_data.photo_size("half"), train_scenes=camvid_data.FULL.counts["train"],
    val_scenes=camvid_data.FULL.counts["val"], test_scenes=camvid_data.FULL.counts["test"],
    epochs=22, batch_size=8, data="camvid", crop_size=128,
    class_weights=camvid_data.median_frequency_weights(camvid_data.TRAIN_FREQUENCY), val_every=11)
"""CamVid at half resolution: 22 epochs of one random 128 x 128 crop (flipped at random) of each of the 367
training photos, in batches of 8 (1,012 steps), inputs standardised per channel, a loss weighted by the
square root of median-frequency balancing, validated twice (the better of epochs 11 and 22 is kept).

Chosen on the 101 validation photos (seed 0, DeepLabV3+, 1,000 steps, val mIoU): plain [0, 1] inputs and no
weights 0.398; standardised inputs 0.430; square-root median-frequency weights 0.469 (full SegNet weights
0.436, the rare classes gain but road and building lose more); both 0.539. Batches of 16 for 500 steps gave
0.535, 4 for 2,000 steps 0.524, crops of 96 (batches of 14) 0.483, crops of 160 (batches of 5) 0.514, a peak
learning rate of 1.5e-3 0.538. Under this recipe, seed 0: U-Net 0.488, FCN-8s 0.504, the encoder-decoder 0.374.
The test photos were never scored before the claims were set."""

TRACKS: dict[str, Track] = {
    "shapes": Track(Recipe("shapes"), runs=("plain", "encdec"), quick_runs=("plain", "encdec"),
                    labelled_runs=(f"{PRETRAIN_MODEL}_pretrained", f"{PRETRAIN_MODEL}_scratch"),
                    labelled=PRETRAIN_LABELLED, quick_labelled=(64,)),
    "thin": Track(Recipe("thin"), runs=("encdec", "fcn32s", "fcn16s", "fcn8s", "unet_s32", "unet"),
                  quick_runs=("encdec", "fcn8s")),
    "context": Track(Recipe("context", image_size=128, train_scenes=1024, epochs=6),
                     runs=("pspnet_noppm", "pspnet", "pspnet_b1", "pspnet_max", "pspnet_nodr", "unet"),
                     few_seed_runs=("pspnet_max", "pspnet_nodr"), quick_runs=("pspnet_noppm", "pspnet")),
    "harbour": Track(Recipe("harbour", image_size=128, train_scenes=1024, epochs=6),
                     runs=("pspnet_noppm", "pspnet_b1", "pspnet",
                           "pspnet_noppm_circular", "pspnet_b1_circular", "pspnet_circular")),
    "mixed": Track(Recipe("mixed", epochs=5, batch_size=8),
                   runs=("encdec", "fcn8s", "unet", "pspnet", "unet_ppm", "unet_context", "unet_context_noaux",
                         "unet_aux", "deeplabv3plus", "deeplabv3plus_prior"),
                   few_seed_runs=("encdec", "fcn8s", "pspnet", "unet_ppm", "unet_context_noaux", "unet_aux",
                                  "deeplabv3plus")),
    "camvid": Track(CAMVID_RECIPE,
                    runs=("plain", "encdec", "fcn8s", "unet", "pspnet", "unet_context", "deeplabv3plus"),
                    few_seed_runs=("plain", "pspnet", "unet_context"), quick_runs=("encdec", "unet"),
                    unmatched_runs=("plain",)),
}
"""Every track the leaderboard trains, in the order of the course.

Three seeds show the spread of the rows without a claim in the tables and notebooks 05, 08 and
09; the mixed-track U-Net variants cost 3 to 4 minutes each, and training them in every seed
would take the full benchmark past 2 hours on two CPU cores. On camvid, the plain CNN (57 k parameters,
convolutions at full resolution: the slowest per step) is a reference row: as wide as the others, it
would take about an hour per seed.
"""


def track(name: str) -> Track:
    """The :class:`Track` called ``name``, or a ``ValueError`` that lists the tracks."""
    if name not in TRACKS:
        raise ValueError(f"no track {name!r}; the tracks are: {', '.join(TRACKS)}")
    return TRACKS[name]


def recipe(name: str, **overrides) -> Recipe:
    """The recipe of track ``name`` in the current mode, with ``overrides`` (fields of :class:`Recipe`) applied.

    In fast mode the sizes and epochs of :data:`~segedu.experiments.recipes.FAST` win over both
    (``train_scenes`` is at most 64).
    """
    if name not in TRACKS:
        raise ValueError(f"no recipe for track {name!r}; tracks with recipes: {', '.join(TRACKS)}")
    return in_current_mode(dataclasses.replace(TRACKS[name].recipe, **overrides))


def all_recipes() -> dict[str, Recipe]:
    """Every track's recipe in the current mode (what notebook 00 shows)."""
    return {name: recipe(name) for name in TRACKS}


Datasets = tuple[Dataset, Dataset, Dataset]


def synthetic_datasets(plan: Recipe, seed: int) -> Datasets:
    """``(train, val, test)`` :class:`~segedu.data.SyntheticScenes` of ``plan.track`` at ``plan.image_size``.

    ``seed`` changes the training scenes; validation and test scenes are the same for every seed.
    """
    if plan.crop_size is not None:
        raise ValueError(f"the recipe of {plan.track!r} asks for {plan.crop_size} px crops, but synthetic scenes "
                         f"are drawn at the size they train on: set image_size={plan.crop_size} instead of crop_size")
    size = plan.image_size
    return (SyntheticScenes("train", plan.track, size=size, length=plan.train_scenes, seed=seed),
            SyntheticScenes("val", plan.track, size=size, length=plan.val_scenes),
            SyntheticScenes("test", plan.track, size=size, length=plan.test_scenes))


def camvid_datasets(plan: Recipe, seed: int, subset: bool | None = None) -> Datasets:
    """``(train, val, test)`` :class:`~segedu.data.CamVid` photos at the recipe's resolution, standardised per channel.

    Training items are random ``plan.crop_size`` crops, flipped at random (drawn from torch's generator,
    which ``fit(..., seed=seed)`` seeds; ``seed`` itself changes nothing here); validation and test are
    whole photos. ``subset``: as :class:`~segedu.data.CamVid` (default: the photos that ship with the
    course in fast mode, too few to learn from; else the full data, fetched when missing).
    """
    resolution = next((name for name in camvid_data.RESOLUTIONS if camvid_data.photo_size(name) == plan.image_shape),
                      None)
    if resolution is None:
        raise ValueError(f"CamVid photos come at 180 x 240 (half) or 360 x 480 (full), not {plan.image_shape}")
    standardize = Standardize(camvid_data.TRAIN_MEAN, camvid_data.TRAIN_STD)
    train = CamVid("train", resolution, crop=plan.crop_size, flip=True, transform=standardize, subset=subset)
    val = CamVid("val", resolution, transform=standardize, subset=subset)
    test = CamVid("test", resolution, transform=standardize, subset=subset)
    wanted = (plan.train_scenes, plan.val_scenes, plan.test_scenes)
    if tuple(map(len, (train, val, test))) != wanted:
        raise ValueError(f"the recipe of {plan.track!r} expects {wanted} train/val/test photos, but CamVid gave "
                         f"{tuple(map(len, (train, val, test)))}: it uses every photo of each split")
    return train, val, test


DATA_SOURCES: dict[str, Callable[[Recipe, int], Datasets]] = {
    "synthetic": synthetic_datasets,
    "camvid": camvid_datasets,
}
"""A recipe's ``data`` -> the function ``(recipe, seed) -> (train, val, test)`` that loads its scenes.
Training items are ``(image 3 x H x W float in [0, 1], mask H x W int64, 255 = ignored)``."""


def datasets(name: str, seed: int = 0, plan: Recipe | None = None) -> Datasets:
    """The ``(train, val, test)`` datasets of track ``name`` for ``seed``, as its recipe says.

    ``plan``: another recipe for the track (default: :func:`recipe` ``(name)``), e.g. fewer
    labelled scenes; its ``data`` picks the loader in :data:`DATA_SOURCES`.
    """
    plan = plan or recipe(name)
    if plan.data not in DATA_SOURCES:
        raise ValueError(f"the recipe of {name!r} takes its scenes from {plan.data!r}, which has no loader; "
                         f"known data sources: {', '.join(DATA_SOURCES)}")
    return DATA_SOURCES[plan.data](plan, seed)
