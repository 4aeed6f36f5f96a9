"""Real photographs (notebook 07): which data to use, with which backbone, and how to load it.

The notebook trains the same models on one of two *data sources*:

* ``"pets"``: Oxford-IIIT Pet photos (:class:`segedu.data.OxfordPets`, classes background / pet,
  border pixels ignored), when the dataset is on disk or can be downloaded;
* ``"synthetic"``: the course's ``mixed`` synthetic scenes, when it cannot (no network).

Everything after the choice of source is the same code. How much to train is a
:class:`~segedu.experiments.recipes.Recipe` (:func:`photo_recipe`); this module adds what only photos
need: random crops, the backbone for the device, loader processes::

    recipe = photo_recipe("pets", device)
    data = load_datasets("pets", recipe)
    model = build("pspnet", 2, backbone=backbone_for(device), pretrained=pretrained_choice(backbone_for(device))[0])
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.utils.data import Subset

from segedu import config
from segedu.data import SyntheticScenes
from segedu.data.transforms import train_transforms
from segedu.experiments.recipes import FAST, Recipe, in_current_mode
from segedu.experiments.tracks import recipe as track_recipe
from segedu.models import SmallBackbone, course_weights_path
from segedu.models.pretrained import IMAGENET_MEAN, IMAGENET_STD, load_course_weights_

SOURCES = ("pets", "synthetic")
SYNTHETIC_TRACK = "mixed"
PETS_DOWNLOAD_MB = 800
"""Approximate size of the two archives torchvision downloads (images and annotations), in MB."""
PETS_CROP_SCALE = (0.5, 1.0)
"""Area fraction of the random training crops of photos (synthetic scenes are only flipped, so that
their objects keep the sizes they were drawn with)."""

PHOTO_RECIPES: dict[str, Recipe] = {
    # On a CPU: a few hundred photos at 96 px and the small backbone; on a GPU: every training photo at 160 px.
    "cpu": Recipe("pets", image_size=96, train_scenes=768, val_scenes=128, test_scenes=256, epochs=4,
                  schedule="poly", data="pets"),
    "gpu": Recipe("pets", image_size=160, train_scenes=3680, val_scenes=368, test_scenes=1024, epochs=8, lr=1e-3,
                  schedule="poly", data="pets"),
}
"""Notebook 07 on Oxford-IIIT Pet photos, by the device it runs on ("poly": the PSPNet paper's schedule)."""


def photo_recipe(source: str, device) -> Recipe:
    """Notebook 07's recipe for ``source`` (``"pets"`` or ``"synthetic"``) on ``device`` (a torch.device).

    Photos: :data:`PHOTO_RECIPES` (half the fast-mode scenes in fast mode). Synthetic scenes (no
    network): the ``mixed`` recipe, on a CPU with half the scenes and 3 epochs (768 steps).
    """
    gpu = getattr(device, "type", str(device)) == "cuda"
    if source == "pets":
        return in_current_mode(PHOTO_RECIPES["gpu" if gpu else "cpu"], most_scenes=FAST["train_scenes"] // 2)
    if source == "synthetic":
        return track_recipe(SYNTHETIC_TRACK) if gpu else track_recipe(SYNTHETIC_TRACK, train_scenes=2048, epochs=3)
    raise ValueError(f"unknown data source {source!r}; choose 'pets' or 'synthetic'")


def backbone_for(device) -> str:
    """``"resnet18"`` (ImageNet weights) on a CUDA GPU, the course's ``"small"`` backbone elsewhere."""
    return "resnet18" if getattr(device, "type", str(device)) == "cuda" else "small"


def loader_workers(source: str) -> int:
    """DataLoader processes that decode photos while the model trains (0 for synthetic scenes)."""
    return 1 if source == "pets" else 0


def pretrained_choice(backbone: str) -> tuple[str | None, str]:
    """``(pretrained option for segedu.models.build, a sentence saying what it means)`` for ``backbone``.

    ResNet-18 asks for ImageNet weights (downloaded once; offline, the model falls back to the
    course's small backbone, see :func:`segedu.models.backbones.build_backbone`). The small
    backbone uses the course's own weights when their file exists and loads, else random weights.
    """
    if backbone == "resnet18":
        return "imagenet", "ResNet-18 with ImageNet weights (downloaded once into torch's cache)"
    path = course_weights_path()
    if not path.is_file():
        return None, (f"the small backbone from random weights: the course's pretrained weights ({path}) are "
                      "not there yet (`python -m segedu.course.pretrain --replace-course-weights` makes them)")
    try:
        load_course_weights_(SmallBackbone(), path)
    except (ValueError, OSError) as error:
        reason = str(error).split("\n")[0][:300]
        return None, f"the small backbone from random weights: the course's weights could not be loaded ({reason})"
    return "course", f"the course's small backbone, pretrained on synthetic classification ({path})"


class ImageNetInput(nn.Module):
    """Normalise ``N x 3 x H x W`` images in [0, 1] with ImageNet's mean and std, then run ``model``.

    Backbones pretrained on ImageNet expect their inputs normalised this way. The output is
    whatever ``model`` returns (logits, or a dict in training mode).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor):
        return self.model((x - self.mean) / self.std)


def uses_imagenet_weights(model: nn.Module) -> bool:
    """True when some backbone inside ``model`` holds ImageNet weights (``weights_source == "imagenet"``)."""
    return any(getattr(module, "weights_source", None) == "imagenet" for module in model.modules())


def split_indices(total: int, val: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """A fixed random split of ``range(total)`` into ``(train indices, val indices)``, ``val`` of them for val."""
    if not 0 <= val <= total:
        raise ValueError(f"cannot take {val} validation items out of {total}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed)).tolist()
    return order[val:], order[:val]


@dataclasses.dataclass
class PhotoData:
    """The datasets of one source: ``train`` (with the joint training transform), ``val``, ``test``.

    Every item is ``(image 3 x S x S float in [0, 1], mask S x S int64)``, ``S = recipe.image_size``,
    255 = ignored. ``track`` names the data in the results registry (``"pets"`` or ``"mixed"``).
    """

    source: str
    track: str
    train: object
    val: object
    test: object
    classes: tuple[str, ...]
    palette: list

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def load_datasets(source: str, recipe, root=None) -> PhotoData:
    """Build the train / val / test datasets of ``source`` as ``recipe`` (a :class:`~segedu.experiments.recipes.Recipe`) says.

    Photos: ``recipe.val_scenes`` validation photos are set aside from ``trainval`` (a fixed random
    split), at most ``recipe.train_scenes`` of the others train with random crops and flips; the
    test photos are a fixed random subset of ``recipe.test_scenes`` of ``test``. ``root`` defaults to
    :func:`segedu.config.data_dir`. Synthetic: the ``mixed`` track's three splits, flips only.
    """
    crop_scale = PETS_CROP_SCALE if source == "pets" else None
    augment = train_transforms(recipe.image_size, flip=True, crop_scale=crop_scale)
    if source == "pets":
        from segedu.data import OxfordPets  # heavy: torchvision's datasets, which only photos need

        root = config.data_dir() if root is None else root
        augmented = OxfordPets(root, "trainval", size=recipe.image_size, transform=augment)
        plain = OxfordPets(root, "trainval", size=recipe.image_size)
        test = OxfordPets(root, "test", size=recipe.image_size)
        train_ids, val_ids = split_indices(len(plain), min(recipe.val_scenes, len(plain) // 2))
        test_ids, _ = split_indices(len(test), max(0, len(test) - recipe.test_scenes), seed=1)
        return PhotoData(source, "pets", Subset(augmented, train_ids[: recipe.train_scenes]),
                         Subset(plain, val_ids), Subset(test, sorted(test_ids)),
                         OxfordPets.classes, OxfordPets.palette)
    if source != "synthetic":
        raise ValueError(f"unknown data source {source!r}; choose one of {SOURCES}")
    size, track = recipe.image_size, SYNTHETIC_TRACK
    train = SyntheticScenes("train", track, size=size, length=recipe.train_scenes, transform=augment)
    val = SyntheticScenes("val", track, size=size, length=recipe.val_scenes)
    test = SyntheticScenes("test", track, size=size, length=recipe.test_scenes)
    return PhotoData(source, track, train, val, test, test.classes, test.palette)
