"""Segmentation scores, accumulated over a whole dataset.

* :class:`ConfusionMatrix` counts, for every pair (true class, predicted class), how many
  pixels fell there. Every score (IoU per class, mIoU, pixel accuracy, class accuracy)
  is read from that one table, so a dataset score is *not* an average of per-image
  scores: a tiny object in one image weighs as little as its few pixels.
* :class:`BoundaryIoU` is the same idea restricted to thin bands along the edges of the
  regions (Boundary IoU, Cheng et al., 2021): it rewards sharp, well-placed boundaries.
* :class:`BucketedConfusion` keeps one confusion matrix per object-size bucket
  (small / medium / large), to see which object sizes a model gets right.

Pixels whose true label is ``ignore_index`` (255, as in PASCAL VOC) are never counted.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255
"""Mask value of pixels that are not scored: the ``ignore_index`` of the loss and the metrics (as in
PASCAL VOC). The data uses the same value for pixels it leaves unlabelled."""

# ---------------------------------------------------------------------------------------------
# Input checks shared by the metrics, the training loop and the evaluation
# ---------------------------------------------------------------------------------------------


def check_target(target: torch.Tensor, num_classes: int, ignore_index: int | None = IGNORE_INDEX,
                 what: str = "mask") -> None:
    """Raise a clear error unless ``target`` is an integer tensor of class ids in ``[0, num_classes)``
    or ``ignore_index``.

    Args:
        target: integer tensor of any shape (usually ``N x H x W`` or ``H x W``).
        num_classes: number of classes ``C``.
        ignore_index: the label of pixels that are not scored (255); None allows no such label.
        what: how to call the tensor in the error message.
    """
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"The {what} must be a torch.Tensor of class ids, got {type(target).__name__}.")
    if target.dtype == torch.bool or target.is_floating_point() or target.is_complex():
        raise TypeError(
            f"The {what} must hold integer class ids (int64), got dtype {target.dtype}. A mask is a map of "
            f"class ids, not colours or probabilities: convert it with mask.long() (and resize masks only "
            f"with mode='nearest')."
        )
    bad = (target < 0) | (target >= num_classes)
    if ignore_index is not None:
        bad &= target != ignore_index
    if bool(bad.any()):
        values = torch.unique(target[bad]).tolist()
        shown = ", ".join(str(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
        allowed = f" that are not the ignore label {ignore_index}" if ignore_index is not None else ""
        hint = f", or map unlabelled pixels to {ignore_index}" if ignore_index is not None else ""
        raise ValueError(
            f"The {what} holds class id(s) {shown} outside [0, {num_classes}){allowed}; there are "
            f"{num_classes} classes. Check num_classes (the model's output channels){hint}."
        )


def to_prediction(pred_or_logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Turn logits (``N x C x H x W``) or class ids (same shape as ``target``) into class ids.

    Args:
        pred_or_logits: float logits with one more dimension than ``target`` (the class
            dimension, second), or integer predictions of exactly ``target``'s shape.
        target: the true class ids, ``N x H x W`` or ``H x W``; only its shape is used.
        num_classes: ``C``; logits must have ``C`` channels, predictions ids in ``[0, C)``.

    Returns:
        int64 class ids, same shape as ``target``.
    """
    if not isinstance(pred_or_logits, torch.Tensor):
        raise TypeError(f"Predictions must be a torch.Tensor, got {type(pred_or_logits).__name__}.")
    if pred_or_logits.dim() == target.dim() + 1:
        if not pred_or_logits.is_floating_point():
            raise TypeError(
                f"Got a {pred_or_logits.dim()}-D integer tensor for a {target.dim()}-D mask: pass either "
                f"float logits (N x C x H x W) or integer class ids shaped like the mask."
            )
        logits = pred_or_logits if target.dim() == 3 else pred_or_logits.unsqueeze(0)
        finite = torch.isfinite(logits)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(
                f"The logits hold {bad} NaN or infinite value(s) out of {logits.numel()}: the model's weights or "
                f"its input are not finite (training diverged?), so no class can be read from them. Check the "
                f"input, or reload good weights."
            )
        if logits.shape[1] != num_classes:
            raise ValueError(
                f"The logits have {logits.shape[1]} channels but there are {num_classes} classes: the "
                f"model's last layer must output one channel per class."
            )
        _check_same_size(tuple(logits.shape[-2:]), tuple(target.shape[-2:]), "logits")
        if logits.shape[0] != (target.shape[0] if target.dim() == 3 else 1):
            raise ValueError(f"{logits.shape[0]} logit maps for {target.shape[0]} masks: the batch sizes differ.")
        pred = logits.argmax(dim=1)
        return pred if target.dim() == 3 else pred[0]
    if pred_or_logits.dim() == target.dim():
        if pred_or_logits.is_floating_point():
            raise TypeError(
                f"Got float predictions of the mask's shape {tuple(target.shape)}: pass logits with a class "
                f"dimension (N x C x H x W) or integer class ids (e.g. logits.argmax(1))."
            )
        _check_same_size(tuple(pred_or_logits.shape), tuple(target.shape), "prediction")
        check_target(pred_or_logits, num_classes, ignore_index=None, what="prediction")
        return pred_or_logits.long()
    raise ValueError(
        f"Cannot match predictions of shape {tuple(pred_or_logits.shape)} with a mask of shape "
        f"{tuple(target.shape)}: pass logits N x C x H x W with masks N x H x W, or ids shaped like the mask."
    )


def _check_same_size(got: tuple, want: tuple, what: str) -> None:
    if got != want:
        raise ValueError(
            f"The {what} size {got} differs from the mask size {want}. Upsample the logits to the mask "
            f"size, e.g. F.interpolate(logits, size=mask.shape[-2:], mode='bilinear', align_corners=False)."
        )


def _mean_of_present(values: torch.Tensor) -> float:
    """Mean of the non-NaN entries, NaN when every entry is NaN."""
    present = values[~torch.isnan(values)]
    return float(present.mean()) if present.numel() else math.nan


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
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
            raise TypeError(f"ignore_index must be an int (the mask value of unscored pixels, usually "
                            f"{IGNORE_INDEX}), got {ignore_index!r}; with no such pixels keep the default.")
        if 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index {ignore_index} is a real class id (there are {num_classes} classes)")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred_or_logits: torch.Tensor, target: torch.Tensor) -> ConfusionMatrix:
        """Add one batch. ``pred_or_logits``: logits ``N x C x H x W`` or ids ``N x H x W``
        (or ``C x H x W`` / ``H x W`` for one image); ``target``: int ids ``N x H x W`` / ``H x W``.
        Returns ``self``."""
        check_target(target, self.num_classes, self.ignore_index)
        pred = to_prediction(pred_or_logits, target, self.num_classes).to(target.device)
        valid = target != self.ignore_index
        codes = target[valid].long() * self.num_classes + pred[valid]
        counts = torch.bincount(codes, minlength=self.num_classes**2)
        self.matrix += counts.reshape(self.num_classes, self.num_classes).cpu()
        return self

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add the counts of another matrix with the same classes (e.g. from another process)."""
        if not isinstance(other, ConfusionMatrix) or other.num_classes != self.num_classes:
            raise ValueError("merge() needs a ConfusionMatrix with the same number of classes")
        self.matrix += other.matrix
        return self

    def reset(self) -> None:
        """Forget every count."""
        self.matrix.zero_()

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

    def class_accuracy(self) -> torch.Tensor:
        """Recall per class, float64 ``C``: right pixels / true pixels of the class (NaN if none)."""
        m = self.matrix.double()
        support = m.sum(1)
        return torch.where(support > 0, m.diag() / support.clamp_min(1), torch.full_like(support, math.nan))

    def __repr__(self) -> str:
        return (f"ConfusionMatrix(num_classes={self.num_classes}, pixels={self.total}, "
                f"mIoU={self.miou():.4f})")


class BucketedConfusion:
    """One :class:`ConfusionMatrix` per bucket (e.g. object size small / medium / large).

    ``update(pred, target, buckets)`` scores in bucket ``b`` only the pixels where
    ``buckets == b``; pixels of any other bucket (or 255) are ignored there.
    """

    def __init__(self, num_classes: int, bucket_names: Sequence[str] = ("small", "medium", "large"),
                 ignore_index: int = IGNORE_INDEX):
        self.bucket_names = tuple(bucket_names)
        self.ignore_index = ignore_index
        self.matrices = {name: ConfusionMatrix(num_classes, ignore_index) for name in self.bucket_names}

    def update(self, pred_or_logits: torch.Tensor, target: torch.Tensor, buckets: torch.Tensor) -> None:
        """``target`` and ``buckets``: int tensors of the same shape (``N x H x W``); bucket ids index
        ``bucket_names``."""
        if buckets.shape != target.shape:
            raise ValueError(f"size buckets {tuple(buckets.shape)} and mask {tuple(target.shape)} differ in shape")
        first = next(iter(self.matrices.values()))
        check_target(target, first.num_classes, self.ignore_index)
        pred = to_prediction(pred_or_logits, target, first.num_classes)
        for index, matrix in enumerate(self.matrices.values()):
            matrix.update(pred, torch.where(buckets == index, target, torch.full_like(target, self.ignore_index)))

    def miou(self) -> dict[str, float | None]:
        """mIoU within each bucket; None for a bucket that no scored pixel belonged to."""
        return {name: (m.miou() if m.total else None) for name, m in self.matrices.items()}


# ---------------------------------------------------------------------------------------------
# Boundary IoU
# ---------------------------------------------------------------------------------------------


def default_boundary_width(height: int, width: int) -> int:
    """Band width of Boundary IoU: 2% of the image diagonal, at least 1 pixel (Cheng et al., 2021).

    1 px at 32x32, 2 px at 64x64, 4 px at 128x128.
    """
    return max(1, round(0.02 * math.hypot(height, width)))


def _window_max(x: torch.Tensor, width: int) -> torch.Tensor:
    """Max over the ``(2w+1) x (2w+1)`` window around each pixel of ``N x K x H x W`` (pixels outside
    the image do not count: max-pooling pads with -inf). Done as a row pass then a column pass,
    which gives the same square window faster."""
    rows = F.max_pool2d(x, kernel_size=(1, 2 * width + 1), stride=1, padding=(0, width))
    return F.max_pool2d(rows, kernel_size=(2 * width + 1, 1), stride=1, padding=(width, 0))


def inner_boundary(regions: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels of each region that lie within ``width`` pixels of the region's edge.

    Args:
        regions: bool ``N x K x H x W`` (e.g. one channel per class).
        width: band width in pixels (distance measured as a chessboard, i.e. a square window).

    Returns:
        bool ``N x K x H x W``: ``region AND NOT erode(region, width)``. Erosion is a min-pool
        over a ``(2w+1) x (2w+1)`` window, written as ``-max_pool(-x)``. The image frame is
        not an edge: max-pooling pads with -inf, so pixels outside the image never erode a
        region (in semantic segmentation every pixel has a class; the frame separates nothing).
    """
    eroded = -_window_max(-regions.float(), width)
    return regions & (eroded < 0.5)


def label_boundary(labels: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels within ``width`` pixels of a pixel with another label: int ``N x H x W`` -> bool ``N x H x W``.

    The same bands as :func:`inner_boundary` applied to every class of a label map at once
    (a pixel of class ``c`` is in class ``c``'s band), but with two max-pools over one channel
    instead of one per class: a window holds another label exactly when its max and min differ.
    """
    x = labels.unsqueeze(1).float()
    return (_window_max(x, width) != -_window_max(-x, width)).squeeze(1)


class BoundaryIoU:
    """Boundary IoU per class, accumulated over a dataset (Cheng et al., 2021).

    For class ``c``, let ``G`` be the true region and ``P`` the predicted one, and ``G_d``,
    ``P_d`` their inner bands of width ``d`` (:func:`inner_boundary`). Boundary IoU is
    ``|G_d ∩ P_d| / |G_d ∪ P_d|``, with intersections and unions summed over every image
    before dividing (like the confusion matrix). The mean is over classes with a non-empty
    union. Ignored pixels are not counted. ``width=None`` uses :func:`default_boundary_width`.
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
        check_target(target, self.num_classes, self.ignore_index)
        pred = to_prediction(pred_or_logits, target, self.num_classes).to(target.device)
        if target.dim() == 2:
            target, pred = target[None], pred[None]
        width = self.width or default_boundary_width(*target.shape[-2:])
        self.last_width = width
        valid = target != self.ignore_index
        true_band = label_boundary(target, width) & valid
        pred_band = label_boundary(pred, width) & valid
        both = true_band & pred_band & (target == pred)

        def per_class(labels: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
            """Pixels of each class among ``where`` (others go to an extra bin that is dropped)."""
            binned = torch.where(where, labels.long(), self.num_classes).flatten()
            return torch.bincount(binned, minlength=self.num_classes + 1)[: self.num_classes].cpu()

        intersection = per_class(target, both)
        self.intersection += intersection
        self.union += per_class(target, true_band) + per_class(pred, pred_band) - intersection
        return self

    def iou(self) -> torch.Tensor:
        """Boundary IoU per class, float64 ``C``; NaN for classes with no edge in truth or prediction."""
        union = self.union.double()
        return torch.where(union > 0, self.intersection.double() / union.clamp_min(1),
                           torch.full_like(union, math.nan))

    def miou(self) -> float:
        """Mean Boundary IoU over classes with an edge in the truth or the prediction (NaN if none)."""
        return _mean_of_present(self.iou())

    def reset(self) -> None:
        """Forget every count."""
        self.intersection.zero_()
        self.union.zero_()


# ---------------------------------------------------------------------------------------------
# All the scores of one model on one dataset
# ---------------------------------------------------------------------------------------------


def _clean(value) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


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
