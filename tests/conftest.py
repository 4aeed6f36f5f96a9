"""Shared test setup: the repository's tools/ folder is importable, and runs are fast-mode."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
os.environ.setdefault("SEGEDU_FAST", "1")


@pytest.fixture
def repo_root() -> Path:
    return ROOT
