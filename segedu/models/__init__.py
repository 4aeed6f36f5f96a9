"""Segmentation models, one idea per file, and a registry to build them by name.

Every model maps ``N x in_channels x H x W`` float images (any H, W) to
``N x num_classes x H x W`` logits::

    from segedu.models import build, MODEL_NAMES, summary
    model = build("unet", num_classes=5)
    print(summary(model))          # UNet: 0.48 M parameters, output stride 8, 64x64 -> 5x64x64

=============  ===================================================  ===================
name           model                                                file
=============  ===================================================  ===================
plain          :class:`PlainCNN`, stride-1 convolutions only        ``plain.py``
encdec         :class:`EncoderDecoder`, down then up, no skips      ``encdec.py``
fcn32s         :class:`FCN` ``variant="32s"``                       ``fcn.py``
fcn16s         :class:`FCN` ``variant="16s"``                       ``fcn.py``
fcn8s          :class:`FCN` ``variant="8s"``                        ``fcn.py``
unet           :class:`UNet`, skips at every scale                  ``unet.py``
pspnet         :class:`PSPNet`, pyramid pooling                     ``pspnet.py``
unet_ppm       :class:`UNetPPM`, pyramid pooling at the bottleneck  ``unet_ppm.py``
unet_context   :class:`UNetContext`, context before the classifier  ``unet_context.py``
deeplabv3plus  :class:`DeepLabV3Plus`, :class:`ASPP` and a decoder  ``deeplab.py``
=============  ===================================================  ===================

Every model fills in one skeleton, :class:`SegmentationModel` in ``base.py``: ``encode`` (the
encoder or backbone, named feature maps), ``decode`` (the decoder and head, logits at some stride),
then upsampling to the input size; ``base.py`` also takes inputs of any size and checks them.
Shared parts: ``blocks.py`` (layers, bilinear kernels), ``backbones.py`` and ``pretrained.py`` (for
FCN, PSPNet and DeepLabV3+), ``utils.py`` (parameter counts, summaries, the checkerboard demo).
Speeds: :mod:`segedu.leaderboard.speed`.
"""

from __future__ import annotations

import difflib
import inspect

from torch import nn

from .backbones import (
    BACKBONE_NAMES,
    ResNet18Backbone,
    SmallBackbone,
    build_backbone,
    small_backbone_for_classification,
)
from .base import SegmentationModel, main_output
from .blocks import ConvBNReLU, Upsample2x, bilinear_kernel, bilinear_transposed_conv, init_bilinear_
from .deeplab import ASPP, DeepLabV3Plus, valid_weight_fraction
from .encdec import EncoderDecoder
from .fcn import FCN
from .plain import PlainCNN
from .pretrained import PretrainedWeightsWarning, course_weights_path, save_course_backbone
from .pspnet import PSPNet, PyramidPoolingModule
from .unet import UNet
from .unet_context import SceneContext, UNetContext
from .unet_ppm import UNetPPM
from .utils import checkerboard_demo, count_parameters, model_name, summary

# name -> (class, options fixed by the name)
_REGISTRY: dict[str, tuple[type, dict]] = {
    "plain": (PlainCNN, {}),
    "encdec": (EncoderDecoder, {}),
    "fcn32s": (FCN, {"variant": "32s"}),
    "fcn16s": (FCN, {"variant": "16s"}),
    "fcn8s": (FCN, {"variant": "8s"}),
    "unet": (UNet, {}),
    "pspnet": (PSPNet, {}),
    "unet_ppm": (UNetPPM, {}),
    "unet_context": (UNetContext, {}),
    "deeplabv3plus": (DeepLabV3Plus, {}),
}
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def build(name: str, num_classes: int, **options) -> nn.Module:
    """Build the model registered as ``name`` (one of :data:`MODEL_NAMES`) with ``num_classes`` outputs.

    ``options`` are passed to the model's class, e.g. ``build("pspnet", 5, bins=(1,))``;
    ``build("fcn8s", 5)`` is ``FCN(5, variant="8s")``. Unknown names and options raise an
    error that lists the valid ones.
    """
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), MODEL_NAMES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown model name {name!r}; choose one of {', '.join(MODEL_NAMES)}.{hint}")
    cls, fixed = _REGISTRY[name]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "num_classes")]
    for option in options:
        if option in fixed:
            raise TypeError(f"build({name!r}) already sets {option}={fixed[option]!r}; use another name "
                            f"(e.g. 'fcn16s') or the class {cls.__name__} directly.")
        if option not in accepted:
            raise TypeError(f"{cls.__name__} (model {name!r}) has no option {option!r}; "
                            f"its options are: {', '.join(a for a in accepted if a not in fixed)}.")
    return cls(num_classes, **fixed, **options)


__all__ = [
    "ASPP", "BACKBONE_NAMES", "MODEL_NAMES", "ConvBNReLU", "DeepLabV3Plus", "EncoderDecoder", "FCN", "PSPNet",
    "PlainCNN", "PretrainedWeightsWarning", "PyramidPoolingModule", "ResNet18Backbone", "SceneContext",
    "SegmentationModel", "SmallBackbone", "UNet", "UNetContext", "UNetPPM", "Upsample2x", "bilinear_kernel",
    "bilinear_transposed_conv", "build", "build_backbone", "checkerboard_demo", "count_parameters",
    "course_weights_path", "init_bilinear_", "main_output", "model_name", "save_course_backbone",
    "small_backbone_for_classification", "summary", "valid_weight_fraction",
]
