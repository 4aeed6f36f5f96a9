"""Score a trained model: :func:`evaluate` a dataset (:class:`~segedu.metrics.Scores`), :func:`predict` images."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader

from segedu.metrics import BoundaryIoU, BucketedConfusion, ConfusionMatrix, Scores
from segedu.models.base import main_output


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
        :class:`~segedu.metrics.Scores`. The model's train/eval mode is restored afterwards.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if device is not None:
        model.to(device)
    device = model_device(model)
    num_classes = num_classes_of(data)
    was_training = model.training
    model.eval()
    confusion = boundary = buckets = None
    num_images = 0
    batches = iterate_batches(data, batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="evaluate", leave=False)
    try:
        for images, masks, sizes in batches:
            logits = main_output(model(images.to(device)))
            if confusion is None:
                num_classes = num_classes or logits.shape[1]
                confusion = ConfusionMatrix(num_classes)
                boundary = BoundaryIoU(num_classes, width=boundary_width)
            masks = masks.to(device)
            confusion.update(logits, masks)
            prediction = logits.argmax(1)
            boundary.update(prediction, masks)
            if sizes is not None:
                buckets = buckets or BucketedConfusion(num_classes, getattr(data, "size_bucket_names",
                                                                            ("small", "medium", "large")))
                buckets.update(prediction, masks, sizes.to(device))
            num_images += images.shape[0]
    finally:
        model.train(was_training)
    if confusion is None:
        raise ValueError("The data yielded no batch: there is nothing to evaluate.")
    return Scores.from_counts(confusion, boundary, buckets, class_names_of(data, num_classes), num_images)


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
        outputs = []
        for start in range(0, batch.shape[0], batch_size):
            logits = main_output(model(batch[start:start + batch_size].to(device)))
            if not bool(torch.isfinite(logits).all()):
                raise ValueError("The model's logits hold NaN or infinite values, so no class can be read from "
                                 "them: its weights or the images are not finite (training diverged?).")
            outputs.append(logits.argmax(1).cpu())
    finally:
        model.train(was_training)
    result = torch.cat(outputs) if outputs else torch.zeros(0, *batch.shape[-2:], dtype=torch.int64)
    return result[0] if single else result


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def unpack(batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
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
            yield unpack(batch)
        return
    try:
        length = len(data)
    except TypeError as error:
        raise TypeError(f"Expected a Dataset with a length or a DataLoader, got {type(data).__name__}") from error
    if length == 0:
        raise ValueError("The dataset is empty (length 0): there is nothing to evaluate or train on.")
    if callable(getattr(data, "batch", None)) and getattr(data, "transform", None) is None:
        for start in range(0, length, batch_size):
            yield unpack(data.batch(list(range(start, min(start + batch_size, length)))))
        return
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0):
        yield unpack(batch)


def _sources(data):
    """``data``, and what it wraps (a Subset's or a DataLoader's dataset, two levels deep)."""
    inner = getattr(data, "dataset", None)
    return (data, inner, getattr(inner, "dataset", None))


def class_names_of(data, num_classes: int) -> tuple[str, ...]:
    """The dataset's ``classes`` (also through a Subset or DataLoader), else ``class 0``, ``class 1``, ..."""
    for source in _sources(data):
        names = getattr(source, "classes", None)
        if names is not None and len(names) == num_classes:
            return tuple(str(name) for name in names)
    return tuple(f"class {index}" for index in range(num_classes))


def num_classes_of(data) -> int | None:
    """``data.num_classes`` (also through a Subset or a DataLoader), or None when unknown."""
    for source in _sources(data):
        value = getattr(source, "num_classes", None)
        if isinstance(value, int):
            return value
    return None
