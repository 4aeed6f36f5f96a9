"""The checkers of notebook 02 pass right answers and explain typical wrong ones."""

import heapq
import itertools
import math
import time

import numpy as np
import pytest
import torch

from segedu.course.checks import nb02
from segedu.receptive import chain_steps, rf_size


def test_chain_rf():
    expected = rf_size(list(nb02.EXERCISE_CHAIN))
    assert expected == 27
    assert nb02.check_chain_rf(expected).passed
    assert "not done" in nb02.check_chain_rf(...).message
    for wrong, words in {12: "forgot the jump", 31: "its own stride", 19: "dilation"}.items():
        result = nb02.check_chain_rf(wrong)
        assert not result.passed and words in result.message, result
        assert result.hint
    assert not nb02.check_chain_rf(26).passed
    assert "whole number" in nb02.check_chain_rf("27").message
    assert nb02.check_chain_rf(9, [(3, 1)] * 4).passed


def test_depth_to_see_an_outline():
    assert nb02.check_depth_to_see_outline(10, distance=10).passed  # 10 layers of 3x3 reach 10 px
    assert nb02.check_depth_to_see_outline(5, distance=10, kernel=5).passed  # 5x5 layers reach 2 px each
    assert nb02.check_depth_to_see_outline(1, distance=1).passed
    cases = {21: "size of the field", 5: "centred", 9: "reach 9 px", 12: "fewer would do"}
    for answer, words in cases.items():
        result = nb02.check_depth_to_see_outline(answer, distance=10)
        assert not result.passed and words in result.message, result
        assert result.hint
    five = {10: "3x3 kernels", 21: "size of the field", 3: "centred", 4: "reach 8 px", 6: "fewer would do"}
    for answer, words in five.items():
        result = nb02.check_depth_to_see_outline(answer, distance=10, kernel=5)
        assert not result.passed and words in result.message, result
    assert nb02.check_depth_to_see_outline(4, distance=7, kernel=5).passed  # 4 layers reach 8 >= 7 px
    assert "not done" in nb02.check_depth_to_see_outline(..., distance=10).message
    assert "whole number" in nb02.check_depth_to_see_outline(9.5, distance=10).message


def test_design_cost_counts_multiply_adds_per_full_resolution_layer():
    assert nb02.design_cost([(3, 1)] * 32) == 32
    assert nb02.design_cost([(3, 2)] * 3 + [(3, 1)] * 4) == pytest.approx(25 / 64)
    assert nb02.design_cost([(3, 2)]) == pytest.approx(1 / 4)  # a stride-2 layer has 4 times fewer outputs


def test_the_cheapest_design_is_the_cheapest_of_every_chain_up_to_nine_layers():
    best = nb02.cheapest_design(64, 8)
    assert best == [(3, 2)] * 3 + [(3, 1)] * 4
    assert nb02.cheapest_design(64, 1) == [(3, 1)] * 32
    for length in range(1, 10):  # brute force: every stride pattern that meets the rules
        for strides in itertools.product((1, 2), repeat=length):
            chain = [(3, s) for s in strides]
            step = chain_steps(chain)[-1]
            if step.size >= 64 and step.jump <= 8:
                assert nb02.design_cost(chain) >= nb02.design_cost(best) - 1e-12, chain


def test_design_rewards_the_cheap_chain_and_names_each_costly_one():
    result = nb02.check_design(nb02.cheapest_design())
    assert result.passed and "8 times coarser" in result.message and "cheapest" in result.message
    cases = {
        tuple([(3, 2)] * 6): "64 times coarser",  # the old exercise's answer: a 1 x 1 map of a 64 px image
        tuple([(3, 1)] * 32): "full resolution",
        tuple([(3, 2), (3, 1)] * 3 + [(3, 1)] * 2): "before a stride-2 one",
        tuple([(3, 2)] * 2 + [(3, 1)] * 8): "only 2 stride-2 layers",
        tuple([(3, 2)] * 3 + [(3, 1)] * 5): "without the last layer",
        tuple([(3, 1)] * 4 + [(3, 2)] * 3): "fewer than 64",
        tuple([(3, 2)] * 3 + [(3, 1)] * 2): "fewer than 64",
        ((5, 1),): "rules",
        ((3, 4),): "rules",
        ((3, 1, 2),): "rules",
    }
    for chain, words in cases.items():
        result = nb02.check_design(list(chain))
        assert not result.passed and words in result.message, (chain, result)
        assert result.hint
    assert "1 x 1 map" in nb02.check_design([(3, 2)] * 6).message
    assert "stride-2 layers first" in nb02.check_design([(3, 1)] * 4 + [(3, 2)] * 3).hint
    for unfinished in (..., [...], [(3, ...)], []):
        assert "not done" in nb02.check_design(unfinished).message
    assert not nb02.check_design(5).passed
    assert "could not read" in nb02.check_design([("a", 1)]).message


def _searched_design_cost(target: int, max_output_stride: int) -> float:
    """The least cost over every chain, by a shortest-path search over (field, jump): the oracle for the formula."""
    frontier, done = [(0.0, 1, 1)], set()
    while frontier:
        cost, field, jump = heapq.heappop(frontier)
        if field >= target:
            return cost
        if (field, jump) in done:
            continue
        done.add((field, jump))
        for stride in (1, 2) if 2 * jump <= max_output_stride else (1,):
            heapq.heappush(frontier, (cost + 1 / (jump * stride) ** 2, min(field + 2 * jump, target), jump * stride))
    raise AssertionError("unreachable")


def test_the_cheapest_design_costs_what_a_search_over_every_chain_finds():
    for target in range(2, 200, 3):
        for max_output_stride in (1, 2, 4, 8, 32):
            best = nb02.cheapest_design(target, max_output_stride)
            steps = nb02.chain_steps(best)
            assert steps[-1].size >= target and steps[-1].jump <= max_output_stride
            assert nb02.design_cost(best) == pytest.approx(_searched_design_cost(target, max_output_stride))


def test_design_answers_at_once_for_any_target_and_refuses_sizes_beyond_the_exercise():
    """Issue 26: check_design([(3, 2)], target=10**6) searched for minutes."""
    start = time.perf_counter()
    huge = nb02.check_design([(3, 2)], target=10**6)
    assert not huge and "at most 4096" in huge.message
    largest = nb02.check_design(nb02.cheapest_design(4096, 8), target=4096, max_output_stride=8)
    assert largest, largest
    assert "fewer than 4096" in nb02.check_design([(3, 2)], target=4096).message
    assert time.perf_counter() - start < 5
    assert "at least 2" in nb02.check_design([(3, 2)], target=0).message
    assert "power of two" in nb02.check_design([(3, 2)], max_output_stride=6).message
    assert "whole number" in nb02.check_design([(3, 2)], target=math.inf).message
    assert "far beyond" in nb02.check_design([(3, 1)] * 20_000).message


def test_fractions_and_strings_are_never_truncated_to_a_pass():
    """A chain of 3.5 x 3.5 kernels was read as 3 x 3 ones."""
    solution = [(3, 2)] * 3 + [(3, 1)] * 4
    assert nb02.check_design(solution)
    fractional = nb02.check_design([(3.5, 2)] * 3 + [(3, 1)] * 4)
    assert not fractional and "3.5" in fractional.message and "fraction" in fractional.message
    assert not nb02.check_design([("3", 2)] * 3 + [(3, 1)] * 4)
    assert nb02.check_design([(3.0, 2.0)] * 3 + [(3, 1)] * 4)  # a whole number written as a float is fine
    assert "whole number" in nb02.check_chain_rf(27.5).message
    assert "whole number" in nb02.check_chain_rf(27, [(3.5, 1)]).message


def test_numpy_and_torch_numbers_are_read_as_the_numbers_they_hold():
    solution = [(3, 2)] * 3 + [(3, 1)] * 4
    for spelling in (np.array(solution), torch.tensor(solution), [tuple(np.int64(v) for v in layer) for layer in solution]):
        assert nb02.check_design(spelling), spelling
    for spelling in (np.int64(27), np.array(27), torch.tensor(27), 27.0):
        assert nb02.check_chain_rf(spelling), spelling
    assert nb02.check_chain_rf(9, np.array([(3, 1)] * 4))
    assert nb02.check_chain_rf(9, [(3.0, 1, 1, 1)] * 4)  # chain_steps' (kernel, stride, dilation, padding) too
    assert "negative padding" in nb02.check_chain_rf(9, [(3, 1, 1, -1)] * 4).message
    assert nb02.check_depth_to_see_outline(np.int64(5), np.int64(10), kernel=torch.tensor(5))


def test_inf_nan_zero_and_odd_arguments_get_a_diagnosis():
    """Issue 26: check_chain_rf(inf) raised OverflowError, kernel 1 or 2 ZeroDivisionError."""
    assert "is inf" in nb02.check_chain_rf(float("inf")).message
    assert "is nan" in nb02.check_chain_rf(float("nan")).message
    assert "at least 1" in nb02.check_chain_rf(-3).message
    for kernel in (1, 2, 4):
        result = nb02.check_depth_to_see_outline(3, distance=3, kernel=kernel)
        assert not result and "odd and at least 3" in result.message, kernel
    assert "distance" in nb02.check_depth_to_see_outline(3, distance=0).message
    assert "at least 0" in nb02.check_depth_to_see_outline(-1, distance=3).message
    assert "the chain's layers should be a list" in nb02.check_chain_rf(27, layers=None).message
    assert "at least one layer" in nb02.check_chain_rf(1, layers=[]).message
