"""The checkers of notebook 01 pass right answers and explain typical wrong ones."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segedu.course.checks import nb01


def _picked(logits, target):
    """-log_softmax at the target class of every pixel (ignored pixels read as the last class)."""
    safe = target.clamp(max=logits.shape[1] - 1)
    return -F.log_softmax(logits, dim=1).gather(1, safe[:, None])[:, 0], safe


def right_weighted(logits, target, weights):
    picked, safe = _picked(logits, target)
    labelled = target != 255
    pixel_weights = weights[safe][labelled]
    return (pixel_weights * picked[labelled]).sum() / pixel_weights.sum()


def test_weighted_cross_entropy_passes_the_right_answer():
    result = nb01.check_weighted_cross_entropy(right_weighted)
    assert result.passed, result
    library = nb01.check_weighted_cross_entropy(
        lambda logits, target, weights: F.cross_entropy(logits, target, weight=weights, ignore_index=255))
    assert library.passed, library


def test_weighted_cross_entropy_not_done_yet():
    for answer in (..., None, lambda logits, target, weights: ...):
        result = nb01.check_weighted_cross_entropy(answer)
        assert not result.passed and "not done yet" in result.message


def test_weighted_cross_entropy_explains_typical_mistakes():
    def by_pixel_count(logits, target, weights):
        picked, safe = _picked(logits, target)
        labelled = target != 255
        return (weights[safe] * picked)[labelled].sum() / labelled.sum()

    def ignored_weights_below(logits, target, weights):
        picked, safe = _picked(logits, target)
        labelled = target != 255
        return (weights[safe] * picked)[labelled].sum() / weights[safe].sum()

    def unweighted(logits, target, weights):
        return F.cross_entropy(logits, target, ignore_index=255)

    def by_prediction(logits, target, weights):
        picked, _ = _picked(logits, target)
        labelled = target != 255
        pixel_weights = weights[logits.argmax(1)][labelled]
        return (pixel_weights * picked[labelled]).sum() / pixel_weights.sum()

    def summed(logits, target, weights):
        picked, safe = _picked(logits, target)
        return (weights[safe] * picked)[target != 255].sum()

    def crashes_on_255(logits, target, weights):
        return right_weighted(logits, target, weights) * weights[target].mean()

    def hard_coded(logits, target, weights):
        return right_weighted(logits, target, torch.tensor(nb01.EXAMPLE_WEIGHTS))

    cases = {by_pixel_count: "number of labelled pixels, not by the sum of their weights",
             ignored_weights_below: "weights of the ignored pixels", unweighted: "left the weights out",
             by_prediction: "predicted class", summed: "without dividing", crashes_on_255: "raised",
             hard_coded: "instead of"}
    for function, words in cases.items():
        result = nb01.check_weighted_cross_entropy(function)
        assert not result.passed
        assert words in result.message, result
        assert result.hint
    assert "clamp" in nb01.check_weighted_cross_entropy(crashes_on_255).hint
    assert "weights argument" in nb01.check_weighted_cross_entropy(hard_coded).hint
    assert "sum of the weights" in nb01.check_weighted_cross_entropy(by_pixel_count).hint
    assert not nb01.check_weighted_cross_entropy(lambda logits, target, weights: torch.zeros(2)).passed
    assert not nb01.check_weighted_cross_entropy(3.0).passed


def test_the_diagnosed_mistakes_give_different_numbers():
    """Each diagnosis names one mistake only: no two wrong versions (nor the right one) coincide."""
    logits, target = nb01._example_batch()
    weights = torch.tensor(nb01.EXAMPLE_WEIGHTS)
    values = [float(value) for value, _ in nb01._weighted_mistakes(logits, target, weights).values()]
    values.append(float(F.cross_entropy(logits, target, weight=weights, ignore_index=255)))
    assert min(abs(a - b) for i, a in enumerate(values) for b in values[i + 1:]) > 1e-3


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


def conv_from_linear(linear, channels, kernel, *, weight=None, bias=True, padding=0):
    conv = nn.Conv2d(channels, linear.out_features, kernel, padding=padding, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.view(linear.out_features, channels, kernel, kernel) if weight is None
                          else weight(linear.weight))
        if bias:
            conv.bias.copy_(linear.bias)
    return conv


def test_the_reference_is_the_linear_layer_applied_to_each_window():
    linear = nb01._example_linear(3, 3, 5, seed=0)
    x = torch.randn(2, 3, 5, 6)
    every = nb01.linear_at_every_window(linear, x, 3)
    assert every.shape == (2, 5, 3, 4)
    for row, col in ((0, 0), (2, 3), (1, 2)):
        window = x[:, :, row:row + 3, col:col + 3]
        assert torch.allclose(every[:, :, row, col], linear(window.flatten(1)), atol=1e-5)


def test_conv_from_linear_passes_the_right_answer():
    result = nb01.check_conv_from_linear(conv_from_linear)
    assert result.passed, result


def test_conv_from_linear_explains_typical_mistakes():
    def no_bias(linear, channels, kernel):
        return conv_from_linear(linear, channels, kernel, bias=False)

    def transposed(linear, channels, kernel):
        return conv_from_linear(linear, channels, kernel,
                                weight=lambda w: w.t().reshape(linear.out_features, channels, kernel, kernel))

    def transposed_with_view(linear, channels, kernel):
        return conv_from_linear(linear, channels, kernel,
                                weight=lambda w: w.t().view(linear.out_features, channels, kernel, kernel))

    def not_reshaped(linear, channels, kernel):
        return conv_from_linear(linear, channels, kernel, weight=lambda w: w)

    def channel_last(linear, channels, kernel):
        return conv_from_linear(linear, channels, kernel,
                                weight=lambda w: w.view(-1, kernel, kernel, channels).permute(0, 3, 1, 2))

    def rows_for_columns(linear, channels, kernel):
        return conv_from_linear(linear, channels, kernel,
                                weight=lambda w: w.view(-1, channels, kernel, kernel).transpose(2, 3))

    def padded(linear, channels, kernel):
        return conv_from_linear(linear, channels, kernel, padding=kernel // 2)

    cases = {no_bias: "bias is missing", transposed: "transposed", transposed_with_view: "transposed",
             not_reshaped: "raised",
             channel_last: "channel-last", rows_for_columns: "rows and columns", padded: "pads",
             lambda linear, channels, kernel: linear: "nn.Linear",
             lambda linear, channels, kernel: torch.zeros(3): "expected an nn.Conv2d"}
    for function, words in cases.items():
        result = nb01.check_conv_from_linear(function)
        assert not result.passed
        assert words in result.message, result
        assert result.hint
    assert "no transpose" in nb01.check_conv_from_linear(not_reshaped).hint
    for answer in (..., None, lambda linear, channels, kernel: ...):
        assert "not done yet" in nb01.check_conv_from_linear(answer).message
    assert not nb01.check_conv_from_linear(3).passed


@pytest.mark.parametrize("case", nb01.CONV_CASES)
def test_each_conv_case_tells_the_typical_mistakes_apart_where_it_can(case):
    """In a 1 x 1 case the window order cannot matter; elsewhere each wrong weight gives another output."""
    channels, kernel, classes = case
    linear = nb01._example_linear(channels, kernel, classes, seed=0)
    x = torch.randn(1, channels, 4, 4)
    right = F.conv2d(x, linear.weight.view(classes, channels, kernel, kernel), linear.bias)
    no_bias = F.conv2d(x, linear.weight.view(classes, channels, kernel, kernel))
    assert not torch.allclose(right, no_bias, atol=1e-3)
    channel_last = F.conv2d(x, linear.weight.view(classes, kernel, kernel, channels).permute(0, 3, 1, 2), linear.bias)
    assert torch.allclose(right, channel_last) == (kernel == 1 or channels == 1)


def test_a_float64_convolution_is_told_its_dtype_not_its_channels():
    """Issue 26: a float64 conv was told its channels were wrong."""
    result = nb01.check_conv_from_linear(lambda linear, channels, kernel: conv_from_linear(linear, channels,
                                                                                         kernel).double())
    assert not result and "float64" in result.message and "channels" not in result.message, result
    assert ".float()" in result.hint


def test_a_convolution_with_the_wrong_inputs_or_kernel_is_told_so_before_it_runs():
    def wrong_inputs(linear, channels, kernel):
        return nn.Conv2d(channels + 1, linear.out_features, kernel)

    def wrong_kernel(linear, channels, kernel):
        return nn.Conv2d(channels, linear.out_features, kernel + 2)

    assert "reads 5 channels, not the window's 4" in nb01.check_conv_from_linear(wrong_inputs).message
    assert "kernel is 3 x 3, not the window's 1 x 1" in nb01.check_conv_from_linear(wrong_kernel).message
    assert "not the function" not in nb01.check_conv_from_linear(conv_from_linear).message
    layer = nb01.check_conv_from_linear(nn.Conv2d(3, 3, 1))  # the layer instead of the function that builds it
    assert not layer and "got a layer (Conv2d)" in layer.message


def test_a_loss_map_is_told_its_shape_and_a_nan_loss_is_named():
    """Issue 26: a (2, 6, 6) loss got "expected " with the shape left blank."""
    def per_pixel(logits, target, weights):
        picked, safe = _picked(logits, target)
        return weights[safe] * picked

    result = nb01.check_weighted_cross_entropy(per_pixel)
    assert not result and "shape (2, 6, 6), the target's" in result.message and "shape ()" in result.hint
    flat = nb01.check_weighted_cross_entropy(lambda logits, target, weights: right_weighted(logits, target,
                                                                                         weights)[None])
    assert "shape (1,), expected a single number (shape ())" in flat.message
    nan = nb01.check_weighted_cross_entropy(lambda logits, target, weights: torch.tensor(float("nan")))
    assert not nan and "nan" in nan.message and "log_softmax" in nan.hint
    integer = nb01.check_weighted_cross_entropy(lambda logits, target, weights: torch.tensor(1))
    assert not integer and "torch.int64" in integer.message


def test_an_miou_that_divides_zero_by_zero_is_told_where_the_nan_comes_from():
    def nan_for_absent(matrix):
        m = matrix.double()
        return float((m.diag() / (m.sum(0) + m.sum(1) - m.diag())).mean())

    result = nb01.check_miou_from_confusion(nan_for_absent)
    assert not result and "is nan" in result.message and "union of 0" in result.hint
    assert "one number" in nb01.check_miou_from_confusion(lambda matrix: matrix.diag()).message
    assert nb01.check_miou_from_confusion(lambda matrix: torch.tensor([right_miou(matrix)]))  # one element is fine
