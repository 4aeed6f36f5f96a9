"""Execute every course notebook headless (learner mode unless SEGEDU_FAST=1 is set).

Writes executed copies and HTML pages to ``build/course/`` and prints a table of wall
times at the end, which is where the times stated in the README and at the top of each
notebook come from. Usage: ``make course`` or ``python tools/run_course.py [NOTEBOOK ...]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path, out_dir: Path, timeout: int) -> tuple[float, str]:
    """Execute one notebook; return (seconds, "ok" or the error's first line)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    status = "ok"
    try:
        client.execute()
    except CellExecutionError as error:
        status = "FAILED: " + str(error).strip().splitlines()[-1][:120]
    seconds = time.perf_counter() - start
    nbformat.write(notebook, out_dir / path.name)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    (out_dir / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
    return seconds, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "course")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        seconds, status = run(path, args.out, args.timeout)
        print(f"  {seconds:7.1f} s  {status}", flush=True)
        rows.append((path.name, seconds, status))
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{'notebook':<{width}}  {'minutes':>7}  status")
    for name, seconds, status in rows:
        print(f"{name:<{width}}  {seconds / 60:7.1f}  {status}")
    print(f"{'total':<{width}}  {sum(s for _, s, _ in rows) / 60:7.1f}")
    print(f"\nexecuted notebooks and HTML pages: {args.out}")
    return 0 if all(status == "ok" for _, _, status in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
