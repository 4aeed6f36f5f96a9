"""A registry of evaluated runs, so that later notebooks can compare with earlier ones.

Each notebook records its models' scores with :func:`record`; the leaderboard (and any
notebook that wants a baseline) reads them back with :func:`load_runs` or :func:`compare`.
Runs live in one JSON file per mode (``results/runs_learner.json``, ``results/runs_fast.json``)
so that a quick test run never mixes with a learner's real numbers. The file is a JSON
list of dicts and is rewritten atomically (temporary file, then rename).
"""

from __future__ import annotations

import datetime
import html
import json
import math
from collections.abc import Iterable
from pathlib import Path

from segedu import config
from segedu.atomic import write_atomically

COLUMNS = (
    ("name", "model"), ("track", "track"), ("miou", "mIoU"), ("pixel_accuracy", "pixel acc."),
    ("boundary", "boundary IoU"), ("small", "small"), ("medium", "medium"), ("large", "large"),
    ("params", "parameters"), ("train_seconds", "train s"), ("timestamp", "recorded"),
)


def default_path() -> Path:
    """``results_dir() / "runs_<mode>.json"`` (mode is "learner" or "fast")."""
    return config.results_dir() / f"runs_{config.mode()}.json"


def _json_safe(value, where: str):
    """Return ``value`` as plain JSON types (NaN -> None, tuples -> lists, tensors -> numbers/lists)."""
    if hasattr(value, "tolist") and callable(value.tolist):  # torch tensors, numpy arrays and scalars
        value = value.tolist()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {str(key): _json_safe(item, f"{where}[{key!r}]") for key, item in value.items()}
    raise TypeError(f"{where} is a {type(value).__name__}, which cannot be written to the results file; "
                    f"record plain numbers, strings, lists or dicts.")


def write_json_atomically(path: Path, runs: list[dict]) -> None:
    """Write ``runs`` (a JSON-able list) to ``path`` through a temporary file and a rename."""
    write_atomically(path, lambda file: json.dump(runs, file, indent=1))


def load_runs(path=None) -> list[dict]:
    """Every recorded run, oldest first (an empty list when nothing was recorded yet)."""
    path = Path(path) if path is not None else default_path()
    if not path.exists():
        return []
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"The results file {path} is not valid JSON ({error}); rename or delete it to start "
                         f"a fresh one.") from error
    if not isinstance(runs, list):
        raise ValueError(f"The results file {path} should hold a JSON list of runs; rename or delete it.")
    return runs


def record(name: str, scores, *, track: str, options: dict | None = None, params=None,
           train_seconds: float | None = None, path=None, **extra) -> dict:
    """Append one evaluated run to the registry and return it (as written).

    Args:
        name: the model's name as tables should show it, e.g. ``"U-Net"`` or ``"FCN-8s"``.
        scores: a :class:`segedu.train.Scores` (or its ``to_dict()``).
        track: the data track it was evaluated on (e.g. ``"mixed"``, ``"thin"``).
        options: the options that built/trained the model (JSON-safe values).
        params: parameter count (int), or the model itself (its parameters are counted).
        train_seconds: training time, e.g. ``history.total_seconds``.
        path: the JSON file; default :func:`default_path`.
        **extra: anything else worth keeping (JSON-safe), e.g. ``notebook="04_skip"``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if hasattr(params, "parameters"):
        params = sum(p.numel() for p in params.parameters())
    score_dict = scores.to_dict() if hasattr(scores, "to_dict") else scores
    if not isinstance(score_dict, dict):
        raise TypeError(f"scores must be a Scores or a dict, got {type(scores).__name__}")
    run = {
        "name": name, "track": track, "mode": config.mode(),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "options": options or {}, "params": params, "train_seconds": train_seconds,
        "scores": score_dict, **extra,
    }
    run = _json_safe(run, "run")
    path = Path(path) if path is not None else default_path()
    write_json_atomically(path, [*load_runs(path), run])
    return run


def _row(run: dict) -> dict:
    scores = run.get("scores") or {}
    sizes = scores.get("size_iou") or {}
    return {
        "name": run.get("name"), "track": run.get("track"), "miou": scores.get("miou"),
        "pixel_accuracy": scores.get("pixel_accuracy"), "boundary": scores.get("boundary"),
        "small": sizes.get("small"), "medium": sizes.get("medium"), "large": sizes.get("large"),
        "params": run.get("params"), "train_seconds": run.get("train_seconds"),
        "timestamp": run.get("timestamp"),
    }


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "params":
        return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value:,}"
    if key == "train_seconds":
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


class RunTable:
    """Rows of recorded runs, shown as a table (text ``repr`` and HTML in notebooks).

    Attributes:
        rows: one dict per run with keys ``name, track, miou, pixel_accuracy, boundary, small,
            medium, large, params, train_seconds, timestamp``.
        missing: names that were asked for but have no recorded run.
    """

    def __init__(self, rows: list[dict], missing: Iterable[str] = ()):
        self.rows = rows
        self.missing = list(missing)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def _columns(self):
        return [(key, title) for key, title in COLUMNS if any(row[key] is not None for row in self.rows)]

    def __repr__(self) -> str:
        if not self.rows:
            return "RunTable(no recorded runs)" + self._missing_note()
        columns = self._columns()
        cells = [[title for _, title in columns]] + [[_cell(k, row[k]) for k, _ in columns] for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)) for line in cells]
        return "\n".join(lines) + self._missing_note()

    def _missing_note(self) -> str:
        if not self.missing:
            return ""
        return ("\nnot recorded yet (run their notebook first): " + ", ".join(self.missing))

    def _repr_html_(self) -> str:
        columns = self._columns()
        head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(k, row[k]))}</td>" for k, _ in columns) + "</tr>"
            for row in self.rows
        )
        note = f"<p>{html.escape(self._missing_note().strip())}</p>" if self.missing else ""
        return f"<table><tr>{head}</tr>{body}</table>{note}"


def compare(names: Iterable[str] | None = None, track: str | None = None, path=None,
            latest_only: bool = True) -> RunTable:
    """A :class:`RunTable` of recorded runs.

    Args:
        names: only these model names, in this order (default: every name, in recording order).
        track: only runs on this track.
        path: the JSON file; default :func:`default_path`.
        latest_only: keep only the latest run per (name, track) -- re-running a notebook
            replaces its row instead of adding one.
    """
    runs = [run for run in load_runs(path) if track is None or run.get("track") == track]
    if latest_only:
        latest = {}
        for run in runs:
            latest.pop((run.get("name"), run.get("track")), None)  # re-insert to keep recording order
            latest[(run.get("name"), run.get("track"))] = run
        runs = list(latest.values())
    missing = []
    if names is not None:
        names = list(names)
        missing = [name for name in names if not any(run.get("name") == name for run in runs)]
        runs = sorted((run for run in runs if run.get("name") in names), key=lambda run: names.index(run["name"]))
    return RunTable([_row(run) for run in runs], missing)
