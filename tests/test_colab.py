"""The Colab setup logic, exercised with a simulated Colab runtime."""

import sys
import types

import pytest

from segedu import colab


@pytest.fixture
def fake_colab(monkeypatch):
    enabled = []
    module = types.ModuleType("google.colab")
    module.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    monkeypatch.setitem(sys.modules, "google.colab", module)
    return enabled


def test_outside_colab_setup_installs_nothing(capsys):
    ran = []
    facts = colab.setup(run=ran.append)
    assert not colab.in_colab()
    assert ran == []
    assert facts["in colab"] == "False"
    assert "torch" in capsys.readouterr().out


def test_in_colab_setup_installs_when_segedu_is_only_on_the_path(fake_colab, monkeypatch, tmp_path):
    monkeypatch.setattr(colab, "is_installed", lambda: False)
    ran = []
    facts = colab.setup(report=False, run=ran.append, checkout=tmp_path)
    assert ran == [[sys.executable, "-m", "pip", "install", "-q", "-e", str(tmp_path)]]
    assert fake_colab == [True]
    assert facts["in colab"] == "True"


def test_in_colab_setup_does_not_reinstall(fake_colab, monkeypatch):
    monkeypatch.setattr(colab, "is_installed", lambda: True)
    ran = []
    colab.setup(report=False, run=ran.append)
    assert ran == [] and fake_colab == [True]


def test_setup_cell_runs_and_clones_only_in_colab(fake_colab, monkeypatch):
    """Execute the cell's Python with IPython's `!` lines turned into recorded calls."""
    shell = []
    lines = []
    for line in colab.SETUP_CELL.splitlines():
        indent, command = line[: len(line) - len(line.lstrip())], line.lstrip()
        lines.append(f"{indent}shell.append({command[1:]!r})" if command.startswith("!") else line)
    source = "\n".join(lines)
    monkeypatch.setattr(colab, "is_installed", lambda: True)
    path_before = list(sys.path)
    try:
        exec(compile(source, "setup-cell", "exec"), {"shell": shell})
        assert shell == [f"git clone -q --depth 1 {colab.REPOSITORY_URL} /content/segedu"]
        assert "/content/segedu" in sys.path
    finally:
        sys.path[:] = path_before

