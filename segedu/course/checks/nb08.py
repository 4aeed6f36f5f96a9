"""Checkers for notebook 08 (leaderboard): medians over seeds, the best mIoU per millisecond."""

from __future__ import annotations

import statistics

from segedu.course.checks import CheckResult, failed, passed


def _runs(records: list[dict], model: str, track: str) -> list[dict]:
    return [r for r in records if r["run"] == model and r["track"] == track and not r.get("labelled")]


def reference_median_miou(records: list[dict], model: str, track: str) -> float:
    """Median over seeds of ``model``'s test mIoU on ``track`` (runs with a ``labelled`` limit left out)."""
    runs = _runs(records, model, track)
    if not runs:
        raise ValueError(f"no record of {model!r} on {track!r}")
    return statistics.median(r["miou"] for r in runs)


def check_median_miou(value, records: list[dict], model: str, track: str) -> CheckResult:
    """Check ``value`` against the median mIoU of ``model`` on ``track`` over the seeds in ``records``."""
    if value is None or value is Ellipsis:
        return failed(
            "not done yet: the median is still a placeholder",
            f"keep the records with model == {model!r} and track == {track!r}, then statistics.median",
        )
    try:
        value = float(value)
    except (TypeError, ValueError):
        return failed(f"the median should be a number, got {type(value).__name__}", "return a float")
    runs = _runs(records, model, track)
    expected = reference_median_miou(records, model, track)
    scores = [r["miou"] for r in runs]
    if abs(value - expected) <= 1e-9:
        return passed(f"median mIoU of {model} on {track} over {len(runs)} seed(s): {value:.3f}")
    if len(scores) > 1 and abs(value - statistics.fmean(scores)) <= 1e-9:
        return failed(
            f"{value:.4f} is the mean over seeds", "take the median (statistics.median), not the mean"
        )
    if len(scores) > 1 and abs(value - max(scores)) <= 1e-9:
        return failed(f"{value:.4f} is the best seed", "take the median of all the seeds")
    same_model = [r["miou"] for r in records if r["run"] == model]
    if same_model and abs(value - statistics.median(same_model)) <= 1e-9:
        return failed(f"{value:.4f} mixes tracks", f"keep only the records of track {track!r}")
    return failed(
        f"{value:.4f} is not the median mIoU of {model} on {track}",
        "filter by both model and track (leave out records with a 'labelled' limit)",
    )


def reference_best_per_ms(records: list[dict], track: str) -> str:
    """The model with the highest median mIoU / median CPU latency on ``track``."""
    from segedu.leaderboard.report import medians

    table = {
        model: row
        for (model, t, labelled), row in medians(records).items()
        if t == track and not labelled and row["latency_ms"]
    }
    if not table:
        raise ValueError(f"no record with a latency on track {track!r}")
    return max(table, key=lambda model: table[model]["miou"] / table[model]["latency_ms"])


def check_best_per_ms(answer, records: list[dict], track: str) -> CheckResult:
    """Check ``answer``, the name of the model with the best mIoU per millisecond of latency on ``track``."""
    from segedu.leaderboard.report import medians

    if answer is None or answer is Ellipsis:
        return failed(
            "not done yet: the answer is still a placeholder",
            "for each model: median mIoU divided by median latency_ms; keep the largest",
        )
    if not isinstance(answer, str):
        return failed(
            f"the answer should be a model name (a string), got {type(answer).__name__}",
            "give the 'model' field of the winning record",
        )
    expected = reference_best_per_ms(records, track)
    if answer == expected:
        return passed(f"{answer} gives the most mIoU per millisecond on {track}")
    table = {
        model: row
        for (model, t, labelled), row in medians(records).items()
        if t == track and not labelled
    }
    if answer not in table:
        return failed(f"{answer!r} has no record on {track}", f"models on {track}: {', '.join(table)}")
    if answer == max(table, key=lambda model: table[model]["miou"]):
        return failed(
            f"{answer} has the best mIoU, but not the best mIoU per millisecond",
            "divide each model's median mIoU by its median latency_ms",
        )
    if answer == min(table, key=lambda model: table[model]["latency_ms"]):
        return failed(
            f"{answer} is the fastest, but not the best mIoU per millisecond",
            "divide each model's median mIoU by its median latency_ms",
        )
    return failed(
        f"{answer} is not the model with the highest mIoU / latency on {track}",
        "compute median mIoU / median latency_ms for every model of the track and take the largest",
    )
