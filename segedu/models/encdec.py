"""An encoder-decoder without skip connections: downscale to see large objects, upscale to predict.

"Standard architectures for that task downscale the image with a series of convolutional
layers to increase the receptive field of the activations, and re-upscale it with a series
of transposed convolutional layers, or other upscaling methods such as bilinear
interpolation, to make the prediction at high resolution." Every pixel's prediction has
passed through the coarsest map (stride ``2 ** depth``), which is why boundaries come out
blurry: the fix is the skip connections of FCN and U-Net.
"""

from __future__ import annotations

from torch import nn

from .base import SegmentationModel, check_positive_int
from .blocks import ConvBNReLU, Upsample2x

DOWN_MODES = ("strided", "maxpool")


class EncoderDecoder(SegmentationModel):
    """Encoder (``depth`` halvings) then decoder (``depth`` doublings), no skips, then a 1x1 classifier.

    ``N x in_channels x H x W -> N x num_classes x H x W``. ``widths[i]`` is the number of
    channels at stride ``2**i`` (``widths[0]`` at full resolution); ``depth`` defaults to
    ``len(widths) - 1``, and ``output_stride=2**depth`` can be given instead of ``depth``.

    * ``down="strided"``: each halving is a stride-2 3x3 conv; ``"maxpool"``: 2x2 max pooling
      then a 3x3 conv. Each halving is followed by one more 3x3 conv at the new resolution.
    * ``up``: ``"transposed"``, ``"bilinear"`` or ``"nearest_conv"`` (see :class:`Upsample2x`);
      ``up_kernel_size`` (4 by default, 3 shows checkerboards) and ``bilinear_init`` apply to
      ``"transposed"``.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, depth: int | None = None,
                 widths: tuple[int, ...] = (16, 32, 48, 64, 96), up: str = "transposed",
                 up_kernel_size: int = 4, bilinear_init: bool = False, down: str = "strided",
                 output_stride: int | None = None):
        super().__init__(num_classes, in_channels)
        if not isinstance(widths, (tuple, list)) or not widths:
            raise ValueError(f"EncoderDecoder: widths must be a non-empty tuple of channel counts, one per stride "
                             f"from full resolution down, e.g. (16, 32, 48, 64, 96); got {widths!r}")
        widths = [check_positive_int(w, "every width", "EncoderDecoder") for w in widths]
        depth = _resolve_depth(depth, output_stride, len(widths) - 1)
        if down not in DOWN_MODES:
            raise ValueError(f"EncoderDecoder: down must be one of {DOWN_MODES}, got {down!r}")
        widths = (widths + [widths[-1]] * depth)[: depth + 1]  # repeat the last width if depth asks for more
        self.depth, self.widths, self.up, self.down = depth, tuple(widths), up, down
        self.output_stride = 2**depth

        self.stem = ConvBNReLU(in_channels, widths[0])
        self.encoder = nn.ModuleList()
        for i in range(depth):
            if down == "strided":
                halve = ConvBNReLU(widths[i], widths[i + 1], stride=2)
            else:
                halve = nn.Sequential(nn.MaxPool2d(2), ConvBNReLU(widths[i], widths[i + 1]))
            self.encoder.append(nn.Sequential(halve, ConvBNReLU(widths[i + 1], widths[i + 1])))
        self.decoder = nn.ModuleList(
            Upsample2x(widths[i + 1], widths[i], up, up_kernel_size, bilinear_init) for i in reversed(range(depth))
        )
        self.classifier = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def encode(self, x):
        x = self.stem(x)
        features = {"stride1": x}
        for level, down in enumerate(self.encoder, start=1):  # H x W -> H/2 x W/2 -> ... -> H/2**depth x W/2**depth
            x = down(x)
            features[f"stride{2**level}"] = x
        return features

    def decode(self, features):
        x = features[f"stride{self.output_stride}"]  # the coarsest map only: no skip connection
        for up in self.decoder:  # ... back up to H x W
            x = up(x)
        return self.classifier(x)


def _resolve_depth(depth, output_stride, default: int) -> int:
    """Number of halvings from ``depth`` or ``output_stride`` (a power of two); they must agree."""
    from_stride = None
    if output_stride is not None:
        check_positive_int(output_stride, "output_stride", "EncoderDecoder")
        if output_stride & (output_stride - 1):
            raise ValueError(f"EncoderDecoder: output_stride must be a power of two, got {output_stride}")
        from_stride = output_stride.bit_length() - 1
    if depth is None:
        return default if from_stride is None else from_stride
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"EncoderDecoder: depth must be an int >= 0, got {depth!r}")
    if from_stride is not None and from_stride != depth:
        raise ValueError(f"EncoderDecoder: depth={depth} means output_stride={2**depth}, not {output_stride}; "
                         f"give only one of them")
    return depth
