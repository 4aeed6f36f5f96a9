"""Checkers for the exercises of notebook 01 (per-pixel logits).

* :func:`check_pixel_cross_entropy` -- the learner's cross-entropy over pixels, written by hand.
* :func:`check_miou_from_confusion` -- mIoU read from a confusion matrix.
* :func:`check_background_accuracy` -- the pixel accuracy (and mIoU) of a model that answers
  "background" everywhere, predicted from the masks alone.

Each checker returns a :class:`~segedu.course.checks.CheckResult`; an unfilled answer (``...`` or
``None``) gives "not done yet", never an exception.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from segedu.course.checks import CheckResult, expect_tensor, failed, passed
from segedu.metrics import IGNORE_INDEX, ConfusionMatrix

__all__ = ["check_pixel_cross_entropy", "check_miou_from_confusion", "check_background_accuracy",
           "background_only_scores", "example_confusion"]

NOT_DONE = "not done yet: replace the ... with your code"


def _not_done(value) -> bool:
    return value is None or value is Ellipsis


def _example_batch(seed: int = 0, num_classes: int = 4, size: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits ``2 x C x size x size`` and a target ``2 x size x size`` with some 255 pixels."""
    generator = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(2, num_classes, size, size, generator=generator)
    target = torch.randint(0, num_classes, (2, size, size), generator=generator)
    target[torch.rand(2, size, size, generator=generator) < 0.25] = IGNORE_INDEX
    return logits, target


def check_pixel_cross_entropy(function) -> CheckResult:
    """Check ``function(logits N x C x H x W, target int64 N x H x W) -> scalar tensor``.

    It must equal ``F.cross_entropy(logits, target, ignore_index=255)``: the mean over the
    labelled pixels of ``-log_softmax(logits, dim=1)`` at the target class.
    """
    if _not_done(function):
        return failed(NOT_DONE, "write a function pixel_cross_entropy(logits, target) and pass it here")
    if not callable(function):
        return failed(f"expected a function, got {type(function).__name__}",
                      "pass the function itself (no parentheses): check_pixel_cross_entropy(my_function)")
    logits, target = _example_batch()
    try:
        value = function(logits.clone(), target.clone())
    except Exception as error:  # noqa: BLE001  (any mistake of the learner's code is reported, not raised)
        return failed(f"your function raised {type(error).__name__}: {error}",
                      "the ignored pixels hold 255, which is not a class: pick the target class only where "
                      "target != 255 (e.g. clamp the target for gather, then mask the ignored pixels out)")
    if _not_done(value):
        return failed(NOT_DONE, "your function returned nothing yet")
    problem = expect_tensor(value, "the loss", shape=())
    if problem is not None:
        return problem
    value = float(value)
    expected = float(F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX))
    if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-5):
        return passed(f"your pixel cross-entropy is {value:.4f}, the same as F.cross_entropy(ignore_index=255)")
    valid = target != IGNORE_INDEX
    per_pixel = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="none")
    log_probs = F.log_softmax(logits, dim=1)
    safe = target.clamp(max=logits.shape[1] - 1)
    picked_everywhere = -log_probs.gather(1, safe[:, None])[:, 0]
    wrong = {
        "summed over the pixels instead of averaged": float(per_pixel.sum()),
        "averaged over every pixel, ignored ones included (counted as 0)": float(per_pixel.sum() / target.numel()),
        "scored the ignored pixels too": float(picked_everywhere.mean()),
        "picked the raw logit without log-softmax": float(-logits.gather(1, safe[:, None])[:, 0][valid].mean()),
        "took the softmax probability, not its log": float(-F.softmax(logits, 1).gather(1, safe[:, None])[:, 0][valid].mean()),
        "normalised over the wrong dimension": float(
            -F.log_softmax(logits, dim=-1).gather(1, safe[:, None])[:, 0][valid].mean()),
        "forgot the minus sign": -expected,
    }
    hints = {
        "summed over the pixels instead of averaged": "divide by the number of labelled pixels (.mean() over them)",
        "averaged over every pixel, ignored ones included (counted as 0)":
            "divide by the number of pixels whose target is not 255, not by all pixels",
        "scored the ignored pixels too": "keep only the pixels where target != 255 before averaging",
        "picked the raw logit without log-softmax": "apply F.log_softmax(logits, dim=1) first",
        "took the softmax probability, not its log": "use log_softmax, not softmax",
        "normalised over the wrong dimension": "the classes are dimension 1 (N x C x H x W): log_softmax(dim=1)",
        "forgot the minus sign": "cross-entropy is minus the log-probability of the right class",
    }
    for mistake, candidate in wrong.items():
        if math.isclose(value, candidate, rel_tol=1e-4, abs_tol=1e-5):
            return failed(f"your loss is {value:.4f}, expected {expected:.4f}: it looks like you {mistake}",
                          hints[mistake])
    return failed(f"your loss is {value:.4f}, expected {expected:.4f}",
                  "log_softmax over dim 1, pick the target class with gather, keep target != 255, take the mean")


def example_confusion() -> torch.Tensor:
    """A 4-class confusion matrix (rows truth, columns prediction) in which class 3 never occurs."""
    return torch.tensor([[50, 2, 3, 0],
                         [4, 10, 1, 0],
                         [6, 0, 4, 0],
                         [0, 0, 0, 0]], dtype=torch.int64)


def _reference_miou(matrix: torch.Tensor) -> float:
    confusion = ConfusionMatrix(matrix.shape[0])
    confusion.matrix = matrix.clone().long()
    return confusion.miou()


def check_miou_from_confusion(function) -> CheckResult:
    """Check ``function(matrix C x C int64) -> float``, the mIoU of a confusion matrix.

    IoU of class c = ``M[c, c] / (row c + column c - M[c, c])``; classes with an empty union
    (absent from truth and prediction) are left out of the mean.
    """
    if _not_done(function):
        return failed(NOT_DONE, "write a function miou_from_confusion(matrix) and pass it here")
    if not callable(function):
        return failed(f"expected a function, got {type(function).__name__}", "pass the function itself")
    matrices = [example_confusion(), torch.tensor([[5, 1], [2, 8]]), torch.eye(3, dtype=torch.int64) * 7]
    for matrix in matrices:
        try:
            value = function(matrix.clone())
        except Exception as error:  # noqa: BLE001
            return failed(f"your function raised {type(error).__name__}: {error}",
                          "work with matrix.diag(), matrix.sum(0) and matrix.sum(1); convert to float first")
        if _not_done(value):
            return failed(NOT_DONE, "your function returned nothing yet")
        try:
            value = float(value)
        except (TypeError, ValueError):
            return failed(f"your function returned a {type(value).__name__}, expected a number",
                          "return a float (use .item() on a one-element tensor)")
        expected = _reference_miou(matrix)
        if math.isclose(value, expected, abs_tol=1e-6):
            continue
        m = matrix.double()
        diag = m.diag()
        union = m.sum(0) + m.sum(1) - diag
        if math.isclose(value, float((diag / union.clamp_min(1)).mean()), abs_tol=1e-6):
            return failed(f"mIoU {value:.4f}, expected {expected:.4f}: a class absent from truth and prediction "
                          f"was counted as IoU 0", "leave classes with an empty union out of the mean")
        if math.isclose(value, float(diag.sum() / m.sum()), abs_tol=1e-6):
            return failed(f"mIoU {value:.4f}, expected {expected:.4f}: that is the pixel accuracy",
                          "IoU is per class: TP / (TP + FP + FN), then the mean over classes")
        recall = diag / m.sum(1)
        if math.isclose(value, float(recall[~torch.isnan(recall)].mean()), abs_tol=1e-6):
            return failed(f"mIoU {value:.4f}, expected {expected:.4f}: that is the mean class accuracy (recall)",
                          "the union also counts the false positives: the column sum of the class")
        return failed(f"mIoU {value:.4f}, expected {expected:.4f} for the matrix\n{matrix.tolist()}",
                      "IoU_c = M[c,c] / (M[c,:].sum() + M[:,c].sum() - M[c,c]); average over classes "
                      "whose union is not 0")
    return passed("your mIoU matches ConfusionMatrix.miou() on every test matrix")


def background_only_scores(masks: torch.Tensor, num_classes: int) -> tuple[float, float]:
    """``(pixel accuracy, mIoU)`` of a model that predicts class 0 (background) at every pixel.

    ``masks``: int ``N x H x W`` (255 = ignored).
    """
    confusion = ConfusionMatrix(num_classes)
    confusion.update(torch.zeros_like(masks), masks)
    return confusion.pixel_accuracy(), confusion.miou()


def check_background_accuracy(accuracy, masks: torch.Tensor, num_classes: int, miou=None) -> CheckResult:
    """Check a prediction of the pixel accuracy (and optionally the mIoU) of an all-background model.

    ``masks``: the int ``N x H x W`` masks it is scored on; ``accuracy``, ``miou``: the learner's numbers.
    """
    if _not_done(accuracy):
        return failed(NOT_DONE, "compute the share of labelled pixels that are background")
    expected_accuracy, expected_miou = background_only_scores(masks, num_classes)
    try:
        accuracy = float(accuracy)
    except (TypeError, ValueError):
        return failed(f"the accuracy should be a number, got {type(accuracy).__name__}", "use .item()")
    if not math.isclose(accuracy, expected_accuracy, abs_tol=1e-4):
        everything = float((masks == 0).double().mean())
        if math.isclose(accuracy, everything, abs_tol=1e-4):
            return failed(f"accuracy {accuracy:.4f}, expected {expected_accuracy:.4f}: ignored pixels were counted",
                          "divide by the number of pixels whose mask is not 255")
        return failed(f"accuracy {accuracy:.4f}, expected {expected_accuracy:.4f}",
                      "an all-background model is right exactly on the background pixels: "
                      "(masks == 0).sum() / (masks != 255).sum()")
    if _not_done(miou):
        return passed(f"pixel accuracy {accuracy:.3f}, right (now predict its mIoU too)")
    try:
        miou = float(miou)
    except (TypeError, ValueError):
        return failed(f"the mIoU should be a number, got {type(miou).__name__}", "use .item()")
    if not math.isclose(miou, expected_miou, abs_tol=1e-4):
        return failed(f"pixel accuracy right, but mIoU {miou:.4f}, expected {expected_miou:.4f}",
                      "background IoU = its pixel share (every pixel is predicted background); every object "
                      "class present in the masks has IoU 0; average over the classes present")
    return passed(f"pixel accuracy {accuracy:.3f} and mIoU {miou:.3f}: a high accuracy, a poor mIoU")
