"""The package's imports point one way: no import cycle, and imports at the top of each module except an
optional or heavy dependency that says so in a comment. (Which layer may import which: tests/test_layers.py.)

Every module under ``segedu/`` is parsed (``ast``), not imported, so the test is fast and sees every
import, also those inside functions.
"""

import ast
import io
import tokenize
from pathlib import Path

import segedu

PACKAGE = Path(segedu.__file__).parent
JUSTIFIED = ("optional", "heavy")
"""A word that an in-function import's comment (on its line or the line above) must hold."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


ALL_MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The segedu modules that ``node`` makes Python execute: each target, and the packages above it that are
    not above ``name`` too (a module's own packages are already being imported when it runs)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
        targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in ALL_MODULES else base for alias in node.names]
    own_packages = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 2)}
    found = set()
    for target in targets:
        if not target.startswith("segedu"):
            continue
        parts = target.split(".")
        found |= {".".join(parts[:k]) for k in range(1, len(parts) + 1)} - own_packages
    return {module for module in found if module in ALL_MODULES}


def imports_of(name: str) -> list[tuple[ast.AST, bool]]:
    """Every import statement of module ``name`` with whether it sits inside a function or class."""
    found = []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, nested))
            visit(child, nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))

    visit(ast.parse(ALL_MODULES[name].read_text(encoding="utf-8")), False)
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: set().union(*(imported_modules(name, path, node) for node, _ in imports_of(name)))
            for name, path in ALL_MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def comments_by_line(path: Path) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return {token.start[0]: token.string for token in tokens if token.type == tokenize.COMMENT}


def test_every_module_of_the_package_is_read():
    assert {"segedu.metrics", "segedu.files", "segedu.viz", "segedu.train.loop", "segedu.models.base",
            "segedu.experiments.claims", "segedu.leaderboard.read", "segedu.course.lessons"} <= set(ALL_MODULES)


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == [], "modules that import each other, directly or through others"


def test_imports_inside_functions_say_which_optional_or_heavy_dependency_they_wait_for():
    unexplained = []
    for name, path in ALL_MODULES.items():
        comments = comments_by_line(path)
        for node, nested in imports_of(name):
            said = (comments.get(node.lineno, "") + comments.get(node.lineno - 1, "")).lower()
            if nested and not any(word in said for word in JUSTIFIED):
                unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert unexplained == [], "move these imports to the top, or say in a comment which optional or heavy " \
                              "dependency they wait for"


def test_the_cycle_finder_finds_direct_and_indirect_cycles_only():
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_import_reader_sees_package_imports_relative_imports_and_nested_ones():
    tree = ast.parse("from segedu.train import predict\nfrom .blocks import ConvBNReLU\n"
                     "def f():\n    import segedu.helpers.masks  # heavy: only an example\n")
    first, relative, nested = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    viz, fcn = PACKAGE / "viz.py", PACKAGE / "models" / "fcn.py"
    assert imported_modules("segedu.viz", viz, first) == {"segedu.train"}
    assert imported_modules("segedu.models.fcn", fcn, relative) == {"segedu.models.blocks"}
    assert imported_modules("segedu.viz", viz, nested) == {"segedu.helpers", "segedu.helpers.masks"}
    assert imported_modules("segedu.train.loop", PACKAGE / "train" / "loop.py", first) == set()  # its own package
