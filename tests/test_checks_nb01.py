"""The checkers of notebook 01 pass right answers and explain typical wrong ones."""

import pytest
import torch
import torch.nn.functional as F

from segedu.course.checks import nb01


def right_cross_entropy(logits, target):
    log_probs = F.log_softmax(logits, dim=1)
    valid = target != 255
    picked = log_probs.gather(1, target.clamp(max=logits.shape[1] - 1)[:, None])[:, 0]
    return -picked[valid].mean()


def test_cross_entropy_passes_the_right_answer():
    result = nb01.check_pixel_cross_entropy(right_cross_entropy)
    assert result.passed, result
    assert nb01.check_pixel_cross_entropy(lambda logits, target: F.cross_entropy(logits, target, ignore_index=255))


def test_cross_entropy_not_done_yet():
    for answer in (..., None, lambda logits, target: ...):
        result = nb01.check_pixel_cross_entropy(answer)
        assert not result.passed and "not done yet" in result.message


def test_cross_entropy_explains_typical_mistakes():
    def summed(logits, target):
        log_probs = F.log_softmax(logits, dim=1)
        picked = log_probs.gather(1, target.clamp(max=logits.shape[1] - 1)[:, None])[:, 0]
        return -picked[target != 255].sum()

    def all_pixels(logits, target):
        log_probs = F.log_softmax(logits, dim=1)
        picked = log_probs.gather(1, target.clamp(max=logits.shape[1] - 1)[:, None])[:, 0]
        return -picked.mean()

    def no_log_softmax(logits, target):
        picked = logits.gather(1, target.clamp(max=logits.shape[1] - 1)[:, None])[:, 0]
        return -picked[target != 255].mean()

    def crashes_on_255(logits, target):
        return -F.log_softmax(logits, 1).gather(1, target[:, None]).mean()

    cases = {summed: "summed", all_pixels: "ignored pixels too", no_log_softmax: "log-softmax",
             crashes_on_255: "raised"}
    for function, words in cases.items():
        result = nb01.check_pixel_cross_entropy(function)
        assert not result.passed
        assert words in result.message, result
        assert result.hint
    assert not nb01.check_pixel_cross_entropy(lambda logits, target: torch.zeros(2)).passed  # not a scalar
    assert not nb01.check_pixel_cross_entropy(3.0).passed


def right_miou(matrix):
    m = matrix.double()
    union = m.sum(0) + m.sum(1) - m.diag()
    present = union > 0
    return float((m.diag()[present] / union[present]).mean())


def test_miou_passes_the_right_answer():
    assert nb01.check_miou_from_confusion(right_miou).passed


def test_miou_explains_typical_mistakes():
    def absent_as_zero(matrix):
        m = matrix.double()
        return float((m.diag() / (m.sum(0) + m.sum(1) - m.diag()).clamp_min(1)).mean())

    def pixel_accuracy(matrix):
        return float(matrix.diag().sum() / matrix.sum())

    def recall(matrix):
        m = matrix.double()
        values = m.diag() / m.sum(1)
        return float(values[~values.isnan()].mean())

    for function, words in {absent_as_zero: "absent", pixel_accuracy: "pixel accuracy", recall: "recall"}.items():
        result = nb01.check_miou_from_confusion(function)
        assert not result.passed and words in result.message, result
    assert "not done" in nb01.check_miou_from_confusion(...).message
    assert "not done" in nb01.check_miou_from_confusion(lambda m: None).message


def test_background_accuracy():
    masks = torch.tensor([[[0, 0, 1, 255], [0, 2, 2, 0]]])
    accuracy = (masks == 0).sum() / (masks != 255).sum()
    assert nb01.check_background_accuracy(accuracy, masks, 3).passed
    assert "not done" in nb01.check_background_accuracy(..., masks, 3).message
    counted_ignored = nb01.check_background_accuracy((masks == 0).double().mean(), masks, 3)
    assert not counted_ignored.passed and "ignored" in counted_ignored.message
    expected_miou = (4 / 7) / 3  # background IoU 4/7, the two object classes 0
    assert nb01.check_background_accuracy(accuracy, masks, 3, miou=expected_miou).passed
    wrong_miou = nb01.check_background_accuracy(accuracy, masks, 3, miou=float(accuracy))
    assert not wrong_miou.passed and wrong_miou.hint
    assert nb01.background_only_scores(masks, 3) == pytest.approx((4 / 7, expected_miou))
