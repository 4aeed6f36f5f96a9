"""The committed notebooks: clean, runnable in Colab, and in the course's order."""

import re

import nbformat
import nbtool
import pytest

from segedu import REPOSITORY_URL
from segedu.course.colab import SETUP_CELL

NOTEBOOKS = sorted((nbtool.Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    assert NOTEBOOKS[0].name == "00_welcome.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    assert nbtool.problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_name_is_numbered(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_a_colab_badge_and_the_setup_cell(path):
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    repo = REPOSITORY_URL.removeprefix("https://github.com/")
    assert f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{path.name}" in first.source
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].source == SETUP_CELL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_states_its_time(path):
    first = nbformat.read(path, as_version=4).cells[0].source
    assert re.search(r"\*Time:", first), "the first cell must say how long the notebook takes"


def test_normalize_strips_noise_but_keeps_checked_outputs():
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["widgets"] = {"state": {}}
    plain = nbformat.v4.new_code_cell("1 + 1", execution_count=4, metadata={"scrolled": True})
    plain.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=4)]
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(3)", execution_count=5)
    checked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="3\n")]
    notebook.cells = [plain, checked]
    clean = nbtool.normalize(notebook)
    assert "widgets" not in clean.metadata
    assert clean.cells[0].outputs == [] and clean.cells[0].execution_count is None
    assert clean.cells[0].metadata == {}
    assert clean.cells[1].outputs[0]["text"] == "3\n" and clean.cells[1].execution_count == 1
    assert nbformat.writes(nbtool.normalize(clean)) == nbformat.writes(clean)


def test_problems_reports_an_error_output(tmp_path):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\n1/0", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    notebook.cells = [cell]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nbtool.normalize(notebook), path)
    assert any("error output" in problem for problem in nbtool.problems(path))
