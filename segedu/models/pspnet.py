"""PSPNet (Zhao, Shi, Qi, Wang and Jia, "Pyramid Scene Parsing Network").

After a (dilated) backbone, the pyramid pooling module pools the feature map in parallel
into 1x1, 2x2, 3x3 and 6x6 bins, reduces each pooled map to 1/4 of the channels with a 1x1
convolution, upsamples each back to the feature map's size (bilinear) and concatenates
them with the feature map itself. A 3x3 conv and a 1x1 classifier then predict every pixel
with the whole scene in view; the logits are upsampled to the input size.

    backbone -> features --+---------------------------------+
                           +- pool 1x1 -> 1x1 conv -> up ----+
                           +- pool 2x2 -> 1x1 conv -> up ----+-> concat -> 3x3 conv -> 1x1 -> up -> logits
                           +- pool 3x3 -> 1x1 conv -> up ----+
                           +- pool 6x6 -> 1x1 conv -> up ----+

Options reproduce the paper's ablation (its Table 1): ``ppm=False`` (the baseline: the same
head on the backbone alone), ``bins=(1,)`` (B1) or ``(1, 2, 3, 6)`` (B1236), ``pooling="max"``
or ``"avg"``, ``reduce=False`` (no dimension reduction). ``aux_head=True`` adds the paper's
auxiliary classifier on the stride-16 stage, used only for the training loss.
"""

from __future__ import annotations

import torch
from torch import nn

from .backbones import build_backbone
from .base import SegmentationModel, check_positive_int
from .blocks import ConvBNReLU, upsample_to

POOLINGS = ("avg", "max")


class PyramidPoolingModule(nn.Module):
    """``N x C x h x w -> N x (C + len(bins) * C_branch) x h x w``; ``C_branch = C // len(bins)`` if ``reduce``.

    Each branch: adaptive pooling to ``bin x bin`` cells, then (if ``reduce``) a 1x1 conv and
    ReLU, then bilinear upsampling to ``h x w``. The branches have no BatchNorm: a 1x1 pooled
    map holds a single value per channel per image, and BatchNorm in training mode cannot
    normalise a batch of one image (the conv-BN-ReLU after the concatenation normalises).
    """

    def __init__(self, in_channels: int, bins: tuple[int, ...] = (1, 2, 3, 6), pooling: str = "avg",
                 reduce: bool = True):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"PSPNet: pooling must be one of {POOLINGS}, got {pooling!r}")
        if isinstance(bins, int) or len(bins) == 0:
            raise ValueError(f"PSPNet: bins must be a non-empty tuple of ints such as (1, 2, 3, 6), got {bins!r}")
        for b in bins:
            check_positive_int(b, "every bin", "PSPNet")
        self.bins, self.pooling, self.reduce = tuple(bins), pooling, reduce
        branch_channels = max(in_channels // len(bins), 1) if reduce else in_channels
        pool = nn.AdaptiveAvgPool2d if pooling == "avg" else nn.AdaptiveMaxPool2d
        self.branches = nn.ModuleList()
        for b in self.bins:
            layers = [pool(b)]
            if reduce:
                layers += [nn.Conv2d(in_channels, branch_channels, kernel_size=1), nn.ReLU(inplace=True)]
            self.branches.append(nn.Sequential(*layers))
        self.out_channels = in_channels + len(self.bins) * branch_channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        size = features.shape[-2:]
        pooled = [upsample_to(branch(features), size) for branch in self.branches]
        return torch.cat([features, *pooled], dim=1)


class PSPNet(SegmentationModel):
    """PSPNet on a dilated backbone: ``N x in_channels x H x W -> N x num_classes x H x W``.

    In training mode with ``aux_head=True``, returns ``{"out": logits, "aux": aux_logits}``
    (both ``N x num_classes x H x W``); otherwise the logits tensor. ``output_stride`` 8 (the
    paper's, default), 16 or 32. ``backbone``, ``pretrained``, ``fallback``, ``padding_mode`` (of
    every 3x3 conv, the head's too): see :func:`~segedu.models.backbones.build_backbone`.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, bins: tuple[int, ...] = (1, 2, 3, 6),
                 pooling: str = "avg", reduce: bool = True, ppm: bool = True, aux_head: bool = False,
                 output_stride: int = 8, backbone: str = "small", pretrained=None, fallback: str = "course",
                 head_width: int = 64, dropout: float = 0.1, course_weights=None, padding_mode: str = "zeros"):
        super().__init__(num_classes, in_channels)
        check_positive_int(head_width, "head_width", "PSPNet")
        self.backbone = build_backbone(backbone, in_channels, output_stride, pretrained, fallback, course_weights,
                                       padding_mode)
        self.output_stride = output_stride
        self.use_ppm = ppm
        channels = self.backbone.channels["stage5"]
        if ppm:
            self.ppm = PyramidPoolingModule(channels, bins, pooling, reduce)
            channels = self.ppm.out_channels
        self.head = nn.Sequential(
            ConvBNReLU(channels, head_width, padding_mode=padding_mode), nn.Dropout2d(dropout),
            nn.Conv2d(head_width, num_classes, 1),
        )
        self.aux_head = None
        if aux_head:
            aux_width = max(head_width // 2, 1)
            self.aux_head = nn.Sequential(
                ConvBNReLU(self.backbone.channels["stage4"], aux_width, padding_mode=padding_mode),
                nn.Dropout2d(dropout),
                nn.Conv2d(aux_width, num_classes, 1),
            )

    def encode(self, x):
        return self.backbone(x)  # {"stage1": ..., "stage5": ...}, the last ones dilated

    def decode(self, features):
        last = features["stage5"]
        logits = self.head(self.ppm(last) if self.use_ppm else last)
        if self.aux_head is not None and self.training:
            return {"out": logits, "aux": self.aux_head(features["stage4"])}
        return logits  # then upsampled to the input size (SegmentationModel)
