"""Checkers of notebook 04: each passes the right answer and explains typical wrong ones."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segedu.course.checks import nb04
from segedu.data import SyntheticScenes

RIGHT = {"score32": (3, 3), "up32to16": (6, 6), "score16": (6, 6), "fused16": (6, 6), "logits": (96, 96)}


def test_fusion_sizes_are_measured_from_the_model():
    assert nb04.fcn16s_fusion_sizes((96, 96)) == RIGHT
    assert nb04.fcn16s_fusion_sizes((128, 64))["score16"] == (8, 4)


def test_fcn16s_shapes():
    assert nb04.check_fcn16s_shapes(RIGHT)
    assert nb04.check_fcn16s_shapes({**RIGHT, "score32": (1, 3, 3, 3)})  # full shapes are fine
    assert "not done yet" in nb04.check_fcn16s_shapes(...).message
    assert "not done yet" in nb04.check_fcn16s_shapes({**RIGHT, "score16": ...}).message
    assert "missing" in nb04.check_fcn16s_shapes({"score32": (3, 3)}).message
    not_upsampled = nb04.check_fcn16s_shapes({**RIGHT, "up32to16": (3, 3)})
    assert not not_upsampled and "doubles" in not_upsampled.hint
    stride8 = nb04.check_fcn16s_shapes({**RIGHT, "score16": (12, 12)})
    assert not stride8 and "96 / 16" in stride8.hint
    assert not nb04.check_fcn16s_shapes([(3, 3)])
    assert not nb04.check_fcn16s_shapes({**RIGHT, "logits": "big"})


def sum_as_concat_conv(score_a, score_b):
    conv = nn.Conv2d(score_a.in_channels + score_b.in_channels, score_a.out_channels, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.cat([score_a.weight, score_b.weight], dim=1))
        conv.bias.copy_(score_a.bias + score_b.bias)
    return conv


def _conv(weight, bias):
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
    return conv


def test_sum_as_concat_conv_passes_the_right_answer():
    result = nb04.check_sum_as_concat_conv(sum_as_concat_conv)
    assert result and "U-Net" in result.message


def test_sum_as_concat_conv_diagnoses_the_typical_mistakes():
    assert "not done yet" in nb04.check_sum_as_concat_conv(...).message
    assert "not done yet" in nb04.check_sum_as_concat_conv(lambda a, b: None).message
    one_bias = nb04.check_sum_as_concat_conv(
        lambda a, b: _conv(torch.cat([a.weight, b.weight], 1), a.bias))
    assert not one_bias and "bias" in one_bias.message and "score_a.bias + score_b.bias" in one_bias.hint
    no_bias = nb04.check_sum_as_concat_conv(lambda a, b: _conv(torch.cat([a.weight, b.weight], 1), None))
    assert not no_bias and "both biases" in no_bias.hint
    swapped = nb04.check_sum_as_concat_conv(
        lambda a, b: _conv(torch.cat([b.weight, a.weight], 1), a.bias + b.bias))
    assert not swapped  # 5 + 3 channels: the first case already differs
    equal_channels_swapped = nb04.check_sum_as_concat_conv(
        lambda a, b: _conv(torch.cat([b.weight, a.weight], 1), a.bias + b.bias)
        if a.in_channels == b.in_channels else sum_as_concat_conv(a, b))
    assert not equal_channels_swapped and "wrong order" in equal_channels_swapped.message
    along_outputs = nb04.check_sum_as_concat_conv(
        lambda a, b: nn.Conv2d(a.in_channels + b.in_channels, 2 * a.out_channels, 1))
    assert not along_outputs and "dim 1" in along_outputs.hint
    copy_fails = nb04.check_sum_as_concat_conv(
        lambda a, b: _conv(torch.cat([a.weight, b.weight], 0), None))
    assert not copy_fails and "RuntimeError" in copy_fails.message and "dim=1" in copy_fails.hint
    three_by_three = nb04.check_sum_as_concat_conv(lambda a, b: nn.Conv2d(a.in_channels + b.in_channels,
                                                                          a.out_channels, 3))
    assert not three_by_three and "1 x 1" in three_by_three.message
    assert not nb04.check_sum_as_concat_conv(lambda a, b: a.weight)
    assert not nb04.check_sum_as_concat_conv(lambda a, b: nn.Conv2d(a.in_channels, a.out_channels, 1))


def oracle(masks, class_index, stride):
    target, labelled = (masks == class_index).float()[:, None], (masks != 255).float()[:, None]
    votes = F.avg_pool2d(target, stride) > 0.5 * F.avg_pool2d(labelled, stride)
    predicted = votes.repeat_interleave(stride, -2).repeat_interleave(stride, -1)[:, 0]
    target, labelled = target[:, 0].bool(), labelled[:, 0].bool()
    return float((predicted & target & labelled).sum() / ((predicted | target) & labelled).sum())


def test_cell_oracle_iou_is_exact_on_a_hand_made_mask():
    mask = torch.zeros(1, 4, 4, dtype=torch.long)
    mask[0, :, 1] = 1  # a vertical wire, one pixel wide
    mask[0, 0, 0] = 1  # the top-left 2 x 2 cell now holds 3 wire pixels of 4: it votes wire
    assert nb04.cell_oracle_iou_measured(mask, 1, 1) == 1.0
    # stride 2: only the top-left cell votes wire (4 pixels painted, 3 of them wire); 5 wire pixels in all
    assert nb04.cell_oracle_iou_measured(mask, 1, 2) == 3 / 6
    mask[0, 1, 0] = 255  # ignored: the top-left cell has 3 labelled pixels, all wire; 5 labelled wire pixels
    assert nb04.cell_oracle_iou_measured(mask, 1, 2) == 3 / 5


def test_cell_oracle_iou_says_why_stride_8_loses_the_wires():
    masks = SyntheticScenes("test", "thin", size=64, length=32).batch(range(32))["mask"]
    wire, gear = 1, 2
    assert nb04.cell_oracle_iou_measured(masks, wire, 1) == 1.0
    assert nb04.cell_oracle_iou_measured(masks, wire, 8) < 0.05 < nb04.cell_oracle_iou_measured(masks, gear, 8)


def test_cell_oracle_iou_passes_the_right_answer():
    assert nb04.check_cell_oracle_iou(oracle)
    assert nb04.check_cell_oracle_iou(nb04.cell_oracle_iou_measured)


def test_cell_oracle_iou_diagnoses_the_typical_mistakes():
    assert "not done yet" in nb04.check_cell_oracle_iou(...).message
    assert "not done yet" in nb04.check_cell_oracle_iou(lambda m, c, s: None).message

    def any_pixel(masks, class_index, stride):
        cells = F.max_pool2d((masks == class_index).float()[:, None], stride) > 0
        predicted = cells.repeat_interleave(stride, -2).repeat_interleave(stride, -1)[:, 0]
        target, labelled = masks == class_index, masks != 255
        return float((predicted & target & labelled).sum() / ((predicted | target) & labelled).sum())

    def ignored_vote_against(masks, class_index, stride):
        cells = F.avg_pool2d((masks == class_index).float()[:, None], stride) > 0.5
        predicted = cells.repeat_interleave(stride, -2).repeat_interleave(stride, -1)[:, 0]
        target, labelled = masks == class_index, masks != 255
        return float((predicted & target & labelled).sum() / ((predicted | target) & labelled).sum())

    def scores_ignored(masks, class_index, stride):
        target, labelled = (masks == class_index).float()[:, None], (masks != 255).float()[:, None]
        votes = F.avg_pool2d(target, stride) > 0.5 * F.avg_pool2d(labelled, stride)
        predicted = votes.repeat_interleave(stride, -2).repeat_interleave(stride, -1)[:, 0]
        target = target[:, 0].bool()
        return float((predicted & target).sum() / (predicted | target).sum())

    def recall(masks, class_index, stride):
        target, labelled = (masks == class_index).float()[:, None], (masks != 255).float()[:, None]
        votes = F.avg_pool2d(target, stride) > 0.5 * F.avg_pool2d(labelled, stride)
        predicted = votes.repeat_interleave(stride, -2).repeat_interleave(stride, -1)[:, 0]
        return float((predicted & target[:, 0].bool()).sum() / target.sum())

    assert "as soon as one of its pixels" in nb04.check_cell_oracle_iou(any_pixel).message
    assert "ignored pixels as pixels of other classes" in nb04.check_cell_oracle_iou(ignored_vote_against).message
    assert "scored the ignored pixels" in nb04.check_cell_oracle_iou(scores_ignored).message
    assert "recall" in nb04.check_cell_oracle_iou(recall).message
    assert "raised ZeroDivisionError" in nb04.check_cell_oracle_iou(lambda m, c, s: 1 / 0).message
    assert "should be a number" in nb04.check_cell_oracle_iou(lambda m, c, s: "high").message
    assert not nb04.check_cell_oracle_iou(lambda m, c, s: 0.5)


def test_fcn16s_shapes_never_truncate_fractions_or_read_strings():
    """Issue 26: sizes given as x + 0.7 and the string "33" passed."""
    fractions = nb04.check_fcn16s_shapes({key: (h + 0.7, w + 0.7) for key, (h, w) in RIGHT.items()})
    assert not fractions and "fraction" in fractions.message and "score32" in fractions.message
    strings = nb04.check_fcn16s_shapes({**RIGHT, "score32": ("3", "3")})
    assert not strings and "string '3'" in strings.message
    assert not nb04.check_fcn16s_shapes({**RIGHT, "score32": "33"})
    assert "pair" in nb04.check_fcn16s_shapes({**RIGHT, "score32": (3,)}).message
    assert "whole number" in nb04.check_fcn16s_shapes({**RIGHT, "score32": (math.nan, 3)}).message


def test_fcn16s_shapes_read_numpy_torch_and_torch_size():
    assert nb04.check_fcn16s_shapes({key: np.array(value) for key, value in RIGHT.items()})
    assert nb04.check_fcn16s_shapes({key: torch.tensor(value) for key, value in RIGHT.items()})
    assert nb04.check_fcn16s_shapes({**RIGHT, "logits": torch.zeros(1, 3, 96, 96).shape})
    assert nb04.check_fcn16s_shapes({**RIGHT, "score32": (np.int64(3), 3.0)})


def test_fcn16s_shapes_refuse_image_sizes_beyond_the_exercise():
    assert "from 32 px" in nb04.check_fcn16s_shapes(RIGHT, image_size=(10**6, 10**6)).message
    assert "(height, width)" in nb04.check_fcn16s_shapes(RIGHT, image_size=(96,)).message
    assert "num_classes" in nb04.check_fcn16s_shapes(RIGHT, num_classes=0).message
    assert nb04.check_fcn16s_shapes(nb04.fcn16s_fusion_sizes((64, 96)), image_size=np.array([64, 96]))


@pytest.mark.parametrize("settings, words", [({"padding": 1}, "into 7 x 8 (padding (1, 1))"),
                                             ({"stride": 2}, "into 3 x 3 (stride (2, 2))")])
def test_a_concat_conv_that_changes_the_size_is_told_so(settings, words):
    """Issue 26: padding=1 or stride 2 crashed with "The size of tensor a (8) must match..."."""
    def with_settings(score_a, score_b):
        conv = nn.Conv2d(score_a.in_channels + score_b.in_channels, score_a.out_channels, 1, **settings)
        with torch.no_grad():
            conv.weight.copy_(torch.cat([score_a.weight, score_b.weight], dim=1))
            conv.bias.copy_(score_a.bias + score_b.bias)
        return conv

    result = nb04.check_sum_as_concat_conv(with_settings)
    assert not result and words in result.message and "keeps the size" in result.message, result


def test_a_float64_concat_conv_is_told_its_dtype():
    result = nb04.check_sum_as_concat_conv(lambda a, b: sum_as_concat_conv(a, b).double())
    assert not result and "float64" in result.message and "size of tensor" not in result.message


def test_a_concat_conv_whose_forward_raises_is_reported():
    class Broken(nn.Conv2d):
        def forward(self, x):
            raise ValueError("my forward")

    def broken(score_a, score_b):
        return Broken(score_a.in_channels + score_b.in_channels, score_a.out_channels, 1)

    assert "your convolution raised ValueError: my forward" in nb04.check_sum_as_concat_conv(broken).message


def test_an_oracle_that_returns_nan_is_told_where_it_comes_from():
    result = nb04.check_cell_oracle_iou(lambda m, c, s: math.nan)
    assert not result and "is nan" in result.message and "union of 0" in result.hint
    assert nb04.check_cell_oracle_iou(lambda m, c, s: torch.tensor(oracle(m, c, s)))
