"""segedu on the versions learners have: Colab's package set, ipywidgets 7.7.1, Python 3.10 with torch 2.4.

The side environments come from tools/compat.py: built on first use, cached in the gitignored
folders .venv-ipywidgets7/ (seconds, a few MB), .venv-torch24/ (about 3 GB downloaded) and
.venv-colab/ (several GB downloaded); the last two run only in CI or with SEGEDU_COMPAT=1.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import warnings
from importlib import metadata

import compat
import nbformat
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


def test_a_side_environment_is_reused_until_what_it_installs_changes(tmp_path):
    """A stale side environment would test packages that the project no longer asks for."""
    env = compat.COLAB
    (tmp_path / "pyproject.toml").write_text("[project]\ndependencies = ['torch>=2.4']\n")
    assert compat.plan(env, tmp_path) == "create"  # nothing there yet
    python = tmp_path / env.folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    (tmp_path / env.folder / compat.STAMP).write_text(json.dumps(compat.wanted_stamp(env, tmp_path)))
    assert compat.plan(env, tmp_path) == "ok"
    (tmp_path / "pyproject.toml").write_text("[project]\ndependencies = ['torch>=2.5']\n")
    assert compat.plan(env, tmp_path) == "install"  # segedu's editable install follows pyproject.toml


def test_nothing_needs_python_newer_than_3_10(repo_root):
    done = subprocess.run([*VERMIN, "segedu", "tests", "tools"], cwd=repo_root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Target versions not met" not in done.stdout, done.stdout + done.stderr


def side_runs_wanted() -> bool:
    """The big side environments run in CI (``CI=true``) and with ``SEGEDU_COMPAT=1`` (``make compat``)."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("SEGEDU_COMPAT") == "1"


TORCH24_SKIP = (
    "the torch 2.4 check downloads torch 2.4.1 + torchvision 0.19.1 from PyPI (a CUDA build, about 3 GB; "
    "5.5 GB installed in .venv-torch24/) and runs the unit tests there: about 4 minutes the first time, 1 minute "
    "after. Run it with `make compat` or `SEGEDU_COMPAT=1 make test`; CI always runs it"
)


@pytest.mark.slow
def test_unit_tests_pass_with_torch_2_4(repo_root):
    if not side_runs_wanted():
        pytest.skip(TORCH24_SKIP)
    done = compat.run_inside(compat.TORCH24)
    assert done.returncode == 0, done.stdout[-8000:]
    assert re.search(r"torch 2\.4\.1, torchvision 0\.19\.1; imported \d+ segedu modules", done.stdout)
    assert passed(done.stdout) > 100


COLAB_SKIP = (
    "the Colab check downloads Colab's package set from PyPI (torch 2.11.0 is a CUDA build: 5.4 GB installed "
    "in .venv-colab/) and runs every notebook in fast mode and the unit tests there: about 5 minutes the first "
    "time, 3 after. Run it with `make compat` or `SEGEDU_COMPAT=1 make test`; CI always runs it"
)


def count_code_cells(folder) -> int:
    """How many code cells the notebooks in ``folder`` have (nbval makes one test of each)."""
    return sum(cell.cell_type == "code" for path in sorted(folder.glob("*.ipynb"))
               for cell in nbformat.read(path, as_version=4).cells)


@pytest.mark.slow
def test_every_notebook_and_the_unit_tests_pass_with_colabs_packages(repo_root):
    if not side_runs_wanted():
        pytest.skip(COLAB_SKIP)
    done = compat.run_inside(compat.COLAB)
    assert done.returncode == 0, done.stdout[-8000:]
    versions = ", ".join(f"{module} {version}" for module, version in compat.COLAB.expect)
    found = re.search(rf"Python (\d+\.\d+)\S*, {re.escape(versions)}; imported \d+ segedu modules", done.stdout)
    assert found, done.stdout[:2000]
    if found.group(1) != "{}.{}".format(*compat.COLAB_PYTHON):
        warnings.warn(f"the Colab check ran on {compat.describe_python(compat.COLAB)}", stacklevel=1)
    unit_tests = [path for path in (repo_root / "tests").glob("test_*.py")
                  if path.name not in ("test_compat.py", "test_browser.py")]
    at_least = count_code_cells(repo_root / "notebooks") + sum(map(count_test_functions, unit_tests))
    assert passed(done.stdout) >= at_least > 300


def fake_python(pyenv, version: str) -> str:
    """A stand-in for pyenv's Python ``version`` under ``pyenv``: it answers compat's probe with it."""
    minor = ".".join(version.split(".")[:2])
    path = pyenv / "versions" / version / "bin" / f"python{minor}"
    path.parent.mkdir(parents=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return str(path)


def test_a_side_environment_is_built_on_the_oldest_or_newest_python_its_wheels_allow(monkeypatch, tmp_path):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # only the fake pyenv's and the main Python
    for env in (compat.TORCH24, compat.COLAB):
        monkeypatch.delenv(env.python_variable, raising=False)
    pythons = {version: fake_python(tmp_path, version) for version in ("3.9.18", "3.10.13", "3.12.1", "3.14.0")}
    assert compat.base_python(compat.TORCH24) == (pythons["3.10.13"], "3.10.13")
    if sys.version_info[:2] < (3, 12):  # the main Python is a candidate too
        assert compat.base_python(compat.COLAB) == (pythons["3.12.1"], "3.12.1")
        assert compat.describe_python(compat.COLAB) == (
            "Python 3.12.1, the newest found: no Python 3.13 here (set SEGEDU_COLAB_PYTHON to use one)")
    monkeypatch.setenv("SEGEDU_COLAB_PYTHON", pythons["3.14.0"])
    with pytest.raises(RuntimeError, match=r"needs Python 3\.10 to 3\.13, found 3\.14\.0 .* point SEGEDU_COLAB_PY"):
        compat.base_python(compat.COLAB)
    monkeypatch.setenv("SEGEDU_COMPAT_PYTHON", pythons["3.12.1"])
    assert compat.base_python(compat.TORCH24) == (pythons["3.12.1"], "3.12.1")  # the variable comes first
