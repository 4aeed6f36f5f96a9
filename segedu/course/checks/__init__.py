"""Exercise checkers: each notebook's exercises call a function here on the learner's answer.

A checker never raises on a wrong answer: it returns a :class:`CheckResult` that says what is
wrong and gives a hint, and shows itself as one line (``✓ ...`` or ``✗ ... Hint: ...``) in a
notebook. Checkers live in one module per notebook (``segedu.course.checks.nb01`` ...); helpers shared
by several checkers are here.
"""

from __future__ import annotations

import dataclasses
import html

import torch


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


def not_done(value, containers: tuple[type, ...] = ()) -> bool:
    """True for an answer the learner has not filled in yet: ``None``, ``...``, or a value of one of the
    ``containers`` types (e.g. ``(tuple, list)``) that still holds a ``...``."""
    return value is None or value is Ellipsis or (isinstance(value, containers) and Ellipsis in value)


def passed(message: str) -> CheckResult:
    """A passing result with ``message``."""
    return CheckResult(True, message)


def failed(message: str, hint: str = "") -> CheckResult:
    """A failing result saying what is wrong (``message``) and what to try (``hint``)."""
    return CheckResult(False, message, hint)


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
            wanted = "x".join("any" if size is None else str(size) for size in shape)
            return failed(f"{name} has shape {tuple(value.shape)}, expected {wanted}",
                          "print the shapes of the intermediate tensors to see where a dimension goes wrong")
    if dtype is not None and value.dtype != dtype:
        return failed(f"{name} has dtype {value.dtype}, expected {dtype}", f"convert with .to({dtype})")
    return None


def expect_close(value: float, expected: float, name: str, tolerance: float = 1e-4, hint: str = "") -> CheckResult:
    """Pass when the number ``value`` is within ``tolerance`` of ``expected``."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return failed(f"{name} should be a number, got {type(value).__name__}", "return a float (use .item() on a tensor)")
    if abs(value - expected) <= tolerance:
        return passed(f"{name} = {value:.4g}, as expected")
    return failed(f"{name} = {value:.4g}, expected {expected:.4g}", hint)
