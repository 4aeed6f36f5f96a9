"""Interactive explorers (ipywidgets 7.7 and 8): a picture you can poke at, for every idea of the course.

=========================================  ===========================================================  ======
function                                   what it shows                                                module
=========================================  ===========================================================  ======
:func:`receptive_field_explorer`           one output pixel's analytic box and effective field, per     field
                                           layer of one model (or per model)
:func:`compare_fields`                     the same pixel of the same scene in several trained models,  compare
                                           side by side: analytic box, effective field, prediction
:func:`chain_explorer`                     field and jump after each layer of any chain of              chain
                                           convolutions and pooling layers
:func:`rf_arithmetic_explorer`             the same for one layer repeated (kernel, stride, dilation,   chain
                                           depth)
:func:`upsampling_explorer`                transposed convolution or resize-then-convolve: overlap      upsampling
                                           counts, output size, checkerboards on a flat input
:func:`pyramid_explorer`                   pyramid pooling cells over a scene, what each level          pyramid
                                           averages, predictions with and without the module
:func:`scale_explorer`                     which encoder stage first holds an object of a given size    scale
                                           in one position's field
=========================================  ===========================================================  ======

Each explorer keeps its controls as attributes (``.row``, ``.kernel``, ...), the box to display
as ``.widget`` (displaying the explorer itself works too), the numbers it currently shows as
``.state`` and the picture as ``.last_png``; the callbacks are plain methods, so a test sets
``explorer.row.value = 3`` and reads ``explorer.state``, no browser needed. Bad arguments (a mask
of the wrong size, too few class names, values outside a slider's range) raise a ``ValueError``
that says what to pass instead; nothing is clamped, rounded or stretched. Shared helpers are in
:mod:`segedu.widgets.common`; what counts as an encoder's stages in :mod:`segedu.widgets.stages`.
"""

from .chain import (
    ARITHMETIC_TEXT_CLASS,
    CHAIN_TEXT_CLASS,
    ArithmeticExplorer,
    ChainExplorer,
    ChainLayer,
    chain_explorer,
    rf_arithmetic_explorer,
)
from .compare import COMPARE_TEXT_CLASS, FieldComparison, compare_fields
from .field import OUTPUT, TEXT_CLASS, ReceptiveFieldExplorer, receptive_field_explorer
from .pyramid import PYRAMID_TEXT_CLASS, PyramidExplorer, pyramid_explorer
from .scale import SCALE_TEXT_CLASS, ScaleExplorer, scale_explorer
from .stages import deepest_stage, stage_names
from .upsampling import UPSAMPLING_TEXT_CLASS, UpsamplingExplorer, upsampling_explorer

__all__ = [
    "ARITHMETIC_TEXT_CLASS",
    "CHAIN_TEXT_CLASS",
    "COMPARE_TEXT_CLASS",
    "OUTPUT",
    "PYRAMID_TEXT_CLASS",
    "SCALE_TEXT_CLASS",
    "TEXT_CLASS",
    "UPSAMPLING_TEXT_CLASS",
    "ArithmeticExplorer",
    "ChainExplorer",
    "ChainLayer",
    "FieldComparison",
    "PyramidExplorer",
    "ReceptiveFieldExplorer",
    "ScaleExplorer",
    "UpsamplingExplorer",
    "chain_explorer",
    "compare_fields",
    "deepest_stage",
    "pyramid_explorer",
    "receptive_field_explorer",
    "rf_arithmetic_explorer",
    "scale_explorer",
    "stage_names",
    "upsampling_explorer",
]
