"""Score a trained model: :func:`evaluate` a dataset (:class:`~segedu.metrics.Scores`), :func:`predict` images.

How a dataset is read in batches (and its class names found) is in :mod:`segedu.train.batches`.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from segedu.metrics import BoundaryIoU, BucketedConfusion, ConfusionMatrix, Scores
from segedu.models.base import main_output
from segedu.train.batches import class_names_of, iterate_batches, model_device, num_classes_of


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
