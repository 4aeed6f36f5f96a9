"""Fetch one folder of a git repository, or copy it from a local folder, all or nothing.

:class:`segedu.data.CamVid` uses this when its photos are not on disk yet. A *source* is

* a git URL (``https://...``, ``ssh://...``, ``git@host:path``, ``file://...``): a shallow, sparse
  clone fetches only the folder asked for (``git clone --depth 1 --filter=blob:none --sparse``,
  then ``git sparse-checkout set <folder>``);
* a local git repository (bare or not): cloned the same way, through a ``file://`` URL (given as a
  plain path, git would ignore ``--depth`` and copy every object);
* a local folder that already holds the folder: copied.

Everything lands in a staging folder (:func:`staging`) next to its destination, which the caller
checks and then renames into place; whatever fails, the staging folder is removed, so a failed or
interrupted fetch leaves nothing behind. git never asks for a password, and every git command is
killed (with its helpers) once ``timeout`` seconds have passed since the fetch started; a transfer
slower than :data:`STALL_BYTES_PER_SECOND` for :data:`STALL_SECONDS` is abandoned by git itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl  # optional: POSIX only; on Windows a fetch runs unlocked
except ImportError:
    fcntl = None

STALL_BYTES_PER_SECOND = 1000
STALL_SECONDS = 60
"""git gives up on an http(s) transfer that stays below STALL_BYTES_PER_SECOND for STALL_SECONDS."""

MINIMUM_GIT = (2, 25)
"""``git clone --sparse`` and ``git sparse-checkout`` appeared in git 2.25."""

STAGING_PREFIX = ".fetching-"


class DatasetNotAvailable(RuntimeError):
    """The data is not on disk (or not usable) and could not be fetched; the message says what to do."""


# -- the staging folder ----------------------------------------------------------------------------


def _remove_tree(path: Path) -> None:
    """Delete ``path`` and everything in it, read-only files included (git's packs are read-only,
    which stops Windows from deleting them)."""
    if not path.exists():
        return
    for folder, _, names in os.walk(path):
        for name in names:
            file = Path(folder) / name
            if not os.access(file, os.W_OK):
                file.chmod(stat.S_IWRITE | stat.S_IREAD)
    shutil.rmtree(path)


def _owner_is_gone(folder: Path) -> bool:
    """Whether the process that made staging folder ``.fetching-<pid>-<hex>`` has ended."""
    match = re.fullmatch(re.escape(STAGING_PREFIX) + r"(\d+)-[0-9a-f]+", folder.name)
    if match is None or int(match.group(1)) == os.getpid():
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive but not ours, or no way to ask (Windows): leave it
        return False
    return False


@contextlib.contextmanager
def staging(parent: Path) -> Iterator[Path]:
    """A new empty folder ``parent/.fetching-<pid>-<hex>``, removed with all it holds when the block ends.

    Staging folders left by processes that were killed are removed first. Rename what must be
    kept out of the staging folder before the block ends.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.glob(STAGING_PREFIX + "*"):
        if _owner_is_gone(leftover):
            _remove_tree(leftover)
    folder = parent / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    try:
        yield folder
    finally:
        _remove_tree(folder)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the existing ``folder`` while the block runs (no lock file is left).

    Two processes that fetch into the same folder take turns. Without ``fcntl`` (Windows) the
    block runs unlocked.
    """
    if fcntl is None:
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:  # a file system without locks (some network drives): go on unlocked
            pass
        yield
    finally:
        os.close(handle)  # closing releases the lock


# -- sources ---------------------------------------------------------------------------------------


def is_url(source: str) -> bool:
    """Whether ``source`` is a git URL (``scheme://...`` or scp-like ``user@host:path``) rather than a path."""
    return "://" in source or re.match(r"^[\w.-]+@[\w.-]+:", source) is not None


def is_git_repository(path: Path) -> bool:
    """Whether ``path`` is a git repository: a working copy (with ``.git``) or a bare one."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def fetch_folder(source: str, name: str, into: Path, timeout: float) -> Path:
    """Put the folder ``name`` of ``source`` (a git URL or a local path) at ``into / name`` and return that path.

    ``into`` should be a :func:`staging` folder. A local folder that holds ``name`` is copied; a
    git repository is cloned (shallow, sparse: only ``name``). Raises :class:`DatasetNotAvailable`
    saying what went wrong: git missing or too old, a git failure (with git's last words), the
    ``timeout`` (seconds) passed, or a source without the folder. It does not check the content.
    """
    into = Path(into)
    if is_url(source):
        return _clone_folder(source, source, name, into, timeout)
    path = Path(source).expanduser()
    if not path.exists():
        raise DatasetNotAvailable(f"The source {source} does not exist: give a folder that holds {name}/, a git "
                                  f"repository, or a git URL (https://..., git@host:path, file://...).")
    if (path / name).is_dir():
        try:
            return Path(shutil.copytree(path / name, into / name))
        except OSError as error:  # a full disk, a file that cannot be read
            raise DatasetNotAvailable(f"Copying {path / name} failed: {error}.") from error
    if is_git_repository(path):
        return _clone_folder(path.resolve().as_uri(), str(path), name, into, timeout)
    raise DatasetNotAvailable(f"The source {path} is neither a git repository nor a folder that holds {name}/.")


def _clone_folder(url: str, shown: str, name: str, into: Path, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    _check_git(shown)
    clone = into / "repository"
    _run_git(["clone", "--quiet", "--depth", "1", "--filter=blob:none", "--sparse", url, str(clone)],
             into, deadline, timeout, shown)
    # In the default cone mode this checks out `name` and the files at the top, and nothing else.
    _run_git(["sparse-checkout", "set", name], clone, deadline, timeout, shown)
    if not (clone / name).is_dir():
        raise DatasetNotAvailable(f"The git repository {shown} has no folder {name}/ at its top level.")
    return (clone / name).rename(into / name)


# -- running git -----------------------------------------------------------------------------------


def _check_git(shown: str) -> None:
    if shutil.which("git") is None:
        raise DatasetNotAvailable(f"git is not installed (no 'git' command on the PATH), so {shown} cannot be "
                                  f"cloned. Install git (https://git-scm.com/downloads; on Debian or Ubuntu: "
                                  f"sudo apt-get install git) and run again.")
    try:
        version = subprocess.run(["git", "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DatasetNotAvailable(f"git does not run ({error}); reinstall git and run again.") from error
    numbers = re.search(r"(\d+)\.(\d+)", version)
    if numbers and tuple(map(int, numbers.groups())) < MINIMUM_GIT:
        wanted = ".".join(map(str, MINIMUM_GIT))
        raise DatasetNotAvailable(f"{version.strip()} is too old to fetch one folder of a repository (git "
                                  f"{wanted} or newer can): update git and run again.")


def _git_environment() -> dict[str, str]:
    environment = dict(os.environ, GIT_TERMINAL_PROMPT="0")  # never wait for a password nobody types
    environment.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=30")
    return environment


def _stop(process: subprocess.Popen) -> None:
    """Kill ``process`` and the helpers it started (git runs git-remote-https, ssh, ...)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass
    process.communicate()


def _run_git(arguments: list[str], cwd: Path, deadline: float, timeout: float, shown: str) -> None:
    """Run ``git arguments`` in ``cwd``; raise :class:`DatasetNotAvailable` if it fails or outlives ``deadline``."""
    command = ["git", "-c", f"http.lowSpeedLimit={STALL_BYTES_PER_SECOND}", "-c", f"http.lowSpeedTime={STALL_SECONDS}",
               *arguments]
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_git_environment(), start_new_session=True)
    try:
        _, errors = process.communicate(timeout=max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        _stop(process)
        raise DatasetNotAvailable(
            f"Fetching from {shown} did not finish within {timeout:g} s, so it was stopped: the network is "
            f"down or too slow, or a firewall or proxy holds the connection open.") from None
    except BaseException:  # Ctrl-C, the notebook's stop button: git must not run on behind our back
        _stop(process)
        raise
    if process.returncode != 0:
        said = [line.strip() for line in errors.splitlines()
                if line.strip() and "filtering not recognized" not in line]
        last_words = " / ".join(said[-3:]) or f"exit code {process.returncode}, no message"
        raise DatasetNotAvailable(f"git could not fetch {shown} (git {arguments[0]} said: {last_words}).")
