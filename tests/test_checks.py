"""The checker framework shared by the notebooks' exercises."""

import torch

from segedu.course.checks import CheckResult, expect_close, expect_tensor, failed, passed


def test_results_are_truthy_and_print_one_line():
    assert passed("fine") and repr(passed("fine")) == "✓ fine"
    bad = failed("wrong shape", "look at dim 1")
    assert not bad
    assert repr(bad) == "✗ wrong shape\n  Hint: look at dim 1"
    assert "color:#cf222e" in bad._repr_html_() and "Hint" in bad._repr_html_()


def test_expect_tensor_names_the_problem():
    assert expect_tensor(torch.zeros(2, 3), "x", (2, None), torch.float32) is None
    assert "torch.Tensor" in expect_tensor([1, 2], "x").message
    assert "shape (2, 3), expected 2x4" in expect_tensor(torch.zeros(2, 3), "x", (2, 4)).message
    assert "dtype torch.int64" in expect_tensor(torch.zeros(2, dtype=torch.long), "x", dtype=torch.float32).message


def test_expect_close():
    assert expect_close(torch.tensor(0.5).item(), 0.5, "loss")
    result = expect_close(0.7, 0.5, "loss", hint="average over pixels")
    assert isinstance(result, CheckResult) and not result and result.hint == "average over pixels"
    assert not expect_close("abc", 0.5, "loss")


def test_an_answer_is_not_done_while_it_is_none_or_still_holds_the_ellipsis():
    from segedu.course.checks import not_done

    assert not_done(None) and not_done(...)
    assert not not_done(0) and not not_done((..., 1))
    assert not_done((..., 1), (tuple, list)) and not_done([2, ...], (tuple, list))
    assert not not_done((1, 2), (tuple, list)) and not not_done({...}, (tuple, list))
