"""Keep the course notebooks in their committed form, and refresh their checked outputs.

Committed notebooks are clean: no widget state, no execution noise, no outputs, except in
cells tagged ``nbval-check-output`` (or marked ``# NBVAL_CHECK_OUTPUT``), whose outputs nbval
compares (they come from a fast-mode run, so they must not depend on the mode). Cell metadata
kept: tags, JupyterLab's ``jupyter`` (hidden sources) and Colab's ``cellView`` (forms), so that
a solution cell stays collapsed in both. Usage::

    python tools/nbtool.py normalize notebooks/*.ipynb   # strip noise in place
    python tools/nbtool.py execute notebooks/03_*.ipynb  # run in fast mode, keep checked outputs
    python tools/nbtool.py check notebooks/*.ipynb       # exit 1 if a notebook is not clean
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import nbformat

from segedu.course.colab import SETUP_CELL

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
CHECK_TAG = "nbval-check-output"
KEPT_CELL_METADATA = ("tags", "jupyter", "editable", "deletable", "cellView")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def is_checked(cell) -> bool:
    """True for a code cell whose output nbval compares (marked by a comment or, better, a cell tag)."""
    return cell.cell_type == "code" and (CHECK_MARK in cell.source or CHECK_TAG in cell.metadata.get("tags", ()))


def normalize(notebook):
    """Return a clean copy of ``notebook``: outputs only in checked cells, no noise.

    The first code cell, if it is a setup cell (starts with ``# Setup:``), is replaced by
    the current :data:`segedu.colab.SETUP_CELL`.
    """
    clean = copy.deepcopy(notebook)
    clean.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    )
    setup = next((cell for cell in clean.cells if cell.cell_type == "code"), None)
    if setup is not None and setup.source.startswith("# Setup:"):
        setup.source = SETUP_CELL  # one setup cell for every notebook, kept in segedu.colab
    count = 0
    for cell in clean.cells:
        cell.metadata = nbformat.from_dict(
            {key: value for key, value in cell.metadata.items() if key in KEPT_CELL_METADATA}
        )
        cell.pop("id", None)
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        if is_checked(cell) and cell.outputs:
            count += 1
            cell.execution_count = count
            cell.outputs = [_clean_output(output, count) for output in cell.outputs]
        else:
            cell.execution_count = None
            cell.outputs = []
    clean.nbformat, clean.nbformat_minor = 4, 5
    for index, cell in enumerate(clean.cells):
        cell["id"] = f"cell-{index:03d}"
    return clean


def _clean_output(output, count):
    output = copy.deepcopy(output)
    kind = output.get("output_type")
    if kind in ("execute_result", "display_data"):
        output["metadata"] = {}
    if kind == "execute_result":
        output["execution_count"] = count
    return output


def problems(path: Path) -> list[str]:
    """What is wrong with the committed notebook at ``path`` (an empty list if nothing)."""
    notebook = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{path}: cell {index} is committed with an error output")
    if nbformat.writes(normalize(notebook)) != nbformat.writes(notebook):
        found.append(f"{path}: not normalised; run `python tools/nbtool.py normalize {path}`")
    if not any(is_checked(cell) for cell in notebook.cells):
        found.append(f"{path}: no cell is marked {CHECK_MARK} or tagged {CHECK_TAG}, so nbval compares nothing")
    return found


def execute(path: Path, timeout: int = 900) -> None:
    """Run ``path`` top to bottom in fast mode and write it back with its checked outputs."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    previous = os.environ.get("SEGEDU_FAST")
    os.environ["SEGEDU_FAST"] = "1"
    try:
        NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        if previous is None:
            os.environ.pop("SEGEDU_FAST")
        else:
            os.environ["SEGEDU_FAST"] = previous
    write(path, normalize(notebook))


def write(path: Path, notebook) -> None:
    """Write ``notebook`` to ``path`` in the committed format (1-space JSON indent, trailing newline)."""
    nbformat.validate(notebook)
    text = nbformat.writes(notebook)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["normalize", "execute", "check"])
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found = []
    for path in args.paths:
        if args.command == "normalize":
            write(path, normalize(nbformat.read(path, as_version=4)))
        elif args.command == "execute":
            print(f"executing {path} in fast mode ...", flush=True)
            execute(path)
        else:
            found += problems(path)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
