"""The stages (levels) of an encoder, found by name: what :func:`scale_explorer` and the "deepest stage" of
:func:`compare_fields` look at.

A *stage* is the output of one resolution step of the encoder, in execution order, input side first:

=================================  ===================================================================
model                              stages
=================================  ===================================================================
backbone models (FCN, PSPNet)      ``backbone.stages.0`` ... ``backbone.stages.4`` (strides 2 ... 32)
a ``SmallBackbone`` itself         ``stages.0`` ... ``stages.4``
ResNet-18 backbone                 ``net.conv1``, ``net.layer1`` ... ``net.layer4`` (``backbone.`` first)
``EncoderDecoder``                 ``stem``, ``encoder.0`` ... (the last one is the bottleneck)
``UNet``                           ``first``, ``downs.0`` ... (the last one is the bottleneck)
``PlainCNN`` (stride 1)            ``features.0`` ... ``features.6``
any ``nn.Sequential``              its children that are not activations or normalisations
anything else                      its top-level children that run, in order
=================================  ===================================================================

The *deepest stage* is the last stage at the coarsest resolution: the bottleneck of an
encoder-decoder or U-Net, before any decoder, pyramid pooling module or head. For PSPNet (a
dilated backbone) that is the backbone's last stage, the map that the pyramid pooling module then
summarises; for a plain CNN, its last layer.
"""

from __future__ import annotations

import torch
from torch import nn

from segedu.receptive.arithmetic import NORM_TYPES, POINTWISE_TYPES
from segedu.receptive.capture import as_feature_map
from segedu.receptive.table import listed_layers

__all__ = ["stage_names", "stage_sizes", "deepest_stage"]


def _numbered(modules: dict, prefix: str) -> list[str]:
    """``prefix.0``, ``prefix.1``, ... for the children of ``modules[prefix]`` that change the field."""
    return [f"{prefix}.{name}" for name, child in modules[prefix].named_children()
            if not isinstance(child, POINTWISE_TYPES + NORM_TYPES)]


def stage_names(model: nn.Module, input_size=(3, 64, 64)) -> list[str]:
    """Names (as in ``model.named_modules()``) of the stages of ``model``, input side first (see the module doc)."""
    modules = dict(model.named_modules())
    for prefix in ("backbone.stages", "stages"):
        if isinstance(modules.get(prefix), nn.ModuleList):
            return _numbered(modules, prefix)
    for prefix in ("backbone.net.", "net."):
        if f"{prefix}layer4" in modules:
            return [f"{prefix}{name}" for name in ("conv1", "layer1", "layer2", "layer3", "layer4")]
    if isinstance(modules.get("encoder"), nn.ModuleList) and "stem" in modules:
        return ["stem", *_numbered(modules, "encoder")]
    if isinstance(modules.get("downs"), nn.ModuleList) and "first" in modules:
        return ["first", *_numbered(modules, "downs")]
    if isinstance(modules.get("features"), nn.Sequential):
        return _numbered(modules, "features")
    if isinstance(model, nn.Sequential):
        return [name for name, child in model.named_children() if not isinstance(child, POINTWISE_TYPES + NORM_TYPES)]
    with torch.no_grad():
        ran = listed_layers(model, input_size)
    return [name for name in ran if "." not in name]


def stage_sizes(model: nn.Module, names: list[str], input_size=(3, 64, 64)) -> dict[str, tuple[int, int]]:
    """``(height, width)`` of each named stage's output for a zero input of ``input_size`` (eval mode, restored)."""
    sizes, handles = {}, []
    modules = dict(model.named_modules())
    for name in names:
        def keep(module, inputs, output, name=name):
            if name not in sizes:
                sizes[name] = tuple(as_feature_map(output, where=f"the output of {name!r}").shape[-2:])
        handles.append(modules[name].register_forward_hook(keep))
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return sizes


def deepest_stage(model: nn.Module, input_size=(3, 64, 64)) -> str | None:
    """The last stage of ``model`` at its coarsest resolution (fewest positions), or None if it has no sub-modules.

    For an encoder-decoder written as one ``nn.Sequential`` this is the bottleneck, not the last
    decoder layer; for a dilated backbone (PSPNet) the last of its equally coarse stages.
    """
    names = stage_names(model, input_size)
    if not names:
        return None
    sizes = stage_sizes(model, names, input_size)
    ran = [name for name in names if name in sizes]
    coarsest = min(sizes[name][0] * sizes[name][1] for name in ran)
    return [name for name in ran if sizes[name][0] * sizes[name][1] == coarsest][-1]
