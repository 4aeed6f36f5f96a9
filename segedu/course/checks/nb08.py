"""Checkers for notebook 08 (both at once: skips and a global prior in one model).

* :func:`check_aspp_forward`: the learner's forward pass of :class:`segedu.models.ASPP`.
* :func:`check_atrous_rates`: three atrous rates for a feature map of a given size.
* :func:`check_who_fixes_what`: which model fixes which error of the mixed track, against measured IoUs
  (:func:`what_the_run_says` reads them).
"""

from __future__ import annotations

import math
import numbers

import numpy
import torch

from segedu.course.checks import (
    CheckResult,
    checker,
    describe,
    expect_function,
    expect_tensor,
    failed,
    not_done,
    passed,
    raised,
    whole_number,
    whole_numbers,
)
from segedu.experiments.claims import find as find_claim
from segedu.models import ASPP, valid_weight_fraction
from segedu.models.blocks import upsample_to

NOT_DONE = "not done yet: replace the ... with your answer"
ANSWER_TYPES = (tuple, list, set, dict)
"""Answers of these types are not done while they still hold a ``...``."""


# ---------------------------------------------------------------- exercise 1: the ASPP forward pass

ASPP_IN, ASPP_OUT, ASPP_RATES, ASPP_SIZE = 6, 4, (1, 2, 3), 8
"""The module the checker runs: 6 input channels, 4 per branch, rates 1, 2, 3, on 8 x 8 maps."""


def checking_aspp(seed: int = 9) -> ASPP:
    """A small :class:`~segedu.models.ASPP` with random weights and BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    aspp = ASPP(ASPP_IN, ASPP_OUT, ASPP_RATES)
    with torch.no_grad():
        for module in aspp.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return aspp.eval()


def _aspp_variants(features: torch.Tensor, aspp: ASPP) -> dict[str, torch.Tensor]:
    """Typical wrong forward passes that still run, and what to say about them."""
    size = features.shape[-2:]
    one, atrous = aspp.conv1x1(features), [conv(features) for conv in aspp.atrous]
    pooled = upsample_to(aspp.image_pooling(features), size)
    unpooled = aspp.image_pooling[2](aspp.image_pooling[1](features))  # the 1x1 conv at every pixel, no average
    return {
        "the image-pooling branch must average the whole map first: call aspp.image_pooling(features) (pool, "
        "1x1 conv, ReLU), then upsample it to h x w": aspp.project(torch.cat([one, *atrous, unpooled], dim=1)),
        "the branches are concatenated in another order than the projection expects: the 1x1 branch, then the "
        "atrous branches in the order of aspp.atrous, then image pooling last":
            aspp.project(torch.cat([pooled, one, *atrous], dim=1)),
        "the atrous branches are in reverse order: concatenate them in the order of aspp.atrous (rates "
        f"{aspp.rates})": aspp.project(torch.cat([one, *reversed(atrous), pooled], dim=1)),
    }


@checker
def check_aspp_forward(aspp_forward) -> CheckResult:
    """Check ``aspp_forward(features, aspp) -> tensor`` against :meth:`segedu.models.ASPP.forward`.

    Runs it on random ``2 x 6 x 8 x 8`` features with :func:`checking_aspp` (eval mode, so the
    dropout is off) and compares with the module's own forward pass.
    """
    if not_done(aspp_forward, ANSWER_TYPES):
        return failed(NOT_DONE, "define aspp_forward(features, aspp) and pass the function itself")
    problem = expect_function(aspp_forward, "aspp_forward", "check_aspp_forward(aspp_forward)")
    if problem is not None:
        return problem
    aspp = checking_aspp()
    features = torch.randn(2, ASPP_IN, ASPP_SIZE, ASPP_SIZE, generator=torch.Generator().manual_seed(3))
    branches = 2 + len(aspp.rates)
    with torch.no_grad():
        try:
            got = aspp_forward(features.clone(), aspp)
        except Exception as error:  # the learner's code: report, never crash the notebook
            return failed(
                raised(error, "aspp_forward"),
                f"run every branch on the same features (in parallel, not one after another), upsample the "
                f"pooled one to h x w, concatenate the {branches} results along dim=1 ({branches} x {ASPP_OUT} = "
                f"{branches * ASPP_OUT} channels, what aspp.project expects), then aspp.project",
            )
        if got is None or got is Ellipsis:
            return failed(NOT_DONE, "return the projected tensor")
        if isinstance(got, torch.Tensor) and got.dim() == 4 and got.shape[1] == branches * ASPP_OUT:
            return failed(f"the result has {got.shape[1]} channels, the concatenation's: it never went through "
                          "the projection", f"finish with aspp.project(...), back to {ASPP_OUT} channels")
        problem = expect_tensor(got, "aspp_forward(features, aspp)", (2, ASPP_OUT, ASPP_SIZE, ASPP_SIZE))
        if problem is not None:
            return failed(problem.message, f"ASPP keeps the map's size and ends with {ASPP_OUT} channels")
        problem = expect_tensor(got, "aspp_forward(features, aspp)", dtype=features.dtype)
        if problem is not None:
            return failed(problem.message, "the module and the features are float32: leave the dtype alone (no "
                          ".double() or dtype=... on the way)")
        want = aspp(features)
        if torch.allclose(got, want, atol=1e-5):
            return passed(f"aspp_forward matches the module: {branches} parallel branches (1x1, rates "
                          f"{', '.join(map(str, aspp.rates))}, image pooling), concatenated and projected")
        for mistake, wrong in _aspp_variants(features, aspp).items():
            if torch.allclose(got, wrong, atol=1e-5):
                return failed(mistake)
    return failed(f"the values differ from the module's (max difference {float((got - want).abs().max()):.3g})",
                  "concatenate [aspp.conv1x1(x), *(conv(x) for conv in aspp.atrous), image pooling upsampled] "
                  "along dim=1, then aspp.project")


# ---------------------------------------------------------------- exercise 2: atrous rates for a map size

PAPER_RATES, PAPER_MAP = (6, 12, 18), 33
"""DeepLabV3's rates and the side of the maps they were chosen for (513-pixel crops at output stride 16)."""
MIN_VALID = valid_weight_fraction(max(PAPER_RATES), PAPER_MAP)
"""Share of a 3x3 filter inside the map that the paper's largest rate keeps on its maps (about 0.40)."""


MAX_MAP = 1024
"""The largest feature map :func:`check_atrous_rates` takes (the paper's are 33 or 65 px, the course's 8)."""


def largest_useful_rate(size: int) -> int:
    """The largest rate whose 3x3 filter keeps at least :data:`MIN_VALID` of its taps inside a ``size`` map
    (1 if none does). A bisection: the share of taps inside only falls as the rate grows, and from rate ``size``
    on only the centre tap is left."""
    low, high = 1, max(1, size)
    while low < high:
        middle = (low + high + 1) // 2
        if valid_weight_fraction(middle, size) >= MIN_VALID:
            low = middle
        else:
            high = middle - 1
    return low


@checker
def check_atrous_rates(rates, map_size: int = 8) -> CheckResult:
    """Check three atrous rates for ASPP's 3x3 branches on ``map_size x map_size`` feature maps.

    Right: three different whole numbers >= 1 (ints, numpy or torch ones, or whole floats), each keeping at least
    :data:`MIN_VALID` of its filter inside the map (as the paper's largest rate, 18, does on its 33 x 33 maps).
    """
    if not_done(rates, ANSWER_TYPES):
        return failed(NOT_DONE, "write three rates as a tuple, e.g. (1, 2, 3)")
    map_size, problem = whole_number(map_size, "map_size", minimum=1, maximum=MAX_MAP)
    if problem is not None:
        return problem
    if not isinstance(rates, (tuple, list, set, frozenset, numpy.ndarray, torch.Tensor)) or (
            isinstance(rates, (numpy.ndarray, torch.Tensor)) and rates.ndim != 1):
        return failed(f"rates should be a tuple of three ints, got {describe(rates)}", "e.g. (1, 2, 3)")
    if len(rates) != 3:
        return failed(f"ASPP here has three atrous branches; got {len(rates)} rate(s): {describe(rates)}",
                      "give exactly three rates")
    rates, problem = whole_numbers(rates, "rates (the gaps between filter taps)", "(1, 2, 3)", sets=True)
    if problem is not None:
        return problem
    useful = largest_useful_rate(map_size)
    if useful < 3:
        return failed(f"on {map_size} x {map_size} maps only rate 1{' and 2' if useful == 2 else ''} keep "
                      f"{MIN_VALID:.0%} of a 3x3 filter's taps inside the map: no three different rates do (maps of "
                      f"6 x 6 or more allow three)", "ASPP's dilated branches need a larger map: give map_size >= 6")
    if rates in (PAPER_RATES, tuple(2 * r for r in PAPER_RATES)):
        return failed(f"{rates} are the paper's rates, chosen for {PAPER_MAP} x {PAPER_MAP} maps (or 65 x 65 at "
                      f"output stride 8); on {map_size} x {map_size} maps a filter with rate {max(rates)} keeps "
                      f"{valid_weight_fraction(max(rates), map_size):.0%} of its taps inside",
                      f"scale them to the map: rates up to {useful} keep at least {MIN_VALID:.0%}, as the "
                      f"paper's rate {max(PAPER_RATES)} does on its maps")
    if min(rates) < 1:
        return failed(f"rate {min(rates)} is not a convolution: rate 1 is the ordinary 3x3 filter, rate r leaves "
                      "r - 1 pixels between taps", "use rates >= 1")
    if len(set(rates)) < 3:
        return failed(f"{rates} repeats a rate: two branches would look at the same neighbourhood",
                      "pick three different rates, from small to large")
    too_large = [rate for rate in sorted(rates) if valid_weight_fraction(rate, map_size) < MIN_VALID]
    if too_large:
        rate = too_large[0]
        return failed(f"on {map_size} x {map_size} maps, rate {rate} keeps only "
                      f"{valid_weight_fraction(rate, map_size):.0%} of its 3x3 taps inside the map: the rest "
                      f"multiply the zero padding (at rate {map_size} or more only the centre tap is left, a 1x1 "
                      "convolution)",
                      f"keep every rate at most {useful} (at least {MIN_VALID:.0%} of the taps inside, like the "
                      f"paper's largest rate on its maps); image pooling covers the whole map anyway")
    kept = ", ".join(f"rate {rate}: {valid_weight_fraction(rate, map_size):.0%}" for rate in sorted(rates))
    return passed(f"rates {tuple(sorted(rates))} suit {map_size} x {map_size} maps (taps inside the map: {kept})")


# ---------------------------------------------------------------- exercise 3: which model fixes which error

MODELS = ("unet_ppm", "unet_context", "deeplabv3plus")
"""The models of the prediction (the runs of notebook 08)."""
FIXES = ("boats_and_cars", "wires")
"""``"boats_and_cars"``: boat and car IoU both >= :data:`BOAT_CAR_LEVEL` (U-Net's error fixed);
``"wires"``: wire IoU at most :data:`WIRE_MARGIN` below U-Net's (PSPNet's error avoided)."""
BOAT_CAR_LEVEL = find_claim("mixed.context_boat").needs  # the course's claims about unet_context, asked of every model
WIRE_MARGIN = -find_claim("mixed.context_keeps_wires").needs


def _iou_table_problem(name: str, source) -> CheckResult | None:
    """A failing result when ``source`` is not something :func:`class_ious` reads into class -> IoU (0..1 or None)."""
    try:
        ious = class_ious(source)
    except TypeError:
        return failed(f"measured[{name!r}] should be Scores, a leaderboard record or a dict class -> IoU, got "
                      f"{describe(source)}", "pass the runs' evaluate(...) results or records")
    for label, value in ious.items():
        if value is not None and not (isinstance(value, numbers.Real) and not isinstance(value, bool)
                                      and math.isfinite(value) and 0 <= value <= 1):
            return failed(f"measured[{name!r}][{label!r}] is {describe(value)}, not an IoU between 0 and 1",
                          "pass the runs' evaluate(...) results or records")
    return None


def class_ious(source) -> dict[str, float | None]:
    """Per-class IoU of ``source``: a :class:`~segedu.metrics.Scores`, a leaderboard record, or such a dict."""
    if hasattr(source, "class_iou"):
        return dict(source.class_iou)
    if isinstance(source, dict) and "class_iou" in source and isinstance(source["class_iou"], dict):
        return dict(source["class_iou"])
    if isinstance(source, dict):
        return dict(source)
    raise TypeError(f"expected Scores, a leaderboard record or a dict of class IoUs, got {type(source).__name__}")


def what_the_run_says(measured: dict) -> dict[str, set[str]]:
    """What each model of :data:`MODELS` in ``measured`` gets right, from its IoUs (see :data:`FIXES`).

    ``measured``: run name -> class IoUs (anything :func:`class_ious` reads), with ``"unet"`` for
    the wire reference. Models missing from ``measured`` are left out.
    """
    ious = {run: class_ious(source) for run, source in measured.items()}
    unet_wire = ious.get("unet", {}).get("wire")
    truth = {}
    for run in MODELS:
        if run not in ious:
            continue
        got, boat, car, wire = set(), ious[run].get("boat"), ious[run].get("car"), ious[run].get("wire")
        if boat is not None and car is not None and min(boat, car) >= BOAT_CAR_LEVEL:
            got.add("boats_and_cars")
        if wire is not None and unet_wire is not None and wire >= unet_wire - WIRE_MARGIN:
            got.add("wires")
        truth[run] = got
    return truth


_WHY = {  # (run, fix, what the run says) -> why, for a prediction that says the opposite
    ("unet_ppm", "boats_and_cars", False):
        "its pyramid sits at the bottleneck: the scene reaches a pixel only through three upsamplings, each "
        "merged with a skip that knows nothing of the scene, and the decoder learned to predict from the skips",
    ("unet_ppm", "wires", True):
        "it keeps every skip of U-Net: the full-resolution detail still reaches the classifier",
    ("unet_context", "boats_and_cars", True):
        "the pooled scene is concatenated next to every pixel's features right before the classifier: one "
        "step from the prediction, not three upsamplings away",
    ("unet_context", "wires", True):
        "the context is added next to U-Net's last decoder map, not instead of it: the skips still bring the wires",
    ("deeplabv3plus", "boats_and_cars", True):
        "ASPP's image-pooling branch is a global prior, and the light decoder puts it two layers before the "
        "classifier",
    ("deeplabv3plus", "boats_and_cars", False):
        "ASPP's image pooling is a global prior, but nothing makes the network use it: the band is one row in "
        "eight of the 8 x 8 map it averages, and the projection mixes it with four local branches before the "
        "decoder; a prior that is there is not always a prior that is used",
    ("deeplabv3plus", "wires", False):
        "its decoder comes back only to stride 4, with one skip: a wire one or two pixels wide is thinner than "
        "a stride-4 cell, and the final x4 bilinear upsampling cannot draw it back",
}
def _iou(ious: dict, name: str) -> str:
    value = ious.get(name)
    return "-" if value is None else f"{value:.2f}"


_PHRASES = {"boats_and_cars": ("tells boats from cars", "does not tell boats from cars"),
            "wires": ("keeps the wires", "loses the wires")}


@checker
def check_who_fixes_what(prediction, measured) -> CheckResult:
    """Check a prediction of what each model gets right against measured IoUs.

    ``prediction``: run (each of :data:`MODELS`) -> a set of :data:`FIXES` (possibly empty), written
    before looking at the numbers. ``measured``: see :func:`what_the_run_says`.
    """
    unfilled = isinstance(prediction, dict) and any(not_done(v, ANSWER_TYPES) for v in prediction.values())
    if not_done(prediction, ANSWER_TYPES) or unfilled:
        return failed(NOT_DONE, 'write a dict such as {"unet_ppm": {"wires"}, ...}, one set per model')
    if not isinstance(prediction, dict):
        return failed(f"the prediction should be a dict run -> set, got {type(prediction).__name__}")
    missing, unknown = set(MODELS) - set(prediction), set(prediction) - set(MODELS)
    if unknown or missing:
        return failed(f"the prediction should have exactly the runs {', '.join(MODELS)}"
                      + (f"; unknown: {', '.join(sorted(map(str, unknown)))}" if unknown else "")
                      + (f"; missing: {', '.join(sorted(missing))}" if missing else ""))
    predicted = {}
    for run, fixes in prediction.items():
        fixes = {fixes} if isinstance(fixes, str) else fixes
        if not isinstance(fixes, (set, frozenset, list, tuple)) or not all(
                isinstance(fix, str) and fix in FIXES for fix in fixes):
            return failed(f"{run}: {describe(fixes)} is not a set of {FIXES}", 'e.g. {"wires"}, or set() for neither')
        predicted[run] = set(fixes)
    if not isinstance(measured, dict):
        return failed(f"measured should be a dict run -> IoUs, got {describe(measured)}",
                      "pass the measured IoUs of the runs, with U-Net's as measured['unet']")
    for run, source in measured.items():
        problem = _iou_table_problem(run, source)
        if problem is not None:
            return problem
    ious = {run: class_ious(source) for run, source in measured.items()}
    if ious.get("unet", {}).get("wire") is None:
        return failed("no wire IoU for 'unet' in the measurements: it is the reference for the wires",
                      "pass U-Net's IoUs as measured['unet']")
    truth = what_the_run_says(ious)
    not_measured = [run for run in MODELS if run not in truth]
    for run in MODELS:
        if run not in truth:
            continue
        for fix in FIXES:
            says = fix in truth[run]
            if (fix in predicted[run]) == says:
                continue
            numbers = (f"boat {_iou(ious[run], 'boat')}, car {_iou(ious[run], 'car')}" if fix == "boats_and_cars"
                       else f"wire {_iou(ious[run], 'wire')}, U-Net's {_iou(ious['unet'], 'wire')}")
            phrase = _PHRASES[fix][0 if says else 1]
            why = _WHY.get((run, fix, says), "the measurement disagrees with the usual story: look at this run's "
                                             "numbers next to the leaderboard's seeds")
            return failed(f"the run says {run} {phrase} ({numbers})", why)
    done = ", ".join(f"{run}: {', '.join(sorted(truth[run])) or 'neither'}" for run in MODELS if run in truth)
    if not_measured:
        return failed(f"right for the measured models ({done}); no measurement for {', '.join(not_measured)}",
                      "train them or load the committed leaderboard, then check again")
    return passed(f"your prediction matches the run: {done}")
