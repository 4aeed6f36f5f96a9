"""Backbones shared by FCN, PSPNet and DeepLabV3+: a feature extractor returning one map per stage.

A backbone maps ``N x in_channels x H x W`` to a dict of 5 feature maps named by stage,
``{"stage1": ..., ..., "stage5": ...}`` (:data:`STAGES`), at strides ``2, 4, 8, 16, 32``
(``backbone.strides[name]``) with ``backbone.channels[name]`` channels. With ``output_stride=16``
or ``8``, the last stages keep their resolution and dilate their convolutions instead (as PSPNet
and DeepLab do): the receptive field still grows, but the feature maps stay large. That is why
the maps are named by stage, not by stride: FCN's ``"stage3"``, ``"stage4"`` and ``"stage5"``
are the paper's pool3, pool4 and pool5.

* :class:`SmallBackbone`: a small from-scratch CNN (0.25 M parameters), fast on a CPU.
* :class:`ResNet18Backbone`: torchvision's ResNet-18 (11 M parameters).

Use :func:`build_backbone` to get one, possibly with pretrained weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .blocks import ConvBNReLU, check_padding_mode
from .pretrained import FALLBACKS, PRETRAINED_CHOICES, load_course_weights_, load_imagenet_weights_

BACKBONE_NAMES = ("small", "resnet18")
OUTPUT_STRIDES = (8, 16, 32)
SMALL_CHANNELS = (16, 32, 48, 64, 96)
STAGES = ("stage1", "stage2", "stage3", "stage4", "stage5")
"""The names of a backbone's feature maps, from the finest (stride 2) to the coarsest."""


def _check_output_stride(output_stride, owner: str) -> None:
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"{owner}: output_stride must be one of {OUTPUT_STRIDES}, got {output_stride!r}")


class SmallBackbone(nn.Module):
    """Five stages of two 3x3 conv-BN-ReLU layers; the first of each halves the resolution.

    ``N x in_channels x H x W -> {stage: N x channels[i] x H/s x W/s}`` for the stages of
    :data:`STAGES`, at strides ``s = 2, 4, 8, 16, 32`` capped at ``output_stride``; in a stage that
    would go beyond it, the stride-2 conv becomes stride 1 and the dilation doubles instead.
    ``padding_mode``: what every conv's padding holds (:data:`~segedu.models.blocks.PADDING_MODES`);
    zeros let the features tell how far a position is from the border, ``"circular"`` does not
    (notebook 05, harbour).
    """

    def __init__(self, in_channels: int = 3, channels: tuple[int, ...] = SMALL_CHANNELS, output_stride: int = 32,
                 padding_mode: str = "zeros"):
        super().__init__()
        _check_output_stride(output_stride, "SmallBackbone")
        check_padding_mode(padding_mode, "SmallBackbone")
        if len(channels) != 5:
            raise ValueError(f"SmallBackbone needs 5 stage widths, got {len(channels)}: {channels}")
        self.in_channels, self.output_stride = in_channels, output_stride
        self.channels = dict(zip(STAGES, channels, strict=True))
        self.weights_source = "random"
        self.pretrained_on: list[str] | None = None  # the classes of its pretraining, once loaded
        self.padding_mode = padding_mode
        stages, strides = [], []
        previous, stride, dilation = in_channels, 1, 1
        wrap = 1  # circular padding of p pixels needs maps of p pixels: at stride s, images of (p - 1) * s + 1
        for width in channels:
            if stride < output_stride:
                wrap = max(wrap, (dilation - 1) * stride + 1)
                stride, first_dilation = stride * 2, dilation
                first = ConvBNReLU(previous, width, stride=2, dilation=first_dilation, padding_mode=padding_mode)
            else:  # keep the resolution: dilate instead of striding
                first_dilation, dilation = dilation, dilation * 2
                first = ConvBNReLU(previous, width, dilation=first_dilation, padding_mode=padding_mode)
            stages.append(nn.Sequential(first, ConvBNReLU(width, width, dilation=dilation, padding_mode=padding_mode)))
            strides.append(stride)
            wrap = max(wrap, (dilation - 1) * stride + 1)
            previous = width
        self.stages = nn.ModuleList(stages)
        self.strides = dict(zip(STAGES, strides, strict=True))
        self.min_circular_side = wrap

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.padding_mode == "circular" and min(x.shape[-2:]) < self.min_circular_side:
            raise ValueError(f"SmallBackbone with circular padding needs images of at least {self.min_circular_side} x "
                             f"{self.min_circular_side} pixels (its padding wraps around each map once at most), got "
                             f"{x.shape[-2]} x {x.shape[-1]}: use larger images or padding_mode='zeros'")
        features = {}
        for name, stage in zip(STAGES, self.stages, strict=True):
            x = stage(x)
            features[name] = x
        return features


class ResNet18Backbone(nn.Module):
    """torchvision's ResNet-18 without its pooling and classifier, as five stages.

    Stages (:data:`STAGES`): conv1 (stride 2, 64 channels), maxpool + layer1 (4, 64), layer2 (8, 128),
    layer3 (16, 256), layer4 (32, 512). ``output_stride`` 16 or 8 dilates layer4 (and layer3),
    which keeps the weights' shapes, so ImageNet weights still load. ``in_channels != 3``
    replaces conv1 (then ImageNet weights cannot be loaded).
    """

    def __init__(self, in_channels: int = 3, output_stride: int = 32):
        super().__init__()
        # heavy dependency: torchvision is slow to import, and only ResNet-18 needs it
        import torchvision

        _check_output_stride(output_stride, "ResNet18Backbone")
        net = torchvision.models.resnet18(weights=None)
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        net.fc = nn.Identity()  # not used; Identity keeps the state-dict keys of torchvision's ResNet
        if output_stride <= 16:
            _dilate_(net.layer4, previous=1, dilation=2)
        if output_stride == 8:
            _dilate_(net.layer3, previous=1, dilation=2)
            _dilate_(net.layer4, previous=2, dilation=4)
        self.net = net
        self.in_channels, self.output_stride = in_channels, output_stride
        self.channels = dict(zip(STAGES, (64, 64, 128, 256, 512), strict=True))
        self.strides = {name: min(s, output_stride) for name, s in zip(STAGES, (2, 4, 8, 16, 32), strict=True)}
        self.weights_source = "random"
        self.pretrained_on: list[str] | None = None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        net = self.net
        c1 = net.relu(net.bn1(net.conv1(x)))  # stride 2
        c2 = net.layer1(net.maxpool(c1))  # stride 4
        c3 = net.layer2(c2)  # stride 8
        c4 = net.layer3(c3)  # stride 16 (or 8, dilated)
        c5 = net.layer4(c4)  # stride 32 (or 16 / 8, dilated)
        return dict(zip(STAGES, (c1, c2, c3, c4, c5), strict=True))


def _dilate_(layer: nn.Sequential, previous: int, dilation: int) -> None:
    """Turn a ResNet layer of BasicBlocks from stride 2 into stride 1 with dilated 3x3 convs, in place.

    As torchvision does for its bottleneck ResNets, the first conv keeps the previous dilation.
    """
    for index, block in enumerate(layer):
        first = previous if index == 0 else dilation
        block.conv1.stride = (1, 1)
        block.conv1.dilation = block.conv1.padding = (first, first)
        block.conv2.dilation = block.conv2.padding = (dilation, dilation)
        if block.downsample is not None:
            block.downsample[0].stride = (1, 1)


def build_backbone(name: str = "small", in_channels: int = 3, output_stride: int = 32, pretrained=None,
                   fallback: str = "course", course_weights: str | Path | None = None,
                   padding_mode: str = "zeros") -> nn.Module:
    """Build backbone ``name`` (``"small"`` or ``"resnet18"``), optionally with pretrained weights.

    ``pretrained``:
      * ``None`` or ``False``: random initialisation.
      * ``"imagenet"`` (ResNet-18 only): torchvision's ``ResNet18_Weights.IMAGENET1K_V1``,
        downloaded once into torch's hub cache. If that fails (offline), a
        :class:`~segedu.models.pretrained.PretrainedWeightsWarning` is issued and ``fallback``
        applies: ``"course"`` (default) builds the small backbone with the course's weights
        instead (a different architecture: check ``backbone.weights_source``), ``"random"``
        keeps a randomly initialised ResNet-18, ``"error"`` raises.
      * ``"course"`` (small backbone only): the course's own small backbone, pretrained on
        synthetic classification, from ``course_weights`` or
        ``segedu.config.data_dir() / "pretrained" / "small_backbone.pt"``. A missing file raises
        ``FileNotFoundError`` naming it and the script that makes it.
      * ``True``: the best weights for ``name``, ``"imagenet"`` for ResNet-18, ``"course"`` for small.

    ``padding_mode`` (small backbone only): what its convolutions pad with, ``"zeros"`` or one of
    :data:`~segedu.models.blocks.PADDING_MODES`.

    The returned backbone records where its weights came from in ``backbone.weights_source``:
    ``"random"``, ``"imagenet"`` or ``"course"``.
    """
    if name not in BACKBONE_NAMES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONE_NAMES}")
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    if pretrained is True:
        pretrained = "imagenet" if name == "resnet18" else "course"
    if pretrained is False:
        pretrained = None
    if pretrained not in PRETRAINED_CHOICES:
        raise ValueError(f"pretrained must be one of {PRETRAINED_CHOICES} or True/False, got {pretrained!r}")
    if pretrained == "imagenet" and name != "resnet18":
        raise ValueError("pretrained='imagenet' exists only for backbone='resnet18'; the small backbone has "
                         "pretrained='course' (the course's own weights) instead.")
    if pretrained == "course" and name != "small":
        raise ValueError("pretrained='course' exists only for backbone='small'; ResNet-18 has pretrained='imagenet'.")
    if check_padding_mode(padding_mode, "build_backbone") != "zeros" and name != "small":
        raise ValueError(f"padding_mode={padding_mode!r} exists only for backbone='small'; ResNet-18 pads with zeros.")

    if name == "small":
        backbone = SmallBackbone(in_channels, output_stride=output_stride, padding_mode=padding_mode)
        if pretrained == "course":
            load_course_weights_(backbone, course_weights)
        return backbone

    backbone = ResNet18Backbone(in_channels, output_stride)
    if pretrained == "imagenet" and not load_imagenet_weights_(backbone, fallback):
        if fallback == "course":
            backbone = SmallBackbone(in_channels, output_stride=output_stride)
            load_course_weights_(backbone, course_weights, missing="warn")
    return backbone


class SmallBackboneClassifier(nn.Module):
    """The small backbone, global average pooling and a linear layer: ``N x 3 x H x W -> N x num_classes``.

    For pretraining the backbone on classification (``python -m segedu.course.pretrain``); save
    only ``classifier.backbone`` with :func:`segedu.models.pretrained.save_course_backbone`.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, channels: tuple[int, ...] = SMALL_CHANNELS):
        super().__init__()
        self.backbone = SmallBackbone(in_channels, channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.backbone(x)["stage5"]).flatten(1))


def small_backbone_for_classification(num_classes: int, in_channels: int = 3) -> SmallBackboneClassifier:
    """A classifier around a fresh :class:`SmallBackbone` with the default widths (see the class)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    return SmallBackboneClassifier(num_classes, in_channels)
