"""FCN (Long, Shelhamer and Darrell, "Fully Convolutional Networks for Semantic Segmentation").

A classification backbone turned fully convolutional: class scores are predicted on its
coarsest map (stride 32) and upsampled to the input. FCN-32s stops there. FCN-16s and
FCN-8s add skip connections: they upsample the scores 2x with a transposed convolution
(initialised to bilinear interpolation, then learned) and add scores predicted from the
backbone's stride-16 map, then (8s) again from its stride-8 map, so that finer layers put
back the detail that the coarse path lost:

    backbone -> stride 32 ----> score32 --up2--> + --up2--> + --upsample x8--> logits
                stride 16 ----> score16 ---------^          |          (FCN-8s)
                stride  8 ----> score8  --------------------^

As in the paper, the new score layers start at zero, so an untrained FCN-8s passes on only
its coarse scores: nearly what FCN-32s computes, but not exactly, because the bilinear-initialised
transposed convolutions blend zeros in at the border where bilinear interpolation repeats the edge
(notebook 04 measures it). The final upsampling is fixed bilinear.
"""

from __future__ import annotations

from torch import nn

from .backbones import build_backbone
from .base import SegmentationModel, check_positive_int
from .blocks import ConvBNReLU, bilinear_transposed_conv

VARIANTS = ("32s", "16s", "8s")


def _zero_conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    score = nn.Conv2d(in_channels, out_channels, kernel_size=1)
    nn.init.zeros_(score.weight)
    nn.init.zeros_(score.bias)
    return score


class FCN(SegmentationModel):
    """FCN-32s, -16s or -8s on a backbone: ``N x in_channels x H x W -> N x num_classes x H x W``.

    ``variant``: ``"32s"``, ``"16s"`` or ``"8s"``. ``backbone``: ``"small"`` (default) or
    ``"resnet18"``; ``pretrained`` and ``fallback``: see :func:`~segedu.models.backbones.build_backbone`.
    ``head_width`` channels in the 3x3 conv on the stride-32 map that stands in for VGG's
    fc6/fc7 layers, followed by dropout (``dropout``) and the 1x1 score layer.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, variant: str = "8s", backbone: str = "small",
                 pretrained=None, fallback: str = "course", head_width: int = 128, dropout: float = 0.1,
                 course_weights=None):
        super().__init__(num_classes, in_channels)
        if variant not in VARIANTS:
            raise ValueError(f"FCN: variant must be one of {VARIANTS}, got {variant!r}")
        check_positive_int(head_width, "head_width", "FCN")
        self.variant = variant
        self.output_stride = 32
        self.backbone = build_backbone(backbone, in_channels, 32, pretrained, fallback, course_weights)
        channels8, channels16, channels32 = (self.backbone.channels[s] for s in ("stage3", "stage4", "stage5"))

        self.head = nn.Sequential(ConvBNReLU(channels32, head_width), nn.Dropout2d(dropout))
        self.score32 = nn.Conv2d(head_width, num_classes, kernel_size=1)
        if variant in ("16s", "8s"):
            self.up32to16 = bilinear_transposed_conv(num_classes, factor=2)
            self.score16 = _zero_conv1x1(channels16, num_classes)
        if variant == "8s":
            self.up16to8 = bilinear_transposed_conv(num_classes, factor=2)
            self.score8 = _zero_conv1x1(channels8, num_classes)

    @property
    def display_name(self) -> str:
        return f"FCN-{self.variant}"

    def encode(self, x):
        return self.backbone(x)  # {"stage1": stride 2, ..., "stage5": stride 32}

    def decode(self, features):
        scores = self.score32(self.head(features["stage5"]))  # stride 32
        if self.variant in ("16s", "8s"):
            scores = self.up32to16(scores) + self.score16(features["stage4"])  # stride 16
        if self.variant == "8s":
            scores = self.up16to8(scores) + self.score8(features["stage3"])  # stride 8
        return scores  # then fixed bilinear upsampling to the input size (SegmentationModel)
