"""U-Net with pyramid pooling at its bottleneck: the natural first try at "both at once".

A U-Net (serial multi-scale: skips at every scale) whose bottleneck goes through PSPNet's
pyramid pooling module (parallel multi-scale: the whole scene pooled into 1x1, 2x2, 3x3 and
6x6 bins) before the decoder climbs back up. The global prior is there, but it enters at the
coarsest map: to reach a pixel it has to pass three upsamplings and three merges with skips
that carry no scene context, and the decoder can (and on the mixed track does) learn to
ignore it. Notebook 08 measures it against :class:`~segedu.models.unet_context.UNetContext`,
where the same kind of prior enters just before the classifier.

    x -> enc0 ------------------------------------------------> cat -> dec0 -> 1x1 -> logits
          `-> pool -> enc1 ----------------------------> cat -> dec1 -^
                       `-> pool -> enc2 -----------> cat -> dec2 -^
                                    `-> pool -> bottleneck -> PPM -^
                                                 (features + 1x1, 2x2, 3x3, 6x6 pooled, upsampled)
"""

from __future__ import annotations

from torch import nn

from .pspnet import PyramidPoolingModule
from .unet import UNet


class UNetPPM(UNet):
    """:class:`~segedu.models.UNet` with a pyramid pooling module on its bottleneck.

    ``N x in_channels x H x W -> N x num_classes x H x W``. ``bins`` and ``pooling`` are those of
    :class:`~segedu.models.PyramidPoolingModule` (with its dimension reduction); the first
    upsampling of the decoder takes the module's output (the bottleneck's channels and as many
    again from the pooled branches) instead of the bottleneck alone. Everything else is the
    U-Net's (``base_width``, ``depth``, ``widths``).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, base_width: int = 16, depth: int = 3,
                 widths: tuple[int, ...] | None = None, bins: tuple[int, ...] = (1, 2, 3, 6), pooling: str = "avg"):
        super().__init__(num_classes, in_channels, base_width, depth, widths)
        self.ppm = PyramidPoolingModule(self.widths[-1], bins, pooling)
        self.ups[0] = nn.ConvTranspose2d(self.ppm.out_channels, self.widths[-2], kernel_size=2, stride=2)

    def decode(self, features):
        *skips, bottleneck = features.values()
        with_scene = self.ppm(bottleneck)  # the bottleneck, with the whole scene pooled into its bins
        return self.classifier(self.expand(with_scene, skips))

