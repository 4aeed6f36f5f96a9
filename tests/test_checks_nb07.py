"""Checkers of notebook 07: right answers pass, typical wrong answers fail with a useful message."""

import numpy as np
import pytest
import torch

from segedu.course.checks import nb07
from segedu.data.pets import TRIMAP_TO_CLASS


def lookup(trimap):
    return TRIMAP_TO_CLASS[trimap.long()].long()


def test_trimap_mapping_passes_right_answers():
    assert nb07.check_trimap_to_classes(lookup)
    assert nb07.check_trimap_to_classes(nb07.reference_trimap_to_classes)
    assert torch.equal(nb07.reference_trimap_to_classes(nb07.EXAMPLE_TRIMAP), lookup(nb07.EXAMPLE_TRIMAP))


def test_trimap_mapping_placeholder_is_not_done_yet():
    for answer in (None, ..., lambda trimap: ...):
        result = nb07.check_trimap_to_classes(answer)
        assert not result and "not done yet" in result.message


def test_trimap_mapping_fails_typical_mistakes():
    cases = {
        "subtracted 1": lambda t: t.long() - 1,
        "swapped": lambda t: torch.where(t == 1, 0, torch.where(t == 2, 1, 255)),
        "border": lambda t: torch.where(t == 1, 1, 0),
        "float": lambda t: lookup(t).float(),
        "raised": lambda t: t.nope(),
        "should be a torch.Tensor": lambda t: lookup(t).tolist(),
        "should be a function": 3,
        "changed its input": lambda t: t.copy_(lookup(t)).long(),
    }
    for expected, answer in cases.items():
        result = nb07.check_trimap_to_classes(answer)
        assert not result, expected
        assert expected in result.message, (expected, result)


def _masks():
    # 2 images of 4 x 5 = 40 pixels: 5 ignored, 25 background, 10 of class 1; class 2 absent
    masks = torch.zeros(2, 4, 5, dtype=torch.long)
    masks[0, 0, :] = 255
    masks[1, :2, :] = 1
    return masks


def test_background_baseline_reference():
    masks = _masks()
    accuracy, miou = nb07.background_baseline(masks, 3)
    assert accuracy == pytest.approx(25 / 35)
    assert miou == pytest.approx((25 / 35 + 0.0) / 2)  # background and class 1; class 2 is left out
    assert nb07.background_baseline(torch.zeros(1, 2, 2, dtype=torch.long), 2) == (1.0, 1.0)


def test_background_baseline_passes_right_answers():
    masks = _masks()
    result = nb07.check_background_baseline(25 / 35, 25 / 70, masks, 3)
    assert result and "0.714" in result.message and "0.357" in result.message
    assert nb07.check_background_baseline(torch.tensor(25 / 35), torch.tensor(25 / 70), masks, 3)


def test_background_baseline_typical_mistakes():
    masks = _masks()
    cases = {
        (..., ...): "not done yet",
        (25 / 70, 25 / 35): "swapped",
        (25 / 40, 25 / 70): "every pixel, the ignored ones",
        (71.43, 25 / 70): "percentage",
        (10 / 35, 25 / 70): "NOT background",
        (25 / 35, 25 / 35): "background's IoU alone",
        (25 / 35, 25 / 105): "all 3 classes",
        (25 / 35, 35.71): "percentage",
        (25 / 35, 0.1): "mIoU 0.1000 is not right",
        (0.5, 25 / 70): "pixel accuracy 0.5000 is not right",
        ("high", 0.5): "should be a number",
        (torch.ones(2), 0.5): "one number",
    }
    for (accuracy, miou), expected in cases.items():
        result = nb07.check_background_baseline(accuracy, miou, masks, 3)
        assert not result and expected in result.message, (expected, result)


def test_background_baseline_accepts_scores_rounded_to_three_decimals_or_more():
    masks = _masks()  # accuracy 25 / 35 = 0.714286, mIoU 25 / 70 = 0.357143
    for accuracy, miou in ((0.714, 0.357), (0.7143, 0.3571), (0.71429, 0.357143), (np.float64(0.714), 0.357)):
        result = nb07.check_background_baseline(accuracy, miou, masks, 3)
        assert result and "3 decimals or more" in result.message, (accuracy, miou, result)
    coarse = nb07.check_background_baseline(0.71, 0.357, masks, 3)
    assert not coarse and "rounded to 2 decimal(s): give at least 3" in coarse.message and "0.714" in coarse.hint
    assert not nb07.check_background_baseline(0.715, 0.357, masks, 3)  # rounded wrongly
    assert not nb07.check_background_baseline(0.7142, 0.357, masks, 3)  # 4 decimals, but not 0.7143
    assert nb07.check_background_baseline(torch.tensor(25 / 35), torch.tensor([25 / 70]), masks, 3)


def test_background_baseline_names_nan_and_checks_its_own_arguments():
    masks = _masks()
    result = nb07.check_background_baseline(float("nan"), 0.357, masks, 3)
    assert not result and "pixel accuracy is nan" in result.message
    assert "is inf" in nb07.check_background_baseline(0.714, float("inf"), masks, 3).message
    assert "masks should be the N x H x W tensor" in nb07.check_background_baseline(0.7, 0.3, masks[0], 3).message
    assert "masks should be" in nb07.check_background_baseline(0.7, 0.3, masks.float(), 3).message
    assert "num_classes is 1" in nb07.check_background_baseline(0.7, 0.3, masks, 1).message
    assert "num_classes should be at most 254" in nb07.check_background_baseline(0.7, 0.3, masks, 10**12).message


def test_a_complex_or_float_mask_is_told_to_hold_integers():
    result = nb07.check_trimap_to_classes(lambda t: lookup(t).to(torch.complex64))
    assert not result and "integers" in result.message
    assert "got a layer" in nb07.check_trimap_to_classes(torch.nn.Identity()).message
