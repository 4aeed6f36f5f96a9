"""Real photographs (notebook 07): how much to train on them, and which data to use when they are absent.

The notebook trains the same models on one of two *data sources*:

* ``"pets"``: Oxford-IIIT Pet photos (:class:`segedu.data.OxfordPets`, classes background / pet,
  border pixels ignored), when the dataset is on disk or can be downloaded;
* ``"synthetic"``: the course's ``mixed`` synthetic scenes, when it cannot (no network).

Everything after the choice of source is the same code; only :func:`photo_plan` differs, so
that sizes and epochs live here (scaled down in fast mode and on a CPU), never in a notebook::

    plan = photo_plan("pets", config.get_device())
    model = build("pspnet", 2, backbone=plan.backbone, pretrained=pretrained_choice(plan.backbone)[0])
    history = fit(imagenet_input(model) if ..., train, val, **plan.fit_kwargs())
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from segedu import config, recipes

SOURCES = ("pets", "synthetic")
SYNTHETIC_TRACK = "mixed"
PETS_DOWNLOAD_MB = 800
"""Approximate size of the two archives torchvision downloads (images and annotations), in MB."""
PETS_TRAINVAL_PHOTOS = 3680
PETS_TEST_PHOTOS = 3669


@dataclasses.dataclass(frozen=True)
class PhotoPlan:
    """How notebook 07 trains on one data source.

    Attributes:
        source: ``"pets"`` or ``"synthetic"``.
        image_size: side of the square training images (photos are cropped/resized to it).
        train_images, val_images, test_images: how many images each split uses (``train_images``
            is an upper bound for photos: the validation photos are taken out of ``trainval``).
        epochs, batch_size, lr, weight_decay, schedule, max_seconds: passed to
            :func:`segedu.train.fit` through :meth:`fit_kwargs`.
        crop_scale: ``(low, high)`` area fraction of the random training crop, or None (no crop:
            synthetic scenes keep their object sizes and their cue band).
        backbone: backbone of the pretrained model (``"resnet18"`` on a GPU, ``"small"`` otherwise).
        num_workers: DataLoader processes decoding photos while the model trains (0 for synthetic scenes).
    """

    source: str
    image_size: int
    train_images: int
    val_images: int
    test_images: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    schedule: str
    max_seconds: float
    crop_scale: tuple[float, float] | None
    backbone: str
    num_workers: int = 0

    def fit_kwargs(self) -> dict:
        """Keyword arguments for :func:`segedu.train.fit`."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "schedule": self.schedule, "max_seconds": self.max_seconds,
                "num_workers": self.num_workers}


def photo_plan(source: str, device=None) -> PhotoPlan:
    """The :class:`PhotoPlan` for ``source`` on ``device`` (default :func:`segedu.config.get_device`).

    Learner mode on a CUDA GPU: photos at 160 px, every ``trainval`` photo, a ResNet-18 backbone.
    Learner mode on a CPU (or MPS): photos at 96 px, a few hundred of them, the small backbone.
    Synthetic scenes follow the ``mixed`` recipe of :mod:`segedu.recipes` (half the scenes and fewer
    epochs on a CPU). Every plan uses the "poly" schedule (see below). Fast mode: tiny everything.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {SOURCES}")
    device = torch.device(device) if device is not None else config.get_device()
    gpu = device.type == "cuda"
    base = recipes.recipe(SYNTHETIC_TRACK)
    # "poly" decays from the first step: a run stopped early by the time cap (a slow or busy machine)
    # still ends at a lowered learning rate, unlike a one-cycle schedule cut at its peak.
    common = {"lr": base.lr, "weight_decay": base.weight_decay, "schedule": "poly"}
    if config.is_fast():
        fast = config.FAST_BUDGET
        return PhotoPlan(source, fast.image_size, fast.train_scenes // 2 if source == "pets" else fast.train_scenes,
                         fast.val_scenes, fast.test_scenes, fast.epochs, fast.batch_size, max_seconds=60.0,
                         crop_scale=(0.5, 1.0) if source == "pets" else None, backbone="small", **common)
    if source == "pets":
        if gpu:
            return PhotoPlan(source, 160, PETS_TRAINVAL_PHOTOS, 368, 1024, epochs=8, batch_size=16,
                             max_seconds=600.0, crop_scale=(0.5, 1.0), backbone="resnet18", num_workers=2,
                             **{**common, "lr": 1e-3})
        return PhotoPlan(source, 96, 768, 128, 256, epochs=4, batch_size=16, max_seconds=150.0,
                         crop_scale=(0.5, 1.0), backbone="small", num_workers=1, **common)
    if gpu:
        return PhotoPlan(source, base.image_size, base.train_scenes, base.val_scenes, base.test_scenes,
                         base.epochs, base.batch_size, max_seconds=base.max_seconds, crop_scale=None,
                         backbone="small", **common)
    return PhotoPlan(source, base.image_size, base.train_scenes // 2, base.val_scenes, base.test_scenes,
                     epochs=3, batch_size=base.batch_size, max_seconds=min(base.max_seconds, 150.0), crop_scale=None,
                     backbone="small", **common)


def pretrained_choice(backbone: str) -> tuple[str | None, str]:
    """``(pretrained option for segedu.models.build, a sentence saying what it means)`` for ``backbone``.

    ResNet-18 asks for ImageNet weights (downloaded once; offline, the model falls back to the
    course's small backbone, see :func:`segedu.models.backbones.build_backbone`). The small
    backbone uses the course's own weights when their file exists and loads, else random weights.
    """
    if backbone == "resnet18":
        return "imagenet", "ResNet-18 with ImageNet weights (downloaded once into torch's cache)"
    from segedu.models import SmallBackbone, course_weights_path
    from segedu.models.pretrained import load_course_weights_

    path = course_weights_path()
    if not path.is_file():
        return None, (f"the small backbone from random weights: the course's pretrained weights ({path}) are "
                      "not there yet (`python -m segedu.pretrain` makes them)")
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
        from segedu.models.pretrained import IMAGENET_MEAN, IMAGENET_STD

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

    Every item is ``(image 3 x S x S float in [0, 1], mask S x S int64)``, ``S = plan.image_size``,
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


def load_datasets(source: str, plan: PhotoPlan, root=None) -> PhotoData:
    """Build the train / val / test datasets of ``source`` as ``plan`` says.

    Photos: ``plan.val_images`` validation photos are set aside from ``trainval`` (a fixed random
    split), at most ``plan.train_images`` of the others train with random crops and flips; the
    test photos are a fixed random subset of ``test``. ``root`` defaults to :func:`segedu.config.data_dir`.
    Synthetic: the ``mixed`` track's three splits, flips only.
    """
    from torch.utils.data import Subset

    from segedu.data import SyntheticScenes
    from segedu.data.transforms import train_transforms

    augment = train_transforms(plan.image_size, flip=True, crop_scale=plan.crop_scale)
    if source == "pets":
        from segedu.data import OxfordPets

        root = config.data_dir() if root is None else root
        augmented = OxfordPets(root, "trainval", size=plan.image_size, transform=augment)
        plain = OxfordPets(root, "trainval", size=plan.image_size)
        test = OxfordPets(root, "test", size=plan.image_size)
        train_ids, val_ids = split_indices(len(plain), min(plan.val_images, len(plain) // 2))
        test_ids, _ = split_indices(len(test), max(0, len(test) - plan.test_images), seed=1)
        return PhotoData(source, "pets", Subset(augmented, train_ids[: plan.train_images]),
                         Subset(plain, val_ids), Subset(test, sorted(test_ids)),
                         OxfordPets.classes, OxfordPets.palette)
    if source != "synthetic":
        raise ValueError(f"unknown data source {source!r}; choose one of {SOURCES}")
    size, track = plan.image_size, SYNTHETIC_TRACK
    train = SyntheticScenes("train", track, size=size, length=plan.train_images, transform=augment)
    val = SyntheticScenes("val", track, size=size, length=plan.val_images)
    test = SyntheticScenes("test", track, size=size, length=plan.test_images)
    return PhotoData(source, track, train, val, test, test.classes, test.palette)
