"""The committed notebooks: clean, runnable in Colab, and in the course's order."""

import ast
import re

import nbformat
import nbtool
import pytest

import segedu
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


def test_normalize_points_the_colab_badge_at_the_repository_url(monkeypatch):
    old = "https://colab.research.google.com/github/segedu/segedu/blob/main/notebooks/03_down_and_up.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(f"[![Open In Colab](x.svg)]({old})\n\n# 03 · Down")]
    monkeypatch.setattr(segedu, "REPOSITORY_URL", "https://github.com/a-teacher/our-course.git")
    fork = "https://colab.research.google.com/github/a-teacher/our-course/blob/main/notebooks"
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({fork}/03_down_and_up.ipynb)"
    assert nbtool.normalize(notebook).cells[0].source == f"{badge}\n\n# 03 · Down"
    renamed = nbtool.normalize(notebook, "04_renamed.ipynb").cells[0].source
    assert renamed.startswith(f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                              f"({fork}/04_renamed.ipynb)\n\n# 03")
    notebook.cells[0].source = "# 05 · A new notebook"
    assert nbtool.normalize(notebook, "05_new.ipynb").cells[0].source.endswith(
        f"({fork}/05_new.ipynb)\n\n# 05 · A new notebook")


def test_a_repository_url_colab_cannot_open_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setattr(segedu, "REPOSITORY_URL", "https://gitlab.com/a-teacher/our-course")
    with pytest.raises(ValueError, match="only from GitHub: set it to .*https://github.com/OWNER/REPO"):
        nbtool.colab_url("00_welcome.ipynb")


def test_a_notebook_whose_badge_names_another_repository_is_not_clean(tmp_path):
    path = tmp_path / "00_welcome.ipynb"
    text = NOTEBOOKS[0].read_text(encoding="utf-8")
    repo = REPOSITORY_URL.removeprefix("https://github.com/")
    path.write_text(text.replace(f"/github/{repo}/", "/github/someone/else/"), encoding="utf-8")
    assert nbtool.problems(path) == [f"{path}: not normalised; run `python tools/nbtool.py normalize {path}`"]
    nbtool.main(["normalize", str(path)])
    assert nbtool.problems(path) == [] and path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_test_markers_are_tags_and_solutions_are_hidden_in_jupyterlab_and_colab(path):
    notebook = nbformat.read(path, as_version=4)
    assert not any("NBVAL" in cell.source for cell in notebook.cells)  # nothing of the tests in the learner's code
    solutions = [cell for cell in notebook.cells if "solution" in cell.metadata.get("tags", [])]
    for cell in solutions:
        assert cell.source.startswith("#@title Solution")  # Colab hides the code of a titled form cell
        assert cell.metadata["cellView"] == "form" and cell.metadata["jupyter"]["source_hidden"] is True


def test_normalize_turns_markers_into_tags_and_hides_solutions_both_ways():
    notebook = nbformat.v4.new_notebook()
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(3)")
    ignored = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nexplorer")
    solution = nbformat.v4.new_code_cell("answer = 42\ncheck(answer)", metadata={"jupyter": {"source_hidden": True}})
    notebook.cells = [checked, ignored, solution]
    clean = nbtool.normalize(notebook)
    assert clean.cells[0].source == "print(3)" and clean.cells[0].metadata["tags"] == ["nbval-check-output"]
    assert clean.cells[1].source == "explorer" and clean.cells[1].metadata["tags"] == ["nbval-ignore-output"]
    hidden = clean.cells[2]
    assert hidden.source == f"{nbtool.SOLUTION_TITLE}\nanswer = 42\ncheck(answer)"
    assert hidden.metadata == {"tags": ["solution"], "cellView": "form", "jupyter": {"source_hidden": True}}
    assert nbformat.writes(nbtool.normalize(clean)) == nbformat.writes(clean)  # normalising twice changes nothing


def python_of(source: str) -> str:
    """A cell's source with IPython's magic and shell lines (``%...``, ``!...``) turned into ``pass``."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def bound_names(source: str) -> set[str]:
    """The names a cell binds at its top level (assignments, loop and with targets, defs, classes, imports);
    not the local names of its functions, lambdas and comprehensions."""
    names = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(python_of(source)))
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_use_their_own_names_and_wait_for_the_learners_attempt(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    solutions = [cell for cell in code if "solution" in cell.metadata.get("tags", [])]
    learners = set().union(*(bound_names(cell.source) for cell in code if cell not in solutions))
    for cell in solutions:
        names = bound_names(cell.source)
        # the learner's variables are never changed: a solution's names are its own
        assert all(name.endswith("_solution") for name in names), (path.name, names)
        assert not names & learners, (path.name, names & learners)
        # Run All never reveals an answer: the cell ends with show_solution(..., after=<the checker it calls>)
        last = ast.parse(python_of(cell.source)).body[-1]
        assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call), cell.source
        call = last.value
        assert ast.unparse(call.func) == "show_solution", cell.source
        after = {keyword.arg: ast.unparse(keyword.value) for keyword in call.keywords}.get("after", "")
        assert re.fullmatch(r"nb\d\d\.check_\w+", after) and f"{after}(" in cell.source, cell.source
