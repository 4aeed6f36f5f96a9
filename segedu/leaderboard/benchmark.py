"""The benchmark: train every run of every track with its recipe, on several seeds, and record each.

What to train is the table of :mod:`segedu.experiments.tracks` (each track's recipe, runs and
seeds). :func:`train_and_score` is one job (one run, one track, one seed): load the track's
scenes, build the model, train it with the recipe, score it on the test scenes, measure its
costs, return its record. :func:`plan_jobs` lists the jobs; :func:`run_jobs` runs them, in one
process or several, adding each record to a records file as soon as it is made.
``python -m segedu.leaderboard`` is the command line.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import fnmatch
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from segedu import config
from segedu.experiments.runs import build_run, model_spec
from segedu.experiments.tracks import FEW_SEEDS, TRACKS, datasets, recipe
from segedu.leaderboard import records as records_module
from segedu.leaderboard.speed import latency_ms
from segedu.receptive import receptive_field
from segedu.train import evaluate, fit


class Interrupted(Exception):
    """Training of a job was interrupted (Ctrl-C): the benchmark stops and records nothing for it."""


def pretrained_on(model: torch.nn.Module) -> list[str] | None:
    """The classes the model's backbone was pretrained on, or None for a model trained from scratch."""
    for module in model.modules():
        if getattr(module, "pretrained_on", None):
            return list(module.pretrained_on)
    return None


def train_and_score(run: str, track: str, seed: int = 0, *, labelled: int | None = None, progress: bool = False,
                    max_seconds: float | None = None, latency: bool = True, **recipe_overrides) -> dict:
    """Train run ``run`` on ``track`` with its recipe and return its record (:mod:`segedu.leaderboard.records`).

    ``seed`` changes the training scenes, the initial weights and the batch order; validation and
    test scenes are the same for every seed. ``labelled`` limits the training scenes (the
    pretraining comparison) and trains as many steps as the full recipe. ``max_seconds`` stops a
    run that takes longer (its record is then marked ``completed: False`` and never counts).
    Raises :class:`Interrupted` if training is interrupted (Ctrl-C).
    """
    plan = recipe(track, **recipe_overrides)
    if labelled is not None:
        if labelled < 1:
            raise ValueError(f"labelled must be a positive number of scenes, got {labelled}")
        # Few labelled scenes: as many optimisation steps as the full recipe, validated as often.
        epochs = max(1, plan.epochs * plan.steps_per_epoch // -(-labelled // plan.batch_size))
        plan = dataclasses.replace(plan, train_scenes=labelled, epochs=epochs)
    shape = plan.image_shape
    train, val, test = datasets(track, seed, plan)
    config.seed_everything(seed)
    model = build_run(run, train.num_classes, track)
    # Few labelled scenes make more, shorter epochs: validate as often as the full recipe does.
    plan = dataclasses.replace(plan, val_every=plan.val_every * max(1, plan.epochs // recipe(track).epochs))
    history = fit(model, train, val, seed=seed, progress=progress, device="cpu", max_seconds=max_seconds,
                  **plan.fit_kwargs())
    if history.interrupted:
        raise Interrupted(f"{run}/{track} seed {seed} was interrupted after {history.steps} of "
                          f"{history.planned_steps} steps")
    name, options = model_spec(run, track)
    return records_module.make_record(
        run=run, track=track, seed=seed, labelled=labelled, model=model, history=history,
        scores=evaluate(model, test), recipe=plan, model_name=name, options=options,
        pretrained_on=pretrained_on(model), receptive_field=list(receptive_field(model, (3, *shape)).size),
        latency_ms=round(latency_ms(model, shape), 2) if latency else None,
    )


@dataclasses.dataclass(frozen=True)
class Job:
    """One training run of the benchmark."""

    run: str
    track: str
    seed: int
    labelled: int | None = None

    @property
    def key(self) -> str:
        suffix = f"@{self.labelled}" if self.labelled else ""
        return f"{self.run}/{self.track}{suffix}"


def plan_jobs(seeds, quick: bool = False, only: list[str] | None = None) -> list[Job]:
    """All benchmark jobs of the tracks' table, seed-major (so partial results cover every track).

    ``seeds``: a list of seeds; a track's ``few_seed_runs`` only for seeds below
    :data:`~segedu.experiments.tracks.FEW_SEEDS`. Within a seed: every track's runs, then the runs
    with a labelled limit. ``quick``: only the tracks' ``quick_runs`` and ``quick_labelled``.
    ``only``: shell-style patterns matched against ``run`` or ``run/track``.
    """
    jobs = []
    for seed in seeds:
        for name, track in TRACKS.items():
            runs = track.quick_runs if quick else track.runs
            jobs += [Job(run, name, seed) for run in runs if seed < FEW_SEEDS or run not in track.few_seed_runs]
        for name, track in TRACKS.items():
            for labelled in track.quick_labelled if quick else track.labelled:
                jobs += [Job(run, name, seed, labelled) for run in track.labelled_runs]
    if only:
        jobs = [job for job in jobs if any(fnmatch.fnmatchcase(job.key, pattern)
                                           or fnmatch.fnmatchcase(job.run, pattern) for pattern in only)]
    return jobs


def run_job(job: Job, threads: int, max_seconds: float | None) -> dict:
    """Train and score ``job`` with ``threads`` torch threads: its record."""
    torch.set_num_threads(threads)
    return train_and_score(job.run, job.track, job.seed, labelled=job.labelled, max_seconds=max_seconds)


ORPHAN_CHECK_SECONDS = 1.0
"""How often a worker process checks that the benchmark that started it is still there."""


def _prepare_worker(parent: int) -> None:
    """Set up a worker process: Ctrl-C goes to the main process, which stops the workers; and a worker
    whose main process is gone (``kill -9``) ends itself instead of training on for nobody."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_when_orphaned, args=(parent,), daemon=True).start()


def _end_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(1)


def run_jobs(jobs: list[Job], work_file: Path, threads: int, processes: int = 1, max_seconds: float | None = None,
             report: Callable[[int, Job, dict], None] | None = None,
             work: Callable[[Job, int, float | None], dict] = run_job) -> list[dict]:
    """Run ``jobs`` and add each record to ``work_file`` as soon as it is made; return the records.

    ``processes`` > 1 runs that many jobs at once, each in its own process with ``threads`` torch
    threads. ``report(number, job, record)`` is called after each job. ``work(job, threads,
    max_seconds)`` makes a job's record (:func:`run_job`; a module-level function, so that worker
    processes can import it). Ctrl-C stops everything; the records made so far stay in ``work_file``.
    """
    made = []

    def keep(number: int, job: Job, record: dict) -> None:
        records_module.add_records(work_file, [record])
        made.append(record)
        if report is not None:
            report(number, job, record)

    if processes <= 1:
        torch.set_num_threads(threads)
        for number, job in enumerate(jobs, 1):
            keep(number, job, work(job, threads, max_seconds))
        return made
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited threads or state
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context, initializer=_prepare_worker,
                                                initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(work, job, threads, max_seconds): job for job in jobs}
        try:
            for number, future in enumerate(concurrent.futures.as_completed(futures), 1):
                keep(number, futures[future], future.result())
        except BaseException:
            # The worker processes, taken before shutdown() forgets them (it sets the pool's table to None).
            workers = list((getattr(pool, "_processes", None) or {}).values())
            for future in futures:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            for process in workers:
                process.terminate()
            raise
    return made


def elapsed_minutes(start: float) -> float:
    return (time.perf_counter() - start) / 60
