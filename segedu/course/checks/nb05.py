"""Checkers for notebook 05 (pyramid pooling).

* :func:`check_level_shapes`: the shapes of one pyramid level (pool, 1x1 reduce, upsample).
* :func:`check_pyramid_level`: the learner's implementation of one pyramid level.
* :func:`check_bins_that_tell_apart`: which bin sizes tell two feature maps apart
  (:data:`PAIRS`, :func:`pair_maps` draw the maps).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segedu.course.checks import CheckResult, expect_tensor, failed, passed

BINS = (1, 2, 3, 6)

NOT_DONE = "not done yet: replace the ... with your answer"


def _not_done(value) -> bool:
    return value is None or value is Ellipsis or (isinstance(value, (tuple, list)) and Ellipsis in value)


# ---------------------------------------------------------------- exercise 1: shapes of one level


def level_shapes(
    batch: int, channels: int, height: int, width: int, bin_size: int, branches: int = 4
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The shapes ``(after pooling, after the 1x1 reduction, after upsampling)`` of one pyramid level.

    Pooling gives ``N x C x bin x bin``; the 1x1 convolution reduces ``C`` to ``C // branches``;
    bilinear upsampling brings the map back to ``h x w``.
    """
    reduced = channels // branches
    return (
        (batch, channels, bin_size, bin_size),
        (batch, reduced, bin_size, bin_size),
        (batch, reduced, height, width),
    )


def check_level_shapes(
    after_pool,
    after_reduce,
    after_upsample,
    *,
    batch: int = 2,
    channels: int = 96,
    height: int = 8,
    width: int = 8,
    bin_size: int = 3,
    branches: int = 4,
) -> CheckResult:
    """Check three shapes (tuples of ints) for one level of a pyramid pooling module.

    The question: a feature map ``batch x channels x height x width`` goes through the level
    with ``bin_size`` bins of a module with ``branches`` levels (dimension reduction on).
    """
    answers = {
        "after pooling": after_pool,
        "after the 1x1 reduction": after_reduce,
        "after upsampling": after_upsample,
    }
    if any(_not_done(value) for value in answers.values()):
        return failed(NOT_DONE, "write each shape as a tuple such as (2, 96, 8, 8)")
    expected = dict(
        zip(answers, level_shapes(batch, channels, height, width, bin_size, branches), strict=True)
    )
    hints = {
        "after pooling": f"adaptive pooling keeps N and C and makes the map {bin_size} x {bin_size}, whatever h x w is",
        "after the 1x1 reduction": f"a 1x1 convolution keeps the spatial size; it reduces C to C / {branches} "
        f"(one share per pyramid level)",
        "after upsampling": "bilinear upsampling changes only the spatial size: back to the feature map's h x w",
    }
    for name, value in answers.items():
        try:
            got = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            return failed(f"the shape {name} should be a tuple of ints, got {value!r}", "e.g. (2, 96, 8, 8)")
        if got != expected[name]:
            return failed(f"the shape {name} is not {got}", hints[name])
    return passed(
        f"shapes {expected['after pooling']} -> {expected['after the 1x1 reduction']} -> "
        f"{expected['after upsampling']}"
    )


# ---------------------------------------------------------------- exercise 2: one pyramid level


def reference_level(features: torch.Tensor, bin_size: int, conv: nn.Conv2d) -> torch.Tensor:
    """One pyramid level as :class:`segedu.models.PyramidPoolingModule` computes it.

    ``N x C x h x w -> N x C' x h x w``: adaptive average pooling to ``bin_size x bin_size``,
    ``conv`` (1x1, ``C -> C'``), ReLU, bilinear upsampling (``align_corners=False``) to ``h x w``.
    """
    pooled = F.adaptive_avg_pool2d(features, bin_size)
    reduced = torch.relu(conv(pooled))
    return F.interpolate(reduced, size=features.shape[-2:], mode="bilinear", align_corners=False)


def _variants(features: torch.Tensor, bin_size: int, conv: nn.Conv2d) -> dict[str, torch.Tensor]:
    """Typical wrong answers and what to say about them."""
    size = features.shape[-2:]
    avg = F.adaptive_avg_pool2d(features, bin_size)
    up = {"bilinear": lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)}
    return {
        "it uses max pooling: the PSPNet module here averages (F.adaptive_avg_pool2d)": up["bilinear"](
            torch.relu(conv(F.adaptive_max_pool2d(features, bin_size)))
        ),
        "the ReLU after the 1x1 convolution is missing": up["bilinear"](conv(avg)),
        "it upsamples with align_corners=True; the course uses align_corners=False (as torchvision)": F.interpolate(
            torch.relu(conv(avg)), size=size, mode="bilinear", align_corners=True
        ),
        "it upsamples with nearest-neighbour copies: use mode='bilinear'": F.interpolate(
            torch.relu(conv(avg)), size=size, mode="nearest"
        ),
        "the ReLU comes before the 1x1 convolution: pool, convolve, then ReLU": up["bilinear"](
            conv(torch.relu(avg))
        ),
    }


def check_pyramid_level(pyramid_level) -> CheckResult:
    """Check ``pyramid_level(features, bin_size, conv) -> tensor`` against :func:`reference_level`.

    Runs it on random feature maps (``2 x 8 x 10 x 12``) for bins 1, 2, 3 and 6 with a fixed
    1x1 convolution ``8 -> 2``.
    """
    if _not_done(pyramid_level) or not callable(pyramid_level):
        return failed(NOT_DONE, "define pyramid_level(features, bin_size, conv) and pass the function itself")
    generator = torch.Generator().manual_seed(5)
    features = torch.randn(2, 8, 10, 12, generator=generator)
    conv = nn.Conv2d(8, 2, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator))
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.5)
    for bin_size in BINS:
        with torch.no_grad():
            try:
                got = pyramid_level(features.clone(), bin_size, conv)
            except Exception as error:  # the learner's code: report, never crash the notebook
                return failed(
                    f"pyramid_level raised {type(error).__name__}: {error}",
                    "print the shape after each step (pool, conv, upsample)",
                )
            if got is None or got is Ellipsis:
                return failed(NOT_DONE, "return the upsampled tensor")
            problem = expect_tensor(got, f"pyramid_level(features, {bin_size}, conv)", (2, 2, 10, 12))
            if problem is not None:
                return failed(
                    problem.message,
                    "the level must come back to the feature map's size "
                    "(F.interpolate(..., size=features.shape[-2:], ...)) with the conv's output channels",
                )
            want = reference_level(features, bin_size, conv)
            if torch.allclose(got, want, atol=1e-5):
                continue
            for mistake, wrong in _variants(features, bin_size, conv).items():
                if torch.allclose(got, wrong, atol=1e-5):
                    return failed(f"with bin {bin_size}: {mistake}")
            return failed(
                f"with bin {bin_size} the values differ from the reference (max difference "
                f"{float((got - want).abs().max()):.3g})",
                "pool with F.adaptive_avg_pool2d(features, bin_size), apply conv, then torch.relu, "
                "then F.interpolate(..., size=features.shape[-2:], mode='bilinear', align_corners=False)",
            )
    return passed("pyramid_level matches the module's level for bins 1, 2, 3 and 6")


# ---------------------------------------------------------------- exercise 3: what a bin size can see

PAIRS = ("band", "centre")
"""The two pairs of 1-channel 6x6 feature maps of exercise 3."""


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


def check_bins_that_tell_apart(answer, pair: str) -> CheckResult:
    """Check the set of bin sizes (among 1, 2, 3, 6) that tell the two maps of ``pair`` apart."""
    if _not_done(answer):
        return failed(NOT_DONE, "write a set of bin sizes, e.g. {2, 6}")
    try:
        chosen = {int(size) for size in answer}
    except (TypeError, ValueError):
        return failed(f"the answer should be a set of ints such as {{2, 6}}, got {answer!r}")
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
