"""The Colab setup logic, exercised with a simulated Colab runtime."""

import subprocess
import sys
import types

import pytest

from segedu.course import colab


@pytest.fixture
def fake_colab(monkeypatch):
    enabled = []
    module = types.ModuleType("google.colab")
    module.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    monkeypatch.setitem(sys.modules, "google.colab", module)
    return enabled


def succeeded(command):
    return subprocess.CompletedProcess(command, 0, stdout="")


def test_outside_colab_setup_installs_nothing_and_prints_the_environment_once(capsys):
    ran = []
    assert colab.setup(run=ran.append) is None  # nothing for the cell to echo a second time
    assert not colab.in_colab() and ran == []
    out = capsys.readouterr().out
    assert out.count("torch ") >= 1 and out.count("in colab") == 1


def test_in_colab_setup_installs_when_segedu_is_only_on_the_path(fake_colab, monkeypatch, tmp_path):
    monkeypatch.setattr(colab, "is_installed", lambda: False)
    ran = []
    colab.setup(report=False, run=lambda command: ran.append(command) or succeeded(command), checkout=tmp_path)
    assert ran == [[sys.executable, "-m", "pip", "install", "-q", "-e", str(tmp_path)]]
    assert fake_colab == [True]


def test_a_failing_pip_says_what_went_wrong_and_what_to_do(fake_colab, monkeypatch, tmp_path):
    monkeypatch.setattr(colab, "is_installed", lambda: False)

    def failing(command):
        return subprocess.CompletedProcess(command, 1, stdout="Collecting x\nERROR: No matching distribution for x\n")

    with pytest.raises(RuntimeError, match=r"(?s)exit code 1.*No matching distribution.*Run this cell again"):
        colab.setup(report=False, run=failing, checkout=tmp_path)


def test_in_colab_setup_does_not_reinstall(fake_colab, monkeypatch):
    monkeypatch.setattr(colab, "is_installed", lambda: True)
    ran = []
    colab.setup(report=False, run=ran.append)
    assert ran == [] and fake_colab == [True]


def run_cell(tmp_path, shell_effect):
    """Execute the setup cell's Python with the checkout under ``tmp_path``; ``!`` lines call ``shell_effect``."""
    checkout = tmp_path / "segedu-checkout"
    source = colab.SETUP_CELL.replace(str(colab.COLAB_CHECKOUT), str(checkout))
    lines = []
    for line in source.splitlines():
        indent, command = line[: len(line) - len(line.lstrip())], line.lstrip()
        lines.append(f"{indent}shell({command[1:]!r})" if command.startswith("!") else line)
    exec(compile("\n".join(lines), "setup-cell", "exec"), {"shell": lambda command: shell_effect(command, checkout)})
    return checkout


def test_setup_cell_fetches_in_colab_and_a_failed_fetch_is_retried(fake_colab, monkeypatch, tmp_path):
    monkeypatch.setattr(colab, "is_installed", lambda: True)
    commands = []
    path_before = list(sys.path)
    try:
        def network_down(command, checkout):
            commands.append(command)

        with pytest.raises(RuntimeError, match="Could not fetch the course.*run this cell again"):
            run_cell(tmp_path, network_down)
        assert str(tmp_path / "segedu-checkout") not in sys.path  # nothing half-done was put on the path

        def network_up(command, checkout):
            commands.append(command)
            (checkout / "segedu").mkdir(parents=True)
            (checkout / "segedu" / "__init__.py").write_text("")

        checkout = run_cell(tmp_path, network_up)
        assert len(commands) == 2 and all(f"git clone -q --depth 1 {colab.REPOSITORY_URL}" in c for c in commands)
        assert str(checkout) in sys.path
        run_cell(tmp_path, network_up)  # fetched: running the cell again fetches nothing
        assert len(commands) == 2 and sys.path.count(str(checkout)) == 1
    finally:
        sys.path[:] = path_before
