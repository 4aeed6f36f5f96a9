"""Checkers for notebook 07 (real photographs): trimaps to course labels, the scores of predicting background."""

from __future__ import annotations

import torch

from segedu.course.checks import (
    DECIMALS,
    CheckResult,
    checker,
    decimals_of,
    describe,
    expect_function,
    expect_tensor,
    failed,
    passed,
    raised,
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

EXAMPLE_TRIMAP = torch.tensor(
    [[2, 2, 2, 2, 2, 2], [2, 3, 3, 3, 3, 2], [2, 3, 1, 1, 3, 2], [2, 3, 1, 1, 3, 2], [2, 3, 3, 3, 3, 2]],
    dtype=torch.uint8,
)
"""A tiny trimap in the Oxford-IIIT Pet convention: 1 pet, 2 background, 3 border."""


def reference_trimap_to_classes(trimap: torch.Tensor) -> torch.Tensor:
    """The course's labels for a trimap: pet 1 -> 1, background 2 -> 0, border 3 -> 255 (int64)."""
    trimap = trimap.long()
    return torch.where(trimap == 1, 1, torch.where(trimap == 2, 0, IGNORE))


def _not_done(what: str, hint: str) -> CheckResult:
    return failed(f"not done yet: {what}", hint)


@checker
def check_trimap_to_classes(function) -> CheckResult:
    """Check a learner's ``trimap_to_classes(trimap) -> mask``: 1 -> 1 (pet), 2 -> 0, 3 -> 255."""
    if function is None or function is Ellipsis:
        return _not_done(
            "trimap_to_classes is still a placeholder",
            "define a function that takes a trimap tensor and returns a mask of class ids",
        )
    problem = expect_function(function, "trimap_to_classes", "check_trimap_to_classes(trimap_to_classes)")
    if problem is not None:
        return problem
    trimap = torch.cat([EXAMPLE_TRIMAP, torch.tensor([[1, 2, 3, 1, 2, 3]], dtype=torch.uint8)])
    before = trimap.clone()
    try:
        mask = function(trimap)
    except Exception as error:  # noqa: BLE001 - the learner's code: report it instead of crashing the notebook
        return failed(raised(error, "trimap_to_classes"), "try it on the small trimap above and print what you get")
    if mask is None or mask is Ellipsis:
        return _not_done("trimap_to_classes returns nothing yet", "return the mask tensor")
    problem = expect_tensor(mask, "the mask", shape=tuple(trimap.shape))
    if problem is not None:
        return problem
    if mask.is_floating_point() or mask.is_complex():
        return failed(
            f"the mask is {mask.dtype}; class ids must be integers",
            "use .long() (int64), the dtype the loss expects",
        )
    if not torch.equal(trimap, before):
        return failed(
            "trimap_to_classes changed its input", "build a new tensor (torch.where or a lookup table)"
        )
    trimap = before
    expected = reference_trimap_to_classes(trimap)
    if torch.equal(mask.long(), expected):
        return passed("trimap_to_classes: pet -> 1, background -> 0, border -> 255 (ignored)")
    got = {value: sorted({int(v) for v in mask.long()[trimap == value].tolist()}) for value in (1, 2, 3)}
    if torch.equal(mask.long(), trimap.long() - 1):
        return failed(
            "you subtracted 1: the pet became 0, the background 1 and the border 2",
            "the trimap's order (pet, background, border) is not the course's (background, pet)",
        )
    if got[1] == [0] and got[2] == [1]:
        return failed(
            "pet and background are swapped", "trimap 1 is the pet (class 1), 2 the background (class 0)"
        )
    if got[3] != [IGNORE]:
        return failed(
            f"border pixels (trimap 3) became {got[3]}, they should be 255",
            "the border is uncertain: mark it 255 so that the loss and the metrics ignore it",
        )
    wrong = {value: got[value] for value, want in ((1, [1]), (2, [0])) if got[value] != want}
    return failed(f"wrong class ids for trimap values {wrong}", "pet -> 1, background -> 0, border -> 255")


def background_baseline(masks: torch.Tensor, num_classes: int) -> tuple[float, float]:
    """``(pixel accuracy, mIoU)`` of predicting background (class 0) at every pixel of ``masks`` (``N x H x W``).

    Pixels labelled 255 count in neither score; the mIoU averages the IoU of the classes present in the
    truth or the prediction (as :class:`segedu.metrics.ConfusionMatrix` does).
    """
    confusion = ConfusionMatrix(num_classes).update(torch.zeros_like(masks, dtype=torch.long), masks.long())
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
def check_background_baseline(accuracy, miou, masks: torch.Tensor, num_classes: int) -> CheckResult:
    """Check the pixel accuracy and mIoU of a "model" that predicts background everywhere on ``masks``.

    ``masks``: ``N x H x W`` class ids, 255 ignored; ``num_classes``: the number of classes of the data.
    """
    if accuracy is None or accuracy is Ellipsis or miou is None or miou is Ellipsis:
        return _not_done("the two scores are still placeholders",
                         "the prediction is torch.zeros_like(masks); score it on the pixels that are not 255")
    num_classes, problem = _read_masks(masks, num_classes)
    if problem is not None:
        return problem
    given_accuracy, given_miou = accuracy, miou
    accuracy, problem = real_number(accuracy, "the pixel accuracy")
    if problem is None:
        miou, problem = real_number(miou, "the mIoU")
    if problem is not None:
        return problem
    labelled = masks != IGNORE
    want_accuracy, want_miou = background_baseline(masks, num_classes)
    verdicts = {"pixel accuracy": (_score(given_accuracy, want_accuracy), accuracy, want_accuracy),
                "mIoU": (_score(given_miou, want_miou), miou, want_miou)}
    if all(verdict != "wrong" for verdict, _, _ in verdicts.values()):
        coarse = [(name, value, want) for name, (verdict, value, want) in verdicts.items() if verdict == "coarse"]
        if coarse:
            name, value, want = coarse[0]
            return failed(f"the {name} {value:g} is {want:.5f} rounded to {decimals_of(value)} decimal(s): give at "
                          f"least {DECIMALS}", f"e.g. {want:.{DECIMALS}f}, or the number your code computes")
        return passed(f"predicting background everywhere scores pixel accuracy {want_accuracy:.3f} but mIoU only "
                      f"{want_miou:.3f}: compare both with the trained models' rows above (numbers are accepted "
                      f"rounded to {DECIMALS} decimals or more)")
    right_accuracy = verdicts["pixel accuracy"][0] != "wrong"
    if _near(accuracy, want_miou) and _near(miou, want_accuracy) and want_miou != want_accuracy:
        return failed("the two scores are swapped", "accuracy first, then mIoU")
    if not right_accuracy:
        everything = float((masks == 0).float().mean())
        if rounds_to(accuracy, 100 * want_accuracy, 1e-2):
            return failed(f"{accuracy:.3g} looks like a percentage", "give a fraction between 0 and 1")
        if labelled.any() and not labelled.all() and _near(accuracy, everything):
            return failed(f"{accuracy:.4f} divides by every pixel, the ignored ones (255) included",
                          "count only the labelled pixels: masks != 255")
        if _near(accuracy, 1 - want_accuracy):
            return failed(f"{accuracy:.4f} is the fraction of pixels that are NOT background",
                          "the prediction is right where the mask is 0")
        return failed(f"the pixel accuracy {accuracy:.4f} is not right",
                      "right pixels / labelled pixels: ((masks == 0) & (masks != 255)).sum() / (masks != 255).sum()")
    present = [c for c in range(num_classes) if bool((masks[labelled] == c).any()) or c == 0]
    background_iou = want_accuracy  # background predicted on every labelled pixel: union = all labelled pixels
    if rounds_to(miou, 100 * want_miou, 1e-2):
        return failed(f"{miou:.3g} looks like a percentage", "give a fraction between 0 and 1")
    if _near(miou, background_iou) and len(present) > 1:
        return failed(f"{miou:.4f} is the background's IoU alone",
                      f"the other {len(present) - 1} class(es) in the masks have IoU 0, and they count in the mean")
    if _near(miou, background_iou / num_classes) and len(present) < num_classes:
        return failed(f"{miou:.4f} averages over all {num_classes} classes, also those absent from the masks and "
                      f"the prediction", f"a class absent from both has no IoU and is left out: average over the "
                      f"{len(present)} present classes")
    return failed(f"the mIoU {miou:.4f} is not right", "IoU per class = intersection / union over the labelled "
                  "pixels; average over the classes present in the masks or the prediction")
