"""The skeleton that every segmentation model of the course fills in, and what lets it take any image.

Every model here has the shape of torchvision's segmentation models and of segmentation_models_pytorch:

    image --encode--> named feature maps --decode--> logits at some stride --upsample--> logits, input size

* ``encode(x)``, the encoder or backbone: a dict of feature maps by name, e.g. ``{"stage1": ..., ...,
  "stage5": ...}`` for the backbones of :mod:`~segedu.models.backbones`, ``{"stride1": ..., ...,
  "stride8": ...}`` for U-Net's contracting path;
* ``decode(features)``, the decoder and the head: class logits ``N x C x h x w`` at any stride, or
  ``{"out": logits, "aux": aux_logits}`` when an auxiliary head trains too;
* every output is then upsampled (bilinear) to the input size, unless it already has it.

A model file fills in ``encode`` and ``decode`` and sets ``output_stride`` (the stride of its
coarsest feature map); :class:`SegmentationModel` does the rest. Its ``forward`` checks the input,
pads it with zeros at the bottom and right to a multiple of ``output_stride`` (so ``encode`` and
``decode`` may assume such sizes), runs the skeleton and crops the logits back to the input size,
so a 63 x 65 image works exactly like a 64 x 64 one. The checks are at the end of this file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import upsample_to


class SegmentationModel(nn.Module):
    """Base class: ``forward(x)`` maps ``N x in_channels x H x W`` (any H, W) to ``N x num_classes x H x W``.

    Subclasses set ``self.output_stride`` (the stride of their coarsest feature map, 1 for a
    network without downsampling) and fill in :meth:`encode` and :meth:`decode`.
    """

    output_stride: int = 1

    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        name = type(self).__name__
        self.num_classes = check_num_classes(num_classes, name)
        self.in_channels = check_positive_int(in_channels, "in_channels", name)

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The encoder (backbone): images ``N x in_channels x H x W``, H and W multiples of
        ``output_stride``, to feature maps by name."""
        raise NotImplementedError

    def decode(self, features: dict[str, torch.Tensor]):
        """The decoder and head: the feature maps to logits ``N x num_classes x h x w`` at any stride (or a
        dict of such tensors, ``{"out": ..., "aux": ...}``)."""
        raise NotImplementedError

    def segment(self, x: torch.Tensor):
        """The skeleton: encode, decode, and upsample every output to the size of ``x``."""
        out = self.decode(self.encode(x))
        if isinstance(out, dict):
            return {key: _to_size(value, x.shape[-2:]) for key, value in out.items()}
        return _to_size(out, x.shape[-2:])

    def forward(self, x: torch.Tensor):
        weight = next(self.parameters(), None)
        check_image_batch(x, self.in_channels, type(self).__name__, None if weight is None else weight.dtype)
        check_batch_statistics(self, x.shape)
        height, width = x.shape[-2:]
        pad_bottom = padded_size(height, self.output_stride) - height
        pad_right = padded_size(width, self.output_stride) - width
        if pad_bottom or pad_right:
            x = F.pad(x, (0, pad_right, 0, pad_bottom))  # zeros, like the padding of every conv layer
        out = self.segment(x)
        if isinstance(out, dict):
            return {key: value[..., :height, :width] for key, value in out.items()}
        return out[..., :height, :width]


def _to_size(logits: torch.Tensor, size: torch.Size) -> torch.Tensor:
    return logits if logits.shape[-2:] == size else upsample_to(logits, size)


def main_output(result) -> torch.Tensor:
    """The main logits ``N x C x H x W`` of a model's output.

    Accepts a tensor, a dict with an ``"out"`` entry (torchvision-style models, or PSPNet with its
    auxiliary head in training mode) or a tuple/list whose first item is the logits.
    """
    if isinstance(result, torch.Tensor):
        return result
    if isinstance(result, dict):
        if "out" not in result:
            raise KeyError(f"expected a dict with key 'out', got keys {sorted(result)}")
        return result["out"]
    if isinstance(result, (tuple, list)) and result and isinstance(result[0], torch.Tensor):
        return result[0]
    raise TypeError(f"the model returned {type(result).__name__}; expected logits N x C x H x W (a tensor) "
                    f"or a dict with an 'out' entry")


def padded_size(size: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``size`` and >= ``2 * multiple``.

    At least two cells of the coarsest grid: BatchNorm in training mode needs more than one
    value per channel, so a 1 x 1 coarsest map fails for a batch of one image.
    """
    if multiple == 1:
        return size
    return max(-(-size // multiple), 2) * multiple


# -- the checks: what a first reading can skip ---------------------------------------------------------


def check_num_classes(num_classes, model_name: str) -> int:
    """Return ``num_classes`` if it is an int >= 2, else raise a ValueError/TypeError that says why."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"{model_name}: num_classes must be an int, got {type(num_classes).__name__} {num_classes!r}")
    if num_classes < 2:
        raise ValueError(
            f"{model_name}: num_classes must be at least 2 (one logit channel per class, background "
            f"included), got {num_classes}."
        )
    return num_classes


def check_positive_int(value, name: str, model_name: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise a clear error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{model_name}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{model_name}: {name} must be at least 1, got {value}")
    return value


CONVERSIONS = {torch.float32: "images.float()", torch.float64: "images.double()", torch.float16: "images.half()",
               torch.bfloat16: "images.bfloat16()"}
"""How to convert images to the dtype of a model's weights, as said in the error message."""


def check_image_batch(x, in_channels: int, model_name: str, dtype: torch.dtype | None = None) -> None:
    """Raise a clear error unless ``x`` is a floating-point tensor of shape ``N x in_channels x H x W``.

    With ``dtype`` (the model's weights' dtype), ``x`` must have that dtype too, unless autocast
    is on for ``x``'s device (autocast converts inputs and weights itself).
    """
    expected = f"{model_name} expects input of shape N x {in_channels} x H x W"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{expected} (a torch.Tensor), got {type(x).__name__}")
    if x.dim() != 4:
        hint = ""
        if x.dim() == 3:
            hint = "; add a batch dimension with x.unsqueeze(0)"
        elif x.dim() == 2:
            hint = "; add batch and channel dimensions with x[None, None]"
        raise ValueError(f"{expected}, got {x.dim()}-D tensor of shape {tuple(x.shape)}{hint}")
    if x.shape[1] != in_channels:
        hint = "; did you pass N x H x W x C (channels last)? use x.permute(0, 3, 1, 2)" \
            if x.shape[-1] == in_channels else f"; build the model with in_channels={x.shape[1]}"
        raise ValueError(f"{expected}, got {x.shape[1]} channel(s) in shape {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise TypeError(f"{model_name} expects a floating-point tensor, got {x.dtype}; convert with x.float()")
    if dtype is not None and x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        convert = CONVERSIONS.get(dtype, f"images.to({dtype})")
        raise TypeError(f"{model_name} got {x.dtype} images, but this model's weights are {str(dtype)[6:]}: "
                        f"convert the images with {convert} (or the model with model.to({x.dtype}))")
    if x.shape[0] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{model_name} got an empty tensor of shape {tuple(x.shape)}")


def check_batch_statistics(model: nn.Module, image_shape: torch.Size) -> None:
    """Raise a clear error if ``model`` in training mode would give its BatchNorm layers one value per channel.

    ``image_shape``: ``N x C x H x W`` of the input. The smallest feature map holds
    ``N x H/s x W/s`` values per channel (``s`` the output stride, after padding); BatchNorm in
    training mode normalises with the batch's mean and variance, which one value cannot give.
    """
    if not model.training:
        return
    batch, _, height, width = image_shape
    stride = getattr(model, "output_stride", 1)
    if batch * (padded_size(height, stride) // stride) * (padded_size(width, stride) // stride) > 1:
        return
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in model.modules()):
        raise ValueError(
            f"{type(model).__name__} in training mode got one {height} x {width} image: its BatchNorm layers need "
            f"more than one value per channel to compute batch statistics. Train on larger images or on a batch "
            f"of more than one, or call model.eval() to predict (BatchNorm then uses its running statistics)."
        )
