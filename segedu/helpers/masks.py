"""Checks of masks, logits and predictions, shared by the metrics, the training loop and the evaluation.

Each check raises an error that names the problem and the fix (a mask of colours, logits of the
wrong size, predictions that are probabilities...) instead of a torch traceback.
"""

from __future__ import annotations

import torch


def check_class_count(num_classes, ignore_index) -> None:
    """Raise a clear error unless ``num_classes`` is a positive int and ``ignore_index`` an int that is
    not a class id (``0 <= ignore_index < num_classes`` would hide a real class)."""
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
        raise TypeError(f"ignore_index must be an int (the mask value of unscored pixels, usually 255), got "
                        f"{ignore_index!r}; with no such pixels keep the default.")
    if 0 <= ignore_index < num_classes:
        raise ValueError(f"ignore_index {ignore_index} is a real class id (there are {num_classes} classes)")


def check_target(target: torch.Tensor, num_classes: int, ignore_index: int | None, what: str = "mask") -> None:
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


def predicted_ids(pred_or_logits: torch.Tensor, target: torch.Tensor, num_classes: int,
                  ignore_index: int | None) -> torch.Tensor:
    """Check ``target`` (:func:`check_target`) and turn ``pred_or_logits`` into class ids on ``target``'s device.

    Args:
        pred_or_logits: float logits with one more dimension than ``target`` (the class
            dimension, second: ``N x C x H x W``, or ``C x H x W`` for one ``H x W`` mask), or
            integer predictions of exactly ``target``'s shape.
        target: the true class ids, ``N x H x W`` or ``H x W``.
        num_classes: ``C``; logits must have ``C`` channels, predictions ids in ``[0, C)``.
        ignore_index: the label of the target's unscored pixels.

    Returns:
        int64 class ids, same shape and device as ``target``.
    """
    check_target(target, num_classes, ignore_index)
    return to_prediction(pred_or_logits, target, num_classes).to(target.device)


def to_prediction(pred_or_logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class ids from logits (argmax over the class dimension) or checked integer predictions.

    Shapes as in :func:`predicted_ids`; returns int64 ids shaped like ``target`` (on the logits' device).
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
        check_same_size(tuple(logits.shape[-2:]), tuple(target.shape[-2:]), "logits")
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
        check_same_size(tuple(pred_or_logits.shape), tuple(target.shape), "prediction")
        check_target(pred_or_logits, num_classes, ignore_index=None, what="prediction")
        return pred_or_logits.long()
    raise ValueError(
        f"Cannot match predictions of shape {tuple(pred_or_logits.shape)} with a mask of shape "
        f"{tuple(target.shape)}: pass logits N x C x H x W with masks N x H x W, or ids shaped like the mask."
    )


def check_same_size(got: tuple, want: tuple, what: str) -> None:
    """Raise a clear error unless the ``what`` size ``got`` (H, W) is the mask size ``want``."""
    if got != want:
        raise ValueError(
            f"The {what} size {got} differs from the mask size {want}. Upsample the logits to the mask "
            f"size, e.g. F.interpolate(logits, size=mask.shape[-2:], mode='bilinear', align_corners=False)."
        )
