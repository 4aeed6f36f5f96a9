"""U-Net with a global prior just before its classifier: serial and parallel multi-scale in one model.

The source text names two ways to work at several scales: serially, with skip connections
(U-Net), and in parallel, pooling the backbone's features at several scales and concatenating
them, upsampled, "before making the final per-pixel prediction" (PSPNet). This model does both:
a U-Net keeps the fine detail through its skips, and its bottleneck, pooled over the whole
scene (and into more bins if asked), is upsampled to full resolution and concatenated with the
last decoder map right before the 1x1 classifier. Every pixel's prediction then sees the scene
directly, not through three upsamplings (compare :class:`~segedu.models.unet_ppm.UNetPPM`).

    x -> enc0 ------------------------------------> cat -> dec0 ---------------> cat -> 1x1 -> logits
          `-> pool -> enc1 ---------------> cat -> dec1 -^                        ^
                       `-> pool -> enc2 -> cat -> dec2 -^                         |
                                    `-> pool -> bottleneck -^                     |
                                                 `-> pool to bins -> 1x1 conv -> up (the scene context)
                                                        |
                                    auxiliary classifier (training only): cat(bottleneck, context) -> logits

A prior that is there is not always a prior that is used: in some seeds the network learned to
ignore the context. The auxiliary classifier (``aux_head=True``, deep supervision as in PSPNet)
predicts the classes from the bottleneck and the pooled context alone; its loss (weight 0.4 in
:func:`segedu.train.fit`) pushes the context to carry what the scene says. It is used only for
the training loss. ``context=False`` removes the context from the classifier's input and keeps
the auxiliary classifier: U-Net with the same auxiliary loss, the ablation that tells which of
the two ideas a gain belongs to.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import check_positive_int
from .blocks import ConvBNReLU, upsample_to
from .unet import UNet


class SceneContext(nn.Module):
    """Pool a feature map over the scene: ``N x C x h x w -> [N x width x b x b for each bin b]``.

    For each bin size ``b``: adaptive average pooling to ``b x b`` cells, a 1x1 convolution to
    ``width`` channels and a ReLU. With ``bins=(1,)`` the context is one vector per image. No
    BatchNorm: a 1x1 pooled map has a single value per channel per image (see
    :class:`~segedu.models.PyramidPoolingModule`). :meth:`upsampled` brings the branches to a size
    and concatenates them (``N x len(bins) * width x H x W``).
    """

    def __init__(self, in_channels: int, width: int, bins: tuple[int, ...] = (1,)):
        super().__init__()
        if isinstance(bins, int) or len(bins) == 0:
            raise ValueError(f"UNetContext: bins must be a non-empty tuple of ints such as (1,) or (1, 2), got {bins!r}")
        self.bins = tuple(check_positive_int(b, "every bin", "UNetContext") for b in bins)
        self.width = width
        self.branches = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_channels, width, kernel_size=1), nn.ReLU(inplace=True))
            for b in self.bins
        )
        self.out_channels = len(self.bins) * width

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        return [branch(features) for branch in self.branches]

    def upsampled(self, pooled: list[torch.Tensor], size) -> torch.Tensor:
        """The pooled branches, bilinearly upsampled to ``size`` and concatenated along the channels."""
        return torch.cat([upsample_to(branch, size) for branch in pooled], dim=1)


class UNetContext(UNet):
    """U-Net whose pooled bottleneck is concatenated before the classifier: ``N x in x H x W -> N x C x H x W``.

    Args:
        bins: the context's pooling bins (``(1,)``: one global average; ``(1, 2)`` adds quadrants).
        context_width: channels of each bin's 1x1 convolution.
        aux_head: add the auxiliary classifier on ``cat(bottleneck, context)``; in training mode the
            model then returns ``{"out": logits, "aux": aux_logits}`` (both ``N x C x H x W``).
        context: concatenate the context before the classifier (``False``: a U-Net's classifier,
            for the ablation with the auxiliary classifier alone).
        base_width, depth, widths: the U-Net's (see :class:`~segedu.models.UNet`).

    The classifier is a 1x1 convolution of ``cat(decoder map, upsampled context)``. It is computed
    as two: ``classifier`` on the decoder map (U-Net's own) plus ``context_classifier`` (one per
    bin, no bias) on the context, because a 1x1 convolution of a concatenation is the sum of 1x1
    convolutions of its parts, and a 1x1 convolution commutes with bilinear upsampling. The
    context's share is thus computed on the pooled map (1 x 1 per image for the global bin) and
    upsampled as ``num_classes`` logits, not as a ``context_width``-channel map at full
    resolution: the same function, at U-Net's cost (a test builds the single convolution and
    checks that the two agree).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, base_width: int = 16, depth: int = 3,
                 widths: tuple[int, ...] | None = None, bins: tuple[int, ...] = (1,), context_width: int = 64,
                 aux_head: bool = True, context: bool = True):
        super().__init__(num_classes, in_channels, base_width, depth, widths)
        check_positive_int(context_width, "context_width", "UNetContext")
        if not (context or aux_head):
            raise ValueError("UNetContext with context=False and aux_head=False is a plain U-Net: build 'unet' "
                             "instead (the context would be computed and never used).")
        self.use_context = context
        self.scene = SceneContext(self.widths[-1], context_width, bins)
        self.context_classifier = None
        if context:
            self.context_classifier = nn.ModuleList(
                nn.Conv2d(context_width, num_classes, kernel_size=1, bias=False) for _ in self.scene.bins
            )
        self.aux_head = None
        if aux_head:
            aux_width = max(self.widths[-1] // 4, 1)
            self.aux_head = nn.Sequential(
                ConvBNReLU(self.widths[-1] + self.scene.out_channels, aux_width), nn.Dropout2d(0.1),
                nn.Conv2d(aux_width, num_classes, kernel_size=1),
            )

    def decode(self, features):
        *skips, bottleneck = features.values()  # U-Net's contracting path
        x = self.expand(bottleneck, skips)  # and its expanding path
        pooled = self.scene(bottleneck)  # the whole scene, pooled from the bottleneck
        logits = self.classifier(x)
        if self.use_context:  # = a 1x1 classifier on cat(x, context upsampled to every pixel); see the class
            for conv, branch in zip(self.context_classifier, pooled, strict=True):
                logits = logits + upsample_to(conv(branch), x.shape[-2:])
        if self.aux_head is not None and self.training:
            with_context = torch.cat([bottleneck, self.scene.upsampled(pooled, bottleneck.shape[-2:])], dim=1)
            return {"out": logits, "aux": self.aux_head(with_context)}  # aux upsampled by SegmentationModel
        return logits
