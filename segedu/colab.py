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
import sys

if "google.colab" in sys.modules and "{COLAB_CHECKOUT}" not in sys.path:
    !git clone -q --depth 1 {REPOSITORY_URL} {COLAB_CHECKOUT}
    sys.path.insert(0, "{COLAB_CHECKOUT}")
import segedu.colab

segedu.colab.setup()"""
"""The first code cell of every notebook (a test checks that they all match it)."""

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


def setup(report: bool = True, run: Runner | None = None, checkout: Path = COLAB_CHECKOUT) -> dict[str, str]:
    """Finish the setup cell and return the environment facts.

    In Colab (and only there): install the checkout with pip if ``segedu`` is not yet
    installed (``run`` executes the command, default ``subprocess.run(..., check=True)``),
    and enable Colab's custom widget manager so that ipywidgets outputs render. Everywhere:
    print (if ``report``) and return :func:`segedu.config.environment_report`.
    """
    from segedu.config import environment_report

    if in_colab():
        if not is_installed():
            (run or _run_checked)(install_command(checkout))
        output = getattr(sys.modules["google.colab"], "output", None)
        enable = getattr(output, "enable_custom_widget_manager", None)
        if enable is not None:
            enable()
    return environment_report(print_it=report)


def _run_checked(command: Sequence[str]) -> None:
    subprocess.run(list(command), check=True)
