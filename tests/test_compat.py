"""segedu on the oldest versions it admits: ipywidgets 7.7.1 (Colab), Python 3.10, torch 2.4.

The side environments come from tools/compat.py: built on first use, cached in the gitignored
folders .venv-ipywidgets7/ (seconds, a few MB) and .venv-torch24/ (about 3 GB downloaded, so
that run happens only in CI or with SEGEDU_COMPAT=1).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import subprocess
import sys
from importlib import metadata

import compat
import pytest

pytestmark = pytest.mark.compat

VERMIN = [sys.executable, "-c", "import sys; from vermin import main; sys.exit(main())",
          "--config-file", str(compat.ROOT / "vermin.ini")]


def passed(output: str) -> int:
    """The number of passed tests in a pytest run's output; fails on a failure or error."""
    summary = output.strip().splitlines()[-1]
    assert not re.search(r"\d+ (failed|errors?)\b", summary), output[-6000:]
    found = re.search(r"(\d+) passed", summary)
    return int(found.group(1)) if found else 0


def count_test_functions(path) -> int:
    """How many ``test_*`` functions ``path`` defines (a lower bound on the tests it runs)."""
    tree = ast.parse(path.read_text())
    return sum(isinstance(node, ast.FunctionDef) and node.name.startswith("test_") for node in tree.body)


@pytest.fixture(scope="module")
def ipywidgets7():
    """The interpreter of .venv-ipywidgets7, built if needed; the main environment is left as it was."""
    before = metadata.version("ipywidgets")
    python = compat.ensure(compat.IPYWIDGETS7)
    assert metadata.version("ipywidgets") == before
    return python


@pytest.mark.slow
def test_widget_tests_and_every_import_pass_under_ipywidgets_7_7_1(ipywidgets7, repo_root):
    done = compat.run_inside(compat.IPYWIDGETS7)
    assert done.returncode == 0, done.stdout[-6000:]
    assert re.search(r"ipywidgets 7\.7\.1; imported \d+ segedu modules", done.stdout), done.stdout[:2000]
    assert passed(done.stdout) >= count_test_functions(repo_root / "tests" / "test_widgets.py") > 0


@pytest.mark.slow
def test_segedu_uses_only_ipywidgets_api_that_7_7_1_has(ipywidgets7, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "newer.py").write_text(
        "import ipywidgets as w\nfrom ipywidgets import TagsInput\n\n"
        "box = w.Stack([])\nslider = w.IntSlider(value=1, tooltip='moves', description='row')\n"
    )
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); import compat; "
              "print(json.dumps([compat.ipywidgets_api_problems(), compat.ipywidgets_api_problems(sys.argv[2])]))")
    done = subprocess.run([str(ipywidgets7), "-c", script, str(compat.ROOT / "tools"), str(probe)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    in_segedu, in_probe = json.loads(done.stdout)
    assert in_segedu == []
    assert [problem.split(": ", 1)[1] for problem in in_probe] == [
        "ipywidgets 7.7.1 has no TagsInput",
        "ipywidgets 7.7.1 has no Stack",
        "ipywidgets 7.7.1: IntSlider has no trait 'tooltip'",
    ]


def test_side_environment_is_reused_while_up_to_date_and_rebuilt_when_stale(tmp_path):
    env = compat.IPYWIDGETS7
    assert compat.plan(env, tmp_path) == "create"  # nothing there yet
    python = tmp_path / env.folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    stamp = compat.wanted_stamp(env, tmp_path)
    (tmp_path / env.folder / compat.STAMP).write_text(json.dumps(stamp))
    assert compat.plan(env, tmp_path) == "ok"
    assert compat.plan(dataclasses.replace(env, requirements=("ipywidgets==7.7.2",)), tmp_path) == "install"
    moved = {**stamp, "create": {**stamp["create"], "main_site": ["/elsewhere/site-packages"]}}
    (tmp_path / env.folder / compat.STAMP).write_text(json.dumps(moved))
    assert compat.plan(env, tmp_path) == "create"  # the main environment moved: start again


def test_an_editable_install_is_redone_when_pyproject_changes(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\ndependencies = ['torch>=2.4']\n")
    before = compat.wanted_stamp(compat.TORCH24, tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\ndependencies = ['torch>=2.5']\n")
    after = compat.wanted_stamp(compat.TORCH24, tmp_path)
    assert before["create"] == after["create"] and before["install"] != after["install"]


def test_nothing_needs_python_newer_than_3_10(repo_root):
    done = subprocess.run([*VERMIN, "segedu", "tests", "tools"], cwd=repo_root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Target versions not met" not in done.stdout, done.stdout + done.stderr


NEWER_PYTHON = {
    "import tomllib\n": "'tomllib' module requires !2, 3.11",
    "try:\n    pass\nexcept* ValueError:\n    pass\n": "`except*` requires !2, 3.11",
    "from typing import Self\n": "'typing.Self' member requires !2, 3.11",
    "import enum\n\n\nclass Mode(enum.StrEnum):\n    FAST = 'fast'\n": "'enum.StrEnum' member requires !2, 3.11",
}


@pytest.mark.parametrize("source", NEWER_PYTHON)
def test_the_python_rule_catches_code_that_needs_3_11(tmp_path, source):
    (tmp_path / "module.py").write_text(source)
    done = subprocess.run([*VERMIN, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and NEWER_PYTHON[source] in done.stdout, done.stdout


def test_the_python_rule_accepts_3_10_code_using_torch(tmp_path):
    (tmp_path / "module.py").write_text(
        "from __future__ import annotations\n\nimport torch\n\n\n"
        "def classes(x: torch.Tensor, names: list[str] | None = None) -> torch.Tensor:\n"
        "    match x.dim():\n        case 4:\n            return x.argmax(1).long()\n"
        "    return torch.stack([a for a, _ in zip(x, names or [], strict=True)])\n"
    )
    done = subprocess.run([*VERMIN, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Minimum required versions: 3.10" in done.stdout, done.stdout


def test_ruff_rejects_syntax_newer_than_3_10(tmp_path, repo_root):
    (tmp_path / "module.py").write_text("try:\n    pass\nexcept* ValueError:\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(repo_root / "pyproject.toml"), str(tmp_path / "module.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Cannot use `except*` on Python 3.10" in done.stdout, done.stdout


TORCH24_SKIP = (
    "the torch 2.4 check downloads torch 2.4.1 + torchvision 0.19.1 from PyPI (a CUDA build, about 3 GB; "
    "5.5 GB installed in .venv-torch24/) and runs the unit tests there: about 4 minutes the first time, 1 minute "
    "after. Run it with `make compat` or `SEGEDU_COMPAT=1 make test`; CI always runs it"
)


@pytest.mark.slow
def test_unit_tests_pass_with_torch_2_4(repo_root):
    wanted = os.environ.get("CI", "").lower() == "true" or os.environ.get("SEGEDU_COMPAT") == "1"
    if not wanted:
        pytest.skip(TORCH24_SKIP)
    done = compat.run_inside(compat.TORCH24)
    assert done.returncode == 0, done.stdout[-8000:]
    assert re.search(r"torch 2\.4\.1, torchvision 0\.19\.1; imported \d+ segedu modules", done.stdout)
    assert passed(done.stdout) > 100


def test_a_python_too_new_for_the_old_torch_wheels_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setenv("SEGEDU_COMPAT_PYTHON", sys.executable)
    too_old_for_us = dataclasses.replace(compat.TORCH24, newest_python=(3, sys.version_info.minor - 1))
    with pytest.raises(RuntimeError, match="point SEGEDU_COMPAT_PYTHON at a Python 3.10 to"):
        compat.base_python(too_old_for_us)
    assert compat.base_python(compat.TORCH24)[0] == sys.executable  # the variable comes first
