"""Segmentation scores, accumulated over a whole dataset.

* :class:`ConfusionMatrix` counts, for every pair (true class, predicted class), how many
  pixels fell there. Every score (IoU per class, mIoU, pixel accuracy) is read from that one
  table, so a dataset score is *not* an average of per-image scores: a tiny object in one
  image weighs as little as its few pixels.
* :class:`BoundaryIoU` is the same idea restricted to thin bands along the edges of the
  regions (Boundary IoU, Cheng et al., 2021): it rewards sharp, well-placed boundaries.
* :class:`BucketedConfusion` keeps one confusion matrix per object-size bucket
  (small / medium / large), to see which object sizes a model gets right.
* :class:`Scores` holds all of them for one model on one dataset (:func:`segedu.train.evaluate`).

Pixels whose true label is :data:`IGNORE_INDEX` (255, as in PASCAL VOC) are never counted.
The checks of the inputs (masks of class ids; logits or predictions of the right shape) are in
:mod:`segedu.helpers.masks`, which a first reading can skip.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from segedu.helpers.masks import check_class_count, predicted_ids

IGNORE_INDEX = 255
"""Mask value of pixels that are not scored: the ``ignore_index`` of the loss and the metrics (as in
PASCAL VOC). The data uses the same value for pixels it leaves unlabelled."""


# ---------------------------------------------------------------------------------------------
# Confusion matrix: IoU, mIoU, pixel accuracy
# ---------------------------------------------------------------------------------------------


class ConfusionMatrix:
    """A ``C x C`` table of pixel counts, accumulated over as many batches as you like.

    ``matrix[t, p]`` is the number of scored pixels whose true class is ``t`` and whose
    predicted class is ``p`` (rows = truth, columns = prediction). Counts are int64.

    Example::

        cm = ConfusionMatrix(num_classes=4)
        for images, masks in loader:
            cm.update(model(images), masks)   # logits N x C x H x W, masks N x H x W
        cm.miou(), cm.iou(), cm.pixel_accuracy()
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX):
        check_class_count(num_classes, ignore_index)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred_or_logits: torch.Tensor, target: torch.Tensor) -> ConfusionMatrix:
        """Add one batch. ``pred_or_logits``: logits ``N x C x H x W`` or ids ``N x H x W``
        (or ``C x H x W`` / ``H x W`` for one image); ``target``: int ids ``N x H x W`` / ``H x W``.
        Returns ``self``."""
        pred = predicted_ids(pred_or_logits, target, self.num_classes, self.ignore_index)
        valid = target != self.ignore_index
        codes = target[valid].long() * self.num_classes + pred[valid]  # one code per (true, predicted) pair
        counts = torch.bincount(codes, minlength=self.num_classes**2)
        self.matrix += counts.reshape(self.num_classes, self.num_classes).cpu()
        return self

    @property
    def total(self) -> int:
        """Number of scored (not ignored) pixels seen so far."""
        return int(self.matrix.sum())

    def iou(self) -> torch.Tensor:
        """Intersection over union per class, float64 ``C``: ``TP / (TP + FP + FN)``.

        A class absent from both truth and prediction has no union: its entry is NaN.
        """
        m = self.matrix.double()
        true_positive = m.diag()
        union = m.sum(0) + m.sum(1) - true_positive
        return torch.where(union > 0, true_positive / union.clamp_min(1), torch.full_like(union, math.nan))

    def miou(self) -> float:
        """Mean IoU over the classes present in the truth or the prediction.

        Classes absent from both are left out (not counted as 0), which is what
        ``torchmetrics.classification.MulticlassJaccardIndex(C, ignore_index=255)`` does.
        NaN when no pixel has been scored.
        """
        return _mean_of_present(self.iou())

    def pixel_accuracy(self) -> float:
        """Fraction of scored pixels whose predicted class is right (NaN when none scored)."""
        total = self.total
        return float(self.matrix.diag().sum()) / total if total else math.nan

    def __repr__(self) -> str:
        return (f"ConfusionMatrix(num_classes={self.num_classes}, pixels={self.total}, "
                f"mIoU={self.miou():.4f})")


def _mean_of_present(values: torch.Tensor) -> float:
    """Mean of the non-NaN entries, NaN when every entry is NaN."""
    present = values[~torch.isnan(values)]
    return float(present.mean()) if present.numel() else math.nan


# ---------------------------------------------------------------------------------------------
# Boundary IoU
# ---------------------------------------------------------------------------------------------


def default_boundary_width(height: int, width: int) -> int:
    """Band width of Boundary IoU: 2% of the image diagonal, at least 1 pixel (Cheng et al., 2021).

    1 px at 32x32, 2 px at 64x64, 4 px at 128x128.
    """
    return max(1, round(0.02 * math.hypot(height, width)))


def label_boundary(labels: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels within ``width`` pixels of a pixel with another label: int ``N x H x W`` -> bool ``N x H x W``.

    Distances are measured as on a chessboard (a ``(2w+1) x (2w+1)`` square window). A pixel of
    class ``c`` in the result lies in class ``c``'s inner band; a window holds another label
    exactly when its max and min differ, so two max-pools find the bands of every class at once.
    The image frame is not an edge: pixels outside the image never count (max-pooling pads
    with -inf), since in semantic segmentation the frame separates nothing.
    """
    x = labels.unsqueeze(1).float()
    return (_window_max(x, width) != -_window_max(-x, width)).squeeze(1)


def _window_max(x: torch.Tensor, width: int) -> torch.Tensor:
    """Max over the ``(2w+1) x (2w+1)`` window around each pixel of ``N x K x H x W``, as a row pass then
    a column pass (the same square window, faster)."""
    rows = F.max_pool2d(x, kernel_size=(1, 2 * width + 1), stride=1, padding=(0, width))
    return F.max_pool2d(rows, kernel_size=(2 * width + 1, 1), stride=1, padding=(width, 0))


class BoundaryIoU:
    """Boundary IoU per class, accumulated over a dataset (Cheng et al., 2021).

    For class ``c``, let ``G`` be the true region and ``P`` the predicted one, and ``G_d``,
    ``P_d`` their inner bands of width ``d``: the pixels of the region within ``d`` pixels of
    its edge (:func:`label_boundary`). Boundary IoU is ``|G_d ∩ P_d| / |G_d ∪ P_d|``, with
    intersections and unions summed over every image before dividing (like the confusion
    matrix). The mean is over classes with a non-empty union. Ignored pixels are not counted.
    ``width=None`` uses :func:`default_boundary_width`.
    """

    def __init__(self, num_classes: int, width: int | None = None, ignore_index: int = IGNORE_INDEX):
        if width is not None and (not isinstance(width, int) or width < 1):
            raise ValueError(f"boundary width must be a positive int (pixels) or None, got {width!r}")
        self.num_classes = num_classes
        self.width = width
        self.ignore_index = ignore_index
        self.last_width: int | None = width
        self.intersection = torch.zeros(num_classes, dtype=torch.int64)
        self.union = torch.zeros(num_classes, dtype=torch.int64)

    def update(self, pred_or_logits: torch.Tensor, target: torch.Tensor) -> BoundaryIoU:
        """Add one batch: logits ``N x C x H x W`` or ids ``N x H x W``; target ids ``N x H x W``."""
        pred = predicted_ids(pred_or_logits, target, self.num_classes, self.ignore_index)
        if target.dim() == 2:
            target, pred = target[None], pred[None]
        width = self.width or default_boundary_width(*target.shape[-2:])
        self.last_width = width
        valid = target != self.ignore_index
        true_band = label_boundary(target, width) & valid
        pred_band = label_boundary(pred, width) & valid
        both = true_band & pred_band & (target == pred)
        intersection = self._per_class(target, both)
        self.intersection += intersection
        self.union += self._per_class(target, true_band) + self._per_class(pred, pred_band) - intersection
        return self

    def _per_class(self, labels: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Pixels of each class among ``where`` (the others go to an extra bin that is dropped)."""
        binned = torch.where(where, labels.long(), self.num_classes).flatten()
        return torch.bincount(binned, minlength=self.num_classes + 1)[: self.num_classes].cpu()

    def iou(self) -> torch.Tensor:
        """Boundary IoU per class, float64 ``C``; NaN for classes with no edge in truth or prediction."""
        union = self.union.double()
        return torch.where(union > 0, self.intersection.double() / union.clamp_min(1),
                           torch.full_like(union, math.nan))

    def miou(self) -> float:
        """Mean Boundary IoU over classes with an edge in the truth or the prediction (NaN if none)."""
        return _mean_of_present(self.iou())


# ---------------------------------------------------------------------------------------------
# IoU per object size
# ---------------------------------------------------------------------------------------------


class BucketedConfusion:
    """One :class:`ConfusionMatrix` per bucket (e.g. object size small / medium / large).

    ``update(pred, target, buckets)`` scores in bucket ``b`` only the pixels where
    ``buckets == b``; pixels of any other bucket (or 255) are ignored there.
    """

    def __init__(self, num_classes: int, bucket_names: Sequence[str] = ("small", "medium", "large"),
                 ignore_index: int = IGNORE_INDEX):
        self.bucket_names = tuple(bucket_names)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrices = {name: ConfusionMatrix(num_classes, ignore_index) for name in self.bucket_names}

    def update(self, pred_or_logits: torch.Tensor, target: torch.Tensor, buckets: torch.Tensor) -> None:
        """``target`` and ``buckets``: int tensors of the same shape (``N x H x W``); bucket ids index
        ``bucket_names``."""
        if buckets.shape != target.shape:
            raise ValueError(f"size buckets {tuple(buckets.shape)} and mask {tuple(target.shape)} differ in shape")
        pred = predicted_ids(pred_or_logits, target, self.num_classes, self.ignore_index)
        for index, matrix in enumerate(self.matrices.values()):
            matrix.update(pred, torch.where(buckets == index, target, torch.full_like(target, self.ignore_index)))

    def miou(self) -> dict[str, float | None]:
        """mIoU within each bucket; None for a bucket that no scored pixel belonged to."""
        return {name: (m.miou() if m.total else None) for name, m in self.matrices.items()}


# ---------------------------------------------------------------------------------------------
# All the scores of one model on one dataset
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Scores:
    """The scores of one model on one dataset (every number accumulated over all pixels).

    Made by :func:`segedu.train.evaluate`.

    Attributes:
        miou: mean IoU over the classes present in the truth or the prediction.
        pixel_accuracy: fraction of scored pixels classified right.
        class_iou: class name -> IoU, or None for a class absent from truth and prediction.
        boundary: mean Boundary IoU (see :class:`BoundaryIoU`), None if no edges.
        boundary_width: the band width, in pixels, that ``boundary`` used.
        size_iou: {"small", "medium", "large"} -> mIoU within the pixels of objects of that
            size (and the background nearest to them); None when the data has no size info.
        confusion: the :class:`ConfusionMatrix` (rows truth, columns prediction).
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

    @classmethod
    def from_counts(cls, confusion: ConfusionMatrix, boundary: BoundaryIoU, buckets: BucketedConfusion | None,
                    class_names: tuple[str, ...], num_images: int) -> Scores:
        """The scores read from accumulated counts."""
        return cls(
            miou=confusion.miou(),
            pixel_accuracy=confusion.pixel_accuracy(),
            class_iou={name: _clean(value) for name, value in zip(class_names, confusion.iou().tolist(), strict=True)},
            boundary=_clean(boundary.miou()),
            boundary_width=boundary.last_width,
            size_iou=None if buckets is None else buckets.miou(),
            confusion=confusion,
            class_names=tuple(class_names),
            num_images=num_images,
        )

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


def _clean(value) -> float | None:
    """None for NaN (a class with no pixel), else the value as a float."""
    return None if value is None or math.isnan(value) else float(value)
