"""Side environments that run segedu's tests against the versions learners really have.

* ``.venv-ipywidgets7``: ipywidgets 7.7.1, what Colab ships, on top of the main environment.
  A ``.pth`` file in it adds the main environment's site-packages *behind* its own, so pip
  installs only ipywidgets 7.7.1 and the few packages it adds (seconds, a few MB) and torch
  is not installed twice. pip then prints "Not uninstalling ipywidgets ... outside
  environment": harmless, and the point -- the main environment keeps ipywidgets 8.
* ``.venv-torch24``: torch 2.4.1 and torchvision 0.19.1, the lowest versions pyproject.toml
  admits, on the oldest Python found (3.10 where there is one), with segedu installed
  editable and its test extras: a separate environment of about 3 GB, downloaded from PyPI.
* ``.venv-colab``: Google Colab's own package set (:data:`COLAB_VERSIONS`) on Colab's Python
  (3.13, else the newest found, said in the output), with segedu installed editable and its
  test extras; every notebook runs in fast mode under nbval, then the unit tests. A separate
  environment of about 5.4 GB (torch is a CUDA build), downloaded from PyPI.

Each is built on first use, reused while up to date and updated when stale (see :func:`plan`).
Inside it, ``python tools/compat.py inside`` asserts the expected versions, imports every
segedu module and then runs pytest in that same process. Usage::

    python tools/compat.py ipywidgets7   # build if needed, run the widget tests under 7.7.1
    python tools/compat.py torch24       # build if needed (3 GB download), run the unit tests
    python tools/compat.py colab         # build if needed (5.4 GB), run every notebook and the unit tests

Each prints how long building and testing took. Build logs go to ``build/compat/``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP = "segedu-compat.json"  # written last, so a half-built environment is never taken as ready
FORMAT = 1  # bump when the way environments are built changes: every environment is rebuilt


@dataclasses.dataclass(frozen=True)
class SideEnv:
    """A side environment: its folder, what pip installs in it, and what the run inside checks.

    ``expect`` maps a module name to the version its ``__version__`` must have inside the
    run (a local tag such as ``+cu121`` is ignored). ``reuse_main`` makes the main
    environment's packages importable behind the side environment's own (it is then built
    from the main interpreter). Otherwise it is built from the Python that the environment
    variable ``python_variable`` names, else from the oldest or newest (``prefer``) Python
    found whose (major, minor) lies within ``pythons`` = (lowest, highest), the highest being
    the newest the pinned requirements have wheels for (see :func:`base_python`).
    """

    folder: str
    requirements: tuple[str, ...]
    expect: tuple[tuple[str, str], ...]
    pytest_args: tuple[str, ...]
    reuse_main: bool = False
    pythons: tuple[tuple[int, int], tuple[int, int]] = ((3, 10), (3, 13))
    prefer: str = "oldest"
    python_variable: str = "SEGEDU_COMPAT_PYTHON"

    def __post_init__(self):
        if self.prefer not in ("oldest", "newest"):
            raise ValueError(f"SideEnv(prefer={self.prefer!r}): use 'oldest' or 'newest'")


IPYWIDGETS7 = SideEnv(
    folder=".venv-ipywidgets7",
    requirements=("ipywidgets==7.7.1",),
    expect=(("ipywidgets", "7.7.1"),),
    # ipykernel 7 deprecates the Comm class that ipywidgets 7 uses: noise, not a segedu problem.
    pytest_args=("tests/test_widgets.py", "-W", "ignore:The `ipykernel.comm.Comm`:DeprecationWarning"),
    reuse_main=True,
)

UNIT_TESTS = ("tests", "-m", "not browser", "--ignore=tests/test_compat.py")

TORCH24 = SideEnv(
    folder=".venv-torch24",
    requirements=("torch==2.4.1", "torchvision==0.19.1", "-e", ".[test]"),
    expect=(("torch", "2.4.1"), ("torchvision", "0.19.1")),
    pytest_args=(*UNIT_TESTS, "--ignore=tests/test_notebooks.py"),
    pythons=((3, 10), (3, 12)),  # torch 2.4.1 has no wheels for Python 3.13
)

COLAB_PYTHON = (3, 13)
COLAB_VERSIONS = {  # what Google Colab ships, as published (2026-08); `notebook` is its classic frontend
    "torch": "2.11.0", "torchvision": "0.26.0", "numpy": "2.1.3", "matplotlib": "3.10.0",
    "ipywidgets": "7.7.1", "ipykernel": "6.17.1", "pillow": "11.3.0", "tqdm": "4.67.3", "notebook": "6.5.7",
}
MODULE_NAMES = {"pillow": "PIL"}  # the import name where it differs from the package's

COLAB = SideEnv(
    folder=".venv-colab",
    # One pip command resolves the pins and segedu's own ranges together, so nothing pinned moves.
    requirements=(*(f"{name}=={version}" for name, version in COLAB_VERSIONS.items()), "-e", ".[test]"),
    expect=tuple((MODULE_NAMES.get(name, name), version) for name, version in COLAB_VERSIONS.items()),
    pytest_args=("--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=900", "notebooks", *UNIT_TESTS),
    pythons=((3, 10), COLAB_PYTHON),  # numpy 2.1.3 and matplotlib 3.10.0 have no wheels past 3.13
    prefer="newest",
    python_variable="SEGEDU_COLAB_PYTHON",
)

ENVIRONMENTS = {"ipywidgets7": IPYWIDGETS7, "torch24": TORCH24, "colab": COLAB}


def _python_in(folder: Path) -> Path:
    """The interpreter of the virtual environment in ``folder``."""
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@functools.cache
def _version_of(python: str) -> str | None:
    """``"3.10.13"`` for an interpreter that runs and can make virtual environments, else None."""
    probe = "import ensurepip, platform, venv; print(platform.python_version())"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _minor(version: str) -> tuple[int, int]:
    """``(3, 10)`` for ``"3.10.13"``."""
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _found_pythons(env: SideEnv) -> list[str]:
    """Interpreters that may suit ``env``: ``python3.X`` on the PATH and pyenv's, X in its range."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    (_, lowest), (_, highest) = env.pythons
    found = []
    for minor in range(lowest, highest + 1):
        name = f"python3.{minor}"
        found += [shutil.which(name) or "",
                  *sorted(glob.glob(os.path.join(pyenv, "versions", f"3.{minor}.*", "bin", name)))]
    return list(dict.fromkeys(filter(None, found)))


def base_python(env: SideEnv) -> tuple[str, str]:
    """``(path, version)`` of the interpreter ``env`` is built from.

    An environment that reuses the main packages needs the main interpreter's own base
    Python. Otherwise the one that ``$<env.python_variable>`` names if set (refused, with
    the fix, when outside ``env.pythons``), else the oldest or newest (``env.prefer``) in
    that range among ``python3.X`` on the PATH, pyenv's and the main one.
    """
    main = getattr(sys, "_base_executable", None) or sys.executable
    if env.reuse_main:
        candidates = [main]
    elif os.environ.get(env.python_variable):
        candidates = [os.environ[env.python_variable]]
    else:
        candidates = [*_found_pythons(env), main]
    lowest, highest = env.pythons
    usable = []
    for candidate in candidates:
        version = _version_of(candidate)
        if not version:
            continue
        if env.reuse_main or lowest <= _minor(version) <= highest:
            usable.append((_minor(version), candidate, version))
        elif candidate == os.environ.get(env.python_variable):
            span = "Python {}.{} to {}.{}".format(*lowest, *highest)
            raise RuntimeError(f"{env.folder} needs {span}, found {version} at {candidate}; "
                               f"point {env.python_variable} at a {span}")
    if not usable:
        raise RuntimeError(f"no Python found to build {env.folder} from (tried {candidates}); "
                           f"install one or point {env.python_variable} at it")
    pick = max if env.prefer == "newest" else min
    _, path, version = pick(usable, key=lambda found: found[0])
    return path, version


def describe_python(env: SideEnv) -> str:
    """``"Python 3.13.0"``, plus why when it is not the newest that ``env`` wants newest of."""
    version = base_python(env)[1]
    highest = env.pythons[1]
    if env.reuse_main or env.prefer != "newest" or _minor(version) == highest:
        return f"Python {version}"
    return (f"Python {version}, the newest found: no Python {highest[0]}.{highest[1]} here "
            f"(set {env.python_variable} to use one)")


def _main_site_packages() -> list[str]:
    """The site-packages folders of the interpreter running this code (the main environment)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def wanted_stamp(env: SideEnv, root: Path = ROOT) -> dict:
    """What the stamp of an up-to-date ``env`` holds: how it was created and what was installed."""
    python, version = base_python(env)
    create = {"format": FORMAT, "python": python, "version": version,
              "main_site": _main_site_packages() if env.reuse_main else None}
    install = {"requirements": list(env.requirements)}
    if "-e" in env.requirements:  # an editable install follows pyproject.toml's dependencies
        install["pyproject"] = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    return {"create": create, "install": install}


def plan(env: SideEnv, root: Path = ROOT) -> str:
    """What :func:`ensure` has to do: ``"create"`` anew, ``"install"`` again, or ``"ok"``."""
    folder = root / env.folder
    try:
        have = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        have = {}
    wanted = wanted_stamp(env, root)
    if have.get("create") != wanted["create"] or not _python_in(folder).exists():
        return "create"
    return "ok" if have.get("install") == wanted["install"] else "install"


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on ``path`` (two test runs must not build the same folder at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _logged(command: list, log: Path, root: Path, timeout: float) -> None:
    """Run ``command`` with its output appended to ``log``; raise with the log's end if it fails."""
    with open(log, "a") as handle:
        handle.write(f"\n$ {' '.join(map(str, command))}\n")
        handle.flush()
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=root, timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RuntimeError(f"building a side environment failed (full log: {log}):\n{tail}")


def ensure(env: SideEnv, root: Path = ROOT, timeout: float = 3600) -> Path:
    """Build or update ``env`` under ``root`` if :func:`plan` says so; return its interpreter."""
    folder, logs = root / env.folder, root / "build" / "compat"
    with _locked(logs / f"{env.folder}.lock"):
        todo = plan(env, root)
        if todo == "ok":
            return _python_in(folder)
        wanted, log = wanted_stamp(env, root), logs / f"{env.folder}.log"
        print(f"{env.folder}: {todo} (pip's output: {log})", file=sys.stderr, flush=True)
        (folder / STAMP).unlink(missing_ok=True)
        if todo == "create":
            log.write_text(f"building {env.folder} from {wanted['create']['python']}\n")
            shutil.rmtree(folder, ignore_errors=True)
            _logged([wanted["create"]["python"], "-m", "venv", str(folder)], log, root, timeout)
            if env.reuse_main:
                _add_main_packages(_python_in(folder))
        pip = [str(_python_in(folder)), "-m", "pip", "install", "--disable-pip-version-check"]
        _logged([*pip, *env.requirements], log, root, timeout)
        (folder / STAMP).write_text(json.dumps(wanted, indent=1))
    return _python_in(folder)


def _add_main_packages(python: Path) -> None:
    """Make the main environment's packages importable in the side environment, after its own.

    ``site.addsitedir`` (not a bare path) also runs the main environment's own ``.pth`` files,
    such as the one of segedu's editable install.
    """
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    lines = [f"import site; site.addsitedir({path!r})\n" for path in _main_site_packages()]
    (Path(purelib) / "zz-segedu-main-environment.pth").write_text("".join(lines))


def run_inside(env: SideEnv, root: Path = ROOT, timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run the version checks, the imports and ``env.pytest_args`` in ``env`` (built if needed).

    Returns the finished process (``returncode``, ``stdout`` with stderr merged in).
    """
    python = ensure(env, root)
    expect = [f"{module}={version}" for module, version in env.expect]
    command = [str(python), str(Path(__file__).resolve()), "inside", *expect, "--",
               *env.pytest_args, "-p", "no:cacheprovider", "-q"]
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    child_env.setdefault("SEGEDU_FAST", "1")
    return subprocess.run(command, cwd=root, env=child_env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def import_every_module(package: str = "segedu") -> list[str]:
    """Import every module of ``package`` (not ``__main__`` ones); return their names.

    Raises ImportError listing every module that failed, with the reason.
    """
    import importlib
    import pkgutil

    top = importlib.import_module(package)
    names, failures = [package], []
    for info in pkgutil.walk_packages(top.__path__, package + ".", onerror=failures.append):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        try:
            importlib.import_module(info.name)
            names.append(info.name)
        except Exception as error:  # report them all, not just the first
            failures.append(f"{info.name}: {type(error).__name__}: {error}")
    if failures:
        raise ImportError("these modules do not import here:\n  " + "\n  ".join(map(str, failures)))
    return names


def ipywidgets_api_problems(folder: Path = ROOT / "segedu") -> list[str]:
    """What the Python files under ``folder`` take from ipywidgets that the installed one lacks.

    Reads the source (no import): every ``widgets.Name`` of a module imported as
    ``import ipywidgets [as widgets]`` must exist, and every keyword passed to a widget class
    must be one of its traits (ipywidgets 7 silently ignores unknown ones such as ``tooltip``).
    Returns messages like ``"segedu/x.py:12: ipywidgets 7.7.1 has no Stack"``; empty when fine.
    """
    import ast

    import ipywidgets
    from traitlets import HasTraits

    problems = []
    for path in sorted(Path(folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names if alias.name == "ipywidgets"}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "ipywidgets":
                used = [(node, alias.name, []) for alias in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                used = [(node, node.attr, [])]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in aliases:
                used = [(node, node.func.attr, [keyword.arg for keyword in node.keywords if keyword.arg])]
            else:
                continue
            for where, name, keywords in used:
                place = f"{path}:{where.lineno}: ipywidgets {ipywidgets.__version__}"
                thing = getattr(ipywidgets, name, None)
                if thing is None:
                    problems.append(f"{place} has no {name}")
                elif isinstance(thing, type) and issubclass(thing, HasTraits):
                    traits = set(thing.class_trait_names())
                    problems += [f"{place}: {name} has no trait {k!r}" for k in keywords if k not in traits]
    return list(dict.fromkeys(problems))  # a call's name is also seen as an attribute


def inside(expect: list[str], pytest_args: list[str]) -> int:
    """In a side environment: check ``module=version`` pairs, import segedu, run pytest."""
    import importlib

    for pair in expect:
        module, version = pair.split("=")
        found = importlib.import_module(module).__version__
        if found.split("+")[0] != version:
            raise SystemExit(f"expected {module} {version} in this environment, found {found}")
    names = import_every_module()
    versions = ", ".join(f"{pair.replace('=', ' ')}" for pair in expect)
    print(f"inside {sys.prefix}: Python {sys.version.split()[0]}, {versions}; "
          f"imported {len(names)} segedu modules", flush=True)
    import pytest

    return int(pytest.main(pytest_args))


def size_on_disk(folder: Path) -> int:
    """Bytes taken by the files under ``folder`` (symbolic links not followed)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["inside"]:  # module=version ... -- pytest arguments
        rest = argv[1:]
        split = rest.index("--") if "--" in rest else len(rest)
        return inside(rest[:split], rest[split + 1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", choices=list(ENVIRONMENTS))
    env = ENVIRONMENTS[parser.parse_args(argv).environment]
    start = time.perf_counter()
    print(f"{env.folder}: {describe_python(env)}", flush=True)
    ensure(env)
    built = time.perf_counter()
    size = size_on_disk(ROOT / env.folder) / 1e9
    print(f"{env.folder}: ready after {built - start:.0f} s, {size:.2f} GB on disk", flush=True)
    done = run_inside(env)
    print(done.stdout)
    print(f"{env.folder}: tests took {time.perf_counter() - built:.0f} s, exit code {done.returncode}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
