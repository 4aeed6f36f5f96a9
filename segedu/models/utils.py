"""Small helpers the notebooks use: parameter counts, one-line summaries, the checkerboard demo."""

from __future__ import annotations

import torch
from torch import nn

from .base import main_output


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_parameters expects a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_name(model: nn.Module) -> str:
    """A readable name: ``model.display_name`` if the model has one (e.g. ``"FCN-8s"``), else its class name."""
    return getattr(model, "display_name", type(model).__name__)


def summary(model: nn.Module, input_size: tuple[int, int, int] = (3, 64, 64)) -> str:
    """One line about ``model``, e.g. ``"UNet: 0.48 M parameters, output stride 8, 64x64 -> 5x64x64"``.

    ``input_size`` is ``(channels, height, width)``; one zero image of that size is run
    through the model (in eval mode, without gradients) to find the output shape. The
    model's train/eval mode is restored afterwards.
    """
    if len(input_size) != 3:
        raise ValueError(f"input_size must be (channels, height, width), got {input_size!r}")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = main_output(model(torch.zeros(1, *input_size, device=device)))
    finally:
        model.train(was_training)
    stride = getattr(model, "output_stride", None)
    stride_text = f", output stride {stride}" if stride is not None else ""
    _, height, width = input_size
    return (f"{model_name(model)}: {count_parameters(model) / 1e6:.2f} M parameters{stride_text}, "
            f"{height}x{width} -> {'x'.join(str(s) for s in out.shape[1:])}")


def checkerboard_demo(kernel_size: int = 3, stride: int = 2, size: int = 8, padding: int = 0) -> torch.Tensor:
    """Output of a transposed convolution with all weights 1 applied to an all-ones ``size x size`` image.

    Returns a 2-D tensor of side ``(size - 1) * stride - 2 * padding + kernel_size``. Each
    output pixel counts how many (input pixel, kernel tap) pairs land on it. When
    ``kernel_size`` is a multiple of ``stride`` the interior is flat; otherwise neighbouring
    pixels receive different numbers of contributions: with kernel 3 and stride 2 the
    interior alternates 4, 2, 2, 1 in a checkerboard (Odena et al., "Deconvolution and
    Checkerboard Artifacts", Distill 2016).
    """
    for value, name in ((kernel_size, "kernel_size"), (stride, "stride"), (size, "size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    conv = nn.ConvTranspose2d(1, 1, kernel_size, stride=stride, padding=padding, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        return conv(torch.ones(1, 1, size, size))[0, 0]
