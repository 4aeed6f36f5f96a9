"""Joint image + mask transforms: the same flip, crop and resize for both, masks resized with NEAREST.

Built on ``torchvision.transforms.v2``: the image is wrapped as a ``tv_tensors.Image`` and the
mask as a ``tv_tensors.Mask``, so one random draw is applied to both and masks are never
interpolated (a mask pixel stays a class id). Usable on synthetic scenes and on photos::

    from segedu.data.transforms import train_transforms, eval_transforms
    train = SyntheticScenes("train", transform=train_transforms(flip=True))
    photos = CamVid("train", transform=train_transforms((128, 128), crop_scale=(0.5, 1.0)))

Random crops change object sizes: fine for photos, off by default for synthetic scenes, whose
size buckets describe the objects as drawn.
"""

from __future__ import annotations

import numpy
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from segedu.data.standardize import Standardize  # noqa: F401  (one of the course's transforms)


def _pair(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return (size, size)
    if (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in size)):
        return (int(size[0]), int(size[1]))
    raise ValueError(f"size must be a positive int, a (height, width) pair of them, or None; got {size!r}")


def as_image(image) -> tv_tensors.Image:
    """A ``tv_tensors.Image`` from a ``3 x H x W`` tensor (float in [0, 1] or uint8) or a PIL image."""
    if isinstance(image, torch.Tensor):
        if image.dim() != 3:
            raise ValueError(f"image must be C x H x W, got shape {tuple(image.shape)}")
        return tv_tensors.Image(image)
    if isinstance(image, Image.Image):
        return tv_tensors.Image(TF.pil_to_tensor(image))
    raise TypeError(f"image must be a torch tensor C x H x W or a PIL image, got {_kind(image)}. "
                    + ("An H x W x 3 NumPy array becomes one with torch.from_numpy(array).permute(2, 0, 1)."
                       if isinstance(image, numpy.ndarray) else "Check what the dataset returns for the image."))


def as_mask(mask) -> tv_tensors.Mask:
    """A ``tv_tensors.Mask`` from an ``H x W`` tensor of class ids or a PIL image (mode L or P)."""
    if isinstance(mask, torch.Tensor):
        if mask.dim() != 2 or mask.is_floating_point():
            raise ValueError(f"mask must be an H x W tensor of integer class ids, got {mask.dtype} "
                             f"of shape {tuple(mask.shape)}")
        return tv_tensors.Mask(mask)
    if isinstance(mask, Image.Image):
        return tv_tensors.Mask(TF.pil_to_tensor(mask)[0])
    raise TypeError(f"mask must be a torch tensor H x W of class ids or a PIL image, got {_kind(mask)}. "
                    + ("A NumPy array of class ids becomes one with torch.from_numpy(array).long()."
                       if isinstance(mask, numpy.ndarray) else "Check what the dataset returns for the mask."))


def _kind(value) -> str:
    if isinstance(value, numpy.ndarray):
        return f"a NumPy array of shape {value.shape}"
    return "None" if value is None else f"a {type(value).__name__}"


def check_same_size(image: torch.Tensor, mask: torch.Tensor) -> None:
    """Raise a ValueError unless the image ``C x H x W`` and the mask ``H x W`` have the same H and W.

    Mask pixel ``(i, j)`` labels image pixel ``(i, j)``: a pair of different sizes cannot be
    aligned, and resizing both to one size would only hide the mismatch.
    """
    image_size, mask_size = tuple(image.shape[-2:]), tuple(mask.shape[-2:])
    if image_size != mask_size:
        raise ValueError(
            f"The image is {image_size[0]} x {image_size[1]} (height x width) but its mask is "
            f"{mask_size[0]} x {mask_size[1]}: mask pixel (i, j) must label image pixel (i, j), so both need "
            f"the same size. Check that the mask belongs to this image; a mask saved at another resolution "
            f"must be resized to the image size first, with nearest-neighbour interpolation."
        )


class JointTransform:
    """Apply a ``torchvision.transforms.v2`` transform to an ``(image, mask)`` pair.

    Call with ``(image, mask)``: image ``3 x H x W`` (float in [0, 1], uint8, or PIL), mask
    ``H x W`` (integer tensor or PIL) of the same H and W (else a ValueError says so). Returns
    plain tensors: image float32 ``3 x H' x W'`` in [0, 1], mask ``H' x W'`` with the input's
    integer dtype (int64 for PIL masks).
    """

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, image, mask):
        image, mask = as_image(image), as_mask(mask)
        check_same_size(image, mask)
        image, mask = self.transform(image, mask)
        image = image.as_subclass(torch.Tensor)
        if not image.is_floating_point():
            image = image.float() / 255.0
        mask = mask.as_subclass(torch.Tensor)
        return image, (mask.long() if mask.dtype == torch.uint8 else mask)

    def __repr__(self) -> str:
        return f"JointTransform({self.transform!r})"


def _range(value, name: str, example: str, at_most_one: bool = False) -> tuple[float, float]:
    """``value`` as a ``(low, high)`` pair of numbers with ``0 < low <= high`` (and ``high <= 1`` if asked)."""
    bound = " <= 1" if at_most_one else ""
    rule = f"{name} must be a (low, high) pair with 0 < low <= high{bound}, e.g. {example}"
    numbers = (isinstance(value, (tuple, list)) and len(value) == 2
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
    if not numbers:
        raise ValueError(f"{rule}; got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not 0 < low <= high or (at_most_one and high > 1):
        hint = f" (swap them: {name}=({value[1]!r}, {value[0]!r}))" if 0 < high < low else ""
        raise ValueError(f"{rule}; got {tuple(value)!r}{hint}")
    return low, high


def train_transforms(size=None, flip: bool = True, crop_scale: tuple[float, float] | None = None,
                     crop_ratio: tuple[float, float] | None = None, vertical_flip: bool = False) -> JointTransform:
    """Random augmentation for training.

    Args:
        size: output size (int or ``(height, width)``); ``None`` keeps the input size (only
            allowed without ``crop_scale``).
        flip: random horizontal flips (probability 0.5).
        crop_scale: if given, e.g. ``(0.5, 1.0)``, a random crop of that fraction of the area
            (``0 < low <= high <= 1``) resized to ``size``. Off by default: it changes object
            sizes, which the synthetic tracks control on purpose.
        crop_ratio: range of the crop's aspect ratio (width / height), ``0 < low <= high``;
            only with ``crop_scale``. ``None`` means ``(3/4, 4/3)``.
        vertical_flip: random vertical flips too.
    """
    size = _pair(size)
    steps = []
    if crop_scale is None and crop_ratio is not None:
        raise ValueError("train_transforms: crop_ratio sets the shape of the random crop, so it needs crop_scale "
                         "too, e.g. train_transforms(128, crop_scale=(0.5, 1.0), crop_ratio=(0.75, 1.33))")
    if crop_scale is not None:
        if size is None:
            raise ValueError("train_transforms: crop_scale needs an output size, e.g. train_transforms(128, ...)")
        scale = _range(crop_scale, "crop_scale", "(0.5, 1.0)", at_most_one=True)
        ratio = _range((3 / 4, 4 / 3) if crop_ratio is None else crop_ratio, "crop_ratio", "(0.75, 1.33)")
        steps.append(v2.RandomResizedCrop(size, scale=scale, ratio=ratio, antialias=True))
    elif size is not None:
        steps.append(v2.Resize(size, antialias=True))
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    if vertical_flip:
        steps.append(v2.RandomVerticalFlip())
    return JointTransform(v2.Compose(steps) if steps else v2.Identity())


def eval_transforms(size=None) -> JointTransform:
    """Deterministic preprocessing for evaluation: resize to ``size`` (image antialiased, mask nearest)."""
    size = _pair(size)
    return JointTransform(v2.Resize(size, antialias=True) if size is not None else v2.Identity())
