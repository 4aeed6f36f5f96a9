"""DeepLabV3+ (Chen, Zhu, Papandreou, Schroff and Adam, "Encoder-Decoder with Atrous Separable Convolution
for Semantic Image Segmentation", 2018), with the ASPP of DeepLabV3 (Chen et al. 2017).

A dilated (atrous) backbone keeps its last maps at stride 8 instead of 32. Atrous spatial pyramid
pooling (:class:`ASPP`) looks at them in parallel at several scales: a 1x1 convolution, three 3x3
convolutions with dilation ("atrous rate") ``rates``, and image pooling (the global average,
PSPNet's 1x1 bin), concatenated and projected by a 1x1 convolution. A light decoder upsamples
that to stride 4, concatenates one low-level skip (the backbone's stride-4 map, reduced by a 1x1
convolution), refines with two 3x3 convolutions and upsamples to the input size.

    backbone: stride 2 -> stride 4 ------------------------------> 1x1 conv (reduce) --+
                            `-> stride 8 -> 8 (dilated) -> 8 (dilated) -> ASPP -> up x2 --+-> cat
                                                                                          |
                                                      logits <- up x4 <- 1x1 <- 3x3 <- 3x3 <-+

    ASPP:  features --+- 1x1 conv ----------------------------+
                      +- 3x3 conv, rate rates[0] -------------+
                      +- 3x3 conv, rate rates[1] -------------+-> concat -> 1x1 conv -> dropout
                      +- 3x3 conv, rate rates[2] -------------+
                      +- image pooling -> 1x1 conv -> up -----+

The paper's rates (6, 12, 18) are for 33 x 33 maps (513-pixel crops at stride 16). On our 8 x 8
maps (64-pixel images at stride 8) a 3x3 filter with rate 8 or more has only its centre tap
inside the map: it is a 1x1 convolution. :func:`valid_weight_fraction` measures this (the
paper's Figure 4); the default rates (1, 2, 3) keep the paper's 1 : 2 : 3 spacing and more than
half of every filter inside an 8 x 8 map. Differences from the paper: plain (not depthwise-
separable) convolutions, the course's small backbone, narrower layers.
"""

from __future__ import annotations

import torch
from torch import nn

from .backbones import build_backbone
from .base import SegmentationModel, check_positive_int
from .blocks import ConvBNReLU, upsample_to


def valid_weight_fraction(rate: int, size: int, kernel_size: int = 3) -> float:
    """Share of a ``kernel_size x kernel_size`` filter's taps that fall inside a ``size x size`` map.

    Averaged over every position of the map, for dilation ``rate`` and zero padding that keeps
    the size (taps in the padding multiply zeros). 1.0 for a 1x1 filter; ``1 / kernel_size**2``
    (only the centre tap) once ``rate >= size``. Chen et al. (2017), Figure 4, plots this for a
    65 x 65 map.
    """
    for value, name in ((rate, "rate"), (size, "size"), (kernel_size, "kernel_size")):
        check_positive_int(value, name, "valid_weight_fraction")
    offsets = [rate * (k - kernel_size // 2) for k in range(kernel_size)]
    inside = sum(1 for position in range(size) for offset in offsets if 0 <= position + offset < size)
    return (inside / (size * kernel_size)) ** 2  # the same along rows and columns


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: ``N x in_channels x h x w -> N x out_channels x h x w``.

    Five parallel branches of ``out_channels`` each, concatenated and projected back to
    ``out_channels`` by a 1x1 conv-BN-ReLU (then dropout):

    * ``conv1x1``: a 1x1 conv-BN-ReLU (rate 0: the pixel itself);
    * ``atrous[i]``: a 3x3 conv-BN-ReLU with dilation ``rates[i]``;
    * ``image_pooling``: global average pooling, a 1x1 conv and ReLU, upsampled (bilinear) to
      ``h x w``. No BatchNorm there: a 1x1 pooled map holds one value per channel per image, and
      BatchNorm in training mode cannot normalise a batch of one image.
    """

    def __init__(self, in_channels: int, out_channels: int = 64, rates: tuple[int, ...] = (1, 2, 3),
                 dropout: float = 0.1):
        super().__init__()
        if isinstance(rates, int) or len(rates) == 0:
            raise ValueError(f"ASPP: rates must be a non-empty tuple of ints such as (1, 2, 3), got {rates!r}")
        self.rates = tuple(check_positive_int(rate, "every rate", "ASPP") for rate in rates)
        check_positive_int(out_channels, "out_channels", "ASPP")
        self.conv1x1 = ConvBNReLU(in_channels, out_channels, kernel_size=1)
        self.atrous = nn.ModuleList(ConvBNReLU(in_channels, out_channels, dilation=rate) for rate in self.rates)
        self.image_pooling = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, kernel_size=1), nn.ReLU(inplace=True)
        )
        branches = 2 + len(self.rates)
        self.project = nn.Sequential(ConvBNReLU(branches * out_channels, out_channels, kernel_size=1),
                                     nn.Dropout2d(dropout))
        self.out_channels = out_channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        size = features.shape[-2:]
        branches = [self.conv1x1(features)]
        branches += [conv(features) for conv in self.atrous]
        branches.append(upsample_to(self.image_pooling(features), size))
        return self.project(torch.cat(branches, dim=1))


class DeepLabV3Plus(SegmentationModel):
    """DeepLabV3+ on a dilated backbone: ``N x in_channels x H x W -> N x num_classes x H x W``.

    Args:
        rates: ASPP's atrous rates (see the module docstring for why not the paper's 6, 12, 18).
        aspp_width: channels of every ASPP branch and of its output.
        low_level_width: channels of the reduced stride-4 skip (the paper: 48 next to 256).
        decoder_width: channels of the decoder's two 3x3 convolutions.
        output_stride: 8 (default, 8 x 8 maps at 64 px) or 16 (the paper's training setting).
        backbone, pretrained, fallback, course_weights: see :func:`~segedu.models.backbones.build_backbone`.
        scene_prior: also send ASPP's image-pooling vector straight to the class scores (a 1x1 conv added
            to the classifier's output at every pixel, as ``unet_context`` does). Not in the paper. On the
            mixed track the paper's model leaves the global cue unused: it swaps boats and cars as often as
            the same model without image pooling. With the prior, the swap is gone (notebook 08).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, rates: tuple[int, ...] = (1, 2, 3),
                 aspp_width: int = 64, low_level_width: int = 16, decoder_width: int = 64, output_stride: int = 8,
                 backbone: str = "small", pretrained=None, fallback: str = "course", course_weights=None,
                 dropout: float = 0.1, scene_prior: bool = False):
        super().__init__(num_classes, in_channels)
        for value, name in ((low_level_width, "low_level_width"), (decoder_width, "decoder_width")):
            check_positive_int(value, name, "DeepLabV3Plus")
        if output_stride not in (8, 16):
            raise ValueError(f"DeepLabV3Plus: output_stride must be 8 or 16 (the decoder's skip is at stride 4), "
                             f"got {output_stride!r}")
        self.backbone = build_backbone(backbone, in_channels, output_stride, pretrained, fallback, course_weights)
        self.output_stride = output_stride
        self.aspp = ASPP(self.backbone.channels["stage5"], aspp_width, rates, dropout)
        self.reduce = ConvBNReLU(self.backbone.channels["stage2"], low_level_width, kernel_size=1)
        self.decoder = nn.Sequential(
            ConvBNReLU(aspp_width + low_level_width, decoder_width), ConvBNReLU(decoder_width, decoder_width)
        )
        self.classifier = nn.Conv2d(decoder_width, num_classes, kernel_size=1)
        # One score per class from the pooled vector: a scene-level bias, the same at every pixel.
        self.scene_classifier = nn.Conv2d(aspp_width, num_classes, 1, bias=False) if scene_prior else None

    def encode(self, x):
        return self.backbone(x)  # {"stage1": ..., "stage5": ...}, the last ones dilated

    def decode(self, features):
        low_level = self.reduce(features["stage2"])  # stride 4: where the boundaries come back from
        context = upsample_to(self.aspp(features["stage5"]), low_level.shape[-2:])
        refined = self.decoder(torch.cat([context, low_level], dim=1))
        logits = self.classifier(refined)  # stride 4, then upsampled to the input size (SegmentationModel)
        if self.scene_classifier is not None:
            logits = logits + self.scene_classifier(self.aspp.image_pooling(features["stage5"]))  # N x C x 1 x 1
        return logits
