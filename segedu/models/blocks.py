"""Building blocks shared by every model: conv-BN-ReLU, upsampling, bilinear kernels, padding.

Everything here works on feature maps of shape ``N x C x H x W``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

UP_MODES = ("transposed", "bilinear", "nearest_conv")
PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
"""How a convolution fills the border (``torch.nn.Conv2d``'s ``padding_mode``). ``"zeros"`` is every model's
default; ``"circular"`` wraps the map around like a torus, so no position is closer to an edge than another."""


def check_padding_mode(padding_mode, owner: str) -> str:
    """Return ``padding_mode`` if it is one of :data:`PADDING_MODES`, else raise a ValueError naming them."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{owner}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    return padding_mode


class ConvBNReLU(nn.Sequential):
    """A ``kernel_size`` convolution, BatchNorm and ReLU: ``N x in x H x W -> N x out x H/stride x W/stride``.

    The padding ``dilation * (kernel_size - 1) // 2`` keeps the size for stride 1 (odd kernels);
    ``padding_mode`` (one of :data:`PADDING_MODES`) says what it holds: zeros by default.
    The convolution has no bias because the BatchNorm that follows has one.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, padding_mode: str = "zeros"):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, bias=False, padding_mode=check_padding_mode(padding_mode, "ConvBNReLU")),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def upsample_to(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinearly resize ``x`` (``N x C x h x w``) to ``N x C x size[0] x size[1]``.

    ``align_corners=False`` everywhere in the course (as in torchvision): pixel centres, not
    corners, are aligned, so a 2x upsampling of a 32-pixel map covers exactly the same area.
    """
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def bilinear_kernel(factor: int) -> torch.Tensor:
    """The ``2*factor x 2*factor`` kernel of bilinear interpolation by ``factor`` (FCN's ``upsample_filt``).

    Used as the weight of a transposed convolution with stride ``factor`` and padding
    ``factor // 2``, it upsamples by ``factor`` exactly like
    ``F.interpolate(scale_factor=factor, mode="bilinear", align_corners=False)``, except in the
    outermost ``factor // 2`` rows and columns: there the transposed convolution blends in the
    zeros beyond the edge, where ``F.interpolate`` repeats the edge pixel (so
    the transposed convolution's border is darker for a positive image). For ``factor=2``: outer
    product of ``[0.25, 0.75, 0.75, 0.25]`` with itself.
    """
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    size = 2 * factor
    center = factor - 0.5  # the kernel's centre lies between its two middle taps (even size)
    taps = 1 - (torch.arange(size, dtype=torch.float32) - center).abs() / factor
    return taps[:, None] * taps[None, :]


def init_bilinear_(conv: nn.ConvTranspose2d, mixing: torch.Tensor | None = None) -> nn.ConvTranspose2d:
    """Initialise a stride-``f`` transposed convolution (kernel ``2f``) to bilinear upsampling, in place.

    ``weight[i, o] = mixing[i, o] * bilinear_kernel(f)``: the layer starts as bilinear
    upsampling followed by the 1x1 channel mixing ``mixing`` (``in x out``). The default is
    the identity (FCN's choice: channel ``c`` is upsampled into channel ``c``), which needs
    ``in == out``. Any bias is set to zero. Returns ``conv``.
    """
    factor = conv.stride[0]
    expected = (2 * factor, 2 * factor)
    if conv.stride[0] != conv.stride[1] or tuple(conv.kernel_size) != expected or conv.groups != 1:
        raise ValueError(
            f"bilinear initialisation needs kernel_size = 2 * stride (got kernel {tuple(conv.kernel_size)}, "
            f"stride {tuple(conv.stride)}) and groups=1; use kernel_size={expected[0]} for stride {factor}."
        )
    in_channels, out_channels = conv.in_channels, conv.out_channels
    if mixing is None:
        if in_channels != out_channels:
            raise ValueError(
                f"identity bilinear initialisation needs as many input as output channels, got "
                f"{in_channels} -> {out_channels}; pass a mixing matrix of shape {in_channels} x {out_channels}."
            )
        mixing = torch.eye(in_channels)
    if tuple(mixing.shape) != (in_channels, out_channels):
        raise ValueError(f"mixing must have shape {(in_channels, out_channels)}, got {tuple(mixing.shape)}")
    with torch.no_grad():
        conv.weight.copy_(mixing[:, :, None, None] * bilinear_kernel(factor))
        if conv.bias is not None:
            conv.bias.zero_()
    return conv


def bilinear_transposed_conv(channels: int, factor: int, learnable: bool = True) -> nn.ConvTranspose2d:
    """A ``channels -> channels`` transposed conv that upsamples by ``factor`` (even), initialised to bilinear.

    ``N x C x h x w -> N x C x factor*h x factor*w``. This is FCN's upsampling layer;
    ``learnable=False`` freezes it (FCN's final, fixed upsampling).
    """
    if factor < 2 or factor % 2:
        raise ValueError(f"factor must be an even int >= 2 (kernel 2*factor, padding factor/2), got {factor}")
    conv = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    init_bilinear_(conv)
    conv.weight.requires_grad_(learnable)
    return conv


class Upsample2x(nn.Module):
    """One decoder step: double the resolution and change the width, ``N x in x h x w -> N x out x 2h x 2w``.

    ``mode``:
      * ``"transposed"``: a learned transposed convolution (kernel ``kernel_size``, stride 2), then
        BN and ReLU. ``kernel_size=4`` overlaps evenly; ``kernel_size=3`` does not and makes the
        checkerboard pattern of Odena et al. (2016). ``bilinear_init=True`` starts it as
        bilinear upsampling followed by a random 1x1 channel mixing (needs ``kernel_size=4``).
      * ``"bilinear"``: fixed bilinear interpolation, then a 3x3 conv-BN-ReLU.
      * ``"nearest_conv"``: nearest-neighbour interpolation, then a 3x3 conv-BN-ReLU
        ("resize-convolution", the usual cure for checkerboards).
    """

    def __init__(self, in_channels: int, out_channels: int, mode: str = "transposed", kernel_size: int = 4,
                 bilinear_init: bool = False):
        super().__init__()
        if mode not in UP_MODES:
            raise ValueError(f"up must be one of {UP_MODES}, got {mode!r}")
        if bilinear_init and mode != "transposed":
            raise ValueError(f"bilinear_init=True only applies to up='transposed', not up={mode!r}")
        self.mode = mode
        if mode == "transposed":
            if kernel_size not in (2, 3, 4):
                raise ValueError(f"up_kernel_size must be 2, 3 or 4 for a stride-2 transposed conv, got {kernel_size}")
            # Output size (h - 1) * 2 - 2 * padding + kernel_size + output_padding == 2h for all three kernels.
            padding, output_padding = {2: (0, 0), 3: (1, 1), 4: (1, 0)}[kernel_size]
            up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=2, padding=padding,
                                    output_padding=output_padding, bias=False)
            if bilinear_init:
                mixing_layer = nn.Conv2d(in_channels, out_channels, 1, bias=False)  # default (Kaiming) init
                init_bilinear_(up, mixing_layer.weight.detach()[:, :, 0, 0].t())
            self.layers = nn.Sequential(up, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
        else:
            self.layers = ConvBNReLU(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "bilinear":
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        elif self.mode == "nearest_conv":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.layers(x)
