"""Checkers for notebook 04 (skip connections).

* :func:`check_fcn16s_shapes` -- the (height, width) of every tensor of the FCN-16s fusion.
* :func:`check_sum_as_concat_conv` -- FCN's fusion (add two score maps) as U-Net's (concatenate, then
  convolve): one 1x1 convolution on the concatenation that computes the sum of two 1x1 convolutions.
* :func:`check_cell_oracle_iou` -- the best IoU of a class that a prediction deciding once per
  ``stride x stride`` cell can reach: what a stride-``s`` map can say about wires one or two pixels wide.

Each checker takes the learner's answer and returns a :class:`~segedu.course.checks.CheckResult`;
an unfilled answer (``...`` or ``None``) gives "not done yet", never an exception. Expected
values come from running the course's own layers, not from the formula the learner is asked for.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from segedu.course.checks import (
    CheckResult,
    checker,
    describe,
    expect_float32_layer,
    expect_function,
    failed,
    not_done,
    passed,
    raised,
    real_number,
    whole_number,
    whole_numbers,
)
from segedu.data import SyntheticScenes
from segedu.metrics import IGNORE_INDEX
from segedu.models import FCN

FUSION_KEYS = ("score32", "up32to16", "score16", "fused16", "logits")
"""The tensors of the FCN-16s fusion whose (height, width) the shapes exercise asks for."""
IMAGE_SIDES = (32, 1024)
"""The image sides :func:`check_fcn16s_shapes` takes: at least one stride-32 cell, at most what a laptop runs in a
second (the exercise's images have 96 px)."""
MAX_CLASSES = 254
"""The most classes a mask can hold: 255 is the ignore label."""


def _fcn16s(num_classes: int, seed: int = 0):
    torch.manual_seed(seed)
    model = FCN(num_classes, variant="16s").eval()
    with torch.no_grad():  # the score16 layer starts at zero; give it weights so that the skip matters
        model.score16.weight.normal_(0, 0.5)
        model.score16.bias.normal_(0, 0.5)
    return model


def fcn16s_fusion_sizes(image_size: tuple[int, int] = (96, 96), num_classes: int = 3) -> dict[str, tuple[int, int]]:
    """``{name: (height, width)}`` of the FCN-16s tensors in :data:`FUSION_KEYS` for one image of ``image_size``,
    measured with forward hooks on :class:`~segedu.models.FCN` (once per size: a checker asks again and again)."""
    return dict(_measured_fusion_sizes(tuple(image_size), num_classes))


@functools.lru_cache(maxsize=8)
def _measured_fusion_sizes(image_size: tuple[int, int], num_classes: int) -> dict[str, tuple[int, int]]:
    model = _fcn16s(num_classes)
    sizes = {}

    def keep(name):
        return lambda module, inputs, output: sizes.__setitem__(name, tuple(output.shape[-2:]))

    handles = [getattr(model, name).register_forward_hook(keep(name)) for name in ("score32", "up32to16", "score16")]
    try:
        with torch.no_grad():
            logits = model(torch.zeros(1, 3, *image_size))
    finally:
        for handle in handles:
            handle.remove()
    sizes["fused16"] = sizes["up32to16"]
    sizes["logits"] = tuple(logits.shape[-2:])
    return {key: sizes[key] for key in FUSION_KEYS}


def _image_size(image_size) -> tuple[tuple[int, int] | None, CheckResult | None]:
    """``((height, width), None)`` for an image size the checker can measure, else ``(None, a failing result)``."""
    sides, problem = whole_numbers(image_size, "image_size", "(96, 96)")
    if problem is None and len(sides) != 2:
        problem = failed(f"image_size should be (height, width), got {describe(image_size)}", "e.g. (96, 96)")
    if problem is None and not all(IMAGE_SIDES[0] <= side <= IMAGE_SIDES[1] for side in sides):
        problem = failed(f"image_size {sides}: each side should be from {IMAGE_SIDES[0]} px (one stride-32 cell) to "
                         f"{IMAGE_SIDES[1]} px", "the exercise's images are 96 x 96")
    return (None, problem) if problem is not None else (sides, None)


@checker
def check_fcn16s_shapes(answer, image_size: tuple[int, int] = (96, 96), num_classes: int = 3) -> CheckResult:
    """``answer``: ``{name: (height, width)}`` for every name in :data:`FUSION_KEYS` (each a tuple, list, numpy
    array, tensor or ``torch.Size`` of whole numbers; a full ``N x C x H x W`` shape is fine too)."""
    if not_done(answer):
        return failed("not done yet: fill in the (height, width) of each tensor",
                      "the backbone halves the size five times (stride 32); score layers are 1x1 convolutions")
    if not isinstance(answer, dict):
        return failed(f"answer should be a dict name -> (height, width), got {type(answer).__name__}")
    image_size, problem = _image_size(image_size)
    if problem is None:
        num_classes, problem = whole_number(num_classes, "num_classes", minimum=1, maximum=MAX_CLASSES)
    if problem is not None:
        return problem
    missing = [key for key in FUSION_KEYS if key not in answer]
    if missing:
        return failed(f"missing entries: {', '.join(missing)}", f"give all of {', '.join(FUSION_KEYS)}")
    expected = fcn16s_fusion_sizes(image_size, num_classes)
    for key in FUSION_KEYS:
        value = answer[key]
        if not_done(value, (tuple, list)):
            return failed(f"not done yet: {key} is still {describe(value)}")
        if isinstance(value, torch.Size):
            value = tuple(value)
        got, problem = whole_numbers(value, key, "(3, 3)")
        if problem is None and len(got) not in (2, 4):
            problem = failed(f"{key} should be a pair (height, width), got {describe(value)}")
        if problem is not None:
            return failed(problem.message, problem.hint or "a size is a whole number of pixels: (height, width)")
        if len(got) == 4:
            got = got[-2:]  # a full N x C x H x W shape is fine too
        if got != expected[key]:
            height = image_size[0]
            hints = {
                "score32": f"the stride-32 map of a {height}-pixel image has {height} / 32 rows",
                "up32to16": "the transposed convolution doubles the size of the coarse scores",
                "score16": f"the stride-16 features have {height} / 16 rows; a 1x1 conv keeps the size",
                "fused16": "adding needs equal shapes: the sum has the size of both terms",
                "logits": "the final bilinear upsampling returns to the input size",
            }
            return failed(f"{key}: you said {got}, the model gives {expected[key]}", hints[key])
    return passed(f"all {len(FUSION_KEYS)} sizes match FCN-16s on a {image_size[0]}x{image_size[1]} image")


SUM_CASES = ((5, 3, 4), (4, 4, 3))
"""(channels of a, channels of b, classes) of the score layers the concatenation checker tries."""


def _score_layers(channels_a: int, channels_b: int, classes: int, seed: int) -> tuple[nn.Conv2d, nn.Conv2d]:
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for channels in (channels_a, channels_b):
        layer = nn.Conv2d(channels, classes, kernel_size=1)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator))
        layers.append(layer)
    return layers[0], layers[1]


@checker
def check_sum_as_concat_conv(function) -> CheckResult:
    """``function(score_a, score_b) -> nn.Conv2d``: ``score_a`` (``Ca -> K``) and ``score_b`` (``Cb -> K``) are 1x1
    convolutions; the answer is one 1x1 convolution ``Ca + Cb -> K`` with
    ``conv(torch.cat([a, b], dim=1)) == score_a(a) + score_b(b)`` for every ``a``, ``b``."""
    if not_done(function):
        return failed("not done yet: write a function of (score_a, score_b) that returns an nn.Conv2d",
                      "build nn.Conv2d(Ca + Cb, K, 1) and fill its weight and bias from the two layers")
    problem = expect_function(function, "sum_as_concat_conv", "check_sum_as_concat_conv(my_function)")
    if problem is not None:
        return problem
    for seed, (channels_a, channels_b, classes) in enumerate(SUM_CASES):
        score_a, score_b = _score_layers(channels_a, channels_b, classes, seed)
        case = f"score_a {channels_a} -> {classes} channels, score_b {channels_b} -> {classes}"
        try:
            with torch.no_grad():
                conv = function(score_a, score_b)
        except Exception as error:  # noqa: BLE001 - the learner's code: report it, never crash the notebook
            hint = ("the new weight is K x (Ca + Cb) x 1 x 1: torch.cat([score_a.weight, score_b.weight], dim=1)"
                    if isinstance(error, RuntimeError) else "")
            return failed(f"with {case} {raised(error)}", hint)
        if not_done(conv):
            return failed("not done yet: your function returns nothing", "return the nn.Conv2d you built")
        if not isinstance(conv, nn.Conv2d):
            return failed(f"expected an nn.Conv2d, got {type(conv).__name__}",
                          "U-Net's fusion is a convolution on the concatenated maps: return an nn.Conv2d")
        problem = expect_float32_layer(conv, "your convolution")
        if problem is not None:
            return problem
        if tuple(conv.kernel_size) != (1, 1):
            return failed(f"your convolution has kernel {tuple(conv.kernel_size)}, not 1 x 1",
                          "the score layers are 1x1 convolutions, and so is their sum")
        if conv.out_channels != classes:
            hint = ("you concatenated the weights along the output channels (dim 0): the sum still has K channels; "
                    "concatenate along the input channels (dim 1)" if conv.out_channels == 2 * classes else
                    "one output channel per class, as each score layer has")
            return failed(f"your convolution has {conv.out_channels} output channels, not {classes}", hint)
        if conv.in_channels != channels_a + channels_b:
            return failed(f"your convolution reads {conv.in_channels} channels, not {channels_a} + {channels_b}",
                          "it reads the concatenation torch.cat([a, b], dim=1)")
        generator = torch.Generator().manual_seed(10 + seed)
        a = torch.randn(2, channels_a, 5, 6, generator=generator)
        b = torch.randn(2, channels_b, 5, 6, generator=generator)
        with torch.no_grad():
            want = score_a(a) + score_b(b)
            try:
                got = conv(torch.cat([a, b], dim=1))
            except Exception as error:  # noqa: BLE001 - a layer of the learner's own making
                return failed(f"with {case}, {raised(error, 'your convolution')}",
                              "return a plain nn.Conv2d(Ca + Cb, K, kernel_size=1)")
            if got.shape != want.shape:
                settings = [f"{name} {value}" for name, value, plain in (
                    ("stride", conv.stride, (1, 1)), ("padding", conv.padding, (0, 0)),
                    ("dilation", conv.dilation, (1, 1))) if value not in (plain, "valid", "same")]
                return failed(f"your convolution turns a 5 x 6 map into {got.shape[-2]} x {got.shape[-1]}"
                              + (f" ({', '.join(settings)})" if settings else "") + ": the sum keeps the size",
                              "a 1x1 convolution with stride 1 and no padding keeps every pixel where it is")
            weights_only = (score_a(a) - score_a.bias.view(1, -1, 1, 1)) + (score_b(b) - score_b.bias.view(1, -1, 1, 1))
            swapped = (F.conv2d(a, conv.weight[:, channels_b:]) + F.conv2d(b, conv.weight[:, :channels_b])
                       if channels_a == channels_b else None)
        if torch.allclose(got, want, atol=1e-5):
            continue
        bias = torch.zeros(classes) if conv.bias is None else conv.bias.detach()
        difference = f"your convolution differs from score_a(a) + score_b(b) by up to {float((got - want).abs().max()):.3g}"
        if torch.allclose(got - bias.view(1, -1, 1, 1), weights_only, atol=1e-5):
            return failed(f"{difference}: the weights are right, the bias is not",
                          "the sum has both biases: bias = score_a.bias + score_b.bias")
        if swapped is not None and torch.allclose(swapped + bias.view(1, -1, 1, 1), want, atol=1e-5):
            return failed(f"{difference}: the weights of a and b are in the wrong order",
                          "the first Ca input channels of the concatenation are a's: score_a's weight comes first")
        return failed(difference, "weight = torch.cat([score_a.weight, score_b.weight], dim=1), "
                      "bias = score_a.bias + score_b.bias")
    return passed("one convolution on the concatenation computes FCN's sum of two score layers: whatever FCN's fusion "
                  "can learn, a U-Net-style fusion (concatenate, then convolve) can learn too, and more")


ORACLE_STRIDES = (2, 4, 8)
"""Cell sizes the oracle checker tries."""


def cell_oracle_iou_measured(masks: torch.Tensor, class_index: int, stride: int) -> float:
    """IoU of class ``class_index`` of the prediction that paints every ``stride x stride`` cell of ``masks``
    (int ``N x H x W``, 255 ignored, sides divisible by ``stride``) with that class when more than half of the
    cell's labelled pixels have it, else with another class; scored over the labelled pixels."""
    target = masks == class_index
    labelled = masks != IGNORE_INDEX
    in_cell = F.avg_pool2d((target & labelled).double()[:, None], stride)
    labelled_in_cell = F.avg_pool2d(labelled.double()[:, None], stride)
    cells = in_cell > 0.5 * labelled_in_cell
    cells &= labelled_in_cell > 0
    predicted = cells.repeat_interleave(stride, dim=-2).repeat_interleave(stride, dim=-1)[:, 0]
    union = int(((predicted | target) & labelled).sum())
    return int((predicted & target & labelled).sum()) / union if union else math.nan


@functools.lru_cache(maxsize=1)
def _oracle_masks() -> torch.Tensor:
    """Thin-track masks (64 px, the same in every mode) with a band of ignored pixels, as 255 borders would be
    (drawn once: rendering them takes a second, and the checker never changes them)."""
    masks = SyntheticScenes("test", "thin", size=64, length=8).batch(range(8))["mask"]
    masks[:, 20:24] = IGNORE_INDEX
    return masks


def _oracle_mistakes(masks: torch.Tensor, class_index: int, stride: int) -> dict[str, tuple[float, str]]:
    """What typical wrong answers give: ``{mistake: (value, hint)}``."""
    target, labelled = masks == class_index, masks != IGNORE_INDEX

    def paint(cells):
        return cells.repeat_interleave(stride, dim=-2).repeat_interleave(stride, dim=-1)[:, 0]

    def iou(predicted, where):
        union = int(((predicted | target) & where).sum())
        return int((predicted & target & where).sum()) / union if union else math.nan

    share = F.avg_pool2d((target & labelled).double()[:, None], stride)
    labelled_share = F.avg_pool2d(labelled.double()[:, None], stride)
    majority = paint((share > 0.5 * labelled_share) & (labelled_share > 0))
    everywhere = torch.ones_like(labelled)
    return {
        "painted a cell with the class as soon as one of its pixels has it": (
            iou(paint(share > 0), labelled),
            "a cell takes the class only when more than half of its labelled pixels have it (a majority vote)"),
        "painted a cell with the class when exactly half of its pixels have it": (
            iou(paint((share >= 0.5 * labelled_share) & (labelled_share > 0)), labelled),
            "more than half, not at least half: a tie goes to the other classes"),
        "counted the ignored pixels as pixels of other classes in each cell's vote": (
            iou(paint(share > 0.5), labelled),
            "compare the class's pixels with the cell's labelled pixels only (masks != 255)"),
        "scored the ignored pixels too": (
            iou(majority, everywhere), "count only labelled pixels (masks != 255) in the intersection and the union"),
        "returned the share of the class's pixels that the cells find (recall), not the IoU": (
            int((majority & target & labelled).sum()) / max(int((target & labelled).sum()), 1),
            "IoU divides by the union: pixels of the class, plus pixels painted with it"),
        "returned the pixel accuracy of the painted map": (
            int(((majority == target) & labelled).sum()) / max(int(labelled.sum()), 1), "IoU = TP / (TP + FP + FN) for that class"),
    }


@checker
def check_cell_oracle_iou(function) -> CheckResult:
    """``function(masks N x H x W, class_index, stride) -> float``: see :func:`cell_oracle_iou_measured`.

    Tried on thin-track masks with a band of ignored pixels, for the wire and the gear class and the
    strides in :data:`ORACLE_STRIDES`.
    """
    if not_done(function):
        return failed("not done yet: write a function of (masks, class_index, stride) that returns a float",
                      "average-pool the class indicator over stride x stride cells, vote, paint, then score")
    problem = expect_function(function, "cell_oracle_iou", "check_cell_oracle_iou(my_function)")
    if problem is not None:
        return problem
    masks = _oracle_masks()
    for class_index in (1, 2):
        for stride in ORACLE_STRIDES:
            case = f"class {class_index}, stride {stride}"
            try:
                got = function(masks.clone(), class_index, stride)
            except Exception as error:  # noqa: BLE001 - the learner's code: report it, never crash the notebook
                return failed(f"with {case} {raised(error)}", "call your function on a few masks and read the error")
            if not_done(got):
                return failed("not done yet: your function returns nothing", "return the IoU as a float")
            got, problem = real_number(got, f"with {case} your IoU",
                                       "a union of 0 (no pixel of the class, none painted) gives 0 / 0; count only "
                                       "labelled pixels, and divide the intersection by the union")
            if problem is not None:
                return problem
            want = cell_oracle_iou_measured(masks, class_index, stride)
            if math.isclose(got, want, abs_tol=1e-6):
                continue
            message = f"with {case} your IoU is {got:.4f}, expected {want:.4f}"
            for mistake, (value, hint) in _oracle_mistakes(masks, class_index, stride).items():
                if math.isclose(got, value, abs_tol=1e-6):
                    return failed(f"{message}: it looks like you {mistake}", hint)
            return failed(message, "vote per cell (more than half of its labelled pixels), paint every pixel of the "
                          "cell with the vote, then IoU = intersection / union over the labelled pixels")
    return passed(f"your oracle matches for wires and gears at strides {', '.join(map(str, ORACLE_STRIDES))}")
