"""Exercise checkers: each notebook's exercises call a function here on the learner's answer.

A checker never raises on a wrong answer: it returns a :class:`CheckResult` that says what is
wrong and gives a hint, and shows itself as one line (``✓ ...`` or ``✗ ... Hint: ...``) in a
notebook. Checkers live in one module per notebook (``segedu.course.checks.nb01`` ...); helpers shared
by several checkers are here.

Whatever it is given, a checker answers with a :class:`CheckResult`, quickly: junk (``None``, ``nan``,
a string, a tensor of the wrong dtype or shape, a function that raises) gets a diagnosis, never a
traceback, and is never accepted. Numbers may come as Python numbers, numpy scalars and arrays, or
tensors; a whole number is never made of a fraction by rounding or truncating it. The helpers below
(:func:`whole_number`, :func:`real_number`, :func:`expect_function`, :func:`raised` ...) do that
once for every checker.

Every checker is decorated with :func:`checker`, which remembers that the learner checked an answer of
their own. A solution cell runs its solution through :func:`show_solution`, which shows it only after
that: Run All, or running the notebook before trying the exercises, never prints an answer the learner
has not attempted (the tests, in fast mode, run every solution).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import math
import numbers
from collections.abc import Callable

import numpy
import torch

from segedu import config


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of a check: ``passed``, a ``message`` and, when it failed, a ``hint``."""

    passed: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        if self.passed:
            return f"✓ {self.message}"
        return f"✗ {self.message}" + (f"\n  Hint: {self.hint}" if self.hint else "")

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#cf222e"
        text = html.escape(repr(self)).replace("\n", "<br>")
        return f'<div style="color:{colour};font-family:monospace">{text}</div>'


NOT_DONE = "not done yet"
"""How the message of a checker's result begins when the answer is still a placeholder (``...``)."""


def is_placeholder_result(result) -> bool:
    """True for a checker's result that says the answer is not filled in yet (not an attempt)."""
    return isinstance(result, CheckResult) and not result.passed and result.message.startswith(NOT_DONE)


_attempted: set[tuple[str, str]] = set()
"""The checkers (module, name) that have seen an answer of the learner's in this kernel."""


def _key(check: Callable) -> tuple[str, str]:
    check = getattr(check, "__wrapped__", check)
    return getattr(check, "__module__", ""), getattr(check, "__qualname__", repr(check))


def checker(function: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """Decorator of an exercise checker: after a call whose answer was not a placeholder, :func:`attempted`
    is True for it (a right or a wrong answer both count)."""
    @functools.wraps(function)
    def check(*args, **kwargs):
        result = function(*args, **kwargs)
        if not is_placeholder_result(result):
            _attempted.add(_key(function))
        return result

    return check


def attempted(check: Callable) -> bool:
    """Whether the learner has checked an answer of their own with ``check`` in this kernel."""
    return _key(check) in _attempted


HIDDEN = ("Solution not shown yet: it would print the answer, and you have not checked an answer of your own "
          "with {check}() above. Try the exercise (a wrong answer counts too), then run this cell again. To read "
          "the solution now, show this cell's code.")


def show_solution(solution: Callable[[], object], after: Callable) -> object:
    """Run ``solution`` (a function of no arguments that prints and checks the solution; its result is
    returned, so the cell shows it) once the learner has tried the exercise that checker ``after`` checks.

    Before that, print why the solution is not shown and return None: running every cell of a notebook must
    not reveal the answers. In fast mode (the tests) every solution runs.
    """
    if config.is_fast() or attempted(after):
        return solution()
    print(HIDDEN.format(check=getattr(after, "__name__", "the checker")))
    return None


def not_done(value, containers: tuple[type, ...] = ()) -> bool:
    """True for an answer the learner has not filled in yet: ``None``, ``...``, or a value of one of the
    ``containers`` types (e.g. ``(tuple, list)``) that still holds a ``...``."""
    return value is None or value is Ellipsis or (isinstance(value, containers)
                                                  and any(item is Ellipsis for item in value))


def passed(message: str) -> CheckResult:
    """A passing result with ``message``."""
    return CheckResult(True, message)


def failed(message: str, hint: str = "") -> CheckResult:
    """A failing result saying what is wrong (``message``) and what to try (``hint``)."""
    return CheckResult(False, message, hint)


def describe(value, limit: int = 60) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters: how a message quotes a learner's answer."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def raised(error: BaseException, who: str = "your function") -> str:
    """``"your function raised ValueError: what it said"``: how a checker reports an exception of the learner's
    own code (the message on one line, at most 300 characters)."""
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{who} raised {type(error).__name__}" + (f": {text}" if text else "")


def expect_function(value, what: str, usage: str) -> CheckResult | None:
    """``None`` when ``value`` is a function; otherwise a failing result that says what was passed instead.

    ``what`` names the function (``"weighted_cross_entropy"``), ``usage`` shows the call
    (``"check_weighted_cross_entropy(my_function)"``). A layer (an ``nn.Module``) is callable but is not the
    function the exercise asks for, which builds or uses one.
    """
    if isinstance(value, torch.nn.Module):
        return failed(f"{what} should be a function, got a layer ({type(value).__name__})",
                      f"pass the function you wrote, not a layer or its output: {usage}")
    if not callable(value):
        return failed(f"{what} should be a function, got {type(value).__name__}",
                      f"pass the function itself, without brackets: {usage}")
    return None


def _shape_text(shape: tuple) -> str:
    if not shape:
        return "a single number (shape ())"
    return "x".join("any" if size is None else str(size) for size in shape)


def expect_tensor(value, name: str, shape: tuple | None = None, dtype: torch.dtype | None = None) -> CheckResult | None:
    """``None`` when ``value`` is a tensor of ``shape`` (``None`` entries match any size) and ``dtype``.

    Otherwise a failing :class:`CheckResult` that names the problem; checkers return it as is.
    """
    if not isinstance(value, torch.Tensor):
        return failed(f"{name} should be a torch.Tensor, got {type(value).__name__}",
                      "return the tensor itself, not a number or a list")
    if shape is not None:
        matches = value.dim() == len(shape) and all(want is None or got == want for got, want in zip(value.shape, shape, strict=False))
        if not matches:
            return failed(f"{name} has shape {tuple(value.shape)}, expected {_shape_text(shape)}",
                          "print the shapes of the intermediate tensors to see where a dimension goes wrong")
    if dtype is not None and value.dtype != dtype:
        return failed(f"{name} has dtype {value.dtype}, expected {dtype}", f"convert with .to({dtype})")
    return None


def expect_float32_layer(layer: torch.nn.Module, name: str) -> CheckResult | None:
    """``None`` when every floating-point weight and buffer of ``layer`` is float32, the dtype of the course's
    tensors; otherwise a failing result naming the dtype (a float64 layer cannot read float32 maps)."""
    dtypes = {tensor.dtype for tensor in (*layer.parameters(), *layer.buffers()) if tensor.is_floating_point()}
    other = sorted(str(dtype).removeprefix("torch.") for dtype in dtypes - {torch.float32})
    if other:
        return failed(f"{name} holds {', '.join(other)} weights, but the maps it reads are float32: a layer and its "
                      f"input must have the same dtype", "build the layer without dtype=... (or call .float() on it)")
    return None


def _one(value):
    """A tensor or array with one element as a 0-d one (``tensor([0.5])`` -> ``tensor(0.5)``); anything else as it is."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.reshape(())
    if isinstance(value, numpy.ndarray) and value.size == 1:
        return value.reshape(())
    return value


def _plain(value):
    """A 0-d tensor or array, or a numpy scalar, as the Python number it holds; anything else as it is."""
    if isinstance(value, (torch.Tensor, numpy.ndarray)) and value.ndim == 0:
        return value.item()
    if isinstance(value, numpy.generic):
        return value.item()
    return value


def whole_number(value, name: str, *, floats: bool = True, minimum: int | None = None,
                 maximum: int | None = None) -> tuple[int | None, CheckResult | None]:
    """``(int, None)`` when ``value`` is a whole number, else ``(None, a failing result naming the problem)``.

    Accepted: ints, numpy integers, 0-d integer tensors and arrays, and (when ``floats``) floats with no
    fractional part such as ``3.0``. Refused, with a message: bools, strings (even ``"33"``), fractions
    (never rounded or truncated), nan, inf, anything else, and values outside ``minimum .. maximum``.
    """
    number = _plain(value)
    if isinstance(number, str):
        return None, failed(f"{name} should be a whole number, got the string {describe(number)}",
                            "write the number itself, without quotes")
    if isinstance(number, bool) or not isinstance(number, numbers.Real):
        return None, failed(f"{name} should be a whole number, got {describe(value)}", "give an int, e.g. 3")
    if not isinstance(number, numbers.Integral):
        number = float(number)
        if not math.isfinite(number):
            return None, failed(f"{name} is {number}, not a whole number",
                                "a division by zero or an overflow somewhere? print the steps of your computation")
        if not number.is_integer():
            return None, failed(f"{name} should be a whole number, got {number!r}: a fraction is never right here",
                                "find where the fraction comes from (use // to divide whole numbers); rounding it "
                                "away would hide the mistake")
        if not floats:
            return None, failed(f"{name} should be an int, got the float {number!r}",
                                "PyTorch takes ints here: divide with // (or wrap the result in int(...))")
    whole = int(number)
    if minimum is not None and whole < minimum:
        return None, failed(f"{name} should be at least {minimum}, got {whole}", f"give a whole number >= {minimum}")
    if maximum is not None and whole > maximum:
        return None, failed(f"{name} should be at most {maximum}, got {whole}",
                            f"give a whole number <= {maximum}: larger ones are beyond what this exercise is about")
    return whole, None


def as_sequence(values, name: str, example: str, sets: bool = False) -> tuple[list | None, CheckResult | None]:
    """``(list, None)`` for a tuple, list, 1-d numpy array or 1-d tensor (or, when ``sets``, a set), else
    ``(None, a failing result)``."""
    if sets and isinstance(values, (set, frozenset)):
        return list(values), None
    if isinstance(values, (torch.Tensor, numpy.ndarray)):
        if values.ndim != 1:
            return None, failed(f"{name} should be a flat sequence such as {example}, got an array of shape "
                                f"{tuple(values.shape)}", f"give {example}")
        return list(values), None
    if not isinstance(values, (tuple, list)):
        return None, failed(f"{name} should be a sequence such as {example}, got {describe(values)}", f"give {example}")
    return list(values), None


def whole_numbers(values, name: str, example: str, *, floats: bool = True,
                  sets: bool = False) -> tuple[tuple[int, ...] | None, CheckResult | None]:
    """``(tuple of ints, None)`` for a sequence (see :func:`as_sequence`) of whole numbers (see
    :func:`whole_number`), else ``(None, a failing result that quotes the answer and names the bad entry)``."""
    items, problem = as_sequence(values, name, example, sets)
    if problem is not None:
        return None, problem
    wholes = []
    for item in items:
        whole, problem = whole_number(item, "each entry", floats=floats)
        if problem is not None:
            return None, failed(f"{name} should be whole numbers such as {example}, got {describe(values)}: "
                                f"{problem.message}", problem.hint)
        wholes.append(whole)
    return tuple(wholes), None


def real_number(value, name: str, nan_hint: str = "print the numerator and the denominator of each division"
                ) -> tuple[float | None, CheckResult | None]:
    """``(float, None)`` when ``value`` is one finite number (a Python number, a numpy scalar, or a tensor or
    array with one element), else ``(None, a failing result)``: nan (with ``nan_hint``) and inf are diagnosed,
    not compared."""
    if isinstance(value, (torch.Tensor, numpy.ndarray)) and value.ndim > 0:
        count = value.numel() if isinstance(value, torch.Tensor) else value.size
        if count != 1:
            return None, failed(f"{name} should be one number, got a {type(value).__name__} of shape "
                                f"{tuple(value.shape)}", "reduce it to one number (and .item() it)")
        value = _one(value)
    number = _plain(value)
    if isinstance(number, str):
        return None, failed(f"{name} should be a number, got the string {describe(number)}",
                            "give the number itself, without quotes")
    if isinstance(number, bool) or not isinstance(number, numbers.Real):
        return None, failed(f"{name} should be a number, got {type(value).__name__}",
                            "return a float (use .item() on a one-element tensor)")
    number = float(number)
    if math.isnan(number):
        return None, failed(f"{name} is nan (not a number): a 0 / 0 somewhere?", nan_hint)
    if math.isinf(number):
        return None, failed(f"{name} is {number}: a division by zero somewhere?",
                            "print the denominator of each division")
    return number, None


DECIMALS = 3
"""A number written by hand is right when it is the true value correctly rounded to at least this many
decimals: the course's tables print three."""


def decimals_of(value) -> int:
    """How many decimals ``value`` is written with: ``0.178`` -> 3, ``20`` -> 0; a computed float such as
    ``0.17796000000000002`` -> 17. A float32 (tensor or numpy) counts the decimals of its own shortest form."""
    value = _one(value)
    number = _plain(value)
    if isinstance(number, numbers.Integral):
        return 0
    single = (isinstance(value, torch.Tensor) and value.dtype in (torch.float32, torch.float16, torch.bfloat16)) or (
        isinstance(value, (numpy.ndarray, numpy.generic)) and value.dtype in (numpy.float32, numpy.float16))
    text = numpy.format_float_positional(numpy.float32(number) if single else float(number), unique=True, trim="-")
    return len(text.partition(".")[2])


def rounds_to(value, truth: float, tolerance: float = 1e-6) -> bool:
    """True when the number ``value`` is ``truth`` written with the decimals it has: a computed number (seven or
    more decimals) within ``tolerance``, a number written by hand within half a unit of its last decimal
    (``0.178`` for 0.17796; not ``0.177``). See :data:`DECIMALS` for how many decimals a checker asks for."""
    number = float(_plain(_one(value)))
    given = decimals_of(value)
    if abs(number - truth) <= 1e-12 or (given >= 7 and abs(number - truth) <= tolerance):
        return True
    return given < 7 and abs(number - truth) <= 0.5 * 10.0 ** -given + 1e-12


def expect_close(value: float, expected: float, name: str, tolerance: float = 1e-4, hint: str = "") -> CheckResult:
    """Pass when the number ``value`` is within ``tolerance`` of ``expected``."""
    value, problem = real_number(value, name)
    if problem is not None:
        return problem
    if abs(value - expected) <= tolerance:
        return passed(f"{name} = {value:.4g}, as expected")
    return failed(f"{name} = {value:.4g}, expected {expected:.4g}", hint)
