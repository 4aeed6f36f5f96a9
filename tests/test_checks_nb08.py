"""Checkers of notebook 08 (both at once): right answers pass, each typical wrong answer gets its diagnosis."""

import time

import numpy as np
import pytest
import torch

from segedu.course.checks import nb08
from segedu.models import ASPP, valid_weight_fraction
from segedu.models.blocks import upsample_to


def right_forward(features, aspp):
    size = features.shape[-2:]
    branches = [aspp.conv1x1(features), *(conv(features) for conv in aspp.atrous),
                upsample_to(aspp.image_pooling(features), size)]
    return aspp.project(torch.cat(branches, dim=1))


def test_the_reference_answer_and_the_module_itself_pass():
    assert nb08.check_aspp_forward(right_forward)
    assert nb08.check_aspp_forward(lambda features, aspp: aspp(features))
    assert "not done" in nb08.check_aspp_forward(...).message


def test_the_checking_module_has_non_trivial_batchnorm_and_no_dropout():
    aspp = nb08.checking_aspp()
    assert isinstance(aspp, ASPP) and not aspp.training
    assert not torch.allclose(aspp.conv1x1[1].running_mean, torch.zeros(nb08.ASPP_OUT))


def test_aspp_forward_typical_mistakes_get_their_diagnosis():
    def no_pooling_average(features, aspp):  # the image-pooling conv at every pixel
        per_pixel = aspp.image_pooling[2](aspp.image_pooling[1](features))
        return aspp.project(torch.cat([aspp.conv1x1(features), *(c(features) for c in aspp.atrous), per_pixel], 1))

    def pooling_first(features, aspp):
        pooled = aspp.image_pooling(features).expand(-1, -1, *features.shape[-2:])
        return aspp.project(torch.cat([pooled, aspp.conv1x1(features), *(c(features) for c in aspp.atrous)], 1))

    def reversed_rates(features, aspp):
        pooled = upsample_to(aspp.image_pooling(features), features.shape[-2:])
        return aspp.project(torch.cat([aspp.conv1x1(features), *(c(features) for c in aspp.atrous[::-1]), pooled], 1))

    def no_projection(features, aspp):
        pooled = upsample_to(aspp.image_pooling(features), features.shape[-2:])
        return torch.cat([aspp.conv1x1(features), *(c(features) for c in aspp.atrous), pooled], 1)

    def missing_pooling(features, aspp):  # four branches: the projection refuses them
        return aspp.project(torch.cat([aspp.conv1x1(features), *(c(features) for c in aspp.atrous)], 1))

    def not_upsampled(features, aspp):  # 1x1 next to 8x8: torch.cat refuses
        return aspp.project(torch.cat([aspp.conv1x1(features), aspp.image_pooling(features)], 1))

    def stacked(features, aspp):  # atrous convs one after another instead of side by side
        x = features
        for conv in aspp.atrous:
            x = conv(x)
        return x

    def returns_nothing(features, aspp):
        pass

    result = nb08.check_aspp_forward(no_pooling_average)
    assert not result and "average the whole map first" in result.message
    assert "another order" in nb08.check_aspp_forward(pooling_first).message
    assert "reverse order" in nb08.check_aspp_forward(reversed_rates).message
    result = nb08.check_aspp_forward(no_projection)
    assert not result and "never went through the projection" in result.message and "aspp.project" in result.hint
    for broken in (missing_pooling, not_upsampled, stacked):
        result = nb08.check_aspp_forward(broken)
        assert not result and "raised RuntimeError" in result.message
        assert "in parallel" in result.hint and "20 channels" in result.hint
    assert "not done" in nb08.check_aspp_forward(returns_nothing).message
    result = nb08.check_aspp_forward(lambda features, aspp: aspp.conv1x1(features) * 2)
    assert not result and "differ from the module" in result.message


@pytest.mark.parametrize("rates", [(1, 2, 3), (2, 3, 4), [3, 1, 2], (1, 2, 4)])
def test_rates_that_suit_an_8x8_map_pass(rates):
    result = nb08.check_atrous_rates(rates, 8)
    assert result, result


def test_the_largest_useful_rate_follows_the_papers_share_of_valid_taps():
    assert nb08.MIN_VALID == pytest.approx((63 / 99) ** 2)  # rate 18 on 33 x 33 maps
    assert nb08.largest_useful_rate(33) == 18
    assert nb08.largest_useful_rate(8) == 4
    assert nb08.largest_useful_rate(16) == 8
    assert nb08.check_atrous_rates((2, 5, 8), 16)
    assert not nb08.check_atrous_rates((2, 5, 9), 16)


def test_atrous_rates_typical_mistakes_get_their_diagnosis():
    result = nb08.check_atrous_rates((6, 12, 18), 8)
    assert not result and "paper's rates" in result.message and "up to 4" in result.hint
    assert "paper's rates" in nb08.check_atrous_rates((12, 24, 36), 8).message
    result = nb08.check_atrous_rates((1, 2, 6), 8)
    assert not result and "rate 6 keeps only 25%" in result.message and "at most 4" in result.hint
    assert "repeats a rate" in nb08.check_atrous_rates((2, 2, 3), 8).message
    assert "not a convolution" in nb08.check_atrous_rates((0, 1, 2), 8).message
    assert "whole numbers" in nb08.check_atrous_rates((1.5, 2, 3), 8).message
    assert "whole numbers" in nb08.check_atrous_rates(("1", 2, 3), 8).message
    assert "three atrous branches" in nb08.check_atrous_rates((1, 2), 8).message
    assert "tuple of three" in nb08.check_atrous_rates(3, 8).message
    assert "not done" in nb08.check_atrous_rates(..., 8).message


MEASURED = {  # the story of the mixed track (boat/car fixed by the global prior, wires kept by the skips)
    "unet": {"boat": 0.30, "car": 0.30, "wire": 0.73},
    "unet_ppm": {"boat": 0.31, "car": 0.33, "wire": 0.72},
    "unet_context": {"boat": 0.90, "car": 0.89, "wire": 0.74},
    "deeplabv3plus": {"boat": 0.88, "car": 0.86, "wire": 0.25},
}
RIGHT = {"unet_ppm": {"wires"}, "unet_context": {"boats_and_cars", "wires"}, "deeplabv3plus": {"boats_and_cars"}}


def test_what_the_run_says_reads_the_thresholds():
    assert nb08.what_the_run_says(MEASURED) == RIGHT
    edge = {"unet": {"wire": 0.70}, "unet_ppm": {"boat": 0.80, "car": 0.80, "wire": 0.67}}
    assert nb08.what_the_run_says(edge) == {"unet_ppm": {"boats_and_cars", "wires"}}
    below = {"unet": {"wire": 0.70}, "unet_ppm": {"boat": 0.79, "car": 0.95, "wire": 0.66}}
    assert nb08.what_the_run_says(below) == {"unet_ppm": set()}


def test_the_right_prediction_passes_and_accepts_lists_and_scores():
    assert nb08.check_who_fixes_what(RIGHT, MEASURED)
    as_lists = {run: sorted(fixes) for run, fixes in RIGHT.items()}
    assert nb08.check_who_fixes_what(as_lists, MEASURED)
    records = {run: {"run": run, "class_iou": ious} for run, ious in MEASURED.items()}
    assert nb08.check_who_fixes_what(RIGHT, records)


@pytest.mark.parametrize("run, fix, words", [
    ("unet_ppm", "boats_and_cars", "at the bottleneck"),
    ("unet_ppm", "wires", "keeps every skip"),
    ("unet_context", "boats_and_cars", "right before the classifier"),
    ("unet_context", "wires", "skips still bring the wires"),
    ("deeplabv3plus", "boats_and_cars", "image-pooling branch"),
    ("deeplabv3plus", "wires", "stride 4"),
])
def test_each_wrong_guess_gets_its_diagnosis(run, fix, words):
    wrong = {key: set(value) for key, value in RIGHT.items()}
    wrong[run] ^= {fix}  # predict the opposite of what the run says for one model and one error
    result = nb08.check_who_fixes_what(wrong, MEASURED)
    assert not result and f"the run says {run}" in result.message and words in result.hint


def test_a_deeplab_that_swaps_boats_and_cars_gets_its_own_diagnosis():
    swapping = {**MEASURED, "deeplabv3plus": {"boat": 0.20, "car": 0.28, "wire": 0.26}}
    result = nb08.check_who_fixes_what(RIGHT, swapping)
    assert not result and "deeplabv3plus does not tell boats from cars (boat 0.20, car 0.28)" in result.message
    assert "not always a prior that is used" in result.hint
    assert nb08.check_who_fixes_what({**RIGHT, "deeplabv3plus": set()}, swapping)


def test_a_surprising_run_is_judged_by_its_numbers():
    surprising = {**MEASURED, "unet_ppm": {"boat": 0.85, "car": 0.84, "wire": 0.72}}
    result = nb08.check_who_fixes_what(RIGHT, surprising)
    assert not result and "tells boats from cars (boat 0.85, car 0.84)" in result.message
    assert "disagrees with the usual story" in result.hint


def test_who_fixes_what_refuses_incomplete_answers_and_measurements():
    assert "not done" in nb08.check_who_fixes_what(..., MEASURED).message
    assert "not done" in nb08.check_who_fixes_what({**RIGHT, "unet_ppm": ...}, MEASURED).message
    assert "missing: deeplabv3plus" in nb08.check_who_fixes_what(
        {"unet_ppm": set(), "unet_context": set()}, MEASURED).message
    assert "unknown: pspnet" in nb08.check_who_fixes_what({**RIGHT, "pspnet": set()}, MEASURED).message
    assert "is not a set of" in nb08.check_who_fixes_what({**RIGHT, "unet_ppm": {"boats"}}, MEASURED).message
    assert "reference for the wires" in nb08.check_who_fixes_what(RIGHT, {"unet_ppm": {"wire": 0.7}}).message
    partial = {run: MEASURED[run] for run in ("unet", "unet_context")}
    result = nb08.check_who_fixes_what(RIGHT, partial)
    assert not result and "no measurement for unet_ppm, deeplabv3plus" in result.message


def test_aspp_forward_given_a_number_is_told_to_pass_a_function():
    """Issue 26: check_aspp_forward(3) said "not done yet"."""
    result = nb08.check_aspp_forward(3)
    assert not result and "should be a function, got int" in result.message and "not done" not in result.message
    assert "got a layer (ASPP)" in nb08.check_aspp_forward(nb08.checking_aspp()).message


def test_a_float64_aspp_result_is_told_its_dtype():
    """Issue 26: a float64 result crashed with "Double did not match Float"."""
    result = nb08.check_aspp_forward(lambda features, aspp: right_forward(features, aspp).double())
    assert not result and "torch.float64, expected torch.float32" in result.message, result

    def raising(features, aspp):
        raise KeyError("conv1x1")

    assert "aspp_forward raised KeyError: 'conv1x1'" in nb08.check_aspp_forward(raising).message


@pytest.mark.parametrize("rates", [np.array([1, 2, 3]), torch.tensor([1, 2, 3]), (np.int64(1), np.int64(2), 3),
                                   (torch.tensor(1), 2, 3.0), {1, 2, 3}])
def test_rates_in_numpy_or_torch_are_read_as_ints(rates):
    """Issue 26: np.array([1, 2, 3]), a tensor or np.int64 values were told to "round to ints"."""
    result = nb08.check_atrous_rates(rates, 8)
    assert result, result


def test_atrous_rates_answer_at_once_for_any_map_size():
    """Issue 26: map_size=10**6 searched for minutes."""
    start = time.perf_counter()
    huge = nb08.check_atrous_rates((1, 2, 3), map_size=10**6)
    assert not huge and "at most 1024" in huge.message
    assert nb08.check_atrous_rates((1, 2, 3), map_size=1024)
    largest = nb08.largest_useful_rate(1024)  # 3 * 1024 - 2 * rate >= 3 * 1024 * 63 / 99: rate <= 558.5
    assert largest == 558 and valid_weight_fraction(558, 1024) >= nb08.MIN_VALID > valid_weight_fraction(559, 1024)
    assert time.perf_counter() - start < 5
    for size in (1, 2, 3, 4, 5):
        small = nb08.check_atrous_rates((1, 2, 3), map_size=size)
        assert not small and "no three different rates do" in small.message, size
    assert nb08.check_atrous_rates((1, 2, 3), map_size=6)
    assert "at least 1" in nb08.check_atrous_rates((1, 2, 3), map_size=0).message
    assert "whole number" in nb08.check_atrous_rates((1, 2, 3), map_size=8.5).message
    assert "is nan" in nb08.check_atrous_rates((1, 2, float("nan")), 8).message


def test_the_largest_useful_rate_is_the_one_a_rate_by_rate_search_finds():
    for size in range(1, 80):
        rate = 1
        while valid_weight_fraction(rate + 1, size) >= nb08.MIN_VALID:
            rate += 1
        assert nb08.largest_useful_rate(size) == rate, size


def test_who_fixes_what_checks_the_measurements():
    assert "measured should be a dict" in nb08.check_who_fixes_what(RIGHT, None).message
    assert "measured['unet']" in nb08.check_who_fixes_what(RIGHT, {**MEASURED, "unet": 3}).message
    nan = nb08.check_who_fixes_what(RIGHT, {**MEASURED, "unet": {"wire": float("nan")}})
    assert not nan and "not an IoU between 0 and 1" in nan.message
    assert "is not a set of" in nb08.check_who_fixes_what({**RIGHT, "unet_ppm": [["wires"]]}, MEASURED).message
