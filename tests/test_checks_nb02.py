"""The checkers of notebook 02 pass right answers and explain typical wrong ones."""

import itertools

import pytest

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
