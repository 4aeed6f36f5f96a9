"""The exact receptive field of any model, from the support of a gradient.

Method (works for chains, skips, pyramid pooling, global pooling, interpolation, ...):

1. Copy the model (the original is never touched), in float64, in eval mode, on the CPU.
   Give every convolution and linear layer a positive constant weight (1 / fan-in) and
   zero bias; make normalisation layers and pointwise activations the identity.
2. Treat max pooling as its whole window: while the copy runs, max pooling is replaced by
   averaging over the same windows (:class:`WindowPooling`). The gradient of a max goes to
   one pixel only, but *which* pixel depends on the image, so every pixel of the window
   can influence the output.
3. Feed an input of ones, take one output position, sum it over channels and
   backpropagate to the input.

Every path from an input pixel to that output now multiplies positive numbers, so no two
paths can cancel, and the input gradient is > 0 exactly on the pixels that can influence
the output (float64 keeps even the faintest path, a product of dozens of small weights,
away from underflow). That support *is* the receptive field; its bounding box is
``rf.box`` and its extent ``rf.size``. Zero padding lies outside the image, so the box is
always inside the image (clipped). For plain chains the closed-form arithmetic of
:mod:`segedu.receptive.arithmetic` also gives the stride (jump), the offset, and the
*theoretical* field size, which may be larger than the image.

Assumptions: the layers that mix positions are modules or functions that autograd sees
(convolutions, pooling, interpolation, concatenation, addition, ...); a hand-written
saturating activation (a ``torch.clamp`` in ``forward``) or a softmax over channels
called as a function in ``forward`` (its outputs sum to 1, so the summed gradient is 0)
could hide a path; ``nn.Softmax(dim=1)`` modules are made the identity like activations.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from .arithmetic import NORM_TYPES, POINTWISE_TYPES, chain_layers, chain_steps
from .capture import capture, check_input_size, check_position

__all__ = ["ReceptiveField", "FieldProbe", "receptive_field", "positive_copy", "WindowPooling"]


def _window_average(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                    return_indices=False):
    """Average over exactly the windows that ``F.max_pool2d`` with these arguments takes the max of."""
    real = torch.max_pool2d(input.detach(), kernel_size, stride or kernel_size, padding, dilation, ceil_mode)
    batched = input if input.dim() == 4 else input.unsqueeze(0)
    kernel, step, pad, dil = (nn.modules.utils._pair(v) for v in (kernel_size, stride or kernel_size,
                                                                  padding, dilation))
    out_h, out_w = real.shape[-2:]
    # ceil_mode can add a last window that sticks out on the bottom/right: pad for it.
    extra_h = max(0, (out_h - 1) * step[0] + dil[0] * (kernel[0] - 1) + 1 - (batched.shape[-2] + 2 * pad[0]))
    extra_w = max(0, (out_w - 1) * step[1] + dil[1] * (kernel[1] - 1) + 1 - (batched.shape[-1] + 2 * pad[1]))
    padded = F.pad(batched, (pad[1], pad[1] + extra_w, pad[0], pad[0] + extra_h))
    channels = batched.shape[1]
    weight = batched.new_full((channels, 1, *kernel), 1.0 / (kernel[0] * kernel[1]))
    out = F.conv2d(padded, weight, stride=step, dilation=dil, groups=channels)[..., :out_h, :out_w]
    out = out if input.dim() == 4 else out.squeeze(0)
    if return_indices:
        _, indices = F.max_pool2d(input.detach(), kernel_size, stride, padding, dilation, ceil_mode, True)
        return out, indices
    return out


def _adaptive_window_average(input, output_size, return_indices=False):
    out = F.adaptive_avg_pool2d(input, output_size)
    if return_indices:
        return out, F.adaptive_max_pool2d(input.detach(), output_size, True)[1]
    return out


class WindowPooling(TorchFunctionMode):
    """While active, 2-D max pooling averages over its windows, and clamping activations pass through.

    Catches both ``nn.MaxPool2d`` modules and ``F.max_pool2d`` calls inside ``forward``
    (1-D and 3-D max pooling are not converted).
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (F.max_pool2d, F.max_pool2d_with_indices, torch.max_pool2d):
            return _window_average(*args, **kwargs)
        if func in (F.adaptive_max_pool2d, F.adaptive_max_pool2d_with_indices):
            return _adaptive_window_average(*args, **kwargs)
        if func in (F.relu6, F.hardtanh, F.hardsigmoid):  # flat regions would hide paths
            return args[0] if args else kwargs["input"]
        return func(*args, **kwargs)


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


_WEIGHTED_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
                   nn.Linear)


def _is_channel_softmax(module: nn.Module) -> bool:
    """A softmax over channels: pointwise in space, but its outputs sum to 1, so their summed gradient is 0."""
    return isinstance(module, nn.Softmax2d) or (
        isinstance(module, (nn.Softmax, nn.LogSoftmax)) and module.dim in (1, -3)
    )


def positive_copy(model: nn.Module) -> nn.Module:
    """A float64, eval-mode, CPU copy of ``model`` whose paths all carry positive weight (see module doc)."""
    probe = copy.deepcopy(model).cpu().double().eval()
    for name, module in list(probe.named_modules()):
        if name and (isinstance(module, POINTWISE_TYPES + NORM_TYPES) or _is_channel_softmax(module)):
            _replace(probe, name, nn.Identity())
        elif isinstance(module, _WEIGHTED_TYPES):
            with torch.no_grad():
                module.weight.fill_(module.weight.shape[0] / module.weight.numel())
                if module.bias is not None:
                    module.bias.zero_()
    for parameter in probe.parameters():
        parameter.requires_grad_(False)
    return probe


@dataclasses.dataclass(frozen=True, repr=False)
class ReceptiveField:
    """The receptive field of one output position: which input pixels can change it.

    Attributes:
        position: ``(row, col)`` of the output position, in output coordinates.
        output_size: ``(height, width)`` of the output (or of the chosen layer's output).
        input_size: ``(channels, height, width)`` of the input.
        size: ``(height, width)`` of ``box`` in input pixels (inside the image).
        box: ``(top, left, bottom, right)``, inclusive input rows/cols, clipped to the image.
        mask: ``height x width`` bool tensor, True on the pixels that can change the output
            (may have holes, e.g. with dilation; ``box`` is its bounding box).
        layer: the layer whose output this is, or None for the model's output.
        stride: ``(rows, cols)`` jump in input pixels between neighbouring outputs (chains only, else None).
        offset: ``(row, col)`` input coordinates of the centre of output (0, 0)'s field (chains only).
        theoretical_size: ``(height, width)`` of the field without clipping to the image (chains only).
        theoretical_box: the unclipped box; may reach outside the image into the padding (chains only).
    """

    position: tuple[int, int]
    output_size: tuple[int, int]
    input_size: tuple[int, int, int]
    size: tuple[int, int]
    box: tuple[int, int, int, int] | None
    mask: torch.Tensor
    layer: str | None = None
    stride: tuple[int, int] | None = None
    offset: tuple[float, float] | None = None
    theoretical_size: tuple[int, int] | None = None
    theoretical_box: tuple[int, int, int, int] | None = None

    @property
    def pixels(self) -> int:
        """Number of input pixels that can change the output (``mask.sum()``)."""
        return int(self.mask.sum())

    @property
    def covers_input(self) -> bool:
        """True when the box spans the whole image."""
        _, height, width = self.input_size
        return self.box == (0, 0, height - 1, width - 1)

    def __repr__(self) -> str:
        where = "output" if self.layer is None else f"layer {self.layer!r}"
        text = f"ReceptiveField({where} position {self.position} of {self.output_size[0]} x {self.output_size[1]}"
        if self.box is None:
            return text + ": no input pixel can change it)"
        top, left, bottom, right = self.box
        text += f": {self.size[0]} x {self.size[1]} px, rows {top}-{bottom}, cols {left}-{right}"
        if self.theoretical_size is not None:
            text += f"; theoretical {self.theoretical_size[0]} x {self.theoretical_size[1]}"
            text += f", stride {self.stride}, offset {self.offset}"
        return text + ")"


class FieldProbe:
    """The positive copy of a model, run once, ready to give the receptive field of any position.

    ``FieldProbe(model, (3, 64, 64)).field((10, 20))`` equals
    ``receptive_field(model, (3, 64, 64), (10, 20))``; keep the probe to ask about many
    positions at the cost of one backward pass each (the explorer widget does this).

    Args:
        model: any ``nn.Module`` mapping ``1 x C x H x W`` to a feature map (not modified).
        input_size: ``(channels, height, width)``.
        layer: name of a sub-module (as in ``model.named_modules()``) whose output to use;
            None for the model's output.
    """

    def __init__(self, model: nn.Module, input_size=(3, 64, 64), layer: str | None = None):
        self.input_size = check_input_size(input_size)
        self.layer = layer
        self._input = torch.ones((1, *self.input_size), dtype=torch.float64, requires_grad=True)
        with torch.enable_grad(), WindowPooling():  # enable_grad: works inside a caller's no_grad block too
            self._output = capture(positive_copy(model), self._input, layer)
        self.output_size = tuple(self._output.shape[-2:])
        self._chain = self._chain_geometry(model, layer)

    @staticmethod
    def _chain_geometry(model: nn.Module, layer: str | None):
        layers = chain_layers(model, upto=layer)
        if not layers:
            return None
        return chain_steps([rows for _, rows, _ in layers])[-1], chain_steps([cols for _, _, cols in layers])[-1]

    def field(self, position=None) -> ReceptiveField:
        """Receptive field of ``position`` (``(row, col)`` in output coordinates; None: the centre)."""
        row, col = check_position(position, self.output_size)
        with torch.enable_grad():
            (gradient,) = torch.autograd.grad(self._output[0, :, row, col].sum(), self._input, retain_graph=True)
        mask = (gradient[0] > 0).any(dim=0)
        rows, cols = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
        box = None if len(rows) == 0 else (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))
        size = (0, 0) if box is None else (box[2] - box[0] + 1, box[3] - box[1] + 1)
        chain = {}
        if self._chain is not None:
            along_rows, along_cols = self._chain
            top, left = along_rows.start + row * along_rows.jump, along_cols.start + col * along_cols.jump
            chain = dict(
                stride=(along_rows.jump, along_cols.jump),
                offset=(along_rows.offset, along_cols.offset),
                theoretical_size=(along_rows.size, along_cols.size),
                theoretical_box=(top, left, top + along_rows.size - 1, left + along_cols.size - 1),
            )
        return ReceptiveField(
            position=(row, col),
            output_size=self.output_size,
            input_size=self.input_size,
            size=size,
            box=box,
            mask=mask,
            layer=self.layer,
            **chain,
        )


def receptive_field(model: nn.Module, input_size=(3, 64, 64), position=None, layer: str | None = None):
    """The exact receptive field of one output position of ``model``.

    Args:
        model: any ``nn.Module`` taking ``1 x C x H x W`` (not modified; a copy is probed).
        input_size: ``(channels, height, width)`` of the input.
        position: ``(row, col)`` in output coordinates; None for the centre ``(H_out // 2, W_out // 2)``.
        layer: optional sub-module name: the field of that layer's output instead of the model's.

    Returns:
        A :class:`ReceptiveField` with ``.size``, ``.box``, ``.mask`` and, for plain chains,
        ``.stride``, ``.offset``, ``.theoretical_size``.

    Raises:
        IndexError: ``position`` is outside the output (the message gives the valid range).
        ValueError: the input is too small for the model or has the wrong number of channels.
    """
    return FieldProbe(model, input_size, layer).field(position)
