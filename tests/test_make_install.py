"""`make venv` notices a half-built or broken environment and builds it again, and leaves other folders alone.

The real Makefile runs against a stand-in for Python (a shell script), in a temporary folder:
`python -m venv DIR` writes ``DIR/pyvenv.cfg``, a ``DIR/bin/python`` and a file standing for
pip; ``DIR/bin/python -m pip ...`` fails with "No module named pip" when that file is absent and
otherwise logs the call. With ``STUB_STOP=venv`` the venv is stopped after its python is written
and before pip is (as Ctrl-C during `make lab`'s first install does); with ``STUB_STOP=install`` the
install of the requirements fails. Nothing is downloaded; a run takes well under a second.
"""

import os
import shutil
import subprocess
import textwrap

import pytest

pytestmark = pytest.mark.skipif(shutil.which("make") is None or os.name != "posix",
                                reason="needs make and a POSIX shell")

VENV_PYTHON = r"""#!/bin/sh
# The python of a stand-in venv: `-m pip ...`, and `-c CODE` (fails once torch-removed exists).
venv="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$1" = "-c" ]; then [ ! -f "$venv/torch-removed" ]; exit $?; fi  # the Makefile's `import torch, segedu`
if [ "$1 $2" != "-m pip" ]; then echo "stub venv python: unsupported $*" >&2; exit 2; fi
if [ ! -f "$venv/pip-installed" ]; then echo "$venv/bin/python: No module named pip" >&2; exit 1; fi
shift 2
if [ "$1" = "--version" ]; then echo "pip 99.0 from $venv"; exit 0; fi
if [ "$STUB_STOP" = install ] && [ "$*" != "install --quiet --upgrade pip" ]; then
    echo "stub pip: connection lost" >&2; exit 1
fi
echo "pip $*" >> "$STUB_LOG"
"""

BASE_PYTHON = r"""#!/bin/sh
# A stand-in for python3: the version check of the Makefile, and `-m venv DIR`.
if [ "$1" = "-c" ]; then exit 0; fi
if [ "$1 $2" != "-m venv" ]; then echo "stub python: unsupported $*" >&2; exit 2; fi
venv="$3"
echo "venv $venv" >> "$STUB_LOG"
mkdir -p "$venv/bin" && echo "home = /usr/bin" > "$venv/pyvenv.cfg"
cp "$STUB_VENV_PYTHON" "$venv/bin/python" && chmod +x "$venv/bin/python"
if [ "$STUB_STOP" = venv ]; then echo "KeyboardInterrupt" >&2; exit 130; fi
touch "$venv/pip-installed"
"""


@pytest.fixture
def project(tmp_path, repo_root):
    """A folder with the real Makefile, its two prerequisites and the stand-in python."""
    shutil.copy(repo_root / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'stub'\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "local.txt").write_text("")
    for name, text in (("python3", BASE_PYTHON), ("venv-python", VENV_PYTHON)):
        (tmp_path / name).write_text(textwrap.dedent(text))
        (tmp_path / name).chmod(0o755)
    return tmp_path


def make_venv(project, stop: str = "", goal: str = "venv", cwd=None, makefile=None, venv=None,
              extra=()) -> subprocess.CompletedProcess:
    """Run ``make venv`` (or ``goal``) with the venv in ``project/env``; return the finished process."""
    env = {**os.environ, "STUB_LOG": str(project / "log.txt"), "STUB_VENV_PYTHON": str(project / "venv-python"),
           "STUB_STOP": stop}
    env.pop("MAKEFLAGS", None)
    command = ["make", "--no-print-directory"] + (["-f", str(makefile)] if makefile else [])
    return subprocess.run(command + [goal, f"PYTHON={project / 'python3'}", f"VENV={venv or project / 'env'}",
                                     *extra], cwd=cwd or project, env=env, capture_output=True, text=True,
                          timeout=60)


def calls(project) -> list[str]:
    """What the stand-ins were asked to do, in order (and forget it)."""
    log = project / "log.txt"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [line.split()[0] if line.startswith("venv") else line for line in lines]


def dependencies_changed(project) -> None:
    """Make the install stamp older than pyproject.toml, as an edit of the dependencies does."""
    past = (project / "pyproject.toml").stat().st_mtime - 10
    os.utime(project / "env" / ".segedu-installed", (past, past))


INSTALL = ["venv", "pip install --quiet --upgrade pip",
           "pip install --quiet -r requirements/local.txt -e .[lab,test]"]


def test_a_first_install_builds_the_venv_and_marks_it_complete(project):
    result = make_venv(project)
    assert result.returncode == 0, result.stderr
    assert calls(project) == INSTALL
    assert (project / "env" / ".segedu-installed").is_file()
    assert (project / "env" / ".segedu-venv-complete").is_file()
    assert not (project / "env" / ".segedu-venv-building").exists()
    again = make_venv(project)
    assert again.returncode == 0 and calls(project) == []


def test_a_venv_stopped_before_pip_is_removed_and_built_again(project):
    stopped = make_venv(project, stop="venv")
    assert stopped.returncode != 0
    assert (project / "env" / "bin" / "python").is_file() and not (project / "env" / "pip-installed").exists()
    assert calls(project) == ["venv"]
    result = make_venv(project)  # before the fix: "No module named pip" here and in every later run
    assert result.returncode == 0, result.stderr
    assert "incomplete or broken" in result.stdout
    assert calls(project) == INSTALL
    assert (project / "env" / ".segedu-installed").is_file()


@pytest.mark.parametrize("damage", ["no bin/python", "pip removed", "only a building marker"])
def test_a_broken_venv_is_built_again(project, damage):
    assert make_venv(project).returncode == 0
    calls(project)
    env = project / "env"
    dependencies_changed(project)
    if damage == "no bin/python":
        shutil.rmtree(env / "bin")
    elif damage == "pip removed":  # Ctrl-C while pip upgrades itself leaves no pip
        (env / "pip-installed").unlink()
    else:  # stopped right after the folder was made, before `python -m venv` wrote anything
        shutil.rmtree(env)
        env.mkdir()
        (env / ".segedu-venv-building").touch()
    (env / "sentinel").touch()
    result = make_venv(project)
    assert result.returncode == 0, result.stderr
    assert calls(project) == INSTALL
    assert not (env / "sentinel").exists()  # a fresh venv, not the damaged one
    assert (env / ".segedu-venv-complete").is_file() and (env / ".segedu-installed").is_file()


def test_an_interrupted_install_of_the_requirements_resumes_in_the_same_venv(project):
    failed = make_venv(project, stop="install")
    assert failed.returncode != 0 and "connection lost" in failed.stderr
    assert calls(project) == ["venv", "pip install --quiet --upgrade pip"]
    assert not (project / "env" / ".segedu-installed").exists()
    (project / "env" / "sentinel").touch()
    result = make_venv(project)
    assert result.returncode == 0, result.stderr
    assert calls(project) == INSTALL[1:]  # no new venv: the complete one is kept
    assert (project / "env" / "sentinel").exists()


def test_a_venv_of_an_older_makefile_is_kept(project):
    assert make_venv(project).returncode == 0
    calls(project)
    (project / "env" / ".segedu-venv-complete").unlink()  # older Makefiles wrote only the install stamp
    dependencies_changed(project)
    result = make_venv(project)
    assert result.returncode == 0, result.stderr
    assert calls(project) == INSTALL[1:]


@pytest.mark.parametrize("content", ["a file", "a folder"])
def test_a_folder_that_is_not_a_venv_is_left_alone(project, content):
    env = project / "env"
    if content == "a file":
        env.write_text("notes")
    else:
        env.mkdir()
        (env / "notes.txt").write_text("mine")
    result = make_venv(project)
    assert result.returncode != 0
    assert "is not a Python virtual environment" in result.stderr and "make VENV=" in result.stderr
    assert calls(project) == []
    if content == "a file":
        assert env.read_text() == "notes"
    else:
        assert [path.name for path in env.iterdir()] == ["notes.txt"] and (env / "notes.txt").read_text() == "mine"


def test_an_empty_folder_is_used(project):
    (project / "env").mkdir()
    result = make_venv(project)
    assert result.returncode == 0, result.stderr
    assert calls(project) == INSTALL


@pytest.mark.parametrize("damage", ["torch removed", "bin/python removed"])
def test_a_complete_venv_that_broke_later_is_built_again(project, damage):
    assert make_venv(project).returncode == 0
    calls(project)
    env = project / "env"
    if damage == "torch removed":  # the install stamp is still newer than the dependency files
        (env / "torch-removed").touch()
    else:
        (env / "bin" / "python").unlink()
    result = make_venv(project)  # before the fix: nothing to do here, then "No module named 'torch'" or error 127
    assert result.returncode == 0, result.stderr
    assert "no longer works" in result.stdout and "built again" in result.stdout
    assert calls(project) == INSTALL
    assert not (env / "torch-removed").exists()


def test_make_from_another_folder_runs_in_the_repository(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = make_venv(project, cwd=elsewhere, makefile=project / "Makefile", venv="env")
    assert result.returncode == 0, result.stderr  # before the fix: "No rule to make target 'pyproject.toml'"
    assert calls(project) == INSTALL
    assert (project / "env" / ".segedu-installed").is_file() and not (elsewhere / "env").exists()


@pytest.mark.parametrize("port", ["99999", "0", "abc", ""])
def test_lab_refuses_a_port_that_is_not_one_before_installing_anything(project, port):
    result = make_venv(project, goal="lab", extra=[f"PORT={port}"])
    assert result.returncode != 0
    assert f"PORT={port} is not a port number" in result.stderr and "1 to 65535" in result.stderr
    assert calls(project) == []
