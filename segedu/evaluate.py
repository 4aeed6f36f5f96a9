"""Evaluate a segmentation model on a dataset: :func:`evaluate` -> :class:`Scores`; :func:`predict`.

Everything here is re-exported by :mod:`segedu.train`, so notebooks write
``from segedu.train import fit, evaluate, predict``.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader

from segedu.data.tracks import SIZE_BUCKETS
from segedu.metrics import BoundaryIoU, BucketedConfusion, ConfusionMatrix
from segedu.models.base import main_output


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _unpack(batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(images, masks, size buckets or None) from a collated batch: a dict or an (image, mask[, bucket]) tuple."""
    if isinstance(batch, dict):
        return batch["image"], batch["mask"], batch.get("size_bucket")
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)
    raise TypeError(
        "Each dataset item must be an (image, mask) pair (or a dict with 'image' and 'mask'), got "
        f"{type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


def iterate_batches(data, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """Yield ``(images N x 3 x H x W, masks N x H x W, size buckets N x H x W or None)`` in order.

    Uses the dataset's fast ``batch(indices)`` method when it has one and no transform
    is set (``batch`` skips transforms), else a ``DataLoader`` without worker processes.
    A ``DataLoader`` is iterated as it is.
    """
    if isinstance(data, DataLoader):
        for batch in data:
            yield _unpack(batch)
        return
    try:
        length = len(data)
    except TypeError as error:
        raise TypeError(f"Expected a Dataset with a length or a DataLoader, got {type(data).__name__}") from error
    if length == 0:
        raise ValueError("The dataset is empty (length 0): there is nothing to evaluate or train on.")
    if callable(getattr(data, "batch", None)) and getattr(data, "transform", None) is None:
        for start in range(0, length, batch_size):
            yield _unpack(data.batch(list(range(start, min(start + batch_size, length)))))
        return
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0):
        yield _unpack(batch)


def class_names_of(data, num_classes: int) -> tuple[str, ...]:
    """The dataset's ``classes`` (or ``dataset.dataset.classes`` for a Subset), else ``class 0``, ..."""
    for source in (data, getattr(data, "dataset", None), getattr(getattr(data, "dataset", None), "dataset", None)):
        names = getattr(source, "classes", None)
        if names is not None and len(names) == num_classes:
            return tuple(str(name) for name in names)
    return tuple(f"class {index}" for index in range(num_classes))


def num_classes_of(data) -> int | None:
    """``data.num_classes`` (also through a Subset or a DataLoader), or None when unknown."""
    for source in (data, getattr(data, "dataset", None), getattr(getattr(data, "dataset", None), "dataset", None)):
        value = getattr(source, "num_classes", None)
        if isinstance(value, int):
            return value
    return None


def _clean(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@dataclasses.dataclass
class Scores:
    """The scores of one model on one dataset (every number accumulated over all pixels).

    Attributes:
        miou: mean IoU over the classes present in the truth or the prediction.
        pixel_accuracy: fraction of scored pixels classified right.
        class_iou: class name -> IoU, or None for a class absent from truth and prediction.
        boundary: mean Boundary IoU (see :class:`segedu.metrics.BoundaryIoU`), None if no edges.
        boundary_width: the band width, in pixels, that ``boundary`` used.
        size_iou: {"small", "medium", "large"} -> mIoU within the pixels of objects of that
            size (and the background nearest to them); None when the data has no size info.
        confusion: the :class:`~segedu.metrics.ConfusionMatrix` (rows truth, columns prediction).
        class_names: names of the classes, in class-id order.
        num_images: how many images were scored.
    """

    miou: float
    pixel_accuracy: float
    class_iou: dict[str, float | None]
    boundary: float | None
    boundary_width: int | None
    size_iou: dict[str, float | None] | None
    confusion: ConfusionMatrix
    class_names: tuple[str, ...]
    num_images: int

    def _summary_lines(self) -> list[tuple[str, str]]:
        def fmt(value):
            return "absent" if value is None else f"{value:.3f}"

        lines = [("mIoU", fmt(self.miou)), ("pixel accuracy", fmt(self.pixel_accuracy)),
                 (f"boundary IoU ({self.boundary_width} px)", fmt(self.boundary))]
        if self.size_iou is not None:
            lines += [(f"mIoU on {name} objects", fmt(value)) for name, value in self.size_iou.items()]
        lines += [(f"IoU {name}", fmt(value)) for name, value in self.class_iou.items()]
        return lines

    def __repr__(self) -> str:
        lines = self._summary_lines()
        width = max(len(label) for label, _ in lines)
        body = "\n".join(f"  {label:<{width}}  {value}" for label, value in lines)
        return f"Scores on {self.num_images} images:\n{body}"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(label)}</td><td>{value}</td></tr>"
            for label, value in self._summary_lines()
        )
        return (f"<table><caption>Scores on {self.num_images} images</caption>"
                f"<tr><th>score</th><th>value</th></tr>{rows}</table>")

    def to_dict(self) -> dict:
        """A JSON-safe dict (NaN written as None; the confusion matrix as nested lists)."""
        return {
            "miou": _clean(self.miou),
            "pixel_accuracy": _clean(self.pixel_accuracy),
            "class_iou": dict(self.class_iou),
            "boundary": self.boundary,
            "boundary_width": self.boundary_width,
            "size_iou": None if self.size_iou is None else dict(self.size_iou),
            "confusion": self.confusion.matrix.tolist(),
            "class_names": list(self.class_names),
            "num_images": self.num_images,
        }


@torch.no_grad()
def evaluate(model: nn.Module, data, batch_size: int = 64, device=None, boundary_width: int | None = None,
             progress: bool = False) -> Scores:
    """Score ``model`` on every image of ``data``.

    Args:
        model: returns logits ``N x C x H x W`` (or a dict with ``"out"``) for images ``N x 3 x H x W``.
        data: a Dataset of ``(image 3 x H x W, mask H x W int64)`` pairs, or a DataLoader. If it
            has a ``batch(indices)`` method (``SyntheticScenes``) and no transform, that fast
            path is used, and it also supplies object-size buckets for ``size_iou``.
        batch_size: images per forward pass.
        device: where to compute; None keeps the model where it is (else the model is moved).
        boundary_width: band width for Boundary IoU in pixels; None = 2% of the image diagonal.
        progress: show a progress bar.

    Returns:
        :class:`Scores`. The model's train/eval mode is restored afterwards.
    """
    if device is not None:
        model.to(device)
    device = model_device(model)
    num_classes = num_classes_of(data)
    was_training = model.training
    model.eval()
    confusion = boundary = buckets_cm = None
    num_images = 0
    batches = iterate_batches(data, batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="evaluate", leave=False)
    try:
        for images, masks, buckets in batches:
            logits = main_output(model(images.to(device)))
            if num_classes is None:
                num_classes = logits.shape[1]
            if confusion is None:
                confusion = ConfusionMatrix(num_classes)
                boundary = BoundaryIoU(num_classes, width=boundary_width)
            masks = masks.to(device)
            confusion.update(logits, masks)
            prediction = logits.argmax(1)
            boundary.update(prediction, masks)
            if buckets is not None:
                buckets_cm = buckets_cm or BucketedConfusion(num_classes, SIZE_BUCKETS)
                buckets_cm.update(prediction, masks, buckets.to(device))
            num_images += images.shape[0]
    finally:
        model.train(was_training)
    if confusion is None:
        raise ValueError("The data yielded no batch: there is nothing to evaluate.")
    names = class_names_of(data, num_classes)
    return Scores(
        miou=confusion.miou(),
        pixel_accuracy=confusion.pixel_accuracy(),
        class_iou={name: _clean(value) for name, value in zip(names, confusion.iou().tolist(), strict=True)},
        boundary=_clean(boundary.miou()),
        boundary_width=boundary.last_width,
        size_iou=None if buckets_cm is None else buckets_cm.miou(),
        confusion=confusion,
        class_names=names,
        num_images=num_images,
    )


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Class ids predicted for ``images``: ``N x 3 x H x W`` -> int64 ``N x H x W`` (on the CPU).

    A single image ``3 x H x W`` gives a single mask ``H x W``. The model runs in eval mode
    without gradients, on its own device; its previous train/eval mode is restored.
    """
    if not isinstance(images, torch.Tensor) or images.dim() not in (3, 4):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"predict() needs images 3 x H x W or N x 3 x H x W, got {shape}")
    single = images.dim() == 3
    batch = images[None] if single else images
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        outputs = [main_output(model(batch[i:i + batch_size].to(device))).argmax(1).cpu()
                   for i in range(0, batch.shape[0], batch_size)]
    finally:
        model.train(was_training)
    result = torch.cat(outputs) if outputs else torch.zeros(0, *batch.shape[-2:], dtype=torch.int64)
    return result[0] if single else result
