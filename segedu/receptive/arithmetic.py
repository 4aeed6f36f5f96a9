"""Receptive-field arithmetic for plain chains of layers, in closed form.

This is the per-layer recurrence of Araujo, Norris and Sim, "Computing Receptive Fields
of Convolutional Neural Networks" (Distill, 2019). Along one axis, a layer ``l`` with
kernel ``k_l``, stride ``s_l``, dilation ``d_l`` and padding ``p_l`` (pixels added before
the first input) maps its input to its output; for a chain of such layers::

    r_0 = 1,  j_0 = 1,  start_0 = 0
    r_l = r_{l-1} + (k_l - 1) * d_l * j_{l-1}      receptive field size, in input pixels
    j_l = j_{l-1} * s_l                            jump: input pixels between two neighbours
    start_l = start_{l-1} - p_l * j_{l-1}          first input pixel seen by output 0

Output position ``i`` of layer ``l`` then sees input pixels ``start_l + i * j_l`` up to
``start_l + i * j_l + r_l - 1``: a box that can stick out of the image when padding is
involved (the *theoretical* field; the part inside the image is what really matters).

Only chains have this closed form. Anything with two paths (skips, pyramid pooling,
concatenation, global pooling) needs the model-agnostic gradient method of
:mod:`segedu.receptive.analytic`, which agrees with this arithmetic on chains.
"""

from __future__ import annotations

import dataclasses
import numbers

from torch import nn

__all__ = ["ChainStep", "chain_steps", "rf_size", "chain_layers", "POINTWISE_TYPES", "NORM_TYPES"]


@dataclasses.dataclass(frozen=True)
class ChainStep:
    """Receptive field of one layer's output along one axis, in input pixels.

    Attributes:
        size: receptive field size ``r_l``.
        jump: input pixels between two neighbouring outputs ``j_l`` (the cumulative stride).
        start: input coordinate of the first pixel seen by output 0 (negative: in the padding).
    """

    size: int
    jump: int
    start: int

    @property
    def offset(self) -> float:
        """Input coordinate of the centre of output 0's field."""
        return self.start + (self.size - 1) / 2


def _as_layer(spec, index: int) -> tuple[int, int, int, int]:
    """Check one ``(kernel, stride[, dilation[, padding]])`` tuple and fill in the defaults."""
    if not isinstance(spec, (tuple, list)) or not 2 <= len(spec) <= 4:
        raise TypeError(
            f"layer {index}: expected a (kernel, stride) or (kernel, stride, dilation[, padding]) tuple, "
            f"got {spec!r}"
        )
    values = list(spec) + [1, 0][len(spec) - 2 :]
    for name, value, low in zip(("kernel", "stride", "dilation", "padding"), values, (1, 1, 1, 0), strict=True):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"layer {index}: {name} must be an integer >= {low}, got {value!r}")
    return tuple(int(v) for v in values)


def chain_steps(layers) -> list[ChainStep]:
    """Apply the recurrence to a chain of layers along one axis.

    Args:
        layers: a sequence of ``(kernel, stride)``, ``(kernel, stride, dilation)`` or
            ``(kernel, stride, dilation, padding)`` tuples, input side first.

    Returns:
        ``len(layers) + 1`` steps: step 0 is the input itself (size 1, jump 1, start 0),
        step ``l`` the output of layer ``l``.
    """
    steps = [ChainStep(size=1, jump=1, start=0)]
    for index, spec in enumerate(layers):
        kernel, stride, dilation, padding = _as_layer(spec, index)
        previous = steps[-1]
        steps.append(
            ChainStep(
                size=previous.size + (kernel - 1) * dilation * previous.jump,
                jump=previous.jump * stride,
                start=previous.start - padding * previous.jump,
            )
        )
    return steps


def rf_size(layers) -> int:
    """Receptive field size (input pixels along one axis) of a chain of layers.

    ``rf_size([(3, 1)] * 4) == 9`` (four 3 x 3 convolutions), ``rf_size([(3, 1, 2)]) == 5``
    (one dilated convolution). Accepts the same tuples as :func:`chain_steps`.
    """
    return chain_steps(layers)[-1].size


# Modules that act on each position separately: they leave receptive fields unchanged.
POINTWISE_TYPES = (
    nn.Identity,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.LogSigmoid,
    nn.Hardshrink,
    nn.Softshrink,
    nn.Tanhshrink,
    nn.Threshold,
    nn.Dropout,
    nn.Dropout2d,
    nn.AlphaDropout,
)

# Normalisation layers. Batch norm (in eval mode) and local response norm act on each position;
# group, instance and layer norm use statistics over all positions, so strictly every output
# depends on the whole image. The usual convention, followed here, is to ignore that coupling.
NORM_TYPES = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
)

_PAD_TYPES = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _layer_geometry(module: nn.Module):
    """``((k, s, d, p) for rows, (k, s, d, p) for columns)`` of a chain layer, or None if not one."""
    if isinstance(module, POINTWISE_TYPES + NORM_TYPES):
        return (1, 1, 1, 0), (1, 1, 1, 0)
    if isinstance(module, nn.Conv2d):
        if module.padding_mode == "circular":  # wraps around: the far side of the image is seen too
            return None
        kernel, stride, dilation = (_pair(v) for v in (module.kernel_size, module.stride, module.dilation))
        if module.padding == "valid":
            padding = (0, 0)
        elif module.padding == "same":  # PyTorch puts the smaller half of the padding first
            padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
        else:
            padding = _pair(module.padding)
    elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kernel = _pair(module.kernel_size)
        stride = _pair(module.stride if module.stride not in (None, ()) else module.kernel_size)
        dilation = _pair(getattr(module, "dilation", 1))
        padding = _pair(module.padding)
    elif isinstance(module, _PAD_TYPES):
        left, _, top, _ = module.padding
        return (1, 1, 1, top), (1, 1, 1, left)
    else:
        return None
    return tuple(zip(kernel, stride, dilation, padding, strict=True))


def _leaves(model: nn.Module, prefix: str = ""):
    """``(dotted name, module)`` of the leaves of nested ``nn.Sequential`` containers, in order."""
    if isinstance(model, nn.Sequential):
        for child_name, child in model.named_children():
            yield from _leaves(child, f"{prefix}{child_name}.")
    else:
        yield prefix[:-1], model


def _inside(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


def chain_layers(model: nn.Module, upto: str | None = None):
    """List the layers of a plain chain with their geometry, or return None if ``model`` is not one.

    A plain chain is a convolution, a pooling layer, a pointwise layer (activation,
    normalisation, dropout), a padding layer, or an ``nn.Sequential`` of plain chains
    (nested as deep as you like), e.g. ``torchvision.models.vgg16().features``.

    Args:
        model: the model.
        upto: optional layer name: only the layers up to and including it must form a
            chain (what comes after may be anything, e.g. an upsampling).

    Returns:
        A list of ``(name, rows, cols)`` in execution order, one per leaf module, where
        ``name`` is the dotted module name (as in ``model.named_modules()``) and ``rows``,
        ``cols`` are ``(kernel, stride, dilation, padding)`` tuples for :func:`chain_steps`.
    """
    layers = []
    for name, module in _leaves(model):
        if upto is not None and layers and _inside(layers[-1][0], upto) and not _inside(name, upto):
            break
        geometry = _layer_geometry(module)
        if geometry is None:
            return None
        layers.append((name, *geometry))
    if upto is not None and not any(_inside(name, upto) for name, _, _ in layers):
        return None
    return layers
