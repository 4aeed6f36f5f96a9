"""Checkers of notebook 07: right answers pass, typical wrong answers fail with a useful message."""

import numpy as np
import pytest
import torch

from segedu.course.checks import nb07
from segedu.data import camvid


def test_median_frequency_weights_are_the_course_weights():
    weights = nb07.median_frequency_weights(camvid.TRAIN_FREQUENCY)
    assert tuple(round(w, 4) for w in weights) == camvid.median_frequency_weights(camvid.TRAIN_FREQUENCY)
    assert nb07.median_frequency_weights([0.25, 1.0, 4.0]) == pytest.approx([2.0, 1.0, 0.5])


def test_median_frequency_weights_pass_right_answers_in_any_spelling():
    frequencies = [0.25, 1.0, 4.0]
    for answer in ([2.0, 1.0, 0.5], (2, 1, 0.5), np.array([2.0, 1.0, 0.5]), torch.tensor([2.0, 1.0, 0.5]),
                   [2.0, 1.0, 0.5000001]):
        result = nb07.check_median_frequency_weights(answer, frequencies)
        assert result and "weighs 2.00" in result.message, (answer, result)


def test_median_frequency_weights_typical_mistakes():
    frequencies = [0.25, 1.0, 4.0]
    cases = {
        ...: "not done yet",
        (4.0, 1.0, 0.25): "SegNet's full median-frequency weights",
        (0.5, 1.0, 2.0): "upside down",
        (2.0, 1.0): "2 weight(s) for 3 classes",
        (2.0, 1.1, 0.5): "class 1 is 1.1000, not 1.0000",
        (2.0, float("nan"), 0.5): "nan",
        "2, 1, 0.5": "sequence",
    }
    for answer, expected in cases.items():
        result = nb07.check_median_frequency_weights(answer, frequencies)
        assert not result and expected in result.message, (answer, result)
    assert "positive" in nb07.check_median_frequency_weights([1.0], [0.0]).message


def test_one_class_baseline_predicts_the_class_it_is_given():
    masks = torch.tensor([[[3, 3, 0], [1, 255, 3]]])
    accuracy, miou = nb07.one_class_baseline(masks, 4, 3)
    assert accuracy == pytest.approx(3 / 5)
    assert miou == pytest.approx((3 / 5 + 0 + 0) / 3)  # classes 0, 1 and 3 appear; 2 is left out
    assert nb07.check_one_class_baseline(3 / 5, 1 / 5, masks, 4, 3)
    assert "class_id should be at most 3" in nb07.check_one_class_baseline(0.6, 0.2, masks, 4, 7).message


def _masks():
    # 2 images of 4 x 5 = 40 pixels: 5 ignored, 25 background, 10 of class 1; class 2 absent
    masks = torch.zeros(2, 4, 5, dtype=torch.long)
    masks[0, 0, :] = 255
    masks[1, :2, :] = 1
    return masks


def test_one_class_baseline_reference():
    masks = _masks()
    accuracy, miou = nb07.one_class_baseline(masks, 3, 0)
    assert accuracy == pytest.approx(25 / 35)
    assert miou == pytest.approx((25 / 35 + 0.0) / 2)  # background and class 1; class 2 is left out
    assert nb07.one_class_baseline(torch.zeros(1, 2, 2, dtype=torch.long), 2, 0) == (1.0, 1.0)


def test_one_class_baseline_passes_right_answers():
    masks = _masks()
    result = nb07.check_one_class_baseline(25 / 35, 25 / 70, masks, 3, 0)
    assert result and "0.714" in result.message and "0.357" in result.message
    assert nb07.check_one_class_baseline(torch.tensor(25 / 35), torch.tensor(25 / 70), masks, 3, 0)


def test_one_class_baseline_typical_mistakes():
    masks = _masks()
    cases = {
        (..., ...): "not done yet",
        (25 / 70, 25 / 35): "swapped",
        (25 / 40, 25 / 70): "every pixel, the ignored ones",
        (71.43, 25 / 70): "percentage",
        (10 / 35, 25 / 70): "NOT class 0",
        (25 / 35, 25 / 35): "IoU of class 0 alone",
        (25 / 35, 25 / 105): "all 3 classes",
        (25 / 35, 35.71): "percentage",
        (25 / 35, 0.1): "mIoU 0.1000 is not right",
        (0.5, 25 / 70): "pixel accuracy 0.5000 is not right",
        ("high", 0.5): "should be a number",
        (torch.ones(2), 0.5): "one number",
    }
    for (accuracy, miou), expected in cases.items():
        result = nb07.check_one_class_baseline(accuracy, miou, masks, 3, 0)
        assert not result and expected in result.message, (expected, result)


def test_one_class_baseline_accepts_scores_rounded_to_three_decimals_or_more():
    masks = _masks()  # accuracy 25 / 35 = 0.714286, mIoU 25 / 70 = 0.357143
    for accuracy, miou in ((0.714, 0.357), (0.7143, 0.3571), (0.71429, 0.357143), (np.float64(0.714), 0.357)):
        result = nb07.check_one_class_baseline(accuracy, miou, masks, 3, 0)
        assert result and "3 decimals or more" in result.message, (accuracy, miou, result)
    coarse = nb07.check_one_class_baseline(0.71, 0.357, masks, 3, 0)
    assert not coarse and "rounded to 2 decimal(s): give at least 3" in coarse.message and "0.714" in coarse.hint
    assert not nb07.check_one_class_baseline(0.715, 0.357, masks, 3, 0)  # rounded wrongly
    assert not nb07.check_one_class_baseline(0.7142, 0.357, masks, 3, 0)  # 4 decimals, but not 0.7143
    assert nb07.check_one_class_baseline(torch.tensor(25 / 35), torch.tensor([25 / 70]), masks, 3, 0)


def test_one_class_baseline_names_nan_and_checks_its_own_arguments():
    masks = _masks()
    result = nb07.check_one_class_baseline(float("nan"), 0.357, masks, 3, 0)
    assert not result and "pixel accuracy is nan" in result.message
    assert "is inf" in nb07.check_one_class_baseline(0.714, float("inf"), masks, 3, 0).message
    assert "masks should be the N x H x W tensor" in nb07.check_one_class_baseline(0.7, 0.3, masks[0], 3, 0).message
    assert "masks should be" in nb07.check_one_class_baseline(0.7, 0.3, masks.float(), 3, 0).message
    assert "num_classes is 1" in nb07.check_one_class_baseline(0.7, 0.3, masks, 1, 0).message
    assert "num_classes should be at most 254" in nb07.check_one_class_baseline(0.7, 0.3, masks, 10**12, 0).message


