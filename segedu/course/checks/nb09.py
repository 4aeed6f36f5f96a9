"""Checkers for notebook 09 (leaderboard): value for money, a margin in every seed, the Pareto front.

Every checker reads the same records as the notebook (a list of record dicts, see
:mod:`segedu.experiments.results`) and compares runs on one track, medians over the seeds whose
training ran every step (``completed``): a record stopped early never counts.

* :func:`check_best_per_ms`: the row of the table with the most median mIoU per millisecond of median latency
  (rows with a ``labelled`` limit count: they are models too);
* :func:`check_smallest_margin`: the smallest per-seed margin of one run over another;
* :func:`check_pareto_front`: the runs that no other run beats on both mIoU and latency.
"""

from __future__ import annotations

import math
import numbers
import statistics

import numpy

from segedu.course.checks import (
    DECIMALS,
    CheckResult,
    checker,
    decimals_of,
    describe,
    failed,
    not_done,
    passed,
    real_number,
    rounds_to,
    whole_number,
)
from segedu.experiments.results import by_seed, counted, medians

TIE = 1e-9
"""Two values closer than this are equal (ties are all accepted)."""
RECORDS_HINT = "pass the notebook's records (the leaderboard's list of record dicts)"


def _number_or_none(value) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value))


def _arguments_problem(records, **names) -> CheckResult | None:
    """A failing result when ``records`` is not a list of record dicts with the fields the checkers read, or when
    one of ``names`` (``track=...``, ``better=...``) is not a string."""
    for what, name in names.items():
        if not isinstance(name, str):
            return failed(f"{what} should be a name (a string) such as 'mixed' or 'unet', got {describe(name)}",
                          f"pass the notebook's {what.upper() if what != 'track' else 'EXERCISE_TRACK'}")
    if not isinstance(records, (list, tuple)):
        return failed(f"records should be a list of record dicts, got {describe(records)}", RECORDS_HINT)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            return failed(f"record {index} is {describe(record)}, not a dict of fields", RECORDS_HINT)
        missing = [field for field in ("run", "track", "seed", "miou") if field not in record]
        if missing:
            return failed(f"record {index} lacks the field(s) {', '.join(missing)}", RECORDS_HINT)
        about = f"record {index} ({describe(record['run'])} on {describe(record['track'])})"
        problem = None if isinstance(record["run"], str) and isinstance(record["track"], str) else failed(
            f"{about}: its run and track should be names (strings)", RECORDS_HINT)
        if problem is None:
            _, problem = whole_number(record["seed"], f"{about}: its seed")
        if problem is None and not isinstance(record.get("completed", False), bool):
            problem = failed(f"{about} has completed={describe(record['completed'])}, not True or False", RECORDS_HINT)
        miou = record["miou"]
        if problem is None and not (_number_or_none(miou) and 0 <= (miou or 0) <= 1
                                    and (miou is not None or not record.get("completed"))):
            problem = failed(f"{about} has mIoU {describe(miou)}, not a score between 0 and 1", RECORDS_HINT)
        if problem is None and not (_number_or_none(record.get("latency_ms")) and (record.get("latency_ms") or 0) >= 0):
            problem = failed(f"{about} has latency_ms {describe(record.get('latency_ms'))}, not a duration",
                             RECORDS_HINT)
        if problem is None and record.get("labelled") is not None:
            _, problem = whole_number(record["labelled"], f"{about}: its labelled limit", minimum=1)
        if problem is not None:
            return problem
    return None


def track_table(records: list[dict], track: str) -> dict[str, dict]:
    """``{run: medians}`` of the runs on ``track`` trained on all its scenes, from the counted records.

    The medians are :func:`segedu.experiments.results.medians`' (``miou``, ``latency_ms``, ``seeds``, ...);
    runs with a ``labelled`` limit and records stopped early are left out.
    """
    return {run: row for (run, t, labelled), row in medians(records).items() if t == track and not labelled}


def _with_latency(table: dict[str, dict]) -> dict[str, dict]:
    return {run: row for run, row in table.items() if row["miou"] is not None and row["latency_ms"]}


def _elsewhere(answer: str, records: list[dict], track: str) -> CheckResult:
    """The diagnosis for a run name that is not one of ``track``'s compared runs."""
    if answer in track_table(records, track):
        return failed(f"{answer} on {track} has no measured latency (or no mIoU): it cannot be placed on the cost "
                      "axis", "compare the runs that have a latency_ms")
    labelled = sorted({r.get("labelled") for r in records if r["run"] == answer and r["track"] == track
                       and r.get("labelled")})
    if labelled:
        return failed(f"{answer} on {track} was trained with only {', '.join(map(str, labelled))} labelled scenes "
                      f"(the pretraining comparison of notebook 06)",
                      "compare the runs trained on all the track's scenes (records whose 'labelled' is None)")
    stopped = [r for r in records if r["run"] == answer and r["track"] == track and not r.get("completed")]
    if stopped:
        return failed(f"every record of {answer} on {track} was stopped before the end of its recipe: it never "
                      f"counts", "leave out the records whose 'completed' is False")
    tracks = sorted({r["track"] for r in records if r["run"] == answer})
    if tracks:
        return failed(f"{answer} has records on {', '.join(tracks)}, not on {track}",
                      f"the question is about the track {track!r}: keep only its records")
    return failed(f"no record is called {answer!r}", "give the 'run' field of a record, e.g. 'unet'")


def row_name(run: str, labelled: int | None) -> str:
    """A row's name in the leaderboard table: ``"unet"``, or ``"fcn8s_pretrained (64 labelled)"``."""
    return f"{run} ({labelled} labelled)" if labelled else run


def value_rows(records: list[dict], track: str) -> dict[str, dict]:
    """``{row name: medians}`` of every row of ``track`` in the leaderboard table that has an mIoU and a latency,
    runs with a ``labelled`` limit included (they are models too, scored on the same test scenes)."""
    return {row_name(run, labelled): {**row, "run": run, "labelled": labelled}
            for (run, t, labelled), row in medians(records).items()
            if t == track and row["miou"] is not None and row["latency_ms"]}


def best_per_ms(records: list[dict], track: str) -> set[str]:
    """The row(s) of ``track`` with the highest median mIoU / median ``latency_ms`` (ties: all of them)."""
    rows = value_rows(records, track)
    if not rows:
        return set()
    value = {name: row["miou"] / row["latency_ms"] for name, row in rows.items()}
    top = max(value.values())
    return {name for name, v in value.items() if v >= top - TIE}


@checker
def check_best_per_ms(answer, records: list[dict], track: str) -> CheckResult:
    """Check ``answer``: the row of ``track`` (a run, or ``"run (N labelled)"``) with the most median mIoU per
    millisecond of median CPU latency. A run name alone is enough when its best row wins."""
    if not_done(answer):
        return failed("not done yet: the answer is still a placeholder",
                      "for each row of the track: median mIoU divided by median latency_ms; keep the largest")
    problem = _arguments_problem(records, track=track)
    if problem is not None:
        return problem
    if not isinstance(answer, str):
        return failed(f"the answer should be a run name (a string), got {type(answer).__name__}",
                      "give the 'run' field of the winning record, e.g. 'unet'")
    rows = value_rows(records, track)
    if not rows:
        return failed(f"the records hold no completed run on {track} with a latency",
                      "pick a track of the leaderboard table above")
    winners, answer = best_per_ms(records, track), answer.strip()
    named = [name for name in winners if name == answer or rows[name]["run"] == answer]
    if named:
        row = rows[named[0]]
        return passed(f"{named[0]} gives the most mIoU per millisecond on {track}: {row['miou']:.3f} / "
                      f"{row['latency_ms']:.2f} ms = {row['miou'] / row['latency_ms']:.4f} per ms")
    mine = [name for name in rows if name == answer or rows[name]["run"] == answer]
    if not mine:
        return _elsewhere(answer, records, track)
    row = rows[mine[0]]
    winner = sorted(winners)[0]
    if row["miou"] >= max(r["miou"] for r in rows.values()) - TIE:
        return failed(f"{answer} has the best mIoU on {track}, but not the best mIoU per millisecond",
                      "divide each row's median mIoU by its median latency_ms")
    if row["latency_ms"] <= min(r["latency_ms"] for r in rows.values()) + TIE:
        return failed(f"{answer} is the fastest on {track}, but not the best mIoU per millisecond",
                      "divide each row's median mIoU by its median latency_ms")
    if mine[0] == max(rows, key=lambda name: _ms_per_miou(rows[name])):
        return failed(f"{answer} has the largest latency / mIoU: the most milliseconds per unit of mIoU, the "
                      "worst value for money", "divide mIoU by latency, not latency by mIoU")
    if rows[winner]["labelled"] and not row["labelled"] and answer == _best_of(rows, all_scenes=True):
        return failed(f"{answer} is the best of the runs trained on all the scenes, but the row {winner} gives more "
                      f"mIoU per millisecond", "a row with a labelled limit is a model too, scored on the same test "
                      "scenes: include it")
    if answer == _mean_ratio_winner(records, track):
        return failed(f"{answer} wins with means over seeds; with medians another run wins",
                      "use the medians over seeds (leaderboard.medians), as the table does")
    return failed(f"{answer} is not the row with the highest median mIoU / median latency on {track}",
                  "compute median mIoU / median latency_ms for every row of the track and take the largest")


def _ms_per_miou(row: dict) -> float:
    """Milliseconds per unit of mIoU (the inverted ratio), infinite for a row whose mIoU is 0."""
    return row["latency_ms"] / row["miou"] if row["miou"] else math.inf


def _best_of(rows: dict[str, dict], all_scenes: bool) -> str | None:
    kept = {name: row for name, row in rows.items() if not (all_scenes and row["labelled"])}
    return max(kept, key=lambda name: kept[name]["miou"] / kept[name]["latency_ms"]) if kept else None


def _mean_ratio_winner(records: list[dict], track: str) -> str | None:
    groups: dict[str, list[dict]] = {}
    for record in counted(records):
        if record["track"] == track and record.get("latency_ms"):
            groups.setdefault(row_name(record["run"], record.get("labelled")), []).append(record)
    if not groups:
        return None
    ratio = {name: statistics.fmean(r["miou"] for r in group) / statistics.fmean(r["latency_ms"] for r in group)
             for name, group in groups.items()}
    return max(ratio, key=ratio.get)


# -- a margin in every seed ------------------------------------------------------------------------------


def _scores_by_seed(records: list[dict], run: str, track: str) -> dict[int, float]:
    return {seed: record["miou"] for seed, record in by_seed(records, run, track).items()}


def per_seed_margins(records: list[dict], track: str, better: str, worse: str) -> dict[int, float]:
    """``{seed: mIoU of better - mIoU of worse}`` over the seeds where both have a counted record on ``track``."""
    a, b = _scores_by_seed(records, better, track), _scores_by_seed(records, worse, track)
    return {seed: a[seed] - b[seed] for seed in sorted(set(a) & set(b))}


@checker
def check_smallest_margin(value, records: list[dict], track: str, better: str, worse: str) -> CheckResult:
    """Check ``value``: the smallest over seeds of ``better``'s mIoU minus ``worse``'s, seed by seed.

    A computed value must be within 1e-6 of it; a number written by hand must be it correctly rounded to at
    least :data:`~segedu.course.checks.DECIMALS` decimals (``0.178`` for 0.17796, not ``0.177`` nor ``0.18``).
    """
    if not_done(value):
        return failed("not done yet: the margin is still a placeholder",
                      "for each seed that both runs have: mIoU of the first minus mIoU of the second; keep the "
                      f"smallest (computed, or rounded to {DECIMALS} decimals or more)")
    problem = _arguments_problem(records, track=track, better=better, worse=worse)
    if problem is not None:
        return problem
    given = value
    value, problem = real_number(value, "the margin")
    if problem is not None:
        return problem
    margins = per_seed_margins(records, track, better, worse)
    if not margins:
        return failed(f"no seed has a completed record of both {better} and {worse} on {track}",
                      "pick two runs of the same track from the tables above")
    smallest = min(margins.values())
    seeds = ", ".join(f"seed {seed}: {margin:+.3f}" for seed, margin in margins.items())
    decimals = decimals_of(given)
    if rounds_to(given, smallest):
        if decimals < DECIMALS and abs(value - smallest) > 1e-12:
            return failed(f"{value:g} is the smallest margin {smallest:+.5f} rounded to {decimals} decimal(s): give at "
                          f"least {DECIMALS}", f"{smallest:+.{DECIMALS}f}, or the number your code computes")
        verdict = ("in every seed" if smallest > 0 else "not in every seed")
        noise = " (under 0.02: within the noise of one seed)" if 0 < smallest < 0.02 else ""
        rounding = (f"; your {value:g} is {smallest:+.5f} correctly rounded to {decimals} decimals (answers are "
                    f"accepted rounded to {DECIMALS} decimals or more)" if abs(value - smallest) > 1e-12 else "")
        return passed(f"smallest margin {smallest:+.3f}{noise}: {better} beats {worse} on {track} {verdict} "
                      f"({seeds}){rounding}")
    a, b = _scores_by_seed(records, better, track), _scores_by_seed(records, worse, track)
    if rounds_to(given, -smallest) and smallest != 0:
        return failed(f"{value:+.4f} has the wrong sign", f"subtract {worse}'s mIoU from {better}'s, not the reverse")
    if rounds_to(given, statistics.median(a.values()) - statistics.median(b.values())):
        return failed(f"{value:+.4f} is the difference of the medians: one seed can be below it",
                      "pair the records by seed, subtract in each seed, then take the smallest")
    if rounds_to(given, min(a.values()) - max(b.values())):
        return failed(f"{value:+.4f} compares {better}'s worst seed with {worse}'s best: different seeds",
                      "subtract within the same seed (same training scenes and initial weights), then take the "
                      "smallest")
    if len(margins) > 1 and rounds_to(given, statistics.fmean(margins.values())):
        return failed(f"{value:+.4f} is the mean margin over seeds", "a claim must hold in every seed: take the "
                      "smallest margin, not the mean")
    if len(margins) > 1 and rounds_to(given, max(margins.values())):
        return failed(f"{value:+.4f} is the largest margin", "take the smallest")
    everything = _margins_counting_everything(records, track, better, worse)
    if everything and rounds_to(given, min(everything.values())):
        return failed(f"{value:+.4f} counts a record stopped before the end of its recipe",
                      "leave out the records whose 'completed' is False: they never count")
    if rounds_to(given, 100 * smallest, 1e-4):
        return failed(f"{value:.3g} looks like a percentage", "give the margin in mIoU (between -1 and 1)")
    if 0 < decimals < 7 and abs(value - smallest) <= 10.0 ** -decimals:
        return failed(f"{value:g} is close to the smallest margin {smallest:+.5f}, but not rounded correctly (or "
                      f"truncated): to {max(decimals, DECIMALS)} decimals it is {smallest:+.{max(decimals, DECIMALS)}f}",
                      "round to the nearest, or give the number your code computes")
    return failed(f"{value:+.4f} is not the smallest per-seed margin of {better} over {worse} on {track}",
                  "keep the completed records of each run on the track with no 'labelled' limit, pair them by "
                  "'seed', subtract, take the min")


def _margins_counting_everything(records, track, better, worse) -> dict[int, float]:
    def scores(run):
        return {r["seed"]: r["miou"] for r in records
                if r["run"] == run and r["track"] == track and not r.get("labelled")}

    a, b = scores(better), scores(worse)
    return {seed: a[seed] - b[seed] for seed in set(a) & set(b)}


# -- the Pareto front --------------------------------------------------------------------------------------


def _beats(a: dict, b: dict) -> bool:
    """True when ``a`` is at least as accurate and at least as fast as ``b``, and strictly better in one."""
    at_least = a["miou"] >= b["miou"] - TIE and a["latency_ms"] <= b["latency_ms"] + TIE
    strictly = a["miou"] > b["miou"] + TIE or a["latency_ms"] < b["latency_ms"] - TIE
    return at_least and strictly


def pareto_front(records: list[dict], track: str) -> set[str]:
    """The runs of ``track`` (medians over seeds) that no other run beats on both mIoU and latency."""
    table = _with_latency(track_table(records, track))
    return {run for run, row in table.items() if not any(_beats(other, row) for other in table.values())}


@checker
def check_pareto_front(answer, records: list[dict], track: str) -> CheckResult:
    """Check ``answer`` (a list or set of run names): the Pareto front of mIoU against latency on ``track``."""
    if not_done(answer):
        return failed("not done yet: the front is still a placeholder",
                      "keep every run that no other run beats on both counts (higher mIoU and lower latency)")
    problem = _arguments_problem(records, track=track)
    if problem is not None:
        return problem
    if isinstance(answer, numpy.ndarray) and answer.ndim == 1:
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple, set, frozenset)):
        return failed(f"the front should be a list or set of run names, got {type(answer).__name__}",
                      "even a single run goes in a list: ['unet']")
    names = [name.strip() if isinstance(name, str) else name for name in answer]
    if not all(isinstance(name, str) for name in names):
        return failed("every entry should be a run name (a string)", "give the 'run' fields, e.g. ['unet', 'fcn8s']")
    table = _with_latency(track_table(records, track))
    if not table:
        return failed(f"the records hold no completed run on {track} with a latency",
                      "pick a track of the leaderboard table above")
    front, chosen = pareto_front(records, track), set(names)
    if chosen == front:
        order = sorted(front, key=lambda run: table[run]["latency_ms"])
        steps = ", ".join(f"{run} ({table[run]['miou']:.3f} in {table[run]['latency_ms']:.2f} ms)" for run in order)
        return passed(f"the front on {track}, cheapest first: {steps}; every other run is beaten on both counts")
    unknown = [name for name in names if name not in table]
    if unknown:
        return _elsewhere(unknown[0], records, track)
    dominated = sorted(chosen - front)
    if dominated:
        run = dominated[0]
        winner = next(other for other in table if _beats(table[other], table[run]))
        return failed(f"{run} is beaten on both counts by {winner}: mIoU {table[winner]['miou']:.3f} against "
                      f"{table[run]['miou']:.3f}, {table[winner]['latency_ms']:.2f} ms against "
                      f"{table[run]['latency_ms']:.2f} ms", "a run is on the front only if no run is both at least "
                      "as accurate and at least as fast (and better in one)")
    missing = sorted(front - chosen, key=lambda run: table[run]["latency_ms"])
    best = max(table, key=lambda run: table[run]["miou"])
    if chosen == {best}:
        return failed(f"{best} is the most accurate, but the front also holds cheaper runs that no run beats on "
                      f"both counts: {len(front) - 1} more", "for each run, ask: is there a run that is both faster "
                      "and more accurate? If not, it is on the front")
    run = missing[0]
    return failed(f"{run} is missing: no run is both faster and more accurate ({table[run]['miou']:.3f} in "
                  f"{table[run]['latency_ms']:.2f} ms)", "the cheapest run is always on the front, and so is the most "
                  "accurate one")
