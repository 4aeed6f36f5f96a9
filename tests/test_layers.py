"""The layers of segedu import one way: library <- experiments <- course and leaderboard, which never import each other.

Every module under ``segedu/`` is parsed (ast), every import of a ``segedu`` module is found (at the top or
inside a function), and its layer is compared with the importer's.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "segedu"
LAYERS = ("course", "leaderboard", "experiments")
"""The layers above the library, by the folder that holds them (everything else under segedu/ is the library)."""
FORBIDDEN = {
    "library": {"experiments", "course", "leaderboard"},
    "experiments": {"course", "leaderboard"},
    "course": {"leaderboard"},
    "leaderboard": {"course"},
}
"""Layer -> the layers it must not import."""


def layer(module: str) -> str:
    """``"segedu.leaderboard.report"`` -> ``"leaderboard"``; a library module -> ``"library"``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "library"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(module: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``segedu`` module that ``source`` (the module ``module``) imports, anywhere."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("segedu")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                package = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base == "segedu":  # from segedu import leaderboard, viz
                found += [(node.lineno, f"segedu.{alias.name}") for alias in node.names]
            elif base.startswith("segedu."):
                found.append((node.lineno, base))
    return found


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """The imports of ``module`` that point up, or across from the course to the leaderboard (or back)."""
    mine = layer(module)
    return [f"{module} (line {line}) imports {target}: {mine} must not import {layer(target)}"
            for line, target in imported_modules(module, source, is_package) if layer(target) in FORBIDDEN[mine]]


def test_the_checker_finds_imports_that_point_the_wrong_way():
    source = ("import segedu.leaderboard.records\nfrom segedu import viz, course\n"
              "def f():\n    from segedu.experiments.tracks import TRACKS\n    return TRACKS\n")
    found = violations("segedu.metrics", source)
    assert found == ["segedu.metrics (line 1) imports segedu.leaderboard.records: library must not import leaderboard",
                     "segedu.metrics (line 2) imports segedu.course: library must not import course",
                     "segedu.metrics (line 4) imports segedu.experiments.tracks: library must not import experiments"]
    assert violations("segedu.course.checks.nb08", "from segedu.leaderboard import report\n") != []
    assert violations("segedu.leaderboard.claims", "from segedu.course import recipes\n") != []
    assert violations("segedu.experiments.tracks", "from segedu.course.streets import THIN\n") != []
    assert violations("segedu.course.streets", "from segedu.experiments.recipes import Recipe\nfrom segedu import data\n") == []
    assert violations("segedu.leaderboard.read", "from .records import load\n") == []
    assert violations("segedu.widgets", "from .chain import chain_explorer\n", is_package=True) == []
    assert imported_modules("segedu.widgets", "from .chain import x\n", is_package=True) == [(1, "segedu.widgets.chain")]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_it_or_across(path):
    assert violations(module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py") == []


def test_every_layer_is_there():
    found = {layer(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert found == {"library", *LAYERS}
