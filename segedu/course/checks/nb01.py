"""Checkers for the exercises of notebook 01 (per-pixel logits).

* :func:`check_weighted_cross_entropy` -- a class-weighted cross-entropy over pixels, written by hand.
* :func:`check_miou_from_confusion` -- mIoU read from a confusion matrix.
* :func:`check_conv_from_linear` -- a classifier's fully connected layer rewritten as a convolution
  (FCN's "convolutionalisation"): the same numbers at every window of a larger image.

Each checker returns a :class:`~segedu.course.checks.CheckResult`; an unfilled answer (``...`` or
``None``) gives "not done yet", never an exception.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from segedu.course.checks import (
    CheckResult,
    checker,
    expect_float32_layer,
    expect_function,
    expect_tensor,
    failed,
    not_done,
    passed,
    raised,
    real_number,
)
from segedu.metrics import IGNORE_INDEX, ConfusionMatrix

__all__ = ["check_weighted_cross_entropy", "check_miou_from_confusion", "check_conv_from_linear",
           "example_confusion", "linear_at_every_window", "EXAMPLE_WEIGHTS", "CONV_CASES"]

NOT_DONE = "not done yet: replace the ... with your code"

EXAMPLE_WEIGHTS = (0.2, 1.0, 3.0, 0.5)
"""Class weights of the weighted cross-entropy exercise (4 classes: background light, class 2 heavy)."""


def _example_batch(seed: int = 0, num_classes: int = 4, size: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits ``2 x C x size x size`` and a target ``2 x size x size`` with some 255 pixels."""
    generator = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(2, num_classes, size, size, generator=generator)
    target = torch.randint(0, num_classes, (2, size, size), generator=generator)
    target[torch.rand(2, size, size, generator=generator) < 0.25] = IGNORE_INDEX
    return logits, target


def _weighted_mistakes(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> dict[str, tuple]:
    """What typical wrong versions of the weighted loss give: ``{mistake: (value, hint)}``."""
    valid = target != IGNORE_INDEX
    safe = target.clamp(max=logits.shape[1] - 1)
    picked = -F.log_softmax(logits, dim=1).gather(1, safe[:, None])[:, 0]  # N x H x W, ignored pixels too
    pixel_weights = weights[safe]
    weighted = (pixel_weights * picked)[valid].sum()
    by_prediction = weights[logits.argmax(1)]
    expected = F.cross_entropy(logits, target, weight=weights, ignore_index=IGNORE_INDEX)
    return {
        "divided by the number of labelled pixels, not by the sum of their weights": (
            weighted / valid.sum(),
            "a weighted mean divides by the sum of the weights: sum(w * loss) / sum(w), over the labelled pixels"),
        "divided by the number of all pixels, ignored ones included": (
            weighted / target.numel(),
            "divide by the sum of the weights of the labelled pixels (target != 255)"),
        "counted the weights of the ignored pixels in the denominator": (
            weighted / pixel_weights.sum(),
            "keep only the pixels whose target is not 255 in the sum of weights too"),
        "divided by the sum of the class weights, once per class, not per pixel": (
            weighted / weights.sum(),
            "each labelled pixel adds its own weight w[target] to the denominator"),
        "left the weights out (this is the plain mean)": (
            picked[valid].mean(), "multiply each pixel's loss by weights[target] of that pixel"),
        "weighted each pixel by its predicted class, not by its true class": (
            (by_prediction * picked)[valid].sum() / by_prediction[valid].sum(),
            "the weight of a pixel is the weight of its target class: weights[target]"),
        "summed the weighted losses without dividing": (
            weighted, "divide by the sum of the weights of the labelled pixels"),
        "scored the ignored pixels too": (
            (pixel_weights * picked).sum() / pixel_weights.sum(),
            "keep only the pixels where target != 255, in the numerator and in the denominator"),
        "forgot the minus sign": (-expected, "cross-entropy is minus the log-probability of the right class"),
    }


@checker
def check_weighted_cross_entropy(function) -> CheckResult:
    """Check ``function(logits N x C x H x W, target int64 N x H x W, weights float C) -> scalar tensor``.

    The class-weighted cross-entropy over labelled pixels ``P`` (target not 255):
    ``sum_p w[y_p] * -log_softmax(z_p)[y_p] / sum_p w[y_p]``, which is what
    ``F.cross_entropy(logits, target, weight=weights, ignore_index=255)`` (and ``fit(class_weights=...)``)
    computes. Tried with :data:`EXAMPLE_WEIGHTS`, then with other weights.
    """
    if not_done(function):
        return failed(NOT_DONE, "write a function weighted_cross_entropy(logits, target, weights) and pass it here")
    problem = expect_function(function, "weighted_cross_entropy", "check_weighted_cross_entropy(my_function)")
    if problem is not None:
        return problem
    logits, target = _example_batch()
    for attempt, weights in enumerate((torch.tensor(EXAMPLE_WEIGHTS), torch.tensor([1.5, 0.25, 2.0, 4.0]))):
        try:
            value = function(logits.clone(), target.clone(), weights.clone())
        except Exception as error:  # noqa: BLE001  (any mistake of the learner's code is reported, not raised)
            return failed(raised(error),
                          "255 is no class, so weights[target] fails on ignored pixels: index with the target "
                          "clamped to a valid class (or only at the labelled pixels), then mask the ignored ones out")
        if not_done(value):
            return failed(NOT_DONE, "your function returned nothing yet")
        if isinstance(value, torch.Tensor) and value.shape == target.shape:
            return failed(f"your loss has shape {tuple(value.shape)}, the target's: one value per pixel, not one "
                          "number for the batch", "finish with the weighted mean over the labelled pixels: "
                          "sum(w * loss) / sum(w), a single number (shape ())")
        problem = expect_tensor(value, "the loss", shape=())
        if problem is not None:
            return problem
        if not value.is_floating_point():
            return failed(f"the loss has dtype {value.dtype}: a loss is a floating-point number",
                          "keep the computation in floating point: log_softmax of the logits is float already")
        value, problem = real_number(value, "your loss", "use F.log_softmax (log of softmax can give the log of 0), "
                                     "and divide by the sum of the weights of the labelled pixels only")
        if problem is not None:
            return problem
        expected = float(F.cross_entropy(logits, target, weight=weights, ignore_index=IGNORE_INDEX))
        if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-5):
            continue
        if attempt == 1:
            return failed(f"right with the weights {EXAMPLE_WEIGHTS}, but {value:.4f} instead of {expected:.4f} "
                          f"with {tuple(weights.tolist())}",
                          "use the weights argument, not numbers written into the function")
        for mistake, (candidate, hint) in _weighted_mistakes(logits, target, weights).items():
            if math.isclose(value, float(candidate), rel_tol=1e-4, abs_tol=1e-5):
                return failed(f"your loss is {value:.4f}, expected {expected:.4f}: it looks like you {mistake}", hint)
        return failed(f"your loss is {value:.4f}, expected {expected:.4f}",
                      "log_softmax over dim 1, pick the target class with gather, weigh each labelled pixel by "
                      "weights[target], divide by the sum of those weights")
    return passed(f"your weighted cross-entropy is {expected:.4f} with the weights {tuple(weights.tolist())}, the "
                  f"same as F.cross_entropy(weight=weights, ignore_index=255), and right with {EXAMPLE_WEIGHTS} too")


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


@checker
def check_miou_from_confusion(function) -> CheckResult:
    """Check ``function(matrix C x C int64) -> float``, the mIoU of a confusion matrix.

    IoU of class c = ``M[c, c] / (row c + column c - M[c, c])``; classes with an empty union
    (absent from truth and prediction) are left out of the mean.
    """
    if not_done(function):
        return failed(NOT_DONE, "write a function miou_from_confusion(matrix) and pass it here")
    problem = expect_function(function, "miou_from_confusion", "check_miou_from_confusion(my_function)")
    if problem is not None:
        return problem
    matrices = [example_confusion(), torch.tensor([[5, 1], [2, 8]]), torch.eye(3, dtype=torch.int64) * 7]
    for matrix in matrices:
        try:
            value = function(matrix.clone())
        except Exception as error:  # noqa: BLE001
            return failed(raised(error),
                          "work with matrix.diag(), matrix.sum(0) and matrix.sum(1); convert to float first")
        if not_done(value):
            return failed(NOT_DONE, "your function returned nothing yet")
        value, problem = real_number(value, f"your mIoU of {matrix.tolist()}",
                                     "a class absent from truth and prediction has a union of 0, and 0 / 0 is nan: "
                                     "leave the classes whose union is 0 out of the mean")
        if problem is not None:
            return problem
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


CONV_CASES = ((4, 1, 4), (3, 3, 5), (2, 2, 3))
"""``(channels, kernel, classes)`` of the layers :func:`check_conv_from_linear` converts: a 1 x 1 one with as
many inputs as outputs (a transposed weight fits it without an error), a 3 x 3 one and an even 2 x 2 one."""


def _example_linear(channels: int, kernel: int, classes: int, seed: int) -> nn.Linear:
    """An ``nn.Linear(channels * kernel * kernel, classes)`` with seeded random weights and a non-zero bias."""
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(channels * kernel * kernel, classes)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator))
        linear.bias.copy_(1 + torch.rand(classes, generator=generator))
    return linear


def linear_at_every_window(linear: nn.Linear, x: torch.Tensor, kernel: int) -> torch.Tensor:
    """``linear`` applied to every ``kernel x kernel`` window of ``x`` (``N x D x H x W``), each window
    flattened as ``window.flatten(1)`` does (channel, then row, then column) -> ``N x C x (H-k+1) x (W-k+1)``."""
    n, _, height, width = x.shape
    windows = F.unfold(x, kernel)  # N x (D * k * k) x L, in the same order as flatten(1) of a window
    out = linear(windows.transpose(1, 2)).transpose(1, 2)  # N x C x L
    return out.reshape(n, -1, height - kernel + 1, width - kernel + 1)


@checker
def check_conv_from_linear(function) -> CheckResult:
    """Check ``function(linear, channels, kernel) -> nn.Conv2d``.

    ``linear`` is an ``nn.Linear(channels * kernel * kernel, classes)`` that reads one window
    ``channels x kernel x kernel`` flattened with ``.flatten(1)``. The answer must be a convolution
    (stride 1, no padding) whose output at each position equals ``linear`` applied to the window
    there (:func:`linear_at_every_window`), for every case of :data:`CONV_CASES`.
    """
    if not_done(function):
        return failed(NOT_DONE, "write a function conv_from_linear(linear, channels, kernel) and pass it here")
    problem = expect_function(function, "conv_from_linear", "check_conv_from_linear(my_function)")
    if problem is not None:
        return problem
    for seed, (channels, kernel, classes) in enumerate(CONV_CASES):
        linear = _example_linear(channels, kernel, classes, seed)
        case = f"nn.Linear({channels * kernel * kernel}, {classes}) read as {channels} x {kernel} x {kernel} windows"
        try:
            conv = function(_example_linear(channels, kernel, classes, seed), channels, kernel)
        except Exception as error:  # noqa: BLE001
            return failed(f"for {case} {raised(error)}",
                          "nn.Linear stores its weight as out_features x in_features: reshape it with "
                          ".view(out_features, channels, kernel, kernel), no transpose, and copy the bias")
        if not_done(conv):
            return failed(NOT_DONE, "your function returned nothing yet")
        if isinstance(conv, nn.Linear):
            return failed("you returned an nn.Linear", "build an nn.Conv2d(channels, linear.out_features, kernel) "
                          "and copy the Linear's weight and bias into it")
        if not isinstance(conv, nn.Conv2d):
            return failed(f"expected an nn.Conv2d, got {type(conv).__name__}",
                          "return the layer itself, not its output: nn.Conv2d(channels, linear.out_features, kernel)")
        problem = expect_float32_layer(conv, "your convolution")
        if problem is not None:
            return problem
        if conv.in_channels != channels:
            return failed(f"for {case} your convolution reads {conv.in_channels} channels, not the window's {channels}",
                          "in_channels is the window's number of channels: nn.Conv2d(channels, ...)")
        if tuple(conv.kernel_size) != (kernel, kernel):
            return failed(f"for {case} your convolution's kernel is {conv.kernel_size[0]} x {conv.kernel_size[1]}, "
                          f"not the window's {kernel} x {kernel}", "kernel_size = kernel: one tap per window pixel")
        x = torch.randn(2, channels, 6, 7, generator=torch.Generator().manual_seed(100 + seed))
        with torch.no_grad():
            expected = linear_at_every_window(linear, x, kernel)
            try:
                y = conv(x)
            except Exception as error:  # noqa: BLE001 - a layer of the learner's own making
                return failed(f"for {case}, {raised(error, 'your convolution')}",
                              "return a plain nn.Conv2d(channels, linear.out_features, kernel)")
        if y.shape != expected.shape:
            if y.shape[-2:] == x.shape[-2:] and kernel > 1:
                return failed(f"for {case} your output is {tuple(y.shape)}, expected {tuple(expected.shape)}: "
                              f"the convolution pads the image",
                              "the Linear only ever saw windows inside the image: padding=0 (the default)")
            return failed(f"for {case} your output is {tuple(y.shape)}, expected {tuple(expected.shape)}",
                          "out_channels = linear.out_features, kernel_size = kernel, stride 1, no padding")
        if torch.allclose(y, expected, atol=1e-4):
            continue
        weight, bias = linear.weight.detach(), linear.bias.detach()
        window = weight.view(classes, channels, kernel, kernel)
        with torch.no_grad():
            mistakes = {
                "the bias is missing": (F.conv2d(x, window), "copy linear.bias into conv.bias as well"),
                "the weight is transposed": (
                    F.conv2d(x, weight.t().reshape(classes, channels, kernel, kernel), bias)
                    if weight.shape[0] == weight.shape[1] else None,
                    "nn.Linear's weight is already out_features x in_features, as Conv2d wants it: do not .t() it"),
                "the window was read channel-last (row, column, channel) instead of channel first": (
                    F.conv2d(x, weight.view(classes, kernel, kernel, channels).permute(0, 3, 1, 2), bias),
                    ".flatten(1) of a channels x k x k window puts the channel first: .view(classes, channels, k, k)"),
                "rows and columns are swapped": (
                    F.conv2d(x, window.transpose(2, 3), bias),
                    "view the weight as (classes, channels, rows, columns), with no transpose of the last two"),
            }
        for mistake, (candidate, hint) in mistakes.items():
            if candidate is not None and torch.allclose(y, candidate, atol=1e-4):
                return failed(f"for {case} the output differs from the Linear's: {mistake}", hint)
        return failed(f"for {case} the output differs from the Linear's (largest difference "
                      f"{float((y - expected).abs().max()):.3g})",
                      "conv.weight = linear.weight.view(out_features, channels, kernel, kernel); conv.bias = "
                      "linear.bias (copy them under torch.no_grad())")
    return passed("your convolution gives the Linear's output at every window, for 1 x 1, 2 x 2 and 3 x 3 "
                  "windows: a classifier of one window is a convolution over the whole image")
