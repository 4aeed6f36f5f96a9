"""Checkers of notebook 05 (pyramid pooling): right answers pass, typical wrong ones fail with a useful message."""

import numpy as np
import pytest
import torch

from segedu.course import recipes
from segedu.course.checks import nb05
from segedu.models import count_parameters

RIGHT = {"pspnet_noppm": (64, 0), "pspnet_b1": (128, 4160), "pspnet_max": (128, 4160), "pspnet_nodr": (320, 0),
         "pspnet": (128, 4160)}


def test_variant_sizes_are_measured_on_the_course_models():
    assert nb05.variant_sizes(64) == RIGHT
    model = recipes.build_run("pspnet", 3, "context")
    channels = model.backbone.channels["stage5"]
    assert nb05.variant_sizes(channels)["pspnet"] == (model.ppm.out_channels, count_parameters(model.ppm))
    nodr = recipes.build_run("pspnet_nodr", 3, "context")
    assert nb05.variant_sizes(channels)["pspnet_nodr"] == (nodr.ppm.out_channels, count_parameters(nodr.ppm))


def test_variant_sizes_pass_the_right_answer():
    result = nb05.check_variant_sizes(RIGHT)
    assert result and "B1 has the same channels and parameters" in result.message
    assert nb05.check_variant_sizes({**RIGHT, "pspnet": [128, 4160]})  # a list is fine
    assert nb05.check_variant_sizes(nb05.variant_sizes(96), channels=96)


def test_variant_sizes_diagnose_the_typical_mistakes():
    assert "not done" in nb05.check_variant_sizes(...).message
    assert "not done" in nb05.check_variant_sizes({**RIGHT, "pspnet_b1": ...}).message
    assert "missing runs: pspnet_max" in nb05.check_variant_sizes({k: v for k, v in RIGHT.items()
                                                                   if k != "pspnet_max"}).message
    quarter = nb05.check_variant_sizes({**RIGHT, "pspnet_b1": (80, 64 * 16 + 16)})
    assert not quarter and "quarter" in quarter.message and "keeps all C" in quarter.hint
    no_bias = nb05.check_variant_sizes({**RIGHT, "pspnet": (128, 4096)})
    assert not no_bias and "biases" in no_bias.message
    per_cell = nb05.check_variant_sizes({**RIGHT, "pspnet": (128, 50 * 1040)})
    assert not per_cell and "pooling has no weights" in per_cell.hint
    no_features = nb05.check_variant_sizes({**RIGHT, "pspnet": (64, 4160)})
    assert not no_features and "features themselves" in no_features.hint
    conv_without_dr = nb05.check_variant_sizes({**RIGHT, "pspnet_nodr": (320, 4 * (64 * 64 + 64))})
    assert not conv_without_dr and "does not have" in conv_without_dr.message
    reduced_without_dr = nb05.check_variant_sizes({**RIGHT, "pspnet_nodr": (128, 0)})
    assert not reduced_without_dr and "keeps all C" in reduced_without_dr.hint
    noppm = nb05.check_variant_sizes({**RIGHT, "pspnet_noppm": (128, 4160)})
    assert not noppm and "without the module" in noppm.hint
    max_pool = nb05.check_variant_sizes({**RIGHT, "pspnet_max": (128, 0)})
    assert not max_pool and "compare with pspnet" in max_pool.hint
    assert "pspnet should be a sequence such as (128, 4160), got 'big'" in nb05.check_variant_sizes(
        {**RIGHT, "pspnet": "big"}).message
    assert "pair" in nb05.check_variant_sizes({**RIGHT, "pspnet": (1, 2, 3)}).message
    assert not nb05.check_variant_sizes([1, 2])


def test_pair_maps_have_equal_means():
    for name in nb05.PAIRS:
        a, b = nb05.pair_maps(name)
        assert a.shape == b.shape == (1, 1, 6, 6)
        assert torch.isclose(a.mean(), b.mean())


def test_bins_that_tell_apart():
    assert nb05.bins_that_tell_apart(*nb05.pair_maps("band")) == {2, 3, 6}
    assert nb05.bins_that_tell_apart(*nb05.pair_maps("centre")) == {3, 6}
    assert nb05.check_bins_that_tell_apart({2, 3, 6}, "band")
    assert nb05.check_bins_that_tell_apart([3, 6], "centre")
    assert "not done" in nb05.check_bins_that_tell_apart(..., "band").message
    one = nb05.check_bins_that_tell_apart({1, 2, 3, 6}, "band")
    assert not one and "1x1 pool cannot" in one.message and "mean" in one.hint
    extra = nb05.check_bins_that_tell_apart({2, 3, 6}, "centre")
    assert not extra and "bin 2 gives the same" in extra.message
    missing = nb05.check_bins_that_tell_apart({6}, "band")
    assert not missing and "bin 2 does tell" in missing.message
    assert "not bin sizes" in nb05.check_bins_that_tell_apart({4}, "band").message


@pytest.mark.parametrize("wrong, words", [((128.5, 4160.9), "a fraction"), (("128", "4160"), "the string '128'"),
                                          ((128, float("nan")), "is nan"), ((128, True), "True")])
def test_variant_sizes_never_truncate_fractions_or_read_strings(wrong, words):
    """Issue 26: (128.5, 4160.9) and strings passed as (128, 4160)."""
    result = nb05.check_variant_sizes({**RIGHT, "pspnet": wrong})
    assert not result and words in result.message and "pspnet" in result.message, result


def test_variant_sizes_read_numpy_and_torch_and_refuse_odd_channels():
    assert nb05.check_variant_sizes({run: np.array(value) for run, value in RIGHT.items()})
    assert nb05.check_variant_sizes({run: torch.tensor(value) for run, value in RIGHT.items()})
    assert nb05.check_variant_sizes({**RIGHT, "pspnet": (np.int64(128), 4160.0)})
    assert "at most 1024" in nb05.check_variant_sizes(RIGHT, channels=10**12).message
    assert "at least 1" in nb05.check_variant_sizes(RIGHT, channels=0).message


def test_bins_are_whole_numbers_in_any_spelling():
    """Issue 26: {2.5} was read as {2}."""
    fraction = nb05.check_bins_that_tell_apart({2.5, 3, 6}, "band")
    assert not fraction and "2.5" in fraction.message and "fraction" in fraction.message
    assert not nb05.check_bins_that_tell_apart({2.5}, "band")
    assert "string" in nb05.check_bins_that_tell_apart(["3", "6"], "centre").message
    for spelling in (np.array([3, 6]), torch.tensor([3, 6]), (np.int64(3), 6.0), frozenset({3, 6})):
        assert nb05.check_bins_that_tell_apart(spelling, "centre"), spelling
    assert "pair should be one of 'band', 'centre'" in nb05.check_bins_that_tell_apart({3, 6}, "middle").message
    assert "not done" in nb05.check_bins_that_tell_apart({3, ...}, "centre").message
