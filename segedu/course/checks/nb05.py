"""Checkers for notebook 05 (pyramid pooling).

* :func:`check_variant_sizes`: the channels each variant of the paper's ablation hands to the head, and the
  parameters of its pyramid pooling module (:func:`variant_sizes` measures them).
* :func:`check_bins_that_tell_apart`: which bin sizes tell two feature maps apart
  (:data:`PAIRS`, :func:`pair_maps` draw the maps).

Each checker takes the learner's answer and returns a :class:`~segedu.course.checks.CheckResult`;
an unfilled answer (``...`` or ``None``) gives "not done yet", never an exception.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from segedu.course.checks import (
    CheckResult,
    checker,
    describe,
    failed,
    not_done,
    passed,
    whole_number,
    whole_numbers,
)
from segedu.experiments.runs import RUNS
from segedu.models import PyramidPoolingModule, count_parameters

BINS = (1, 2, 3, 6)

NOT_DONE = "not done yet: replace the ... with your answer"
ANSWER_TYPES = (tuple, list, set, frozenset)
"""Answers of these types are not done while they still hold a ``...``."""
MAX_CHANNELS = 1024
"""The widest backbone :func:`check_variant_sizes` takes (the exercise's has 64 channels)."""


# ---------------------------------------------------------------- exercise 1: what each variant adds

VARIANTS = ("pspnet_noppm", "pspnet_b1", "pspnet_max", "pspnet_nodr", "pspnet")
"""The runs of the ablation table, whose module sizes exercise 1 asks for."""


def variant_sizes(channels: int = 64) -> dict[str, tuple[int, int]]:
    """``{run: (channels the head reads, parameters of the pyramid pooling module)}`` for a backbone whose last
    feature map has ``channels`` channels, measured on :class:`~segedu.models.PyramidPoolingModule` built with
    each run's options (no module at all for ``pspnet_noppm``); measured once per ``channels``."""
    return dict(_measured_variant_sizes(channels))


@functools.lru_cache(maxsize=8)
def _measured_variant_sizes(channels: int) -> dict[str, tuple[int, int]]:
    sizes = {}
    for run in VARIANTS:
        options = dict(RUNS[run][1])
        if options.pop("ppm", True) is False:
            sizes[run] = (channels, 0)
            continue
        module = PyramidPoolingModule(channels, **options)
        sizes[run] = (module.out_channels, count_parameters(module))
    return sizes


def _variant_mistakes(run: str, channels: int) -> dict[tuple[int, int], tuple[str, str]]:
    """What typical wrong answers give for ``run``: ``{(channels, parameters): (mistake, hint)}``."""
    options = RUNS[run][1]
    bins = options.get("bins", (1, 2, 3, 6))
    if options.get("ppm", True) is False:
        return {}
    reduce = options.get("reduce", True)
    branch = channels // len(bins) if reduce else channels
    right_parameters = len(bins) * (channels * branch + branch) if reduce else 0
    mistakes = {
        (len(bins) * branch, right_parameters): (
            "left the backbone's own features out of the concatenation",
            "the module concatenates the features themselves with every pooled level"),
    }
    if reduce:
        mistakes[(channels + len(bins) * branch, len(bins) * channels * branch)] = (
            "forgot the biases of the 1x1 convolutions", "each 1x1 convolution has one bias per output channel")
        mistakes[(channels + len(bins) * branch, sum(b * b for b in bins) * (channels * branch + branch))] = (
            "gave every pooled cell its own weights",
            "pooling has no weights, and one 1x1 convolution per level is shared by all its cells")
        if len(bins) == 1:
            quarter = channels // 4
            mistakes[(channels + quarter, channels * quarter + quarter)] = (
                "reduced the single level to a quarter of the channels",
                "a level gets C // len(bins) channels: with one bin it keeps all C")
    else:
        with_conv = len(bins) * (channels * channels + channels)
        mistakes[(channels + len(bins) * channels, with_conv)] = (
            "counted a 1x1 convolution that the variant without dimension reduction does not have",
            "without dimension reduction the pooled maps are upsampled and concatenated as they are")
        mistakes[(channels + len(bins) * (channels // len(bins)), 0)] = (
            "reduced the channels without a convolution to do it",
            "without dimension reduction each level keeps all C channels")
    return mistakes


@checker
def check_variant_sizes(answer, channels: int = 64) -> CheckResult:
    """``answer``: ``{run: (channels the head reads, parameters of the module)}`` for every run of
    :data:`VARIANTS`, for a backbone with ``channels`` channels (see :func:`variant_sizes`)."""
    if not_done(answer, ANSWER_TYPES):
        return failed(NOT_DONE, "fill in a pair (channels, parameters) for every run")
    if not isinstance(answer, dict):
        return failed(f"answer should be a dict run -> (channels, parameters), got {type(answer).__name__}")
    channels, problem = whole_number(channels, "channels (of the backbone's last map)", minimum=1,
                                     maximum=MAX_CHANNELS)
    if problem is not None:
        return problem
    missing = [run for run in VARIANTS if run not in answer]
    if missing:
        return failed(f"missing runs: {', '.join(missing)}", f"give all of {', '.join(VARIANTS)}")
    expected = variant_sizes(channels)
    for run in VARIANTS:
        value = answer[run]
        if not_done(value, ANSWER_TYPES):
            return failed(f"{NOT_DONE} ({run})")
        got, problem = whole_numbers(value, run, "(128, 4160)")
        if problem is not None:
            return problem
        if len(got) != 2:
            return failed(f"{run} should be a pair (channels, parameters), got {describe(value)}")
        if got == expected[run]:
            continue
        wrong = "channels" if got[0] != expected[run][0] else "parameters"
        mistake = _variant_mistakes(run, channels).get(got)
        if mistake is not None:
            return failed(f"{run}: {got} is not right: it looks like you {mistake[0]}", mistake[1])
        if run == "pspnet_noppm":
            return failed(f"{run}: {got} is not right", f"without the module the head reads the backbone's {channels} "
                          "channels, and there is no module to have parameters")
        if run == "pspnet_max":
            return failed(f"{run}: the {wrong} are not {got[0 if wrong == 'channels' else 1]}",
                          "max or average pooling changes what a level computes, not its size: compare with pspnet")
        return failed(f"{run}: the {wrong} are not {got[0 if wrong == 'channels' else 1]}",
                      "read PyramidPoolingModule in segedu/models/pspnet.py: a level has C // len(bins) channels "
                      "with dimension reduction (a 1x1 convolution with bias), C without it (no convolution)")
    pspnet, b1 = expected["pspnet"], expected["pspnet_b1"]
    same = ("the same channels and parameters as B1236: what differs is where the numbers come from"
            if pspnet == b1 else f"{b1} against B1236's {pspnet}")
    return passed(f"all {len(VARIANTS)} variants right; note that B1 has {same}")


# ---------------------------------------------------------------- exercise 2: what a bin size can see

PAIRS = ("band", "centre")
"""The two pairs of 1-channel 6x6 feature maps of exercise 2."""


def pair_maps(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Two ``1 x 1 x 6 x 6`` feature maps with the same mean (a 1x1 pool cannot tell them apart).

    ``"band"``: ones in the top row vs ones in the bottom row (where is the scene cue?).
    ``"centre"``: a 2x2 block in the centre vs one pixel in each corner.
    """
    a, b = torch.zeros(1, 1, 6, 6), torch.zeros(1, 1, 6, 6)
    if name == "band":
        a[..., 0, :] = 1
        b[..., -1, :] = 1
    elif name == "centre":
        a[..., 2:4, 2:4] = 1
        b[..., 0, 0] = b[..., 0, -1] = b[..., -1, 0] = b[..., -1, -1] = 1
    else:
        raise ValueError(f"unknown pair {name!r}; pairs: {', '.join(PAIRS)}")
    return a, b


def bins_that_tell_apart(a: torch.Tensor, b: torch.Tensor, bins=BINS) -> set[int]:
    """The bin sizes whose average-pooled maps of ``a`` and ``b`` differ."""
    return {
        size
        for size in bins
        if not torch.allclose(F.adaptive_avg_pool2d(a, size), F.adaptive_avg_pool2d(b, size))
    }


@checker
def check_bins_that_tell_apart(answer, pair: str) -> CheckResult:
    """Check the set of bin sizes (among 1, 2, 3, 6) that tell the two maps of ``pair`` apart (a set, or a list,
    tuple, numpy array or tensor, of whole numbers)."""
    if not_done(answer, ANSWER_TYPES):
        return failed(NOT_DONE, "write a set of bin sizes, e.g. {2, 6}")
    if not (isinstance(pair, str) and pair in PAIRS):
        return failed(f"pair should be one of {', '.join(map(repr, PAIRS))}, got {describe(pair)}",
                      'e.g. check_bins_that_tell_apart(band_bins, "band")')
    sizes, problem = whole_numbers(answer, "the bin sizes", "{2, 6}", sets=True)
    if problem is not None:
        return problem
    chosen = set(sizes)
    if not chosen <= set(BINS):
        return failed(
            f"{sorted(chosen - set(BINS))} are not bin sizes of the module", "choose among 1, 2, 3, 6"
        )
    truth = bins_that_tell_apart(*pair_maps(pair))
    if chosen == truth:
        return passed(
            f"pair {pair!r}: bins {sorted(truth)} tell the maps apart, bins "
            f"{sorted(set(BINS) - truth)} see the same numbers"
        )
    if 1 in chosen:
        return failed(
            f"pair {pair!r}: a 1x1 pool cannot tell these maps apart",
            "both maps have the same mean, and a 1x1 bin keeps only the mean",
        )
    missing, extra = truth - chosen, chosen - truth
    if extra:
        size = min(extra)
        return failed(
            f"pair {pair!r}: bin {size} gives the same pooled numbers for both maps",
            f"split the 6x6 map into {size} x {size} cells of {6 // size} x {6 // size} pixels and "
            "count the ones in each cell",
        )
    size = min(missing)
    return failed(
        f"pair {pair!r}: bin {size} does tell them apart",
        f"pool both maps to {size} x {size} (F.adaptive_avg_pool2d) and compare",
    )
