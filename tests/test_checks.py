"""The checker framework shared by the notebooks' exercises."""

import math

import numpy as np
import torch
from torch import nn

from segedu.course.checks import (
    CheckResult,
    decimals_of,
    describe,
    expect_close,
    expect_float32_layer,
    expect_function,
    expect_tensor,
    failed,
    passed,
    raised,
    real_number,
    rounds_to,
    whole_number,
    whole_numbers,
)


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
    assert not not_done([np.array([1, 2]), torch.tensor([3, 4])], (list,))  # no elementwise == with the ...


def test_a_scalar_is_expected_as_a_single_number_not_a_blank():
    assert "expected a single number (shape ())" in expect_tensor(torch.zeros(2, 6, 6), "the loss", shape=()).message


def test_whole_number_reads_numpy_and_torch_and_never_rounds():
    for value in (3, 3.0, np.int64(3), np.int32(3), np.array(3), torch.tensor(3), torch.tensor(3.0), np.float32(3)):
        assert whole_number(value, "x") == (3, None), value
    for value, words in [(3.7, "a fraction"), ("33", "the string '33'"), (True, "got True"), (None, "got None"),
                         (math.nan, "is nan"), (math.inf, "is inf"), (torch.zeros(2), "got tensor"),
                         (np.bool_(True), "got np.True_"), (2 + 0j, "got (2+0j)")]:
        number, problem = whole_number(value, "x")
        assert number is None and words in problem.message and problem.hint, (value, problem)
    assert "should be an int, got the float 3.0" in whole_number(3.0, "x", floats=False)[1].message
    assert "at least 1" in whole_number(0, "x", minimum=1)[1].message
    assert "at most 8" in whole_number(9, "x", maximum=8)[1].message


def test_whole_numbers_take_sequences_arrays_and_tensors_and_name_the_bad_entry():
    for values in ((1, 2), [1, 2], np.array([1, 2]), torch.tensor([1, 2]), (np.int64(1), 2.0)):
        assert whole_numbers(values, "rates", "(1, 2)") == ((1, 2), None), values
    assert whole_numbers({2, 1}, "bins", "{1, 2}", sets=True)[0] in ((1, 2), (2, 1))
    assert "sequence" in whole_numbers({2, 1}, "rates", "(1, 2)")[1].message
    assert "flat sequence" in whole_numbers(np.zeros((2, 2)), "rates", "(1, 2)")[1].message
    problem = whole_numbers((1, 2.5), "rates", "(1, 2)")[1]
    assert "rates should be whole numbers such as (1, 2), got (1, 2.5)" in problem.message and "2.5" in problem.message


def test_real_number_takes_one_number_in_any_spelling_and_names_nan_and_inf():
    for value in (0.5, np.float64(0.5), np.float32(0.5), torch.tensor(0.5), torch.tensor([0.5]), np.array([[0.5]])):
        assert real_number(value, "x") == (0.5, None), value
    for value, words in {math.nan: "x is nan", -math.inf: "x is -inf", "0.5": "string", None: "got NoneType",
                         torch.zeros(2): "one number", True: "got bool"}.items():
        number, problem = real_number(value, "x")
        assert number is None and words in problem.message, (value, problem)
    assert real_number(math.nan, "x", nan_hint="look at the union")[1].hint == "look at the union"


def test_rounding_accepts_the_true_value_as_written_to_its_last_decimal():
    assert decimals_of(0.178) == 3 and decimals_of(20) == 0 and decimals_of(0.1 + 0.2) == 17
    assert decimals_of(np.float32(0.178)) == 3 and decimals_of(torch.tensor(0.178)) == 3
    truth = 0.17796
    for value in (0.178, 0.1780, 0.17796, 0.18, 0.2, truth + 1e-7, np.float32(0.178), torch.tensor([0.178])):
        assert rounds_to(value, truth), value
    for value in (0.177, 0.1779, 0.17797, 0.19, truth + 2e-6, -0.178):
        assert not rounds_to(value, truth), value
    assert rounds_to(0.714, 25 / 35) and not rounds_to(0.7142, 25 / 35)
    computed = 25 / 35 + 5e-5  # a computed number (17 decimals) is judged by the tolerance, not by its decimals
    assert rounds_to(computed, 25 / 35, tolerance=1e-4) and not rounds_to(computed, 25 / 35)


def test_errors_of_the_learners_code_are_quoted_on_one_line():
    assert raised(ValueError("bad\n  value")) == "your function raised ValueError: bad value"
    assert raised(KeyError(), "load") == "load raised KeyError"
    assert raised(RuntimeError("x" * 400)).endswith("x...") and len(raised(RuntimeError("x" * 400))) < 340
    assert describe("a\nb") == "'a\\nb'" and describe(list(range(100))).endswith("...")


def test_a_function_is_expected_where_a_function_is_asked_for():
    assert expect_function(len, "f", "check(f)") is None
    assert "got a layer (Linear)" in expect_function(nn.Linear(2, 2), "f", "check(f)").message
    assert "should be a function, got int" in expect_function(3, "f", "check(f)").message


def test_a_layer_is_expected_in_float32():
    assert expect_float32_layer(nn.Conv2d(2, 2, 1), "the layer") is None
    assert expect_float32_layer(nn.ReLU(), "the layer") is None
    assert "float64" in expect_float32_layer(nn.Conv2d(2, 2, 1).double(), "the layer").message
    assert "float16" in expect_float32_layer(nn.BatchNorm2d(2).half(), "the layer").message


def test_a_solution_is_shown_only_after_the_learner_checked_an_answer_of_their_own(monkeypatch, capsys):
    from segedu.course.checks import NOT_DONE, attempted, checker, show_solution

    monkeypatch.setenv("SEGEDU_FAST", "0")

    @checker
    def check_answer(answer):
        if answer is ...:
            return failed(f"{NOT_DONE}: replace the ... with your answer")
        return passed("right") if answer == 42 else failed("wrong")

    shown = []

    def solution():
        shown.append(True)
        return check_answer(42)

    assert show_solution(solution, after=check_answer) is None  # Run All before trying: nothing revealed
    assert shown == [] and "check_answer() above" in capsys.readouterr().out
    check_answer(...)  # the exercise cell as it comes: a placeholder is not an attempt
    assert not attempted(check_answer) and show_solution(solution, after=check_answer) is None and shown == []
    check_answer(7)  # a wrong answer is an attempt
    assert attempted(check_answer)
    result = show_solution(solution, after=check_answer)
    assert shown == [True] and result.passed and repr(result) == "✓ right"


def test_in_fast_mode_every_solution_runs(monkeypatch):
    from segedu.course.checks import checker, show_solution

    monkeypatch.setenv("SEGEDU_FAST", "1")
    never_called = checker(lambda answer: failed("wrong"))
    assert show_solution(lambda: passed("shown"), after=never_called).passed
