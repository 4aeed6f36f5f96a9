"""Every exercise checker answers any input with a diagnosis: never a traceback, never a hang, never a pass for junk.

The checkers are found by introspection: every public ``check_*`` function of ``segedu.course.checks.nbNN``. Their
right answers come from the notebooks themselves: each notebook's solution cells run here, on small stand-ins for
the notebook's state (the leaderboard's records, a checkpoint, ...), and every call they make to a checker is
recorded. Then:

* one shared set of junk answers (:func:`junk`) goes into each argument of each recorded call, and into each entry
  of each right answer: every checker must answer within :data:`SECONDS` with a failing :class:`CheckResult` whose
  message names the problem, without a traceback and without the name of an exception, unless the learner's own
  function raised it;
* numpy and torch spellings of each right answer must still pass, and the right answer with its numbers made
  fractions (``x + 0.7``) or strings must not;
* a learner's function that raises on any of its calls, or returns a float64 tensor or layer, or a tensor with an
  extra dimension, gets the diagnosis of that mistake.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import inspect
import math
import pkgutil
import re
import signal
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

from segedu.course import checks
from segedu.course.checks import CheckResult
from segedu.data import SyntheticScenes, camvid
from segedu.models import build

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 10.0
"""The most one checker call may take. A right answer takes well under a second on an idle laptop; this bound
leaves room for a loaded test machine and still catches a hang (the searches that hung ran for minutes)."""

BUG = "a bug in the learner's own code"
"""The message of the exception that the junk function raises."""


# ------------------------------------------------------------------------------------------- the checkers


def public_checkers() -> dict[str, object]:
    """``{"nb01.check_weighted_cross_entropy": function, ...}``: every public checker of every notebook module."""
    found = {}
    for module_info in pkgutil.iter_modules(checks.__path__):
        if not re.fullmatch(r"nb\d\d", module_info.name):
            continue
        module = importlib.import_module(f"{checks.__name__}.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and function.__module__ == module.__name__:
                found[f"{module_info.name}.{name}"] = function
    return found


CHECKERS = public_checkers()


# ------------------------------------------------------------------------------- the notebooks' solutions


PRETRAINED_ON = ("square", "cross", "box", "gear")


def _checkpoint() -> dict:
    """A course backbone's state_dict as notebook 06 reads it (names without the "backbone." prefix)."""
    torch.manual_seed(1)
    state = {name: tensor.clone() for name, tensor in build("fcn8s", 3).backbone.state_dict().items()}
    for name, tensor in state.items():
        if name.endswith(("running_mean", "running_var")):
            tensor.add_(torch.rand_like(tensor))
    return state


def _frozen_model(checkpoint: dict) -> nn.Module:
    """An FCN-8s whose frozen backbone saw training batches: the weights are the checkpoint's, BatchNorm's
    running statistics moved (what notebook 06's frozen_model is, without the training time)."""
    model = build("fcn8s", 3)
    model.backbone.load_state_dict(checkpoint)
    for parameter in model.backbone.parameters():
        parameter.requires_grad = False
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    return model.eval()


def _record(run: str, track: str, seed: int, miou: float, latency: float, labelled=None) -> dict:
    return {"run": run, "track": track, "seed": seed, "labelled": labelled, "miou": miou, "completed": True,
            "latency_ms": latency, "params": 1000, "steps": 8, "steps_done": 8, "mode": "fast"}


RECORDS = [  # unet beats encdec by 0.30 and 0.17796 (seeds 0, 1): the smallest margin is 0.17796
    _record("unet", "mixed", 0, 0.80, 8.0), _record("unet", "mixed", 1, 0.70, 8.0),
    _record("unet", "mixed", 2, 0.90, 8.0),
    _record("encdec", "mixed", 0, 0.50, 2.0), _record("encdec", "mixed", 1, 0.52204, 2.0),
    _record("plain", "mixed", 0, 0.20, 1.0), _record("plain", "mixed", 1, 0.25, 1.0),
    _record("fcn8s_pretrained", "mixed", 0, 0.6, 1.5, labelled=64),
]

MEASURED = {  # the story of notebook 08's solution: the prior before the classifier fixes boats and cars
    "unet": {"boat": 0.30, "car": 0.30, "wire": 0.73},
    "unet_ppm": {"boat": 0.31, "car": 0.33, "wire": 0.72},
    "unet_context": {"boat": 0.90, "car": 0.89, "wire": 0.74},
    "deeplabv3plus": {"boat": 0.41, "car": 0.45, "wire": 0.25},
}


def _street_masks() -> torch.Tensor:
    masks = torch.full((2, 4, 5), 3, dtype=torch.long)  # road, with a row of void and a patch of sky
    masks[0, 0, :] = 255
    masks[1, :2, :] = 0
    return masks


def notebook_state(number: str) -> dict:
    """What the solution cells of notebook ``number`` read from the cells before them, made small."""
    if number == "02":
        return {"deepest": 7}
    if number == "04":
        return {"test": SyntheticScenes("test", "thin", size=64, length=4)}
    if number == "06":
        checkpoint = _checkpoint()
        return {"meta": {"metadata": {"pretrained_on": list(PRETRAINED_ON)}}, "checkpoint_state": checkpoint,
                "frozen_model": _frozen_model(checkpoint)}
    if number == "07":
        return {"all_test_masks": _street_masks(), "classes": camvid.CLASSES, "road": 3,
                "scores": types.SimpleNamespace(pixel_accuracy=0.8, miou=0.5), "torch": torch, "camvid": camvid}
    if number == "09":
        return {"records": copy.deepcopy(RECORDS), "EXERCISE_TRACK": "mixed", "BETTER": "unet", "WORSE": "encdec"}
    if number == "08":
        return {"measured": copy.deepcopy(MEASURED)}
    return {}


def _code(source: str) -> str:
    """A cell's source with IPython's magic and shell lines, which plain Python cannot run, turned into ``pass``."""
    lines = source.splitlines()
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in lines)


def notebook_imports(notebook) -> str:
    """Every top-level import statement of the notebook's code cells, as one block of source."""
    statements = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_code(cell.source))
        statements += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(statements)


class Recorder:
    """Stands in for a checker module in a solution cell: passes each call on and keeps ``(name, args, kwargs)``."""

    def __init__(self, module, calls: list):
        self._module, self._calls = module, calls

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if not name.startswith("check_"):
            return value

        def recorded(*args, **kwargs):
            result = value(*args, **kwargs)
            self._calls.append((f"{self._module.__name__.rsplit('.', 1)[-1]}.{name}", args, kwargs, result))
            return result

        return recorded


def run_solutions() -> list[tuple[str, tuple, dict, CheckResult]]:
    """Run every notebook's solution cells; return the checker calls they made."""
    calls = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        solutions = [cell.source for cell in notebook.cells if "solution" in cell.metadata.get("tags", [])]
        if not solutions:
            continue
        number = path.name[:2]
        namespace = {"__name__": f"notebook_{number}"}
        exec(notebook_imports(notebook), namespace)  # noqa: S102 - the course's own notebooks
        namespace.update(notebook_state(number))
        for name in list(namespace):
            if re.fullmatch(r"nb\d\d", name):
                namespace[name] = Recorder(namespace[name], calls)
        for source in solutions:
            exec(_code(source), namespace)  # noqa: S102
    return calls


@pytest.fixture(scope="module")
def solution_calls():
    return run_solutions()


@pytest.fixture(scope="module")
def right_calls(solution_calls):
    """``{checker: (args, kwargs)}``: the first call each checker gets from a solution cell."""
    found = {}
    for name, args, kwargs, _ in solution_calls:
        found.setdefault(name, (args, kwargs))
    return found


def test_every_checker_is_found():
    assert len(CHECKERS) >= 20
    assert {"nb01.check_conv_from_linear", "nb09.check_smallest_margin", "nb08.check_atrous_rates"} <= set(CHECKERS)


def test_every_checker_has_a_solution_cell_and_every_solution_passes(solution_calls):
    assert {name for name, *_ in solution_calls} == set(CHECKERS)
    for name, *_, result in solution_calls:
        assert isinstance(result, CheckResult) and result.passed, (name, result)


# ------------------------------------------------------------------------------------------ the junk


def _raises(*args, **kwargs):
    raise ValueError(BUG)


def _returning(value):
    def answer(*args, **kwargs):
        return value

    return answer


def junk_values() -> dict[str, object]:
    """Answers a learner might give by mistake, none of them right for any checker (fresh objects each time)."""
    return {
        "None": None, "inf": math.inf, "-inf": -math.inf, "nan": math.nan, "zero": 0, "a negative number": -3,
        "a huge number": 10**12, "a non-integral float": 2.5, "True": True, "a string": "abc",
        "a number in a string": "33", "an empty list": [], "a list of junk": [None, "abc", math.nan],
        "a list of arrays": [np.array([1, 2]), torch.tensor([1, 2])],
        "a dict": {"abc": 2.5}, "a set": {2.5}, "a float64 tensor": torch.rand(2, 3, dtype=torch.float64),
        "an int tensor": torch.arange(6).view(2, 3), "a nan tensor": torch.tensor(math.nan),
        "an empty tensor": torch.empty(0), "a numpy array": np.array([[1.5, -2.5]]),
        "a numpy nan": np.float64("nan"), "a numpy int": np.int64(-7), "a float64 conv": nn.Conv2d(3, 2, 1).double(),
        "a module": nn.Linear(2, 2), "an object": object(),
    }


def junk() -> dict[str, object]:
    """:func:`junk_values`, the same values returned by a function, and a function that raises."""
    values = junk_values()
    functions = {f"a function returning {label}": _returning(value) for label, value in junk_values().items()}
    return {**values, **functions, "a function that raises": _raises}


class TookTooLong(BaseException):
    """Raised in a checker that runs past :data:`SECONDS` (a BaseException, so no ``except Exception`` eats it)."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    def stop(signum, frame):
        raise TookTooLong(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception|Interrupt)\b")


def call(name: str, args: tuple, kwargs: dict) -> CheckResult:
    """The checker's answer, which must come within :data:`SECONDS` and be a :class:`CheckResult`."""
    with time_limit(SECONDS, name):
        result = CHECKERS[name](*args, **kwargs)
    assert isinstance(result, CheckResult), f"{name} returned {type(result).__name__}, not a CheckResult"
    return result


def assert_diagnosis(result: CheckResult, what: str, learner_raised: bool = False):
    """A failing result with a non-empty message free of tracebacks (and of exception names, unless the learner's
    own function raised)."""
    assert not result.passed, f"{what} passed: {result}"
    assert isinstance(result.message, str) and result.message.strip(), what
    assert isinstance(result.hint, str), what
    text = f"{result.message}\n{result.hint}"
    assert "Traceback" not in text and 'File "' not in text, f"{what}: {text}"
    if learner_raised:
        assert f"raised ValueError: {BUG}" in result.message, f"{what}: {result}"
    else:
        assert not EXCEPTION_NAME.search(text), f"{what}: {text}"


def every_argument(name: str, args: tuple, kwargs: dict) -> dict[str, object]:
    """``{parameter: value}`` of a call of checker ``name``, defaults included."""
    bound = inspect.signature(CHECKERS[name]).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_any_junk_in_any_argument_gets_a_diagnosis_in_time(name, right_calls):
    arguments = every_argument(name, *right_calls[name])
    for parameter, right in arguments.items():
        for label, value in junk().items():
            result = call(name, (), {**arguments, parameter: value})
            raised = label == "a function that raises" and callable(right) and not isinstance(right, nn.Module)
            assert_diagnosis(result, f"{name} with {label} as {parameter}", learner_raised=raised)


def one_entry_junk(value):
    """``(label, value with one entry replaced by junk)`` for every entry of a dict, tuple or list (nested ones
    too), and a set with one junk entry more."""
    if isinstance(value, dict):
        for key, item in value.items():
            for label, junk_value in junk_values().items():
                yield f"[{key!r}] = {label}", {**value, key: junk_value}
            for label, inner in one_entry_junk(item):
                yield f"[{key!r}]{label}", {**value, key: inner}
    elif type(value) in (tuple, list):
        for index, item in enumerate(value):
            for label, junk_value in junk_values().items():
                yield f"[{index}] = {label}", type(value)([*value[:index], junk_value, *value[index + 1:]])
            for label, inner in one_entry_junk(item):
                yield f"[{index}]{label}", type(value)([*value[:index], inner, *value[index + 1:]])
    elif type(value) in (set, frozenset):
        for label, junk_value in junk_values().items():
            with contextlib.suppress(TypeError):  # unhashable junk cannot be in a set
                yield f" + {label}", {*value, junk_value}


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_junk_inside_a_right_answer_gets_a_diagnosis_in_time(name, right_calls):
    """One entry of the right answer (or of what the right function returns) replaced by junk. Junk that happens to
    mean the same as the entry (an empty list for an empty set) may pass; anything else must not."""
    args, kwargs = right_calls[name]
    count = ANSWER_SLOTS.get(name, 1)
    for slot in range(count):
        returns = callable(args[slot]) and not isinstance(args[slot], nn.Module)
        right = probe(name, right_calls).returned if returns else args[slot]
        for label, spoiled in one_entry_junk(right):
            trial = list(args)
            trial[slot] = (lambda *inner, value=spoiled, **kw: value) if returns else spoiled
            result = call(name, tuple(trial), kwargs)
            if result.passed and _same_meaning(spoiled, right):
                continue
            assert_diagnosis(result, f"{name} with {label} in its answer")


def _same_meaning(spoiled, right) -> bool:
    """True when junk replaced an entry by an equal one (0 for 0) or an empty list for an empty set."""
    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if type(value) in (tuple, list, set, frozenset):
            return frozenset(map(repr, value)) if type(value) in (set, frozenset) or not value else tuple(
                plain(item) for item in value)
        return value

    try:
        return plain(spoiled) == plain(right)
    except (TypeError, RuntimeError, ValueError):
        return False


# ------------------------------------------------------------------------------- right answers, spelled otherwise

ANSWER_SLOTS = {"nb07.check_one_class_baseline": 2}
"""Checkers whose answer is more than their first argument."""


def map_numbers(value, convert, sequences: bool = False):
    """``value`` with every int and float in it (in tuples, lists, sets and dict values, and in what a function
    returns) replaced by ``convert(number)``; when ``sequences``, a tuple or list of numbers (or of such tuples)
    is converted whole. Strings, tensors, modules and other objects are kept."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return convert(value)
    if isinstance(value, dict):
        return {key: map_numbers(item, convert, sequences) for key, item in value.items()}
    if type(value) in (tuple, list, set, frozenset):  # not a namedtuple such as load_state_dict's answer
        plain = [item for item in value if isinstance(item, (int, float)) and not isinstance(item, bool)]
        if sequences and value and len(plain) == len(value):
            return convert(sorted(value) if isinstance(value, (set, frozenset)) else list(value))
        if sequences and value and all(type(item) in (tuple, list) for item in value):
            return convert([list(item) for item in value])
        return type(value)(map_numbers(item, convert, sequences) for item in value)
    if callable(value) and not isinstance(value, nn.Module):
        return lambda *args, **kwargs: map_numbers(value(*args, **kwargs), convert, sequences)
    return value


def holds_numbers(value) -> bool:
    """True when :func:`map_numbers` would change ``value`` (functions aside)."""
    found = []
    map_numbers(value, found.append)
    return bool(found)


SPELLINGS = {
    "numpy scalars": lambda answer: map_numbers(answer, lambda n: np.int64(n) if isinstance(n, int) else np.float64(n)),
    "numpy arrays": lambda answer: map_numbers(answer, np.array, sequences=True),
    "torch tensors": lambda answer: map_numbers(answer, torch.tensor, sequences=True),
}
"""Other spellings of the same numbers: ``np.int64(3)``, ``np.array([1, 2, 3])``, ``torch.tensor([1, 2, 3])``."""

SPOILINGS = {
    "fractions": lambda answer: map_numbers(answer, lambda n: n + 0.7),
    "numbers in strings": lambda answer: map_numbers(answer, str),
}
"""Right answers made wrong in ways that rounding, truncating or int("33") would have hidden."""


def _answers(name: str, right_calls, change) -> tuple[tuple, dict]:
    args, kwargs = right_calls[name]
    count = ANSWER_SLOTS.get(name, 1)
    return tuple(change(answer) for answer in args[:count]) + tuple(args[count:]), kwargs


@pytest.mark.parametrize("name", sorted(CHECKERS))
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_right_answers_pass_in_numpy_and_torch_spellings(name, spelling, right_calls):
    result = call(name, *_answers(name, right_calls, SPELLINGS[spelling]))
    assert result.passed, f"{name} with {spelling}: {result}"


def test_right_answers_spoiled_by_fractions_or_quotes_never_pass(right_calls):
    spoiled = []
    for name in sorted(CHECKERS):
        args, _ = right_calls[name]
        answers = args[:ANSWER_SLOTS.get(name, 1)]
        if not holds_numbers(probe(name, right_calls).returned if callable(answers[0]) else answers):
            continue  # names, tensors or layers: nothing to round or quote
        for label, spoil in SPOILINGS.items():
            assert_diagnosis(call(name, *_answers(name, right_calls, spoil)), f"{name} with {label}")
        spoiled.append(name)
    assert len(spoiled) >= 10, spoiled


# --------------------------------------------------------------------- learner functions that go wrong in one way


class Probe(types.SimpleNamespace):
    """How a checker uses the solution function: ``calls``, the ``arguments`` and the value ``returned`` first."""


def probe(name: str, right_calls) -> Probe:
    args, kwargs = right_calls[name]
    seen = Probe(calls=0, arguments=None, returned=None)

    def solution(*inner, **kw):
        value = args[0](*inner, **kw)
        if not seen.calls:
            seen.arguments, seen.returned = inner, value
        seen.calls += 1
        return value

    assert call(name, (solution, *args[1:]), kwargs).passed, name
    return seen


FUNCTION_CHECKERS = sorted(name for name, checker in CHECKERS.items()
                           if next(iter(inspect.signature(checker).parameters)) in ("function", "aspp_forward"))
"""The checkers whose answer is a function of the learner's."""


def test_the_checkers_of_functions_are_those_whose_solution_is_a_function(right_calls):
    assert FUNCTION_CHECKERS == sorted(name for name in CHECKERS if callable(right_calls[name][0][0]))


def _raising_on(function, failing_call: int):
    """``function``, except that its ``failing_call``-th call raises."""
    calls = []

    def answer(*args, **kwargs):
        calls.append(args)
        if len(calls) == failing_call:
            raise ValueError(BUG)
        return function(*args, **kwargs)

    return answer


@pytest.mark.parametrize("name", FUNCTION_CHECKERS)
def test_a_function_that_raises_on_any_of_its_calls_is_reported(name, right_calls):
    args, kwargs = right_calls[name]
    for failing_call in range(1, probe(name, right_calls).calls + 1):
        result = call(name, (_raising_on(args[0], failing_call), *args[1:]), kwargs)
        assert_diagnosis(result, f"{name}, raising on call {failing_call}", learner_raised=True)


def _as_float64(value):
    if isinstance(value, nn.Module):
        return copy.deepcopy(value).double()
    return value.double() if isinstance(value, torch.Tensor) else value


def test_a_float64_tensor_or_layer_passes_or_is_called_float64(right_calls):
    tried = []
    for name in FUNCTION_CHECKERS:
        if not isinstance(probe(name, right_calls).returned, (torch.Tensor, nn.Module)):
            continue
        args, kwargs = right_calls[name]
        result = call(name, (lambda *inner, solution=args[0], **kw: _as_float64(solution(*inner, **kw)), *args[1:]),
                      kwargs)
        if not result.passed:  # a loss or a block may be float64; a layer or a map the model uses may not
            assert_diagnosis(result, f"{name} with a float64 result")
            assert "float64" in result.message, (name, result)
        tried.append(name)
    assert len(tried) >= 5, tried


def test_a_tensor_with_an_extra_dimension_is_called_the_wrong_shape(right_calls):
    tried = []
    for name in FUNCTION_CHECKERS:
        if not isinstance(probe(name, right_calls).returned, torch.Tensor):
            continue
        args, kwargs = right_calls[name]
        result = call(name, (lambda *inner, solution=args[0], **kw: solution(*inner, **kw)[None], *args[1:]), kwargs)
        assert_diagnosis(result, f"{name} with an extra dimension")
        assert "shape" in result.message, (name, result)
        tried.append(name)
    assert len(tried) >= 3, tried


def test_a_placeholder_answer_is_not_an_attempt_and_every_other_answer_is(right_calls):
    """show_solution() waits for an attempt: each checker must tell the exercise's ``...`` from an answer."""
    for name, (args, kwargs) in right_calls.items():
        check = CHECKERS[name]
        placeholder = check(..., *args[1:], **kwargs) if args else check(**{**kwargs, next(iter(kwargs)): ...})
        assert checks.is_placeholder_result(placeholder), (name, placeholder)
        assert not checks.is_placeholder_result(check(*args, **kwargs)), name
        assert checks.is_placeholder_result(check(None, *args[1:], **kwargs)) if args else True, name
