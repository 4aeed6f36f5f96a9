"""The checkers of notebook 02 pass right answers and explain typical wrong ones."""

from segedu.course.checks import nb02
from segedu.receptive import rf_size


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
    assert not nb02.check_chain_rf("27").passed
    assert nb02.check_chain_rf(9, [(3, 1)] * 4).passed


def test_design():
    best = [(3, 2)] * 6
    assert nb02.fewest_layers(64) == 6
    result = nb02.check_design(best)
    assert result.passed and "fewest" in result.message and "64 px apart" in result.message
    assert "not done" in nb02.check_design(...).message
    assert "not done" in nb02.check_design([(3, ...)]).message
    too_small = nb02.check_design([(3, 1)] * 6)
    assert not too_small.passed and "13 px" in too_small.message
    big_kernel = nb02.check_design([(65, 1)])
    assert not big_kernel.passed and "rules" in big_kernel.message
    too_many = nb02.check_design([(3, 1)] * 32)
    assert not too_many.passed and "more than 6" in too_many.message
    assert not nb02.check_design(5).passed
    assert not nb02.check_design([("a", 1)]).passed
    assert nb02.fewest_layers(64, max_stride=1) == 32
    assert nb02.check_design([(3, 1)] * 32, max_layers=32, max_stride=1).passed


def test_plain_depth():
    assert nb02.check_plain_depth(32).passed
    assert not nb02.check_plain_depth(31).passed
    assert "fewer would do" in nb02.check_plain_depth(40).message
    assert "not done" in nb02.check_plain_depth(None).message
