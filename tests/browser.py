"""Drive the course in a real JupyterLab in headless Chromium (Debian's, never a downloaded one).

Used by ``tests/test_browser.py``. The server runs on 127.0.0.1 with a token, on a copy of
``notebooks/`` (JupyterLab autosaves, and the committed notebooks must stay clean), and is
always shut down, even when a test fails; on Linux also when pytest itself is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = Path(os.environ.get("SEGEDU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "segedu-browser-test"


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}; install it with `apt-get install chromium` (.ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    return None


PR_SET_PDEATHSIG = 1  # prctl(2) option: a signal the kernel sends when the parent dies (Linux only)


def die_with_parent():
    """A ``preexec_fn`` that asks Linux to send the child SIGTERM when its parent dies; None elsewhere.

    A ``finally`` block shuts the server down when a test fails, but not when pytest is killed
    (SIGKILL, a CI timeout); without this the server would keep its port and its kernels. Where
    prctl is missing (macOS, Windows) the ``finally`` block is all we have. prctl is looked up
    here, in the parent, so the child only makes one system call between fork and exec.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(notebooks: Path, workdir: Path, env: dict[str, str] | None = None):
    """Start JupyterLab on a copy of ``notebooks`` inside ``workdir``; yield its base URL."""
    root = workdir / "notebooks"
    shutil.copytree(notebooks, root)
    port = _free_port()
    log = open(workdir / "jupyter.log", "w")  # noqa: SIM115  (closed in finally)
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    # Private settings and workspaces: no news pop-up over the page, nothing written to ~/.jupyter.
    settings = workdir / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    server_env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "lab-workspaces"),
        **(env or {}),
    }
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=server_env, start_new_session=True,
                               preexec_fn=die_with_parent())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; log:\n{(workdir / 'jupyter.log').read_text()}") from None
                time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()


@contextlib.contextmanager
def chromium_page(viewport=(1400, 1000)):
    """Yield a Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            yield page
        finally:
            browser.close()


def open_notebook(page, base: str, name: str, timeout_ms: int = 120_000) -> None:
    """Open ``name`` in a fresh JupyterLab workspace and wait until it is current and its kernel idle."""
    page.goto(f"{base}/lab/tree/{name}?reset&token={TOKEN}", timeout=timeout_ms)
    page.wait_for_function(
        """name => { const a = window.jupyterapp; const w = a && a.shell.currentWidget;
            const k = w && w.title.label === name && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return k && k.status === 'idle'; }""",
        arg=name,
        timeout=timeout_ms,
    )


_CURRENT_CELLS = """
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    const all = [];
    for (let i = 0; i < cells.length; i++) { all.push(cells.get(i)); }
    const code = all.filter(c => c.type === 'code');
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
"""


def run_all_cells(page, timeout_ms: int = 600_000) -> None:
    """Run every cell of the current notebook and wait until all have run and the kernel is idle."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => {" + _CURRENT_CELLS + " return kernel && kernel.status === 'idle'"
        " && code.every(c => c.executionCount !== null); }",
        timeout=timeout_ms,
        polling=1000,
    )


def error_outputs(page) -> list[str]:
    """``"Name: message"`` of every error output (traceback) in the current notebook."""
    return page.evaluate(
        "() => {" + _CURRENT_CELLS + """
        const errors = [];
        for (const cell of code) {
            for (let j = 0; j < cell.outputs.length; j++) {
                const output = cell.outputs.get(j).toJSON();
                if (output.output_type === 'error') errors.push(output.ename + ': ' + output.evalue);
            }
        }
        return errors; }"""
    )


def current_panel(page):
    """A locator for the notebook panel that is currently shown."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
