"""The notebook half of `make test` really fails when a notebook raises, and checks marked outputs."""

import subprocess
import sys

import nbformat
import nbtool
import pytest


def _run_nbval(tmp_path, cells) -> subprocess.CompletedProcess:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    nbtool.write(tmp_path / "probe.ipynb", nbtool.normalize(notebook))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
         str(tmp_path / "probe.ipynb")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )


def _checked(source, output_text):
    cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\n" + source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output_text)]
    return cell


@pytest.mark.slow
def test_nbval_fails_on_a_raising_cell_and_on_a_changed_checked_output(tmp_path):
    good = _run_nbval(tmp_path, [_checked("print(6 * 7)", "42\n")])
    assert good.returncode == 0, good.stdout + good.stderr
    raising = _run_nbval(tmp_path, [_checked("print(6 * 7)", "42\n"), nbformat.v4.new_code_cell("1 / 0")])
    assert raising.returncode == 1 and "ZeroDivisionError" in raising.stdout
    changed = _run_nbval(tmp_path, [_checked("print(6 * 9)", "42\n")])
    assert changed.returncode == 1
