"""The leaderboard benchmark: train the course's models on every track, several seeds, and check the story.

Usage::

    python -m segedu.bench                      # everything, 3 seeds (about 45 minutes on a quiet 2-core CPU)
    python -m segedu.bench --quick              # one seed, the runs the story needs (about 10 minutes)
    python -m segedu.bench --only unet/thin --only 'pspnet*/context'   # filters (shell-style patterns)

Writes ``results/leaderboard.json`` (one record per run), ``results/leaderboard.md`` (medians
over seeds, and whether each claim of the course holds in every seed) and
``results/leaderboard.png``; prints the table as it goes. Every run uses the recipe of
:mod:`segedu.recipes`, exactly as the notebooks do.

A partial run (``--quick``, ``--only`` or ``--seed``) writes to ``build/bench/`` unless ``--out``
says otherwise, so that it never replaces the committed leaderboard; ``--merge`` combines
partial results (``--merge build/bench/leaderboard.json ... --out results``).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from segedu import config, recipes, results

RESULT_FIELDS = (
    "model", "options", "track", "seed", "miou", "boundary", "size_iou", "class_iou", "confusion", "pixel_accuracy",
    "params", "train_seconds", "latency_ms", "receptive_field", "pretrained", "labelled", "epochs",
    "best_epoch", "out_of_time",
)


def latency_ms(model: torch.nn.Module, image_size: int, repeats: int = 20) -> float:
    """Median CPU forward time in milliseconds of one ``1 x 3 x image_size x image_size`` image."""
    model = model.to("cpu").eval()
    x = torch.rand(1, 3, image_size, image_size)
    times = []
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def train_and_score(run: str, track: str, seed: int = 0, *, labelled: int | None = None,
                    progress: bool = False, **recipe_overrides) -> dict:
    """Train run ``run`` on ``track`` with its recipe and return its leaderboard record (a dict).

    ``seed`` changes the training scenes, the initial weights and the batch order; validation
    and test scenes are the same for every seed. ``labelled`` limits the training scenes (the
    pretraining comparison).
    """
    from segedu.data import SyntheticScenes
    from segedu.models import count_parameters
    from segedu.receptive import receptive_field
    from segedu.train import evaluate, fit

    plan = recipes.recipe(track, **recipe_overrides)
    train_scenes = plan.train_scenes if labelled is None else labelled
    size = plan.image_size
    train = SyntheticScenes("train", track, size=size, length=train_scenes, seed=seed)
    val = SyntheticScenes("val", track, size=size, length=plan.val_scenes)
    test = SyntheticScenes("test", track, size=size, length=plan.test_scenes)
    config.seed_everything(seed)
    model = recipes.build_run(run, train.num_classes, track)
    kwargs = plan.fit_kwargs()
    if labelled is not None:
        # Few labelled scenes: keep the number of optimisation steps of the full recipe.
        kwargs["epochs"] = max(1, plan.epochs * plan.train_scenes // max(labelled, 1))
        kwargs["val_every"] = max(1, kwargs["epochs"] // plan.epochs)  # as often as the full recipe
    history = fit(model, train, val, seed=seed, progress=progress, device="cpu", **kwargs)
    scores = evaluate(model, test)
    name, options = recipes.model_spec(run, track)
    return {
        "model": run,
        "options": {"name": name, **{k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}},
        "track": track,
        "seed": seed,
        "miou": scores.miou,
        "boundary": scores.boundary,
        "size_iou": scores.size_iou,
        "class_iou": scores.class_iou,
        "confusion": scores.confusion.matrix.tolist(),
        "pixel_accuracy": scores.pixel_accuracy,
        "params": count_parameters(model),
        "train_seconds": round(history.total_seconds, 1),
        "latency_ms": round(latency_ms(model, size), 2),
        "receptive_field": list(receptive_field(model, (3, size, size)).size),
        "pretrained": run.endswith("_pretrained"),
        "labelled": labelled,
        "epochs": history.epochs,
        "best_epoch": history.best_epoch,
        "out_of_time": history.out_of_time,
    }


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


QUICK_RUNS: dict[str, tuple[str, ...]] = {
    "shapes": ("plain", "encdec"),
    "thin": ("encdec", "fcn8s"),
    "context": ("pspnet_noppm", "pspnet"),
}
"""The runs of ``--quick``: one pair per claim (about 6 minutes on two CPU cores)."""


def plan_jobs(seeds, quick: bool = False, only: list[str] | None = None) -> list[Job]:
    """All benchmark jobs, in the order they run (seed-major, so partial results cover every track).

    ``seeds``: a number of seeds (0, 1, ...) or a list of seeds.

    ``quick``: only :data:`QUICK_RUNS` and the pretraining pair at 64 labelled scenes.
    """
    jobs = []
    for seed in range(seeds) if isinstance(seeds, int) else seeds:
        for track, runs in (QUICK_RUNS if quick else recipes.TRACK_RUNS).items():
            jobs += [Job(run, track, seed) for run in runs]
        for labelled in recipes.PRETRAIN_LABELLED if not quick else (64,):
            for kind in ("pretrained", "scratch"):
                jobs.append(Job(f"{recipes.PRETRAIN_MODEL}_{kind}", recipes.PRETRAIN_TRACK, seed, labelled))
    if only:
        jobs = [job for job in jobs if any(fnmatch.fnmatchcase(job.key, pattern)
                                           or fnmatch.fnmatchcase(job.run, pattern) for pattern in only)]
    return jobs


def medians(records: list[dict]) -> dict[tuple[str, str, int | None], dict]:
    """Median of each numeric field over seeds, per (model, track, labelled)."""
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        groups.setdefault((record["model"], record["track"], record.get("labelled")), []).append(record)
    def median(group, getter):
        values = [v for v in (getter(r) for r in group) if v is not None]
        return statistics.median(values) if values else None

    table = {}
    for key, group in groups.items():
        table[key] = {
            "seeds": len(group),
            "miou": median(group, lambda r: r["miou"]),
            "boundary": median(group, lambda r: r["boundary"]),
            **{bucket: median(group, lambda r, b=bucket: (r["size_iou"] or {}).get(b))
               for bucket in ("small", "medium", "large")},
            "params": group[0]["params"],
            "train_seconds": median(group, lambda r: r["train_seconds"]),
            "latency_ms": median(group, lambda r: r["latency_ms"]),
            "receptive_field": group[0]["receptive_field"],
        }
    return table


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_markdown(records: list[dict], claims: list, note: str = "") -> str:
    """The leaderboard as Markdown: one table per track (medians over seeds) and the claims.

    ``note`` (for example how and where the benchmark ran) is printed under the title.
    """
    table = medians(records)
    lines = ["# segedu leaderboard", "",
             "Medians over seeds, scored on the test scenes; RF is the receptive field of the centre pixel",
             "(measured on the track's images, so at most their side); latency is one image of the track's size",
             "on the CPU. Regenerate with `make bench`.", ""]
    if note:
        lines += [note, ""]
    tracks = list(dict.fromkeys(key[1] for key in table))
    for track in tracks:
        size = recipes.recipe(track).image_size if track in recipes.RECIPES else None
        lines += [f"## {track}" + (f" ({size} x {size} images)" if size else ""), "",
                  "| run | seeds | mIoU | boundary IoU | small | medium | large | params | RF px | train s | latency ms |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        rows = sorted(((k, v) for k, v in table.items() if k[1] == track), key=lambda kv: -(kv[1]["miou"] or 0))
        for (model, _, labelled), row in rows:
            name = f"{model} ({labelled} labelled)" if labelled else model
            rf = row["receptive_field"]
            lines.append(
                f"| {name} | {row['seeds']} | {_fmt(row['miou'])} | {_fmt(row['boundary'])} | {_fmt(row['small'])} | "
                f"{_fmt(row['medium'])} | {_fmt(row['large'])} | {row['params'] / 1e6:.2f} M | {rf[0]} | "
                f"{_fmt(row['train_seconds'], 0)} | {_fmt(row['latency_ms'], 1)} |")
        lines.append("")
    if claims:
        lines += ["## The course's claims", "", "| claim | holds in every seed | numbers |", "|---|---|---|"]
        lines += [f"| {c.text} | {'yes' if c.holds else 'NO'} | {c.detail} |" for c in claims]
        lines.append("")
    return "\n".join(lines)


def leaderboard_path() -> Path:
    """Where the committed leaderboard lives: ``results/leaderboard.json``."""
    return config.results_dir() / "leaderboard.json"


def load_leaderboard(path=None) -> list[dict]:
    """The benchmark's records (one dict per run and seed, fields as in ``RESULT_FIELDS``).

    Raises FileNotFoundError with the command that makes the file when it does not exist.
    """
    path = Path(path) if path is not None else leaderboard_path()
    if not path.exists():
        raise FileNotFoundError(f"no leaderboard at {path}; make one with `make bench` "
                                "(about 45 minutes) or `python -m segedu.bench --quick --out results` (under 10 minutes)")
    return json.loads(path.read_text())


def write_outputs(records: list[dict], out: Path, note: str = "") -> str:
    """Write ``leaderboard.json``, ``.md`` and ``.png`` for ``records`` to ``out``; return the Markdown."""
    from segedu import story

    out.mkdir(parents=True, exist_ok=True)
    results.write_json_atomically(out / "leaderboard.json", records)
    markdown = render_markdown(records, story.check_claims(records), note)
    (out / "leaderboard.md").write_text(markdown)
    story.plot_leaderboard(records, out / "leaderboard.png")
    return markdown


def default_out(partial: bool) -> Path:
    """Where a run writes without ``--out``: ``results/`` for the full benchmark; ``build/bench/`` for
    a partial one (quick, filtered or some seeds), which must not replace the committed leaderboard."""
    return config.repo_root() / "build" / "bench" if partial else config.results_dir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one seed, fewer runs (about 10 minutes)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, quick 1)")
    parser.add_argument("--seed", type=int, action="append", help="run these seeds only (repeatable), "
                        "e.g. one process per seed on a machine with spare cores")
    parser.add_argument("--only", action="append", help="run only jobs matching MODEL/TRACK patterns")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default results/; build/bench/ for a partial run)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="time cap per run instead of the recipe's (only for a busy machine: "
                             "the leaderboard then says so)")
    parser.add_argument("--merge", type=Path, nargs="+", help="train nothing: combine these leaderboard.json "
                        "files into one leaderboard in --out")
    parser.add_argument("--note", default=None, help="with --merge: how the runs were made (printed in the .md)")
    args = parser.parse_args(argv)
    out = args.out or default_out(partial=bool(args.quick or args.only or args.seed))
    if args.merge:
        records = [record for path in args.merge for record in load_leaderboard(path)]
        note = args.note or f"Combined from {len(args.merge)} files, {len(records)} runs, {time.strftime('%Y-%m-%d')}."
        print(write_outputs(records, out, note))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = args.seed or list(range(args.seeds or (1 if args.quick else config.LEARNER_BUDGET.seeds)))
    jobs = plan_jobs(seeds, args.quick, args.only)
    if not jobs:
        parser.error(f"no run matches {args.only}")
    overrides = {} if args.max_seconds is None else {"max_seconds": args.max_seconds}
    print(f"segedu bench: {len(jobs)} runs, seeds {seeds}, mode {config.mode()}, "
          f"{torch.get_num_threads()} threads", flush=True)
    records = []
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for number, job in enumerate(jobs, 1):
        record = train_and_score(job.run, job.track, job.seed, labelled=job.labelled, **overrides)
        records.append(record)
        elapsed = (time.perf_counter() - start) / 60
        size = record["size_iou"] or {}
        print(f"[{number:>3}/{len(jobs)} {elapsed:5.1f} min] {job.key:<28} seed {job.seed}  "
              f"mIoU {record['miou']:.3f}  boundary {record['boundary']:.3f}  "
              f"small/medium/large {size.get('small') or 0:.2f}/{size.get('medium') or 0:.2f}/"
              f"{size.get('large') or 0:.2f}  {record['train_seconds']:.0f} s"
              f"{'  (hit the time cap)' if record['out_of_time'] else ''}", flush=True)
        results.write_json_atomically(out / "leaderboard.json", records)
    cap = f", time cap raised to {args.max_seconds:.0f} s per run" if overrides else ""
    note = (f"This run: {'quick, ' if args.quick else ''}seeds {seeds}, {len(records)} runs, mode {config.mode()}, "
            f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads{cap}, torch {torch.__version__}, "
            f"{time.strftime('%Y-%m-%d')}, {(time.perf_counter() - start) / 60:.0f} min in total.")
    print()
    print(write_outputs(records, out, note))
    print(f"total {(time.perf_counter() - start) / 60:.1f} min; wrote {out}/leaderboard.json, .md, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
