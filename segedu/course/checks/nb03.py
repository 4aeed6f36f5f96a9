"""Checkers for notebook 03 (down and up).

* :func:`check_exact_upsampling` -- the ``padding`` and ``output_padding`` that make a transposed
  convolution with a given kernel and stride multiply the size exactly by the stride.
* :func:`check_flat_input_block` -- what a transposed convolution outputs on a flat input, read
  from its weights: the ``stride x stride`` block that repeats over the interior (a checkerboard
  unless every block entry is the same).

Each checker takes the learner's answer and returns a :class:`~segedu.course.checks.CheckResult`;
an unfilled answer (``...`` or ``None``) gives "not done yet", never an exception. Expected values
are measured with PyTorch's own layers, never computed with the formula the learner is asked for.
"""

from __future__ import annotations

import warnings

import numpy
import torch
import torch.nn.functional as F
from torch import nn

from segedu.course.checks import (
    CheckResult,
    checker,
    describe,
    expect_function,
    failed,
    not_done,
    passed,
    raised,
    whole_number,
)

__all__ = ["check_exact_upsampling", "check_flat_input_block", "flat_input_block_measured", "UPSAMPLING_CASES",
           "BLOCK_CASES"]

NOT_DONE = "not done yet: replace the ... with your code"

UPSAMPLING_CASES = ((4, 2), (3, 2), (2, 2), (5, 2), (4, 3), (3, 3), (5, 4), (7, 4), (8, 4))
"""(kernel, stride) pairs the exact-upsampling checker tries."""

INPUT_SIDES = (3, 5, 8)
"""Input sides every answer must upsample exactly."""


def _transposed_side(side: int, kernel: int, stride: int, padding: int, output_padding: int) -> int | None:
    """The output side of ``nn.ConvTranspose2d`` on a ``side x side`` input (measured by running it), or ``None``
    when PyTorch refuses the settings (a padding that crops more than the layer makes)."""
    layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding, output_padding=output_padding,
                               bias=False)
    try:
        with torch.no_grad():
            return layer(torch.zeros(1, 1, side, side)).shape[-1]
    except RuntimeError:  # "Output size is too small" and the like: the learner's settings, reported by the caller
        return None


def _pair(answer, case: str) -> tuple[tuple[int, int] | None, CheckResult | None]:
    """``((padding, output_padding), None)`` for a pair of ints (numpy and torch ones too), else a failing result."""
    if isinstance(answer, (numpy.ndarray, torch.Tensor)) and answer.ndim == 1:
        answer = tuple(answer)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return None, failed(f"with {case} your function returned {describe(answer)}, not a pair (padding, "
                            "output_padding)", "return two numbers: return padding, output_padding")
    values = []
    for value in answer:
        whole, problem = whole_number(value, "each", floats=False)
        if problem is not None:
            return None, failed(f"with {case}: padding and output_padding must be ints, got {describe(answer)}",
                                "use integer division // (and int(...) if you computed with floats)")
        values.append(whole)
    return (values[0], values[1]), None


@checker
def check_exact_upsampling(function) -> CheckResult:
    """``function(kernel, stride) -> (padding, output_padding)``: a transposed convolution with these settings
    turns every ``n x n`` map into ``stride * n x stride * n`` (PyTorch accepts them: ``padding >= 0``,
    ``0 <= output_padding < stride``). Tried on :data:`UPSAMPLING_CASES`; any valid answer passes."""
    if not_done(function):
        return failed(NOT_DONE, "write a function of (kernel, stride) that returns (padding, output_padding)")
    problem = expect_function(function, "exact_upsampling", "check_exact_upsampling(my_function)")
    if problem is not None:
        return problem
    answers = {}
    for kernel, stride in UPSAMPLING_CASES:
        case = f"kernel {kernel}, stride {stride}"
        try:
            answer = function(kernel, stride)
        except Exception as error:  # noqa: BLE001 - the learner's code: report it, never crash the notebook
            return failed(f"with {case} {raised(error)}", "call your function on these numbers and read the error")
        if not_done(answer):
            return failed(NOT_DONE, "return a pair (padding, output_padding)")
        answer, problem = _pair(answer, case)
        if problem is not None:
            return problem
        padding, output_padding = answers[kernel, stride] = answer
        if padding < 0:
            return failed(f"with {case}: padding {padding} is negative; PyTorch refuses it",
                          "when kernel - stride is negative, output_padding has to add the missing pixels")
        if not 0 <= output_padding < stride:
            return failed(f"with {case}: output_padding {output_padding} is not in 0..{stride - 1}; PyTorch refuses "
                          "an output_padding as large as the stride",
                          "output_padding only chooses among the `stride` input sizes that a stride-s convolution "
                          "maps to the same output; raise padding by 1 and output_padding falls by 2")
        if padding >= kernel:
            return failed(f"with {case}: padding {padding} is not smaller than the kernel: the padding crops "
                          f"{padding} pixels from each border of what the kernel copies make, which shrinks the map "
                          "instead of enlarging it (PyTorch refuses most such layers)",
                          "you need 2 * padding - output_padding = kernel - stride: padding is about half of "
                          "kernel - stride")
        for side in INPUT_SIDES:
            got = _transposed_side(side, kernel, stride, padding, output_padding)
            if got is None:
                return failed(f"with {case}, padding {padding} and output_padding {output_padding}: PyTorch refuses "
                              f"to run the layer on a {side}-pixel side, whose output would be empty",
                              "padding removes 2 pixels per unit and output_padding adds 1: you need "
                              "2 * padding - output_padding = kernel - stride")
            if got == stride * side:
                continue
            message = (f"with {case}, padding {padding} and output_padding {output_padding} turn a {side}-pixel "
                       f"side into {got} pixels, not {stride * side}")
            if got == stride * side - 1 and output_padding == 0:
                return failed(message, f"one pixel short: kernel - stride = {kernel - stride} is odd, so no padding "
                              "alone can do it; this is what output_padding is for")
            return failed(message, "padding removes 2 pixels per unit and output_padding adds 1: you need "
                          "2 * padding - output_padding = kernel - stride")
    return passed(f"every (kernel, stride) of {len(UPSAMPLING_CASES)} cases multiplies the size exactly by the "
                  f"stride; for kernel 3, stride 2 you chose {answers[3, 2]}, the encoder-decoder's "
                  "kernel-3 step uses (1, 1)")


BLOCK_CASES = ((3, 2, 1), (4, 2, 1), (4, 2, 0), (5, 3, 1), (6, 3, 0), (3, 2, 0))
"""(kernel, stride, padding) of the layers the flat-input checker tries, each with random weights."""


def flat_input_block_measured(weight: torch.Tensor, stride: int, padding: int) -> torch.Tensor:
    """The ``stride x stride`` block repeating over the interior of ``F.conv_transpose2d`` on an all-ones map.

    ``weight``: ``k x k``. Entry ``[a, b]`` is the output at interior pixels ``(i, j)`` with
    ``i % stride == a`` and ``j % stride == b``; measured by running the transposed convolution.
    """
    kernel = weight.shape[-1]
    side = 2 * kernel + 4  # enough input for an interior of several blocks
    out = F.conv_transpose2d(torch.ones(1, 1, side, side, dtype=weight.dtype), weight.view(1, 1, kernel, kernel),
                             stride=stride, padding=padding)[0, 0]
    start = stride * (-(-(kernel + padding) // stride))  # the first block-aligned index past the edge effects
    return out[start:start + stride, start:start + stride].clone()


def _block_mistakes(weight: torch.Tensor, stride: int, padding: int) -> dict[str, tuple[torch.Tensor, str]]:
    """What typical wrong answers give: ``{mistake: (block, hint)}``."""
    return {
        "counted the kernel copies that land on each pixel, without their weights": (
            flat_input_block_measured(torch.ones_like(weight), stride, padding),
            "each copy is the kernel multiplied by the input value (1 here): add the weights, not 1 per tap"),
        "left the padding out": (
            flat_input_block_measured(weight, stride, 0),
            "padding crops the output's first rows, which shifts which taps reach which output pixel: output "
            "pixel o is reached by the taps t with (o + padding - t) % stride == 0"),
        "flipped the kernel": (
            flat_input_block_measured(weight.flip(-1, -2), stride, padding),
            "a transposed convolution pastes the kernel as it is; the flip belongs to the zero-insertion view, "
            "where an ordinary convolution reads the pasted copies back"),
        "swapped rows and columns": (
            flat_input_block_measured(weight, stride, padding).T,
            "block[a, b] is the output at rows i % stride == a and columns j % stride == b: kernel rows go with "
            "output rows"),
        "gave every pixel the average over the block": (
            torch.full((stride, stride), float(weight.sum()) / stride**2, dtype=weight.dtype),
            "a flat output would need every phase to receive the same sum; compute each phase's own taps"),
        "gave every pixel the sum of all the weights": (
            torch.full((stride, stride), float(weight.sum()), dtype=weight.dtype),
            f"with stride {stride} only one tap in {stride} along each axis reaches a given pixel"),
    }


@checker
def check_flat_input_block(function) -> CheckResult:
    """``function(weight k x k, stride, padding) -> stride x stride tensor``: the block that repeats over the
    interior when a 1-channel transposed convolution with ``weight`` runs on an all-ones map (see
    :func:`flat_input_block_measured`). Tried on :data:`BLOCK_CASES` with random weights."""
    if not_done(function):
        return failed(NOT_DONE, "write a function of (weight, stride, padding) that returns a stride x stride tensor")
    problem = expect_function(function, "flat_input_block", "check_flat_input_block(my_function)")
    if problem is not None:
        return problem
    generator = torch.Generator().manual_seed(3)
    for kernel, stride, padding in BLOCK_CASES:
        weight = torch.randint(-3, 6, (kernel, kernel), generator=generator).double()
        case = f"kernel {kernel}, stride {stride}, padding {padding}"
        try:
            got = function(weight.clone(), stride, padding)
        except Exception as error:  # noqa: BLE001 - the learner's code: report it, never crash the notebook
            return failed(f"with {case} {raised(error)}", "call your function on a small kernel and read the error")
        if not_done(got):
            return failed(NOT_DONE, "return the stride x stride block")
        if isinstance(got, (str, bytes)) or (isinstance(got, torch.Tensor) and got.is_complex()):
            return failed(f"with {case} your function returned {describe(got)}, not a tensor of numbers")
        try:
            with warnings.catch_warnings():  # a list of numpy rows is fine here, whatever torch says of its speed
                warnings.simplefilter("ignore", UserWarning)
                got = torch.as_tensor(got, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            return failed(f"with {case} your function returned {type(got).__name__}, not a tensor of numbers")
        if tuple(got.shape) != (stride, stride):
            return failed(f"with {case} your block has shape {tuple(got.shape)}, not {stride} x {stride}",
                          "one entry per output phase: rows i % stride, columns j % stride")
        want = flat_input_block_measured(weight, stride, padding)
        if torch.allclose(got, want):
            continue
        matches = [(mistake, hint) for mistake, (wrong, hint) in _block_mistakes(weight, stride, padding).items()
                   if torch.allclose(got, wrong)]
        if matches:  # with some kernels two mistakes give the same block: name them all
            return failed(f"with {case} your block is {got.tolist()}, the layer gives {want.tolist()}: it looks "
                          f"like you {' or '.join(mistake for mistake, _ in matches)}",
                          ". Or: ".join(hint for _, hint in matches))
        return failed(f"with {case} your block is {got.tolist()}, the layer gives {want.tolist()}",
                      "the output at pixel o sums weight[t] over the taps t with (o + padding - t) % stride == 0, "
                      "in both directions")
    return passed(f"your blocks match the layers in all {len(BLOCK_CASES)} cases: a flat input comes out flat only "
                  "when every phase's taps add up to the same sum, whatever the kernel size")
