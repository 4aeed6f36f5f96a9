"""Keep the course notebooks in their committed form, and refresh their checked outputs.

Committed notebooks are clean: no widget state, no execution noise, no outputs, except
in cells tagged ``nbval-check-output``, whose outputs nbval compares (they come from a
fast-mode run, so they must not depend on the mode). Test markers live in cell tags, never in
the learner's code (a ``# NBVAL_CHECK_OUTPUT`` / ``# NBVAL_IGNORE_OUTPUT`` first line becomes a
tag). A solution cell (tagged ``solution``, or hidden with JupyterLab's ``source_hidden``) is
hidden in JupyterLab *and* in Colab: it starts with a ``#@title`` line and has ``cellView: form``. Each opens with an "Open in Colab"
badge and the setup cell, both made from ``segedu.REPOSITORY_URL``: a fork changes that one
line and runs ``normalize``. Usage::

    python tools/nbtool.py normalize notebooks/*.ipynb   # strip noise, rewrite badge and setup cell
    python tools/nbtool.py execute notebooks/03_*.ipynb  # run in fast mode, keep checked outputs
    python tools/nbtool.py check notebooks/*.ipynb       # exit 1 if a notebook is not clean
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from pathlib import Path

import nbformat

import segedu
from segedu.course.colab import SETUP_CELL

CHECK_TAG, IGNORE_TAG, SOLUTION_TAG = "nbval-check-output", "nbval-ignore-output", "solution"
MARKERS = {"# NBVAL_CHECK_OUTPUT": CHECK_TAG, "# NBVAL_IGNORE_OUTPUT": IGNORE_TAG}
"""First lines that older notebooks used as test markers, and the cell tag each becomes."""
SOLUTION_TITLE = "#@title Solution: run this cell to check it"
KEPT_CELL_METADATA = ("tags", "jupyter", "editable", "deletable", "cellView")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = re.compile(r"\[!\[[^\]]*\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)\s]*/([^/)\s]+)\)")
BRANCH = "main"  # the branch the badges open


def colab_url(name: str) -> str:
    """The address that opens ``notebooks/<name>`` of ``segedu.REPOSITORY_URL`` (its main branch) in Colab.

    Raises ValueError, saying what to write instead, when the URL is not a GitHub repository's.
    """
    url = segedu.REPOSITORY_URL
    found = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    if found is None:
        raise ValueError(f"segedu.REPOSITORY_URL is {url!r}, but Colab opens notebooks only from GitHub: "
                         f"set it to a repository's address such as https://github.com/OWNER/REPO")
    owner, repo = found.groups()
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{BRANCH}/notebooks/{name}"


def colab_badge(name: str) -> str:
    """The Markdown of the "Open in Colab" badge of ``notebooks/<name>``."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(name)})"


def is_checked(cell) -> bool:
    """True for a code cell whose output nbval compares."""
    return cell.cell_type == "code" and CHECK_TAG in cell.metadata.get("tags", [])


def _markers_to_tags(cell) -> None:
    """Move a test marker from the cell's first line into its tags."""
    first, _, rest = cell.source.partition("\n")
    if first.strip() in MARKERS:
        tags = cell.metadata.setdefault("tags", [])
        if MARKERS[first.strip()] not in tags:
            tags.append(MARKERS[first.strip()])
        cell.source = rest


def _hide_solution(cell) -> None:
    """A solution cell: tagged, its first line a ``#@title`` (Colab hides the code below a title when the
    cell has ``cellView: form``) and ``source_hidden`` (JupyterLab)."""
    tags = cell.metadata.setdefault("tags", [])
    hidden = cell.metadata.get("jupyter", {}).get("source_hidden")
    if not (hidden or SOLUTION_TAG in tags or cell.source.startswith("#@title Solution")):
        if not tags:
            cell.metadata.pop("tags")
        return
    if SOLUTION_TAG not in tags:
        tags.append(SOLUTION_TAG)
    lines = cell.source.split("\n")
    if lines[0].startswith("#@title"):
        lines = lines[1:]
    cell.source = "\n".join([SOLUTION_TITLE, *lines])
    cell.metadata["cellView"] = "form"
    cell.metadata["jupyter"] = {**cell.metadata.get("jupyter", {}), "source_hidden": True}


def normalize(notebook, name: str | None = None):
    """Return a clean copy of ``notebook``: outputs only in checked cells, no noise.

    The first code cell, if it is a setup cell (starts with ``# Setup:``), is replaced by
    the current :data:`segedu.course.colab.SETUP_CELL`. The Colab badge of the first cell,
    if it is Markdown, is made anew from ``segedu.REPOSITORY_URL`` for the notebook's file
    ``name`` (by default the one the badge names); a notebook whose first cell has no badge
    gets one at its top when ``name`` is given.
    """
    clean = copy.deepcopy(notebook)
    clean.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    )
    if clean.cells and clean.cells[0].cell_type == "markdown":
        clean.cells[0].source = _with_badge(clean.cells[0].source, name)
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
        _markers_to_tags(cell)
        _hide_solution(cell)
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


def _with_badge(markdown: str, name: str | None) -> str:
    """``markdown`` with its Colab badge pointing at ``notebooks/<name>`` of ``segedu.REPOSITORY_URL``."""
    found = BADGE.search(markdown)
    if found is not None:
        return markdown[:found.start()] + colab_badge(name or found.group(1)) + markdown[found.end():]
    return f"{colab_badge(name)}\n\n{markdown}" if name else markdown


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
    if nbformat.writes(normalize(notebook, path.name)) != nbformat.writes(notebook):
        found.append(f"{path}: not normalised; run `python tools/nbtool.py normalize {path}`")
    if not any(is_checked(cell) for cell in notebook.cells):
        found.append(f"{path}: no cell is tagged {CHECK_TAG}, so nbval compares nothing")
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
    write(path, normalize(notebook, path.name))


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
            write(path, normalize(nbformat.read(path, as_version=4), path.name))
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
