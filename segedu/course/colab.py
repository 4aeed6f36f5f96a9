"""Running the course in Google Colab.

Every notebook starts with the same setup cell (:data:`SETUP_CELL`). In Colab it clones
the course repository and puts it on ``sys.path``; :func:`setup` then installs whatever
Colab lacks (pip keeps Colab's own torch and ipywidgets, because they satisfy the ranges
``segedu`` asks for) and prints the environment. Elsewhere the cell only imports
``segedu``. The cell is tiny because ``segedu`` is not importable until it has run; the
logic lives here, where the tests exercise it with a simulated Colab.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from segedu import REPOSITORY_URL

COLAB_CHECKOUT = Path("/content/segedu")

SETUP_CELL = f"""\
# Setup: in Google Colab this fetches the course package (about 30 s); elsewhere it does nothing.
import os
import sys

if "google.colab" in sys.modules:
    if not os.path.isfile("{COLAB_CHECKOUT}/segedu/__init__.py"):  # not fetched yet, or a fetch that failed
        !rm -rf {COLAB_CHECKOUT} && git clone -q --depth 1 {REPOSITORY_URL} {COLAB_CHECKOUT}
    if not os.path.isfile("{COLAB_CHECKOUT}/segedu/__init__.py"):
        raise RuntimeError("Could not fetch the course from GitHub (see the message above): check the "
                           "network connection, then run this cell again.")
    if "{COLAB_CHECKOUT}" not in sys.path:
        sys.path.insert(0, "{COLAB_CHECKOUT}")
import segedu.course.colab

segedu.course.colab.setup()"""
"""The first code cell of every notebook (a test checks that they all match it). Running it again after a
failed fetch fetches again; it adds the checkout to ``sys.path`` only once the checkout is there."""

Runner = Callable[[Sequence[str]], object]


def in_colab() -> bool:
    """True when running inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def is_installed() -> bool:
    """True when ``segedu`` is installed as a distribution (pip), not just on ``sys.path``."""
    try:
        metadata.version("segedu")
    except metadata.PackageNotFoundError:
        return False
    return True


def install_command(checkout: Path = COLAB_CHECKOUT) -> list[str]:
    """The pip command that installs the checkout in place, with only the dependencies it lacks."""
    return [sys.executable, "-m", "pip", "install", "-q", "-e", str(checkout)]


def setup(report: bool = True, run: Runner | None = None, checkout: Path = COLAB_CHECKOUT) -> None:
    """Finish the setup cell: install what Colab lacks, then print the environment (once).

    In Colab (and only there): install the checkout with pip if ``segedu`` is not yet
    installed (``run(command)`` runs it and returns a ``subprocess.CompletedProcess``; pip's
    output is shown only if it fails, with what to do), and enable Colab's custom widget
    manager so that ipywidgets outputs render. Everywhere: print (if ``report``)
    :func:`segedu.config.environment_report`. Returns None, so the cell prints nothing else.
    """
    # Not at the top: segedu.config imports torch and numpy, which this very function may first have to install
    # (Colab): a heavy dependency that may not be there yet.
    from segedu.config import environment_report

    if in_colab():
        if not is_installed():
            done = (run or _run)(install_command(checkout))
            if getattr(done, "returncode", 0) != 0:
                tail = "\n".join(str(getattr(done, "stdout", "") or "").strip().splitlines()[-15:])
                raise RuntimeError(f"pip could not install the course's missing packages (exit code "
                                   f"{done.returncode}). Its last lines:\n{tail}\nRun this cell again; if it fails "
                                   f"again, use Runtime > Restart session and run it once more.")
        output = getattr(sys.modules["google.colab"], "output", None)
        enable = getattr(output, "enable_custom_widget_manager", None)
        if enable is not None:
            enable()
    if report:
        environment_report(print_it=True)


def _run(command: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
