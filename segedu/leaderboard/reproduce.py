"""Does the committed leaderboard reproduce? Re-run a few cheap seed-0 jobs and compare them digit for digit.

Training is a number of steps, never a number of seconds, so a job trained again with the same
seed, thread count, torch version and kind of CPU gives bit-identical weights and scores,
however fast or busy the machine. ``make bench-check`` (learner mode) compares with
``results/leaderboard.json``; in fast mode the reference is ``results/reference_fast.json``,
which the tests compare with on every run. ``--update`` rewrites the fast-mode reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from segedu import config
from segedu.leaderboard import records as records_module
from segedu.leaderboard.benchmark import Job, train_and_score

JOBS = (Job("fcn8s", "thin", 0), Job("pspnet_noppm", "context", 0), Job("fcn8s_pretrained", "shapes", 0, 64))
"""Cheap jobs (about half a minute each in learner mode) that touch every part: two tracks, a dilated
backbone at 128 px, the pretrained backbone."""

COMPARED = ("steps", "steps_done", "best_epoch", "miou", "pixel_accuracy", "boundary", "size_iou", "class_iou",
            "confusion")
"""The fields that must be equal to the last digit."""


def reference_path() -> Path:
    """The records this mode compares with."""
    name = "reference_fast.json" if config.is_fast() else "leaderboard.json"
    return config.results_dir() / name


def compare(job: Job, reference: dict) -> list[str]:
    """Train ``job`` again at the reference's thread count; the fields that differ (empty when all agree)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(int(reference.get("threads") or 1))
    try:
        again = train_and_score(job.run, job.track, job.seed, labelled=job.labelled, latency=False)
    finally:
        torch.set_num_threads(threads)
    return [field for field in COMPARED if again.get(field) != reference.get(field)]


def release(version: str) -> str:
    """'2.14.1+cu130' -> '2.14.1': the build tag (CUDA or CPU wheel) does not change CPU arithmetic."""
    return str(version).split("+")[0]


def not_comparable(wanted: dict, cpu: str) -> str:
    """Why a record cannot be expected to reproduce bit for bit on this machine ('' when it can).

    Other torch releases and other instruction sets use other kernels, whose sums round differently:
    their scores differ in the last digits, which says nothing about the determinism of training.
    """
    if release(wanted.get("torch", "")) != release(torch.__version__):
        return f"recorded with torch {wanted.get('torch')}, this is torch {torch.__version__}"
    if wanted.get("cpu", "").split(",")[0] != cpu.split(",")[0]:
        return f"recorded on {wanted.get('cpu')}, this is {cpu}"
    return ""


def main(reference: Path | None = None, threads=None, update: bool = False) -> int:
    """Compare (or, with ``update``, rewrite the fast-mode reference); 0 when every job reproduces."""
    path = Path(reference) if reference is not None else reference_path()
    if update:
        if not config.is_fast():
            raise SystemExit("--update rewrites the fast-mode reference only: run with SEGEDU_FAST=1 "
                             "(the learner-mode reference is the leaderboard itself, made by `make bench`).")
        torch.set_num_threads(1)
        made = [train_and_score(job.run, job.track, job.seed, labelled=job.labelled, latency=False) for job in JOBS]
        records_module.write_records(path, made)
        print(f"wrote {len(made)} reference records to {path}")
        return 0
    found = {records_module.key(record): record for record in records_module.read_records(path, "reference")}
    cpu = records_module.cpu_description()
    failures = compared = 0
    print(f"re-running {len(JOBS)} jobs of {path} ({config.mode()} mode) on {cpu}")
    for job in JOBS:
        wanted = found.get((job.run, job.track, job.labelled, job.seed))
        if wanted is None:
            print(f"  {job.key} seed {job.seed}: not in {path}: skipped")
            continue
        reason = not_comparable(wanted, cpu)
        if reason:
            print(f"  {job.key} seed {job.seed}: not comparable here ({reason}): skipped")
            continue
        different = compare(job, wanted)
        compared += 1
        failures += bool(different)
        verdict = "identical" if not different else f"DIFFERENT in {', '.join(different)}"
        print(f"  {job.key} seed {job.seed} at {wanted.get('threads')} thread(s): mIoU {wanted['miou']:.6f}: {verdict}",
              flush=True)
    if not compared:
        print("nothing compared: no job of the reference can be expected to reproduce on this machine")
    else:
        print("reproduced" if not failures else f"{failures} of {compared} job(s) did not reproduce")
    return 1 if failures else 0


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segedu.leaderboard.reproduce", description=__doc__)
    parser.add_argument("--reference", type=Path, default=None, help="records to compare with")
    parser.add_argument("--update", action="store_true", help="rewrite the fast-mode reference (SEGEDU_FAST=1)")
    args = parser.parse_args(argv)
    return main(args.reference, update=args.update)


if __name__ == "__main__":
    sys.exit(cli())
