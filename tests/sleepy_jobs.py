"""A benchmark job that only sleeps, for tests of the worker processes (they import it by name)."""

import os
import time
from pathlib import Path


def sleepy_job(job, threads, max_seconds) -> dict:
    """Write this process's id to ``$SLEEPY_PIDS/<pid>`` and sleep for two minutes."""
    Path(os.environ["SLEEPY_PIDS"], str(os.getpid())).touch()
    time.sleep(120)
    return {}
