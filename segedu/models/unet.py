"""U-Net (Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image Segmentation").

A symmetric encoder-decoder with a skip connection at every scale: each decoder level
upsamples (2x2 transposed conv), concatenates the encoder's feature map of the same
resolution, and mixes the two with two 3x3 convolutions. The fine detail of the encoder's
early maps reaches the prediction without passing through the bottleneck.

    x -> enc0 ---------------------------------------> cat -> dec0 -> 1x1 -> logits
          `-> pool -> enc1 ---------------------> cat -> dec1 -^
                       `-> pool -> enc2 ----> cat -> dec2 -^
                                    `-> pool -> bottleneck -^   (depth=3)

Unlike the paper (unpadded convolutions, output smaller than input), convolutions are
padded so the output has the size of the input.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import SegmentationModel, check_positive_int
from .blocks import ConvBNReLU


class DoubleConv(nn.Sequential):
    """Two 3x3 conv-BN-ReLU layers: ``N x in x H x W -> N x out x H x W``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(ConvBNReLU(in_channels, out_channels), ConvBNReLU(out_channels, out_channels))


class UNet(SegmentationModel):
    """U-Net with ``depth`` poolings: ``N x in_channels x H x W -> N x num_classes x H x W``.

    Level ``i`` (stride ``2**i``) has ``base_width * 2**i`` channels; the bottleneck is at
    stride ``2**depth`` (the output stride). ``widths`` gives the channels of every level instead
    (``depth = len(widths) - 1``), e.g. the encoder-decoder's, to compare the two with everything
    else equal.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, base_width: int = 16, depth: int = 3,
                 widths: tuple[int, ...] | None = None):
        super().__init__(num_classes, in_channels)
        if widths is None:
            check_positive_int(base_width, "base_width", "UNet")
            check_positive_int(depth, "depth", "UNet")
            widths = [base_width * 2**level for level in range(depth + 1)]
        else:
            if isinstance(widths, int) or len(widths) < 2:
                raise ValueError(f"UNet: widths needs at least two levels (full resolution and one below), got {widths!r}")
            widths = [check_positive_int(width, "every width", "UNet") for width in widths]
            base_width, depth = widths[0], len(widths) - 1
        self.base_width, self.depth, self.widths = base_width, depth, tuple(widths)
        self.output_stride = 2**depth

        self.first = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(widths[level], widths[level + 1])) for level in range(depth)
        )
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(widths[level + 1], widths[level], kernel_size=2, stride=2)
            for level in reversed(range(depth))
        )
        self.decoder = nn.ModuleList(
            DoubleConv(2 * widths[level], widths[level]) for level in reversed(range(depth))
        )
        self.classifier = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def encode(self, x):
        x = self.first(x)
        features = {"stride1": x}
        for level, down in enumerate(self.downs, start=1):  # contracting path: halve, keep every scale
            x = down(x)
            features[f"stride{2**level}"] = x
        return features

    def decode(self, features):
        *skips, bottleneck = features.values()
        return self.classifier(self.expand(bottleneck, skips))

    def expand(self, x, skips):
        """The expanding path: from the bottleneck up, each level merges the encoder's map of its scale."""
        for up, merge, skip in zip(self.ups, self.decoder, reversed(skips), strict=True):
            x = merge(torch.cat([skip, up(x)], dim=1))
        return x
