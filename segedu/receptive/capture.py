"""Run a model once and keep the outputs of chosen layers; check sizes and positions.

Shared by the analytic and the effective receptive field and by the layer table. A
layer is named as in ``model.named_modules()`` (e.g. ``"features.16"``, ``"layer3"``);
``None`` stands for the model's final output. Every feature map is seen as
``N x C x H x W``: a ``N x C`` output (a classifier's logits) counts as a 1 x 1 map.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

__all__ = [
    "check_input_size",
    "check_position",
    "centre_of",
    "as_feature_map",
    "capture",
    "trace",
]


class _Captured(Exception):
    """Raised by a hook to stop the forward pass once every wanted output is kept."""


def check_input_size(input_size) -> tuple[int, int, int]:
    """Return ``input_size`` as a ``(channels, height, width)`` tuple of positive ints, or raise."""
    if isinstance(input_size, torch.Size):
        input_size = tuple(input_size)
    ok = isinstance(input_size, (tuple, list)) and len(input_size) == 3
    ok = ok and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in input_size)
    if not ok:
        raise ValueError(
            f"input_size must be (channels, height, width) with positive integers, e.g. (3, 64, 64); "
            f"got {input_size!r}"
        )
    return tuple(int(v) for v in input_size)


def centre_of(output_size: tuple[int, int]) -> tuple[int, int]:
    """The centre position ``(row, col)`` of a ``height x width`` map (right of centre if even)."""
    return output_size[0] // 2, output_size[1] // 2


def check_position(position, output_size: tuple[int, int]) -> tuple[int, int]:
    """Return ``position`` as ``(row, col)`` inside ``output_size``; ``None`` gives the centre."""
    height, width = output_size
    if position is None:
        return centre_of(output_size)
    valid = f"rows 0..{height - 1} and cols 0..{width - 1} of the {height} x {width} output"
    ok = isinstance(position, (tuple, list)) and len(position) == 2
    ok = ok and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in position)
    if not ok:
        raise TypeError(f"position must be a (row, col) pair of integers in {valid}; got {position!r}")
    row, col = int(position[0]), int(position[1])
    if not (0 <= row < height and 0 <= col < width):
        raise IndexError(f"position {(row, col)} is outside the output: valid positions are {valid}")
    return row, col


def as_feature_map(output, where: str = "the model's output") -> torch.Tensor:
    """Turn a model or layer output into one ``N x C x H x W`` tensor.

    A dict gives its ``"out"`` entry (torchvision segmentation models) or its first value,
    a tuple or list its first element, and a ``N x C`` tensor becomes ``N x C x 1 x 1``.
    """
    if isinstance(output, dict):
        output = output["out"] if "out" in output else next(iter(output.values()))
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"{where} is a {type(output).__name__}, not a tensor: cannot take its receptive field")
    if output.dim() == 2:
        output = output[:, :, None, None]
    if output.dim() != 4:
        raise ValueError(
            f"{where} has shape {tuple(output.shape)}; a receptive field needs an N x C x H x W feature map"
        )
    if output.shape[-1] == 0 or output.shape[-2] == 0:
        raise ValueError(f"{where} is empty (shape {tuple(output.shape)}): the input is too small")
    return output


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        examples = ", ".join(repr(n) for n in list(modules)[1:6])
        raise ValueError(f"the model has no layer named {name!r}; layer names look like {examples}, ...")
    return modules[name]


def _run(model: nn.Module, x: torch.Tensor):
    """``model(x)``, with a clear error when it fails because of the input's size or channels."""
    try:
        return model(x)
    except _Captured:
        raise
    except RuntimeError as error:
        raise ValueError(_explain_failure(model, x, error)) from error


def _explain_failure(model: nn.Module, x: torch.Tensor, error: Exception) -> str:
    shape = " x ".join(str(v) for v in x.shape[1:])
    first_conv = next(
        ((name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))),
        None,
    )
    if first_conv is not None and first_conv[1].in_channels != x.shape[1]:
        name, conv = first_conv
        return (
            f"the model expects {conv.in_channels} input channels (its first convolution {name!r} takes "
            f"{conv.in_channels}) but the input has {x.shape[1]}: use input_size=({conv.in_channels}, H, W) "
            f"or an image with {conv.in_channels} channels"
        )
    working = _size_that_works(model, x)
    hint = (
        f" It does run on a {x.shape[1]} x {working[0]} x {working[1]} input: use at least that size "
        f"(some models also need sizes divisible by their total stride)."
        if working
        else ""
    )
    return f"the model cannot run on a {shape} input (torch says: {error}).{hint}"


def _size_that_works(model: nn.Module, x: torch.Tensor):
    """Smallest square-ish size >= the input's on which ``model`` runs (binary search), or None.

    Tries sizes up to ``max(256, 4 * side)`` only, so that a failure that has nothing to do
    with the size does not cost minutes of forward passes.
    """
    height, width = x.shape[-2:]
    limit = max(256, 4 * max(height, width))

    def runs(side: int) -> bool:
        trial = torch.ones(1, x.shape[1], max(height, side), max(width, side), dtype=x.dtype, device=x.device)
        try:
            with torch.no_grad():
                as_feature_map(model(trial))
            return True
        except (RuntimeError, ValueError, _Captured):
            return False

    low, high = min(height, width), None
    side = low
    while side < limit:
        side *= 2
        if runs(side):
            high = side
            break
        low = side
    if high is None:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if runs(middle):
            high = middle
        else:
            low = middle
    return max(height, high), max(width, high)


def capture(model: nn.Module, x: torch.Tensor, layer: str | None = None) -> torch.Tensor:
    """Run ``model(x)`` and return the output of ``layer`` (``None``: the final output) as N x C x H x W.

    The forward pass stops as soon as the layer has produced its output, so later layers
    cost nothing. A layer called several times (shared weights) gives its first output.
    """
    if layer is None:
        return as_feature_map(_run(model, x))
    kept = []

    def keep(module, inputs, output):
        kept.append(output)
        raise _Captured

    handle = _module(model, layer).register_forward_hook(keep)
    try:
        _run(model, x)
    except _Captured:
        pass
    finally:
        handle.remove()
    if not kept:
        raise ValueError(f"layer {layer!r} was not used in the forward pass, so it has no output")
    return as_feature_map(kept[0], where=f"the output of layer {layer!r}")


def trace(model: nn.Module, x: torch.Tensor):
    """Run ``model(x)`` and list every sub-module's first output in execution order.

    Returns:
        ``(layers, output)``: ``layers`` is a list of ``(name, module, tensor)`` for the
        sub-modules whose output is one tensor (not a list of feature maps, say),
        ``output`` the model's final output as ``N x C x H x W``. The kept tensors are
        clones, so that a later in-place operation (``out += identity`` in a residual
        block) cannot change what they hold or how they were computed.
    """
    seen: dict[str, tuple] = {}
    handles = []
    for name, module in model.named_modules():
        if name == "":
            continue

        def keep(module, inputs, output, name=name):
            if name not in seen and isinstance(output, torch.Tensor):
                seen[name] = (name, module, output.clone())

        handles.append(module.register_forward_hook(keep))
    try:
        output = as_feature_map(_run(model, x))
    finally:
        for handle in handles:
            handle.remove()
    return list(seen.values()), output
