"""One record per trained model: the schema, and the files that hold records.

The benchmark (``python -m segedu.leaderboard``) and the notebooks write the same kind of
record, a dict made by :func:`make_record`. Its fields (:data:`FIELDS`) say what was trained
(``run``, ``track``, ``seed``...), how (``image_size``, ``steps``, ``completed``...), how well
(``miou``, ``boundary``, ``class_iou``...) and at what cost (``params``, ``latency_ms``...).

A record whose training did not run every step of its recipe (stopped by a time cap or by
Ctrl-C) has ``completed`` False: it is kept, marked, and never counted as a result.

Record files are JSON: ``{"format": "segedu-records", "version": 2, "records": [...]}``:

* ``results/leaderboard.json``: the committed benchmark (:func:`load`);
* ``build/bench/records.json``: what benchmark processes have trained so far (they may share it);
* ``results/runs_<mode>.json``: the runs of your notebooks (:func:`record_run`, :func:`my_runs`).
"""

from __future__ import annotations

import datetime
import math
import os
import platform
from pathlib import Path

import torch

from segedu import __version__, config, files

FORMAT = "segedu-records"
VERSION = 2

FIELDS = {
    "run": "what was trained: a run name of segedu.experiments.runs.RUNS (e.g. 'fcn8s', 'pspnet_b1')",
    "track": "the track (a synthetic one, or 'camvid')",
    "seed": "seeds the training scenes, the initial weights and the batch order",
    "labelled": "number of labelled training scenes when limited (the pretraining comparison), else None",
    "model": "the model's name in segedu.models.build",
    "options": "the options the model was built with",
    "pretrained_on": "classes the backbone was pretrained on (None: trained from scratch)",
    "image_size": "side of the square images in pixels, or [height, width] of the photos",
    "epochs": "passes over the training scenes the recipe asks for",
    "batch_size": "scenes per optimiser step",
    "steps": "optimiser steps the recipe asks for",
    "steps_done": "optimiser steps taken",
    "completed": "True when every step of the recipe ran; only then does the record count",
    "stopped_by": "None, 'time cap' or 'interrupted'",
    "best_epoch": "the epoch whose weights were scored",
    "miou": "test mIoU",
    "pixel_accuracy": "test pixel accuracy",
    "boundary": "test Boundary IoU",
    "size_iou": "test mIoU per object size bucket (small, medium, large), or None",
    "class_iou": "test IoU per class name",
    "confusion": "test confusion matrix, rows truth, columns prediction",
    "params": "number of parameters",
    "receptive_field": "receptive field (height, width) of the centre pixel, on the track's images",
    "latency_ms": "median CPU time of one image (None when not measured)",
    "train_seconds": "wall time of training (validation excluded)",
    "threads": "torch CPU threads",
    "cpu": "the CPU's instruction set as torch sees it, and its model",
    "torch": "torch version",
    "segedu": "segedu version",
    "mode": "'learner' or 'fast'",
    "source": "'benchmark' or the notebook that trained it",
    "date": "when it was recorded (UTC)",
}
"""Every field of a record, with what it means."""

KEY = ("run", "track", "labelled", "seed")
"""The fields that identify a record: two records with the same key are the same job."""

REQUIRED = ("run", "track", "seed", "miou", "completed", "steps", "steps_done", "mode")


def cpu_description() -> str:
    """``"AVX2, <model name>"``: results are bit-identical only on CPUs with the same instruction set."""
    capability = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "unknown"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            name = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{capability}, {name}"


def make_record(*, run: str, track: str, seed: int, model, history, scores, recipe, labelled: int | None = None,
                model_name: str | None = None, options: dict | None = None, pretrained_on=None,
                receptive_field=None, latency_ms: float | None = None, source: str = "benchmark") -> dict:
    """The record of one trained and scored model (a plain, JSON-safe dict with every key of :data:`FIELDS`).

    ``model``: the trained ``nn.Module`` (its parameters are counted); ``history``: what
    :func:`segedu.train.fit` returned; ``scores``: :func:`segedu.train.evaluate` on the test scenes;
    ``recipe``: the :class:`~segedu.experiments.recipes.Recipe` it was trained with (with ``epochs``
    and ``batch_size`` as actually used).
    """
    record = {
        "run": run, "track": track, "seed": seed, "labelled": labelled,
        "model": model_name, "options": options or {}, "pretrained_on": pretrained_on,
        "image_size": recipe.image_size, "epochs": recipe.epochs, "batch_size": recipe.batch_size,
        "steps": history.planned_steps, "steps_done": history.steps, "completed": history.completed,
        "stopped_by": history.stopped_by, "best_epoch": history.best_epoch,
        "miou": scores.miou, "pixel_accuracy": scores.pixel_accuracy, "boundary": scores.boundary,
        "size_iou": scores.size_iou, "class_iou": scores.class_iou, "confusion": scores.confusion.matrix,
        "params": sum(p.numel() for p in model.parameters()),
        "receptive_field": receptive_field, "latency_ms": latency_ms,
        "train_seconds": round(history.total_seconds, 1),
        "threads": torch.get_num_threads(), "cpu": cpu_description(), "torch": str(torch.__version__),
        "segedu": __version__, "mode": config.mode(), "source": source,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return files.plain(record, "record")


def key(record: dict) -> tuple:
    """The record's identity: ``(run, track, labelled, seed)``."""
    return tuple(record.get(name) for name in KEY)


def describe_key(record: dict) -> str:
    """``"fcn8s/thin seed 0"`` (with ``@64`` for a labelled limit)."""
    labelled = f"@{record.get('labelled')}" if record.get("labelled") else ""
    return f"{record.get('run')}/{record.get('track')}{labelled} seed {record.get('seed')}"


def check_records(records, where: str) -> list[dict]:
    """Return ``records`` if they are a list of record dicts with every required field, else raise a
    ``ValueError`` that names ``where`` they come from and what is wrong."""
    if not isinstance(records, list):
        raise ValueError(f"{where} should hold a list of records, got {type(records).__name__}.")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"{where}: record {index} is a {type(record).__name__}, not a dict of fields.")
        missing = [name for name in REQUIRED if name not in record]
        if missing:
            raise ValueError(f"{where}: record {index} ({describe_key(record)}) lacks the field(s) "
                             f"{', '.join(missing)}; it was not written by this version of segedu. Re-run the "
                             f"benchmark, or remove the file.")
        for name, value in _scores(record):
            if value is not None and not _is_share(value):
                raise ValueError(f"{where}: record {index} ({describe_key(record)}) has {name} {value!r}, which is "
                                 f"not a score between 0 and 1: the file was damaged or edited by hand. Re-run the "
                                 f"job, or remove the record.")
    return records


SCORES = ("miou", "pixel_accuracy", "boundary")
"""Fields that hold one score between 0 and 1 (or None when not measured)."""
SCORE_TABLES = ("size_iou", "class_iou")
"""Fields that hold a dict of such scores."""


def _scores(record: dict):
    """``(field name, value)`` of every score of ``record``, the entries of its score tables included."""
    for name in SCORES:
        yield name, record.get(name)
    for table in SCORE_TABLES:
        for key, value in (record.get(table) or {}).items():
            yield f"{table}[{key!r}]", value


def _is_share(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1


def read_records(path, what: str = "records file") -> list[dict]:
    """The records in ``path`` (a file of :data:`FORMAT`), checked; clear errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} at {path}.")
    content = files.read_json(path, what)
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ValueError(f"The {what} {path} is not a segedu records file (expected a JSON object with "
                         f"\"format\": \"{FORMAT}\"); it may come from an older segedu: re-run the benchmark, "
                         f"or remove the file.")
    if content.get("version") != VERSION:
        raise ValueError(f"The {what} {path} has version {content.get('version')!r}; this segedu reads "
                         f"version {VERSION}. Re-run the benchmark, or remove the file.")
    return check_records(content.get("records"), f"The {what} {path}")


def records_document(records: list[dict]) -> dict:
    """What a records file holds: the format, its version and ``records``."""
    return {"format": FORMAT, "version": VERSION, "records": records}


def write_records(path, records: list[dict]) -> Path:
    """Write ``records`` to ``path`` atomically (the file is replaced as a whole or not at all)."""
    return files.write_json(path, records_document(check_records(list(records), str(path))))


def add_records(path, new: list[dict]) -> list[dict]:
    """Add ``new`` records to the file ``path`` (created if missing); a new record replaces an older one
    with the same :func:`key`. Several processes may do this at once: they take turns (a file lock).
    Returns every record of the file."""
    path = Path(path)
    check_records(new, "the new records")
    with files.locked(path):
        existing = read_records(path) if path.exists() else []
        replaced = {key(record) for record in new}
        combined = [record for record in existing if key(record) not in replaced] + list(new)
        write_records(path, combined)
    return combined


def leaderboard_path() -> Path:
    """Where the committed leaderboard lives: ``results/leaderboard.json``."""
    return config.results_dir() / "leaderboard.json"


def load(path=None) -> list[dict]:
    """The committed benchmark's records (``results/leaderboard.json`` unless ``path`` says otherwise).

    Raises ``FileNotFoundError`` with the command that makes the file when it does not exist, and
    ``ValueError`` naming the file when it is not a readable records file.
    """
    path = Path(path) if path is not None else leaderboard_path()
    if not path.is_file():
        raise FileNotFoundError(f"No leaderboard at {path}; make one with `make bench` (about 2 hours) or "
                                f"`make bench-quick` (about 10 minutes, written to build/bench/).")
    return read_records(path, "leaderboard")


# -- the runs of your notebooks -------------------------------------------------------------------------


def runs_path() -> Path:
    """``results_dir() / "runs_<mode>.json"``: fast-mode test runs never mix with your learner-mode runs."""
    return config.results_dir() / f"runs_{config.mode()}.json"


def record_run(*, run: str, track: str, model, history, scores, recipe, notebook: str, seed: int = 0,
               options: dict | None = None, path=None) -> dict:
    """Keep the record of a model a notebook trained (in :func:`runs_path`) and return it; say so when the
    model is undertrained (its training stopped before the end of its recipe).

    Notebook 09 shows these runs next to the benchmark's. The arguments are those of
    :func:`make_record`; ``notebook`` names the notebook (e.g. ``"01"``).
    """
    if not isinstance(run, str) or not run:
        raise ValueError(f"run must be a non-empty string naming what was trained, got {run!r}")
    record = make_record(run=run, track=track, seed=seed, model=model, history=history, scores=scores,
                         recipe=recipe, options=options, model_name=type(model).__name__,
                         source=f"notebook {notebook}")
    path = Path(path) if path is not None else runs_path()
    _set_aside_if_unreadable(path)
    add_records(path, [record])
    if not record["completed"]:
        print(f"NOTE: {run} on {track} stopped after {record['steps_done']} of {record['steps']} steps "
              f"({record['stopped_by']}): it is undertrained, its scores are not the lesson's, and its record "
              f"never counts. Run the training cell again to train it fully.")
    return record


def _set_aside_if_unreadable(path: Path) -> None:
    """A runs file this segedu cannot read (an older version's, or damaged) is renamed, never deleted,
    so that recording a new run starts a fresh file and loses nothing."""
    if not path.is_file():
        return
    try:
        read_records(path)
    except ValueError as error:
        kept = path.with_name(f"{path.stem}.unreadable-{datetime.datetime.now():%Y%m%d-%H%M%S}{path.suffix}")
        path.rename(kept)
        print(f"Your earlier runs file could not be read ({error}); it was kept as {kept}, and a new one is "
              f"started at {path}.")


def load_runs(path=None) -> list[dict]:
    """The records of your notebooks' runs (an empty list when there are none yet)."""
    path = Path(path) if path is not None else runs_path()
    return read_records(path, "file of your notebook runs") if path.is_file() else []


def stamp(threads: int | None = None) -> str:
    """A line that says how and where records are being made (threads, CPU, torch, date).

    ``threads``: the torch threads of each process that trains (default: this process's).
    """
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    threads = torch.get_num_threads() if threads is None else threads
    return (f"{threads} torch thread(s) per process on {os.cpu_count()} CPUs ({cpu_description()}), "
            f"load average {load_average:.2f}, torch {torch.__version__}, mode {config.mode()}, "
            f"{datetime.date.today().isoformat()}")
