"""Checkers for notebook 07 (street photos): class weights from class frequencies, the score of predicting one class."""

from __future__ import annotations

import torch

from segedu.course.checks import (
    DECIMALS,
    CheckResult,
    as_sequence,
    checker,
    decimals_of,
    describe,
    failed,
    passed,
    real_number,
    rounds_to,
    whole_number,
)
from segedu.metrics import ConfusionMatrix

IGNORE = 255
MAX_CLASSES = 254
"""The most classes a mask can hold: 255 is the ignore label."""
COMPUTED_TOLERANCE = 1e-4
"""How far a computed score may be from the checker's (float32 sums of many pixels)."""
WEIGHT_TOLERANCE = 0.005
"""How far a class weight may be from the checker's: computed, or written with two decimals or more."""


def _not_done(what: str, hint: str) -> CheckResult:
    return failed(f"not done yet: {what}", hint)


def median_frequency_weights(frequencies) -> list[float]:
    """``sqrt(median(f) / f_c)`` for each class frequency ``f_c``: the course's CamVid class weights."""
    values = torch.as_tensor([float(f) for f in frequencies], dtype=torch.float64)
    return [float(w) for w in (values.median() / values).sqrt()]


def _frequencies(frequencies) -> tuple[list[float] | None, CheckResult | None]:
    """The checker's own argument as a list of positive numbers, else a failing result."""
    items, problem = as_sequence(frequencies, "frequencies", "camvid.TRAIN_FREQUENCY")
    if problem is not None:
        return None, problem
    numbers = []
    for item in items:
        number, problem = real_number(item, "each frequency")
        if problem is not None:
            return None, problem
        if number <= 0:
            return None, failed(f"the frequencies should all be positive, got {describe(frequencies)}",
                                "pass camvid.TRAIN_FREQUENCY")
        numbers.append(number)
    if not numbers:
        return None, failed("the frequencies are empty", "pass camvid.TRAIN_FREQUENCY")
    return numbers, None


def _close(given: float, want: float) -> bool:
    return abs(given - want) <= WEIGHT_TOLERANCE + 1e-12


@checker
def check_median_frequency_weights(weights, frequencies) -> CheckResult:
    """Check class weights ``sqrt(median(f) / f_c)`` computed from class ``frequencies`` (one per class)."""
    if weights is None or weights is Ellipsis:
        return failed("not done yet: the weights are still a placeholder",
                      "one weight per class: (median of the frequencies / the class's frequency) ** 0.5")
    frequencies, problem = _frequencies(frequencies)
    if problem is not None:
        return problem
    items, problem = as_sequence(weights, "weights", "a list of 11 numbers, one per class")
    if problem is not None:
        return problem
    if len(items) != len(frequencies):
        return failed(f"{len(items)} weight(s) for {len(frequencies)} classes", "one weight per class, in class order")
    given = []
    for item in items:
        number, problem = real_number(item, "each weight", "a frequency of 0 gives a division by zero")
        if problem is not None:
            return problem
        given.append(number)
    want = median_frequency_weights(frequencies)
    if all(_close(g, w) for g, w in zip(given, want, strict=True)):
        rarest = max(range(len(want)), key=want.__getitem__)
        return passed(f"the rarest class (number {rarest}) weighs {want[rarest]:.2f}, a class at the median "
                      f"frequency 1.00")
    full = [w * w for w in want]
    if all(_close(g, w) for g, w in zip(given, full, strict=True)):
        return failed("these are SegNet's full median-frequency weights", "take their square root")
    inverse = [1 / w for w in want]
    if all(_close(g, w) for g, w in zip(given, inverse, strict=True)):
        return failed("the fraction is upside down: rare classes weigh least here",
                      "median / frequency, so that a rare class (small frequency) weighs more")
    wrong = next(i for i, (g, w) in enumerate(zip(given, want, strict=True)) if not _close(g, w))
    return failed(f"the weight of class {wrong} is {given[wrong]:.4f}, not {want[wrong]:.4f}",
                  "the median is over the frequencies of all the classes: (median / f_c) ** 0.5")


def one_class_baseline(masks: torch.Tensor, num_classes: int, class_id: int) -> tuple[float, float]:
    """``(pixel accuracy, mIoU)`` of predicting ``class_id`` at every pixel of ``masks`` (``N x H x W``).

    Pixels labelled 255 count in neither score; the mIoU averages the IoU of the classes present in the
    truth or the prediction (as :class:`segedu.metrics.ConfusionMatrix` does).
    """
    prediction = torch.full_like(masks, class_id, dtype=torch.long)
    confusion = ConfusionMatrix(num_classes).update(prediction, masks.long())
    return confusion.pixel_accuracy(), confusion.miou()


def _read_masks(masks, num_classes) -> tuple[int | None, CheckResult | None]:
    """``(num_classes as an int, None)`` when the checker's own arguments are ``N x H x W`` class ids below
    ``num_classes`` (or 255), else ``(None, a failing result)``."""
    if not isinstance(masks, torch.Tensor) or masks.dim() != 3 or not masks.numel() or masks.is_floating_point() \
            or masks.is_complex() or masks.dtype == torch.bool:
        return None, failed(f"masks should be the N x H x W tensor of class ids of the test images, got "
                            f"{describe(masks)}", "pass all_test_masks")
    num_classes, problem = whole_number(num_classes, "num_classes", minimum=1, maximum=MAX_CLASSES)
    if problem is not None:
        return None, problem
    labels = masks[masks != IGNORE]
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        return None, failed(f"the masks hold class ids from {int(labels.min())} to {int(labels.max())}, but "
                            f"num_classes is {num_classes}", "pass the data's num_classes (data.num_classes)")
    return num_classes, None


def _score(value, want: float) -> str:
    """``"right"``, ``"coarse"`` (``want`` rounded to fewer than :data:`DECIMALS` decimals) or ``"wrong"``."""
    if not rounds_to(value, want, COMPUTED_TOLERANCE):
        return "wrong"
    return "right" if abs(float(value) - want) <= 1e-12 or decimals_of(value) >= DECIMALS else "coarse"


def _near(value: float, candidate: float) -> bool:
    """``value`` is ``candidate``, computed or rounded (how a wrong answer is matched to a typical mistake)."""
    return rounds_to(value, candidate, COMPUTED_TOLERANCE)


@checker
def check_one_class_baseline(accuracy, miou, masks: torch.Tensor, num_classes: int, class_id: int = 3) -> CheckResult:
    """Check the pixel accuracy and mIoU of a "model" that predicts ``class_id`` everywhere on ``masks``.

    ``masks``: ``N x H x W`` class ids, 255 ignored; ``num_classes``: the number of classes of the data;
    ``class_id``: the class predicted everywhere (CamVid's road is 3).
    """
    if accuracy is None or accuracy is Ellipsis or miou is None or miou is Ellipsis:
        return _not_done("the two scores are still placeholders",
                         "the prediction is torch.full_like(masks, class_id); score it on the pixels that are not 255")
    num_classes, problem = _read_masks(masks, num_classes)
    if problem is not None:
        return problem
    class_id, problem = whole_number(class_id, "class_id", minimum=0, maximum=num_classes - 1)
    if problem is not None:
        return problem
    given_accuracy, given_miou = accuracy, miou
    accuracy, problem = real_number(accuracy, "the pixel accuracy")
    if problem is None:
        miou, problem = real_number(miou, "the mIoU")
    if problem is not None:
        return problem
    labelled = masks != IGNORE
    want_accuracy, want_miou = one_class_baseline(masks, num_classes, class_id)
    verdicts = {"pixel accuracy": (_score(given_accuracy, want_accuracy), accuracy, want_accuracy),
                "mIoU": (_score(given_miou, want_miou), miou, want_miou)}
    if all(verdict != "wrong" for verdict, _, _ in verdicts.values()):
        coarse = [(name, value, want) for name, (verdict, value, want) in verdicts.items() if verdict == "coarse"]
        if coarse:
            name, value, want = coarse[0]
            return failed(f"the {name} {value:g} is {want:.5f} rounded to {decimals_of(value)} decimal(s): give at "
                          f"least {DECIMALS}", f"e.g. {want:.{DECIMALS}f}, or the number your code computes")
        return passed(f"predicting class {class_id} everywhere scores pixel accuracy {want_accuracy:.3f} but mIoU only "
                      f"{want_miou:.3f}: compare both with the trained models' rows above (numbers are accepted "
                      f"rounded to {DECIMALS} decimals or more)")
    right_accuracy = verdicts["pixel accuracy"][0] != "wrong"
    if _near(accuracy, want_miou) and _near(miou, want_accuracy) and want_miou != want_accuracy:
        return failed("the two scores are swapped", "accuracy first, then mIoU")
    if not right_accuracy:
        everything = float((masks == class_id).float().mean())
        if rounds_to(accuracy, 100 * want_accuracy, 1e-2):
            return failed(f"{accuracy:.3g} looks like a percentage", "give a fraction between 0 and 1")
        if labelled.any() and not labelled.all() and _near(accuracy, everything):
            return failed(f"{accuracy:.4f} divides by every pixel, the ignored ones (255) included",
                          "count only the labelled pixels: masks != 255")
        if _near(accuracy, 1 - want_accuracy):
            return failed(f"{accuracy:.4f} is the fraction of pixels that are NOT class {class_id}",
                          f"the prediction is right where the mask is {class_id}")
        return failed(f"the pixel accuracy {accuracy:.4f} is not right",
                      f"right pixels / labelled pixels: ((masks == {class_id}) & (masks != 255)).sum() / "
                      f"(masks != 255).sum()")
    present = [c for c in range(num_classes) if bool((masks[labelled] == c).any()) or c == class_id]
    predicted_iou = want_accuracy  # predicted on every labelled pixel: its union is all labelled pixels
    if rounds_to(miou, 100 * want_miou, 1e-2):
        return failed(f"{miou:.3g} looks like a percentage", "give a fraction between 0 and 1")
    if _near(miou, predicted_iou) and len(present) > 1:
        return failed(f"{miou:.4f} is the IoU of class {class_id} alone",
                      f"the other {len(present) - 1} class(es) in the masks have IoU 0, and they count in the mean")
    if _near(miou, predicted_iou / num_classes) and len(present) < num_classes:
        return failed(f"{miou:.4f} averages over all {num_classes} classes, also those absent from the masks and "
                      f"the prediction", f"a class absent from both has no IoU and is left out: average over the "
                      f"{len(present)} present classes")
    return failed(f"the mIoU {miou:.4f} is not right", "IoU per class = intersection / union over the labelled "
                  "pixels; average over the classes present in the masks or the prediction")
