"""Checkers for notebook 07 (real photographs): trimaps to course labels, ignored pixels."""

from __future__ import annotations

import torch

from segedu.course.checks import CheckResult, expect_close, expect_tensor, failed, passed

IGNORE = 255

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


def check_trimap_to_classes(function) -> CheckResult:
    """Check a learner's ``trimap_to_classes(trimap) -> mask``: 1 -> 1 (pet), 2 -> 0, 3 -> 255."""
    if function is None or function is Ellipsis:
        return _not_done(
            "trimap_to_classes is still a placeholder",
            "define a function that takes a trimap tensor and returns a mask of class ids",
        )
    if not callable(function):
        return failed(
            f"trimap_to_classes should be a function, got {type(function).__name__}",
            "write `def trimap_to_classes(trimap): ...` and pass the function itself (no brackets)",
        )
    trimap = torch.cat([EXAMPLE_TRIMAP, torch.tensor([[1, 2, 3, 1, 2, 3]], dtype=torch.uint8)])
    before = trimap.clone()
    try:
        mask = function(trimap)
    except Exception as error:  # the learner's code: report it instead of crashing the notebook
        return failed(
            f"trimap_to_classes raised {type(error).__name__}: {error}",
            "try it on the small trimap above and print what you get",
        )
    if mask is None or mask is Ellipsis:
        return _not_done("trimap_to_classes returns nothing yet", "return the mask tensor")
    problem = expect_tensor(mask, "the mask", shape=tuple(trimap.shape))
    if problem is not None:
        return problem
    if mask.is_floating_point():
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


def check_ignored_fraction(value, masks: torch.Tensor) -> CheckResult:
    """Check the fraction of pixels of ``masks`` (``N x H x W``) labelled 255 (ignored)."""
    if value is None or value is Ellipsis:
        return _not_done(
            "ignored_fraction is still a placeholder",
            "compare the masks with 255 and take the mean of that boolean tensor (as float)",
        )
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return failed(
                f"ignored_fraction should be one number, got a tensor of shape {tuple(value.shape)}",
                "average over every pixel of every mask, not per image",
            )
        value = value.item()
    try:
        value = float(value)
    except (TypeError, ValueError):
        return failed(f"ignored_fraction should be a number, got {type(value).__name__}", "use .item()")
    expected = float((masks == IGNORE).float().mean())
    if abs(value - expected) <= 1e-6:
        return passed(f"ignored_fraction = {value:.4f}: {value:.2%} of the pixels are ignored")
    if abs(value - 100 * expected) <= 1e-4:
        return failed(f"{value:.3g} looks like a percentage", "give a fraction between 0 and 1")
    if abs(value - (1 - expected)) <= 1e-6:
        return failed(
            f"{value:.4f} is the fraction of labelled pixels", "count the pixels equal to 255 instead"
        )
    if abs(value - float((masks == IGNORE).sum())) <= 0.5:
        return failed(
            f"{value:.0f} is the number of ignored pixels", "divide by the number of pixels (masks.numel())"
        )
    return expect_close(
        value, expected, "ignored_fraction", 1e-6, "(masks == 255).float().mean() over all the masks at once"
    )
