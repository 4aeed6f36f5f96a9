"""Notebook 08's form: one hidden solution per exercise, test markers in tags, papers and sources linked.

(That it runs, and that its checked outputs hold, is nbval's job: see common.md.)
"""

import re
from pathlib import Path

import nbformat
import nbtool

ROOT = Path(__file__).resolve().parent.parent
PATH = ROOT / "notebooks" / "08_both_at_once.ipynb"
NOTEBOOK = nbformat.read(PATH, as_version=4)
CODE = [cell for cell in NOTEBOOK.cells if cell.cell_type == "code"]
MARKDOWN = "\n".join(cell.source for cell in NOTEBOOK.cells if cell.cell_type == "markdown")


def test_every_exercise_has_a_solution_hidden_in_colab_and_jupyterlab():
    solutions = [cell for cell in CODE if cell.source.startswith(nbtool.SOLUTION_TITLE + "\n")]
    exercises = [cell for cell in CODE if "nb08.check_" in cell.source and cell not in solutions]
    assert len(exercises) == len(solutions) == 3
    for cell in solutions:
        assert cell.metadata.get("cellView") == "form"
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
    for exercise in exercises:
        assert "..." in exercise.source, "the learner's cell must leave the answer to the learner"


def test_test_markers_are_cell_tags_not_comments():
    assert not any("NBVAL" in cell.source for cell in CODE)
    checked = [cell for cell in CODE if "nbval-check-output" in cell.metadata.get("tags", [])]
    assert checked and all(cell.outputs for cell in checked)
    assert all(not cell.outputs for cell in CODE if cell not in checked)


def test_the_papers_and_the_source_files_are_linked():
    for paper in ("1511.07122", "1706.05587", "1802.02611", "1612.01105"):  # Yu-Koltun, DeepLab v3, v3+, PSPNet
        assert f"https://arxiv.org/abs/{paper}" in MARKDOWN
    links = re.findall(r"\]\((\.\./[^)]+)\)", MARKDOWN)
    assert {"../segedu/models/deeplab.py", "../segedu/models/unet_context.py", "../segedu/models/unet_ppm.py",
            "../segedu/course/checks/nb08.py"} <= set(links)
    for link in links:
        assert (PATH.parent / link).resolve().is_file(), link


def test_the_other_rows_come_from_the_leaderboard_and_a_missing_one_is_survived():
    source = "\n".join(cell.source for cell in CODE)
    assert "leaderboard.load()" in source
    assert "except (FileNotFoundError, ValueError)" in source
    trained = re.findall(r'build_run\("(\w+)", train\.num_classes', source)
    assert trained == ["unet_context"], "learner mode trains one model; the others come from the leaderboard"
