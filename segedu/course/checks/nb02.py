"""Checkers for the exercises of notebook 02 (receptive fields).

* :func:`check_chain_rf` -- the receptive field of a given chain of layers, computed by hand.
* :func:`check_design` -- a chain of small layers whose field reaches a target size with few layers.
* :func:`check_plain_depth` -- how many 3x3 stride-1 layers a plain CNN needs to see ``n`` pixels.

Layers are ``(kernel, stride)`` or ``(kernel, stride, dilation)`` tuples, input side first, as
in :func:`segedu.receptive.chain_steps`. Each checker returns a
:class:`~segedu.course.checks.CheckResult`; ``...`` or ``None`` gives "not done yet".
"""

from __future__ import annotations

import numbers

from segedu.course.checks import CheckResult, failed, passed
from segedu.receptive import chain_steps

__all__ = ["EXERCISE_CHAIN", "check_chain_rf", "check_design", "check_plain_depth", "fewest_layers"]

NOT_DONE = "not done yet: replace the ... with your answer"

EXERCISE_CHAIN = ((3, 1), (3, 2), (3, 1), (2, 2), (3, 1, 2))
"""The chain of the first exercise: conv 3x3, strided conv 3x3 (stride 2), conv 3x3, 2x2 pooling
(stride 2), dilated conv 3x3 (dilation 2)."""


def _not_done(value) -> bool:
    return value is None or value is Ellipsis


def _as_int(value, name: str):
    """``(int, None)`` or ``(None, failing CheckResult)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != int(value):
        return None, failed(f"{name} should be a whole number of pixels, got {value!r}", "give an int")
    return int(value), None


def _normalise(layer) -> tuple[int, int, int]:
    kernel, stride, *rest = layer
    return int(kernel), int(stride), int(rest[0]) if rest else 1


def check_chain_rf(answer, layers=EXERCISE_CHAIN) -> CheckResult:
    """Check the receptive-field size ``answer`` (pixels along one axis) of the chain ``layers``."""
    if _not_done(answer):
        return failed(NOT_DONE, "apply r += (k - 1) * d * jump, then jump *= s, layer by layer")
    answer, problem = _as_int(answer, "the receptive field")
    if problem:
        return problem
    steps = chain_steps(list(layers))
    expected = steps[-1].size
    if answer == expected:
        return passed(f"receptive field {answer} px: right ("
                      + " -> ".join(str(step.size) for step in steps) + ")")
    specs = [_normalise(layer) for layer in layers]
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


def fewest_layers(target: int, max_kernel: int = 3, max_stride: int = 2, max_dilation: int = 1) -> int:
    """The fewest layers (kernel <= ``max_kernel``, stride <= ``max_stride``, dilation <=
    ``max_dilation``) whose chain reaches a receptive field of ``target`` pixels."""
    size, jump, layers = 1, 1, 0
    while size < target:  # greedy: the biggest kernel, dilation and stride at every layer is optimal
        size += (max_kernel - 1) * max_dilation * jump
        jump *= max_stride
        layers += 1
    return layers


def check_design(layers, target: int = 64, max_layers: int = 6, max_kernel: int = 3,
                 max_stride: int = 2, max_dilation: int = 1) -> CheckResult:
    """Check a chain ``layers`` that should reach a field of ``target`` pixels with at most ``max_layers``
    layers of kernel <= ``max_kernel``, stride <= ``max_stride`` and dilation <= ``max_dilation``."""
    if _not_done(layers):
        return failed(NOT_DONE, "give a list of (kernel, stride) tuples")
    if not isinstance(layers, (list, tuple)):
        return failed(f"expected a list of (kernel, stride) tuples, got {type(layers).__name__}",
                      "e.g. [(3, 1), (3, 2)]")
    if any(_not_done(layer) or (isinstance(layer, (tuple, list)) and any(
            _not_done(value) for value in layer)) for layer in layers):
        return failed(NOT_DONE, "give a list of (kernel, stride) tuples")
    try:
        layers = list(layers)
        specs = [_normalise(layer) for layer in layers]
        steps = chain_steps(layers)
    except Exception as error:  # noqa: BLE001
        return failed(f"could not read your layers ({error})",
                      "give a list of tuples like [(3, 1), (3, 2)] (kernel, stride[, dilation])")
    for index, (k, s, d) in enumerate(specs):
        if k > max_kernel or s > max_stride or d > max_dilation:
            return failed(f"layer {index} {layers[index]} breaks the rules (kernel <= {max_kernel}, "
                          f"stride <= {max_stride}, dilation <= {max_dilation})",
                          "a big kernel is an easy way out, but it costs k * k weights per channel pair")
    size, jump = steps[-1].size, steps[-1].jump
    if size < target:
        return failed(f"your {len(layers)} layers see {size} px, fewer than {target}",
                      "strides multiply the growth of every later layer: put them early")
    best = fewest_layers(target, max_kernel, max_stride, max_dilation)
    if len(layers) > max_layers:
        return failed(f"{size} px is enough, but {len(layers)} layers are more than {max_layers}",
                      f"{best} layers can do it: with a stride of 2 each layer doubles the growth of the next")
    note = " (the fewest possible)" if len(layers) == best else f" ({best} would be the fewest)"
    return passed(f"{len(layers)} layers{note} see {size} px; the price: neighbouring outputs are "
                  f"{jump} px apart, so the output map is {jump} times coarser and must be upsampled")


def check_plain_depth(answer, target: int = 64, kernel: int = 3) -> CheckResult:
    """Check the number of stride-1 ``kernel`` x ``kernel`` layers a plain CNN needs to see ``target`` px."""
    if _not_done(answer):
        return failed(NOT_DONE, f"each stride-1 {kernel}x{kernel} layer adds {kernel - 1} pixels")
    answer, problem = _as_int(answer, "the number of layers")
    if problem:
        return problem
    expected = -(-(target - 1) // (kernel - 1))
    if answer == expected:
        return passed(f"{answer} layers: 1 + {answer} * {kernel - 1} = {1 + answer * (kernel - 1)} >= {target} px")
    if 1 + answer * (kernel - 1) < target:
        return failed(f"{answer} layers see {1 + answer * (kernel - 1)} px, fewer than {target}",
                      f"solve 1 + n * {kernel - 1} >= {target} for the smallest whole n")
    return failed(f"{answer} layers see {1 + answer * (kernel - 1)} px; fewer would do",
                  f"solve 1 + n * {kernel - 1} >= {target} for the smallest whole n")
