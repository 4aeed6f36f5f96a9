"""The leaderboard benchmark: train the course's models on every track, several seeds, and check the claims.

Usage::

    python -m segedu.leaderboard                   # everything, 5 seeds (make bench: 2 processes)
    python -m segedu.leaderboard --quick           # one seed, one pair of runs per claim
    python -m segedu.leaderboard --only unet/thin --only 'pspnet*/context' --seed 0
    python -m segedu.leaderboard --merge a.json b.json                       # into build/bench/
    python -m segedu.leaderboard --merge a.json b.json --replace-committed   # into results/
    python -m segedu.leaderboard --check           # re-run a few seed-0 jobs, compare with the records

Every job adds its record to ``build/bench/records.json`` as soon as it is made (several
processes may share it). The committed leaderboard (``results/leaderboard.json``, ``.md`` and
``.png``) is written by a full run in learner mode, or by a merge of learner-mode records that says
``--replace-committed``; nothing else may replace it. A partial run (``--quick``, ``--only``,
``--seed``, fewer seeds), a fast-mode run and a plain merge write to ``build/bench/``.
Ctrl-C (or SIGTERM) stops cleanly: the interrupted job is not recorded, and nothing committed changes.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

from segedu import config
from segedu.experiments.tracks import FEW_SEEDS, SEEDS, TRACKS
from segedu.leaderboard import benchmark, records, report, reproduce


class CommandError(Exception):
    """Bad input to the command line: its message is printed alone, and the command exits with 2."""


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m segedu.leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one seed, one pair of runs per claim")
    parser.add_argument("--seeds", type=_at_least(1), default=None,
                        help=f"number of seeds 0, 1, ... (default {SEEDS}; quick: 1)")
    parser.add_argument("--seed", type=_at_least(0), action="append",
                        help="run this seed only (repeatable), e.g. one process per seed")
    parser.add_argument("--only", action="append", help="run only jobs matching RUN or RUN/TRACK patterns")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of leaderboard.json/.md/.png (default: results/ for a full learner-mode run, "
                             "else build/bench/)")
    parser.add_argument("--threads", type=_at_least(1), default=1,
                        help="torch threads per process (default 1: results are bit-identical only at the same "
                             "thread count, and 1 thread runs anywhere)")
    parser.add_argument("--processes", type=_at_least(1), default=1, help="jobs run at once (default 1)")
    parser.add_argument("--max-seconds", type=_positive_seconds, default=None,
                        help="stop a job after this much training time; it is then recorded as not completed "
                             "and never counts")
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="train nothing: combine these records files into one leaderboard in --out")
    parser.add_argument("--replace-committed", action="store_true",
                        help="with --merge: write the merged learner-mode records over the committed leaderboard "
                             "in results/")
    parser.add_argument("--note", default=None, help="how the runs were made (printed in the .md)")
    parser.add_argument("--check", action="store_true",
                        help="re-run a few cheap seed-0 jobs and compare them, digit for digit, with the records")
    parser.add_argument("--reference", type=Path, default=None,
                        help="with --check: the records to compare with (default: the committed leaderboard of "
                             "this mode)")
    return parser


def work_file() -> Path:
    """Where every benchmark process adds its records as it goes."""
    return config.repo_root() / "build" / "bench" / "records.json"


def committed_folder() -> Path:
    """The folder of the committed leaderboard (``results/``, or ``$SEGEDU_RESULTS``)."""
    return config.results_dir()


def _is_committed(folder: Path) -> bool:
    return folder.resolve() == committed_folder().resolve()


def check_arguments(args: argparse.Namespace) -> None:
    """Raise :class:`CommandError` for options that contradict each other or this machine."""
    if args.check:
        others = [name for name, given in (("--merge", args.merge), ("--only", args.only), ("--seed", args.seed),
                                           ("--seeds", args.seeds), ("--quick", args.quick), ("--out", args.out),
                                           ("--replace-committed", args.replace_committed)) if given]
        if others:
            raise CommandError(f"--check re-runs the reference's own jobs and writes nothing: it takes no "
                               f"{', '.join(others)} (only --reference).")
    elif args.reference is not None:
        raise CommandError("--reference is the file --check compares with: add --check, or drop --reference.")
    if args.replace_committed and not args.merge:
        raise CommandError("--replace-committed goes with --merge; a full learner-mode run (make bench) writes the "
                           "committed leaderboard by itself.")
    if args.merge and (args.only or args.seed or args.seeds or args.quick):
        raise CommandError("--merge trains nothing: it takes no --only, --seed, --seeds or --quick.")
    cpus = os.cpu_count() or 1
    if args.threads > cpus:
        raise CommandError(f"--threads {args.threads}: this machine has {cpus} CPU(s); more threads than CPUs only "
                           f"slow training down (and are recorded with every result). Use --threads 1 (the "
                           f"leaderboard's setting) or at most {cpus}.")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise CommandError(f"--out {args.out} is a file; --out takes a folder, into which leaderboard.json, .md "
                           f"and .png are written.")


def is_full_run(args: argparse.Namespace) -> bool:
    """Every job of every seed the claims need, in learner mode: the only run that writes ``results/``."""
    partial = args.quick or args.only or args.seed or (args.seeds is not None and args.seeds < SEEDS)
    return not partial and not config.is_fast()


def output_folder(args: argparse.Namespace) -> Path:
    """Where a training run writes its leaderboard files; :class:`CommandError` if that is the committed
    leaderboard and the run may not replace it."""
    full = is_full_run(args)
    if args.out is None:
        return committed_folder() if full else work_file().parent
    if _is_committed(args.out) and not full:
        what = "a fast-mode run" if config.is_fast() else "a partial run (--quick, --only, --seed or fewer seeds)"
        raise CommandError(f"--out {args.out} holds the committed leaderboard, which {what} may not replace. Leave "
                           f"out --out (it writes {work_file().parent}), or combine complete learner-mode records "
                           f"with --merge ... --replace-committed.")
    return args.out


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a closing terminal) stops the benchmark like Ctrl-C: workers end, nothing half-written."""
    def stop(_signal, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_arguments(args)
        if args.check:
            if args.reference is not None:
                read(args.reference, "--reference")
            return reproduce.main(args.reference, threads=None)
        if args.merge:
            return merge(args.merge, args.out, args.note, args.replace_committed)
        return train(args)
    except CommandError as error:
        print(f"python -m segedu.leaderboard: {error}", file=sys.stderr)
        return 2


def train(args: argparse.Namespace) -> int:
    """Plan, train and report the jobs the arguments ask for (see the module docstring)."""
    out = output_folder(args)
    seeds = args.seed or list(range(args.seeds or (1 if args.quick else SEEDS)))
    jobs = benchmark.plan_jobs(seeds, args.quick, args.only)
    if not jobs:
        runs = sorted({job.key for job in benchmark.plan_jobs(seeds, args.quick)})
        print(f"no job matches --only {' '.join(args.only or [])} for seeds {seeds}; the jobs are: {', '.join(runs)}",
              file=sys.stderr)
        if any(seed >= FEW_SEEDS for seed in seeds):
            print(f"(rows that no claim compares train on seeds 0 to {FEW_SEEDS - 1} only: "
                  + "; ".join(f"{', '.join(track.few_seed_runs)} on {name}" for name, track in TRACKS.items()
                              if track.few_seed_runs) + ")", file=sys.stderr)
        return 2
    if args.processes * args.threads > (os.cpu_count() or 1):
        print(f"note: {args.processes} process(es) x {args.threads} thread(s) is more than this machine's "
              f"{os.cpu_count()} CPUs: jobs will wait for each other.", file=sys.stderr)
    print(f"segedu leaderboard: {len(jobs)} jobs, seeds {seeds}, {args.processes} process(es); "
          f"{records.stamp(args.threads)}", flush=True)
    start = time.perf_counter()

    def say(number, job, record):
        sizes = record["size_iou"] or {}
        flag = "" if record["completed"] else (f"  STOPPED by the {record['stopped_by']} after {record['steps_done']}"
                                               f" of {record['steps']} steps: does not count")
        buckets = "/".join("-" if sizes.get(size) is None else f"{sizes[size]:.2f}"
                           for size in ("small", "medium", "large"))
        print(f"[{number:>3}/{len(jobs)} {benchmark.elapsed_minutes(start):5.1f} min] {job.key:<28} seed {job.seed}"
              f"  mIoU {record['miou']:.3f}  boundary {record['boundary'] or 0:.3f}  small/medium/large {buckets}"
              f"  {record['train_seconds']:.0f} s{flag}", flush=True)

    _stop_on_sigterm()
    try:
        made = benchmark.run_jobs(jobs, work_file(), args.threads, args.processes, args.max_seconds, say)
    except (KeyboardInterrupt, benchmark.Interrupted) as error:
        print(f"\nInterrupted ({error or 'Ctrl-C'}). The records made so far are in {work_file()}; "
              f"the leaderboard files were not changed.", file=sys.stderr)
        return 130
    minutes = benchmark.elapsed_minutes(start)
    shown = made if _is_committed(out) or args.out is not None else records.read_records(work_file())
    note = args.note or (f"This run: {'quick, ' if args.quick else ''}seeds {seeds}, {len(made)} jobs in "
                         f"{minutes:.0f} min, {args.processes} process(es), {records.stamp(args.threads)}.")
    print()
    print(write(shown, out, note))
    print(f"total {minutes:.1f} min; wrote {out}/leaderboard.json, .md and .png ({len(shown)} records)")
    return 0


def write(shown: list[dict], out: Path, note: str) -> str:
    """:func:`report.write_leaderboard`, with a folder that cannot be written said plainly."""
    try:
        return report.write_leaderboard(shown, out, note)
    except OSError as error:
        raise CommandError(f"cannot write the leaderboard into {out}: {error.strerror or error}. Choose a writable "
                           f"folder with --out (or SEGEDU_RESULTS).") from None


def read(path: Path, option: str = "--merge") -> list[dict]:
    """The records of ``path``; an unreadable, foreign or old file becomes a :class:`CommandError`."""
    try:
        return records.read_records(path)
    except (OSError, ValueError) as error:
        raise CommandError(f"{option}: {error}") from None


def merge(paths: list[Path], out: Path | None, note: str | None, replace_committed: bool = False) -> int:
    """Combine records files into one leaderboard in ``out`` (default ``build/bench/``).

    Refuses mixed modes, duplicated jobs, and (unless ``replace_committed``) the committed folder; with
    ``replace_committed`` every record must be a complete learner-mode record.
    """
    if replace_committed:
        if out is not None and not _is_committed(out):
            raise CommandError(f"--replace-committed writes {committed_folder()}; drop --out {out}, or drop the flag.")
        out = committed_folder()
    elif out is None:
        out = work_file().parent
    elif _is_committed(out):
        raise CommandError(f"--out {out} holds the committed leaderboard: say --replace-committed (without --out) "
                           f"to replace it with the merged records on purpose.")
    loaded = [(path, read(path)) for path in paths]
    modes = sorted({record["mode"] for _, found in loaded for record in found})
    if len(modes) > 1:
        raise CommandError(f"--merge: the files mix {' and '.join(modes)}-mode records, which are not comparable; "
                           f"merge one mode at a time.")
    if replace_committed and modes != ["learner"]:
        raise CommandError("--merge --replace-committed: the committed leaderboard holds learner-mode records only; "
                           f"these are {' and '.join(modes) or 'no'} records.")
    combined, seen = [], {}
    for path, found in loaded:
        for record in found:
            where = seen.get(records.key(record))
            if where is not None:
                raise CommandError(f"--merge: {records.describe_key(record)} is in {where} and in {path}; "
                                   f"merge each job once.")
            seen[records.key(record)] = path
            combined.append(record)
    if replace_committed and not all(record["completed"] for record in combined):
        stopped = [records.describe_key(record) for record in combined if not record["completed"]]
        raise CommandError(f"--merge --replace-committed: {len(stopped)} record(s) stopped before the end of their "
                           f"recipe ({', '.join(stopped[:3])}...): the committed leaderboard holds complete runs only.")
    note = note or f"Combined from {len(paths)} file(s), {len(combined)} records, {time.strftime('%Y-%m-%d')}."
    print(write(combined, out, note))
    print(f"wrote {out}/leaderboard.json, .md and .png ({len(combined)} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
