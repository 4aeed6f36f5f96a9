"""Receptive fields: which input pixels can change one output pixel, and how much they do.

The text's central argument for downscaling, pyramid pooling and skip connections is that
"any object ... regardless of its size" must be captured by the feature at a single
tensor position. Whether it can be is a question of receptive fields:

* :func:`receptive_field` -- the exact (analytic) field of one output position of any
  model: size, box, and for plain chains stride, offset and theoretical size.
  (:mod:`segedu.receptive.analytic` explains the gradient-support method.)
* :func:`layer_table` -- output size, stride and field per layer, like the table of the
  Distill article "Computing Receptive Fields of Convolutional Neural Networks".
* :func:`rf_size`, :func:`chain_steps` -- the closed-form arithmetic for chains.
* :func:`effective_receptive_field` -- the gradient-weighted field of a trained model on
  an image (Luo et al. 2016), with the radius holding 50% / 90% of its mass.

Example::

    >>> import torchvision
    >>> from segedu.receptive import receptive_field
    >>> receptive_field(torchvision.models.vgg16().features, (3, 224, 224)).size
    (212, 212)
"""

from .analytic import FieldProbe, ReceptiveField, receptive_field
from .arithmetic import ChainStep, chain_layers, chain_steps, rf_size
from .effective import EffectiveField, EffectiveProbe, effective_receptive_field, radius_of_mass
from .table import LayerTable, layer_table

__all__ = [
    "ChainStep",
    "EffectiveField",
    "EffectiveProbe",
    "FieldProbe",
    "LayerTable",
    "ReceptiveField",
    "chain_layers",
    "chain_steps",
    "effective_receptive_field",
    "layer_table",
    "radius_of_mass",
    "receptive_field",
    "rf_size",
]
