"""Checkers for the exercises of notebook 02 (receptive fields).

* :func:`check_chain_rf` -- the receptive field of a given chain of layers, computed by hand.
* :func:`check_depth_to_see_outline` -- how many stride-1 layers a plain CNN needs before the output at
  an object pixel ``distance`` px from the nearest outline can see that outline.
* :func:`check_design` -- the cheapest chain of 3x3 convolutions whose field covers the image while its
  output stays fine enough to upsample (:func:`design_cost`, :func:`cheapest_design`).

Layers are ``(kernel, stride)`` or ``(kernel, stride, dilation)`` tuples, input side first, as
in :func:`segedu.receptive.chain_steps`. Each checker returns a
:class:`~segedu.course.checks.CheckResult`; ``...`` or ``None`` gives "not done yet".
"""

from __future__ import annotations

import math

import numpy
import torch

from segedu.course.checks import (
    CheckResult,
    checker,
    describe,
    failed,
    not_done,
    passed,
    whole_number,
    whole_numbers,
)
from segedu.receptive import chain_steps

__all__ = ["EXERCISE_CHAIN", "check_chain_rf", "check_depth_to_see_outline", "check_design", "cheapest_design",
           "design_cost"]

NOT_DONE = "not done yet: replace the ... with your answer"

EXERCISE_CHAIN = ((3, 1), (3, 2), (3, 1), (2, 2), (3, 1, 2))
"""The chain of the first exercise: conv 3x3, strided conv 3x3 (stride 2), conv 3x3, 2x2 pooling
(stride 2), dilated conv 3x3 (dilation 2)."""


MAX_LAYERS = 10_000
"""The longest chain the checkers read: far more than any exercise needs."""
MAX_TARGET = 4096
"""The largest image side :func:`check_design` takes, and the largest kernel, stride or dilation a layer may have
(the exercises' images have 64 px)."""


def _normalise(layer) -> tuple[int, int, int]:
    kernel, stride, *rest = layer
    return int(kernel), int(stride), int(rest[0]) if rest else 1


def read_layers(layers, name: str = "the layers") -> tuple[list[tuple[int, int, int]] | None, CheckResult | None]:
    """``([(kernel, stride, dilation), ...], None)`` for a chain of ``(kernel, stride)``, ``(kernel, stride,
    dilation)`` or ``(kernel, stride, dilation, padding)`` layers as :func:`~segedu.receptive.chain_steps` takes
    them (whole numbers, >= 1 but the padding >= 0; a list of tuples, or a numpy array or tensor with a row per
    layer), else ``(None, a failing result that names the first bad layer)``. The padding moves the field, it
    does not change its size: it is dropped."""
    if isinstance(layers, (numpy.ndarray, torch.Tensor)) and layers.ndim == 2:
        layers = list(layers)
    if not isinstance(layers, (list, tuple)):
        return None, failed(f"{name} should be a list of (kernel, stride) tuples, got {describe(layers)}",
                            "e.g. [(3, 2), (3, 1)]")
    if not layers:
        return None, failed(f"{name} should hold at least one layer", "e.g. [(3, 2), (3, 1)]")
    if len(layers) > MAX_LAYERS:
        return None, failed(f"{name} hold {len(layers):,} layers: more than {MAX_LAYERS:,}, far beyond what this "
                            "exercise needs", "a few layers are enough: a stride multiplies what each later layer adds")
    specs = []
    for index, layer in enumerate(layers):
        values, problem = whole_numbers(layer, f"layer {index}", "(3, 2)")
        if problem is None and len(values) not in (2, 3, 4):
            problem = failed(f"layer {index} {describe(layer)} should be (kernel, stride) or (kernel, stride, "
                             f"dilation), not {len(values)} numbers")
        if problem is None and (min(values[:3]) < 1 or min(values) < 0):
            problem = failed(f"layer {index} {describe(layer)} has a kernel, stride or dilation below 1 (or a "
                             "negative padding)", "each is a whole number >= 1")
        if problem is None and max(values) > MAX_TARGET:
            problem = failed(f"layer {index} {describe(layer)} has a kernel, stride or dilation above {MAX_TARGET}, "
                             "larger than any image this exercise is about", "each is a few pixels")
        if problem is not None:
            return None, failed(f"could not read {name}: {problem.message}",
                                problem.hint or "give a list of tuples like [(3, 2), (3, 1)] (kernel, stride)")
        specs.append((*values, 1) if len(values) == 2 else values[:3])
    return specs, None


@checker
def check_chain_rf(answer, layers=EXERCISE_CHAIN) -> CheckResult:
    """Check the receptive-field size ``answer`` (pixels along one axis) of the chain ``layers``."""
    if not_done(answer):
        return failed(NOT_DONE, "apply r += (k - 1) * d * jump, then jump *= s, layer by layer")
    specs, problem = read_layers(layers, "the chain's layers")
    if problem is not None:
        return problem
    answer, problem = whole_number(answer, "the receptive field", minimum=1)
    if problem is not None:
        return problem
    steps = chain_steps(specs)
    expected = steps[-1].size
    if answer == expected:
        return passed(f"receptive field {answer} px: right ("
                      + " -> ".join(str(step.size) for step in steps) + ")")
    no_jump = 1 + sum((k - 1) * d for k, _, d in specs)
    if answer == no_jump:
        return failed(f"{answer} px, expected {expected}: you added (k - 1) * d for every layer but forgot the jump",
                      "after a stride-s layer every step of the next layer spans s times more input pixels: "
                      "multiply by the jump (the product of the strides before the layer)")
    size, jump = 1, 1
    for k, s, d in specs:  # jump updated before the layer is used: a common slip
        jump *= s
        size += (k - 1) * d * jump
    if answer == size:
        return failed(f"{answer} px, expected {expected}: a layer used its own stride in its jump",
                      "a layer's growth uses the jump of its *input* (strides of the layers before it); "
                      "update the jump after the layer")
    no_dilation = chain_steps([(k, s) for k, s, _ in specs])[-1].size
    if answer == no_dilation:
        return failed(f"{answer} px, expected {expected}: the dilation was left out",
                      "a dilated kernel of size k spans d * (k - 1) + 1 pixels")
    return failed(f"{answer} px, expected another number",
                  "write a table: layer, r, jump; start at r = 1, jump = 1; r += (k - 1) * d * jump; jump *= s")


@checker
def check_depth_to_see_outline(answer, distance: int, kernel: int = 3) -> CheckResult:
    """Check the fewest stride-1 ``kernel`` x ``kernel`` layers after which the output at a pixel
    ``distance`` px (chessboard distance, as :func:`segedu.course.lessons.distance_to_edge`) from the
    nearest outline can see that outline.

    ``n`` such layers see a square of ``1 + n * (kernel - 1)`` px centred on the pixel, so they reach
    ``n * (kernel - 1) / 2`` px on each side: the answer is ``ceil(distance / ((kernel - 1) / 2))``.
    """
    if not_done(answer):
        return failed(NOT_DONE, f"how far does a stack of n stride-1 {describe(kernel)}x{describe(kernel)} layers "
                                "reach from its centre?")
    kernel, problem = whole_number(kernel, "kernel")
    if problem is None and (kernel < 3 or kernel % 2 == 0):
        problem = failed(f"kernel {kernel}: a stride-1 layer reaches (kernel - 1) / 2 px on each side of its pixel, so "
                         "the kernel must be odd and at least 3 (a 1x1 layer never reaches a neighbour; an even one "
                         "is not centred)", "use kernel=3, 5 or 7")
    if problem is None:
        distance, problem = whole_number(distance, "distance (px from the outline)", minimum=1)
    if problem is None:
        answer, problem = whole_number(answer, "the number of layers", minimum=0)
    if problem is not None:
        return problem
    step = (kernel - 1) // 2  # how much farther each layer reaches on each side
    expected = -(-distance // step)
    field = 1 + answer * (kernel - 1)
    if answer == expected:
        return passed(f"{answer} layers: a field of {field} px reaches {answer * step} px on each side, "
                      f"enough for an outline {distance} px away (PlainCNN(num_classes, depth={answer}))")
    if answer == 2 * distance + 1:
        return failed(f"{answer} is the size of the field that is needed, in pixels, not a number of layers",
                      f"each stride-1 {kernel}x{kernel} layer adds {kernel - 1} px to the field")
    if answer == distance and step > 1:
        return failed(f"{answer} layers would do with 3x3 kernels, but each {kernel}x{kernel} layer reaches {step} px "
                      f"farther on each side, not 1: {answer} layers reach {answer * step} px; fewer would do",
                      f"solve n * {step} >= {distance} for the smallest whole n")
    if answer * step < distance:
        if answer == -(-(distance - 1) // (kernel - 1)):  # solved field >= distance: forgot it is centred
            return failed(f"{answer} layers see {field} px, at least {distance}, but the field is centred on "
                          f"the pixel: it reaches only {answer * step} px on each side",
                          f"the outline can be on any side: the field must reach {distance} px from its centre")
        return failed(f"{answer} layers reach {answer * step} px from the pixel; the outline is {distance} px away",
                      "a pixel next to another label is 1 px away, and one layer already sees it")
    return failed(f"{answer} layers reach {answer * step} px from the pixel; fewer would do "
                  f"(the outline is {distance} px away)",
                  f"each stride-1 {kernel}x{kernel} layer reaches {step} px farther on each side")


DESIGN_KERNEL = 3
"""The exercise's layers are 3x3 convolutions with stride 1 or 2 (no dilation)."""


def design_cost(layers) -> float:
    """Multiply-adds of a chain of convolutions, in units of one full-resolution 3x3 layer.

    A layer whose output is ``J`` times coarser than the input (``J``: the product of the strides up to
    and including it) has ``J * J`` times fewer positions, so it costs ``(kernel / 3) ** 2 / J ** 2``
    (same channel numbers in every layer). ``[(3, 1)] * 32`` costs 32; ``[(3, 2)] * 3 + [(3, 1)] * 4``
    costs 25 / 64.
    """
    cost, jump = 0.0, 1
    for layer in layers:
        kernel, stride, _ = _normalise(layer)
        jump *= stride
        cost += (kernel / DESIGN_KERNEL) ** 2 / jump**2
    return cost


def cheapest_design(target: int = 64, max_output_stride: int = 8) -> list[tuple[int, int]]:
    """The chain of 3x3 convolutions (stride 1 or 2) of least :func:`design_cost` whose field is at
    least ``target`` px and whose output is at most ``max_output_stride`` (a power of two) times coarser
    than the input.

    Exact, not a rule of thumb: swapping a stride-1 layer with the stride-2 layer right after it makes
    the pair cheaper (both then run on the smaller map) and their field larger, so a cheapest chain has
    its stride-2 layers first. It remains to try every number of stride-2 layers the rule allows, each
    followed by as few stride-1 layers as reach the field. In O(log max_output_stride) steps.
    """
    best: list[tuple[int, int]] | None = None
    for strided in range(int(math.log2(max_output_stride)) + 1):
        jump = 2**strided
        field = 1 + (DESIGN_KERNEL - 1) * (jump - 1)  # after the stride-2 layers: 1 + 2 * (1 + 2 + ... + jump / 2)
        more = max(0, -(-(target - field) // ((DESIGN_KERNEL - 1) * jump)))  # stride-1 layers, each adds 2 * jump
        chain = [(DESIGN_KERNEL, 2)] * strided + [(DESIGN_KERNEL, 1)] * more
        if best is None or design_cost(chain) < design_cost(best) - 1e-12:
            best = chain
    return best


def _as_layers(layers):
    """``(list of (kernel, stride, dilation), None)`` or ``(None, failing CheckResult)``."""
    if not_done(layers):
        return None, failed(NOT_DONE, "give a list of (kernel, stride) tuples")
    if isinstance(layers, (list, tuple)) and (not layers or any(
            not_done(layer) or (isinstance(layer, (tuple, list)) and any(not_done(value) for value in layer))
            for layer in layers)):
        return None, failed(NOT_DONE, "give a list of (kernel, stride) tuples")
    return read_layers(layers, "your layers")


@checker
def check_design(layers, target: int = 64, max_output_stride: int = 8) -> CheckResult:
    """Check a chain of 3x3 convolutions (stride 1 or 2) that should see ``target`` px with an output at
    most ``max_output_stride`` times coarser than the input, at the least :func:`design_cost`.

    Passes only the cheapest such chain (:func:`cheapest_design`); a chain that reaches the field with a
    coarser output (six stride-2 layers: 64 times coarser) or at a higher cost (stride-1 layers first,
    too few strides, a layer too many) gets its mistake named.
    """
    if not_done(layers):
        return failed(NOT_DONE, "give a list of (kernel, stride) tuples")
    target, problem = whole_number(target, "target (the image side in px)", minimum=2, maximum=MAX_TARGET)
    if problem is None:
        max_output_stride, problem = whole_number(max_output_stride, "max_output_stride", minimum=1,
                                                  maximum=MAX_TARGET)
    if problem is None and max_output_stride & (max_output_stride - 1):
        problem = failed(f"max_output_stride {max_output_stride} is not a power of two: each stride-2 layer doubles "
                         "how much coarser the output is (1, 2, 4, 8, ...)", "give a power of two, e.g. 8")
    if problem is not None:
        return problem
    specs, problem = _as_layers(layers)
    if problem is not None:
        return problem
    for index, (k, s, d) in enumerate(specs):
        if k != DESIGN_KERNEL or s not in (1, 2) or d != 1:
            return failed(f"layer {index} {(k, s) if d == 1 else (k, s, d)} breaks the rules: every layer is a "
                          f"{DESIGN_KERNEL}x{DESIGN_KERNEL} convolution with stride 1 or 2, no dilation",
                          "a bigger kernel or stride is an easy way out, but not this exercise's")
    steps = chain_steps([(k, s) for k, s, _ in specs])
    size, jump = steps[-1].size, steps[-1].jump
    cost = design_cost(specs)
    best = cheapest_design(target, max_output_stride)
    best_cost = design_cost(best)
    allowed = int(math.log2(max_output_stride))
    strides = [s for _, s, _ in specs]
    strided_first = strides == sorted(strides, reverse=True)
    if jump > max_output_stride:
        return failed(f"your {len(specs)} layers see {size} px, but the output is {jump} times coarser than the "
                      f"input: a {target} px image becomes a {max(1, target // jump)} x {max(1, target // jump)} "
                      f"map, one class for every {jump} x {jump} block of pixels",
                      f"at most {allowed} stride-2 layers (an output {max_output_stride} times coarser); grow the "
                      f"field further with stride-1 layers after them")
    if size < target:
        if not strided_first:
            return failed(f"your {len(specs)} layers see {size} px, fewer than {target}: the stride-1 layers "
                          f"before a stride-2 one grow the field by only 2 px each",
                          "put the stride-2 layers first: every layer after them grows the field 2 x jump px")
        return failed(f"your {len(specs)} layers see {size} px, fewer than {target}",
                      f"add stride-1 layers at the end: after your strides each adds {2 * jump} px")
    if cost > best_cost + 1e-9:
        output = "at full resolution" if jump == 1 else f"{jump} times coarser"
        said = (f"your chain sees {size} px with an output {output}, but costs {cost:.3g} full-resolution "
                f"layers where {best_cost:.3g} is enough ({cost / best_cost:.2g} times as much)")
        if jump == 1:
            return failed(f"{said}: every layer runs at full resolution",
                          "stride 2 early: every later layer then runs on a map 4 times smaller and grows the "
                          "field twice as fast")
        if not strided_first:
            return failed(f"{said}: a stride-1 layer before a stride-2 one runs on a map 4 times bigger",
                          "move the stride-2 layers to the front")
        if jump < max_output_stride:
            return failed(f"{said}: with only {strides.count(2)} stride-2 layers the stride-1 layers run on "
                          f"a {jump * jump} times smaller map, not a {max_output_stride ** 2} times smaller one",
                          f"use all {allowed} stride-2 layers the rule allows, then stride-1 layers")
        if chain_steps([(k, s) for k, s, _ in specs[:-1]])[-1].size >= target:
            return failed(f"{said}: your field is {size} px, and without the last layer it would still be "
                          f"at least {target}", "drop the layers you do not need")
        return failed(said, "stride-2 layers first, then as few stride-1 layers as reach the field")
    plain_cost = design_cost([(DESIGN_KERNEL, 1)] * -(-(target - 1) // (DESIGN_KERNEL - 1)))
    return passed(f"{len(specs)} layers see {size} px with an output {jump} times coarser (a {target} px image "
                  f"becomes a map of {target // jump} x {target // jump} positions) for {cost:.3g} full-resolution "
                  f"layers: the cheapest chain under the rules. A plain stride-1 stack costs {plain_cost:.0f} "
                  f"({plain_cost / cost:.0f} times as much); six stride-2 layers cost less still but leave one "
                  f"position for the whole image")
