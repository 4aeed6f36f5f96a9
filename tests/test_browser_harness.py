"""The browser tests' JupyterLab must not outlive a killed pytest (see ``browser.die_with_parent``)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import browser
import pytest

TESTS = Path(__file__).resolve().parent

# A stand-in for pytest: starts two long-running children, one as the harness starts JupyterLab
# and one without the parent-death signal, prints their pids, then waits to be killed.
PARENT = f"""
import subprocess, sys, time
sys.path.insert(0, {str(TESTS)!r})
import browser
guarded = subprocess.Popen(["sleep", "60"], start_new_session=True, preexec_fn=browser.die_with_parent())
unguarded = subprocess.Popen(["sleep", "60"], start_new_session=True)
print(guarded.pid, unguarded.pid, flush=True)
time.sleep(60)
"""


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (PID 1 of a container may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux only")
def test_the_lab_server_gets_sigterm_when_pytest_is_killed():
    assert browser.die_with_parent() is not None
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    guarded, unguarded = map(int, parent.stdout.readline().split())
    try:
        assert running(guarded) and running(unguarded)
        os.kill(parent.pid, signal.SIGKILL)  # no finally block runs in the parent
        parent.wait()
        deadline = time.monotonic() + 10
        while running(guarded) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(guarded), "the child started with die_with_parent() outlived its killed parent"
        assert running(unguarded)  # the control: without it the child would have stayed
    finally:
        for pid in (guarded, unguarded):
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        parent.stdout.close()
