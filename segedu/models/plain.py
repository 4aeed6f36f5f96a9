"""A plain CNN: stride-1 convolutions only, and a 1x1 head with one output channel per class.

The simplest segmentation network the text describes: "a standard convolutional neural
network that outputs a convolutional map with as many channels as classes, carrying the
estimated logits for every pixel". The resolution never changes, so the receptive field
grows only by ``dilation * (kernel_size - 1)`` pixels per layer: with the defaults (7 layers
of 3x3) every output pixel sees a 15 x 15 window, too small for large objects.

Cost: at stride 1 every weight is applied at every pixel, so a layer with P parameters costs
P * H * W multiply-adds. The default width (32 channels, 57 k parameters) keeps the cost per
image within about twice a U-Net's; matching the others' ~0.4 M parameters (``width=64``,
0.22 M) would make it several times slower to train. Widening it does not widen the
receptive field: only depth, kernel size and dilation do.
"""

from __future__ import annotations

from torch import nn

from .base import SegmentationModel, check_positive_int
from .blocks import ConvBNReLU


class PlainCNN(SegmentationModel):
    """``depth`` stride-1 conv-BN-ReLU layers of ``width`` channels, then a 1x1 classifier.

    ``N x in_channels x H x W -> N x num_classes x H x W``, for any H and W.
    Receptive field: ``1 + depth * dilation * (kernel_size - 1)`` pixels (see
    :attr:`receptive_field`). ``dilation`` spaces the taps of every conv apart, a cheap way to
    widen the receptive field without downsampling (with gaps, "gridding", for large values).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, depth: int = 7, width: int = 32,
                 kernel_size: int = 3, dilation: int = 1):
        super().__init__(num_classes, in_channels)
        check_positive_int(depth, "depth", "PlainCNN")
        check_positive_int(width, "width", "PlainCNN")
        check_positive_int(dilation, "dilation", "PlainCNN")
        if check_positive_int(kernel_size, "kernel_size", "PlainCNN") % 2 == 0:
            raise ValueError(f"PlainCNN: kernel_size must be odd so that the output keeps the input size, "
                             f"got {kernel_size}")
        self.depth, self.width, self.kernel_size, self.dilation = depth, width, kernel_size, dilation
        self.output_stride = 1
        widths = [in_channels] + [width] * depth
        self.features = nn.Sequential(*[
            ConvBNReLU(widths[i], widths[i + 1], kernel_size, dilation=dilation) for i in range(depth)
        ])
        self.classifier = nn.Conv2d(width, num_classes, kernel_size=1)

    @property
    def receptive_field(self) -> int:
        """Side in pixels of the input window that one output pixel depends on."""
        return 1 + self.depth * self.dilation * (self.kernel_size - 1)

    def encode(self, x):
        return {"stride1": self.features(x)}  # the resolution never changes

    def decode(self, features):
        return self.classifier(features["stride1"])
