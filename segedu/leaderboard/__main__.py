"""The leaderboard benchmark: train the course's models on every track, several seeds, and check the claims.

Usage::

    python -m segedu.leaderboard                   # everything, 5 seeds (make bench: 2 processes)
    python -m segedu.leaderboard --quick           # one seed, one pair of runs per claim
    python -m segedu.leaderboard --only unet/thin --only 'pspnet*/context' --seed 0
    python -m segedu.leaderboard --merge a.json b.json --out results
    python -m segedu.leaderboard --check           # re-run a few seed-0 jobs, compare with the records

Every job adds its record to ``build/bench/records.json`` as soon as it is made (several
processes may share it). The full benchmark then writes ``results/leaderboard.json``, ``.md``
and ``.png`` as one unit; a partial run (``--quick``, ``--only``, ``--seed``) writes them to
``build/bench/`` from every record there, and never touches the committed leaderboard.
Ctrl-C stops cleanly: the interrupted job is not recorded, and nothing committed changes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from segedu import config
from segedu.experiments.tracks import FEW_SEEDS, SEEDS, TRACKS
from segedu.leaderboard import benchmark, records, report, reproduce


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
                        help="folder of leaderboard.json/.md/.png (default results/; build/bench/ for a partial run)")
    parser.add_argument("--threads", type=_at_least(1), default=1,
                        help="torch threads per process (default 1: results are bit-identical only at the same "
                             "thread count, and 1 thread runs anywhere)")
    parser.add_argument("--processes", type=_at_least(1), default=1, help="jobs run at once (default 1)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop a job after this much training time; it is then recorded as not completed "
                             "and never counts")
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="train nothing: combine these records files into one leaderboard in --out")
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.check:
        return reproduce.main(args.reference, threads=None)
    if args.merge:
        return merge(args.merge, args.out or config.results_dir(), args.note)
    partial = bool(args.quick or args.only or args.seed)
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
    print(f"segedu leaderboard: {len(jobs)} jobs, seeds {seeds}, {args.processes} process(es); "
          f"{records.stamp(args.threads)}", flush=True)
    start = time.perf_counter()

    def say(number, job, record):
        sizes = record["size_iou"] or {}
        flag = "" if record["completed"] else (f"  STOPPED by the {record['stopped_by']} after {record['steps_done']}"
                                               f" of {record['steps']} steps: does not count")
        print(f"[{number:>3}/{len(jobs)} {benchmark.elapsed_minutes(start):5.1f} min] {job.key:<28} seed {job.seed}"
              f"  mIoU {record['miou']:.3f}  boundary {record['boundary'] or 0:.3f}  small/medium/large "
              f"{sizes.get('small') or 0:.2f}/{sizes.get('medium') or 0:.2f}/{sizes.get('large') or 0:.2f}"
              f"  {record['train_seconds']:.0f} s{flag}", flush=True)

    try:
        made = benchmark.run_jobs(jobs, work_file(), args.threads, args.processes, args.max_seconds, say)
    except (KeyboardInterrupt, benchmark.Interrupted) as error:
        print(f"\nInterrupted ({error or 'Ctrl-C'}). The records made so far are in {work_file()}; "
              f"the leaderboard files were not changed.", file=sys.stderr)
        return 130
    minutes = benchmark.elapsed_minutes(start)
    if partial and args.out is None:
        out, shown = work_file().parent, records.read_records(work_file())
    else:
        out, shown = args.out or config.results_dir(), made
    note = args.note or (f"This run: {'quick, ' if args.quick else ''}seeds {seeds}, {len(made)} jobs in "
                         f"{minutes:.0f} min, {args.processes} process(es), {records.stamp(args.threads)}.")
    print()
    print(report.write_leaderboard(shown, out, note))
    print(f"total {minutes:.1f} min; wrote {out}/leaderboard.json, .md and .png ({len(shown)} records)")
    return 0


def merge(paths: list[Path], out: Path, note: str | None) -> int:
    """Combine records files into one leaderboard in ``out``; refuses duplicated jobs and mixed modes."""
    combined, seen = [], {}
    for path in paths:
        for record in records.read_records(path):
            where = seen.get(records.key(record))
            if where is not None:
                raise SystemExit(f"--merge: {records.describe_key(record)} is in {where} and in {path}; "
                                 f"merge each job once.")
            seen[records.key(record)] = path
            combined.append(record)
    modes = sorted({record["mode"] for record in combined})
    if len(modes) > 1:
        raise SystemExit(f"--merge: the files mix {' and '.join(modes)}-mode records, which are not comparable; "
                         f"merge one mode at a time.")
    note = note or f"Combined from {len(paths)} file(s), {len(combined)} records, {time.strftime('%Y-%m-%d')}."
    print(report.write_leaderboard(combined, out, note))
    print(f"wrote {out}/leaderboard.json, .md and .png ({len(combined)} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
