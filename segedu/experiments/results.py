"""Reading results: which records count, a run's records seed by seed, medians, and the metrics claims use.

A *record* is the dict of one trained and scored model (its schema is
:data:`segedu.leaderboard.records.FIELDS`): ``run``, ``track``, ``seed``, ``labelled``, the test
scores (``miou``, ``boundary``, ``size_iou``, ``class_iou``...) and ``completed``. Only a record
whose training ran every step of its recipe counts (:func:`counted`).

A *metric* names one number of a record:

* ``"miou"``, ``"boundary"`` (Boundary IoU), ``"pixel_accuracy"``;
* ``"size:small"``, ``"size:medium"``, ``"size:large"``: the mIoU of one object size bucket;
* ``"class:wire"``: the IoU of one class;
* ``"classes:pole,sign,pedestrian,bicyclist"``: the mean IoU of a group of classes (over those of
  the group that have an IoU: a class absent from the truth and the prediction has none, as in mIoU);
* ``"apart:boat,car"``: how well two classes are kept apart: 1 minus the larger of the share of
  ``boat`` pixels predicted ``car`` and the share of ``car`` pixels predicted ``boat`` (from the
  record's confusion matrix; 1.0 when neither is ever swapped);
* the costs ``"params"``, ``"latency_ms"``, ``"train_seconds"`` and ``"receptive_field"`` (its height);
* in a notebook, any function ``record -> number`` (its name names it in tables).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Iterable

SCORES = {"miou": "mIoU", "boundary": "boundary IoU", "pixel_accuracy": "pixel accuracy", "params": "parameters",
          "latency_ms": "CPU latency (ms)", "train_seconds": "training time (s)",
          "receptive_field": "receptive field (px)"}
"""Metrics that are a field of the record, with their names in tables."""

Metric = str | Callable[[dict], float | None]
SIZE_BUCKETS = ("small", "medium", "large")


def counted(records: list[dict]) -> list[dict]:
    """The records that count as results: those whose training ran every step of its recipe."""
    return [record for record in records if record.get("completed")]


def by_seed(records: list[dict], run: str, track: str, labelled: int | None = None) -> dict[int, dict]:
    """The counted records of ``run`` on ``track`` (with ``labelled`` training scenes, None: all), by seed."""
    return {r["seed"]: r for r in counted(records)
            if r["run"] == run and r["track"] == track and r.get("labelled") == labelled}


def _median(values: Iterable[float | None]) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def medians(records: list[dict]) -> dict[tuple[str, str, int | None], dict]:
    """Median of each score and cost over seeds, per ``(run, track, labelled)``, of the counted records.

    Each value has ``seeds`` (how many), ``miou``, ``boundary``, ``small``, ``medium``, ``large``,
    ``train_seconds``, ``latency_ms`` (medians) and ``params``, ``receptive_field``, ``image_size``,
    ``steps`` (of the first record: the same in every seed).
    """
    groups: dict[tuple, list[dict]] = {}
    for record in counted(records):
        groups.setdefault((record["run"], record["track"], record.get("labelled")), []).append(record)
    table = {}
    for key, group in groups.items():
        table[key] = {
            "seeds": len(group),
            "miou": _median(r["miou"] for r in group),
            "boundary": _median(r.get("boundary") for r in group),
            **{bucket: _median((r.get("size_iou") or {}).get(bucket) for r in group) for bucket in SIZE_BUCKETS},
            "params": group[0].get("params"),
            "train_seconds": _median(r.get("train_seconds") for r in group),
            "latency_ms": _median(r.get("latency_ms") for r in group),
            "receptive_field": group[0].get("receptive_field"),
            "image_size": group[0].get("image_size"),
            "steps": group[0].get("steps"),
        }
    return table


# -- metrics -----------------------------------------------------------------------------------------------


def check_metric(metric: Metric) -> Metric:
    """Return ``metric`` if it names a number of a record (see the module's docstring), else raise a
    ``ValueError`` that lists the forms a metric can take."""
    if callable(metric):
        return metric
    kind, _, names = metric.partition(":") if isinstance(metric, str) else ("", "", "")
    valid = ((metric in SCORES) or (kind == "size" and names in SIZE_BUCKETS) or (kind == "class" and names)
             or (kind == "classes" and all(name.strip() for name in names.split(",")))
             or (kind == "apart" and len(names.split(",")) == 2 and all(name.strip() for name in names.split(","))))
    if not valid:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(map(repr, SCORES))}, "
                         f"'size:small' (or medium, large), 'class:<name>', 'classes:<name>,<name>,...', "
                         f"'apart:<name>,<name>', or a "
                         f"function record -> number")
    return metric


def metric_label(metric: Metric) -> str:
    """How tables name ``metric``: ``"mIoU"``, ``"wire IoU"``, ``"mIoU of large objects"``..."""
    if callable(check_metric(metric)):
        return getattr(metric, "__name__", "value")
    kind, _, names = metric.partition(":")
    if metric in SCORES:
        return SCORES[metric]
    if kind == "size":
        return f"mIoU of {names} objects"
    if kind == "class":
        return f"{names} IoU"
    if kind == "apart":
        first, second = (name.strip() for name in names.split(","))
        return f"{first}/{second} kept apart (1 - worse swap share)"
    return f"mean IoU of {', '.join(name.strip() for name in names.split(','))}"


def value(record: dict, metric: Metric = "miou") -> float | None:
    """The number ``metric`` names in ``record`` (None when the record has none, e.g. no large object)."""
    if callable(check_metric(metric)):
        return metric(record)
    kind, _, names = metric.partition(":")
    if metric == "receptive_field":
        return (record.get(metric) or [None])[0]
    if metric in SCORES:
        return record.get(metric)
    if kind == "size":
        return (record.get("size_iou") or {}).get(names)
    ious = record.get("class_iou") or {}
    if kind == "apart":
        return _kept_apart(record, *(name.strip() for name in names.split(",")))
    if kind == "class":
        return ious.get(names)
    found = [ious.get(name.strip()) for name in names.split(",")]
    found = [iou for iou in found if iou is not None]
    return sum(found) / len(found) if found else None


def _kept_apart(record: dict, first: str, second: str) -> float | None:
    """1 minus the larger share of one class's pixels predicted as the other (None without a confusion matrix)."""
    names, confusion = list(record.get("class_iou") or {}), record.get("confusion")
    if not confusion or first not in names or second not in names:
        return None
    a, b = names.index(first), names.index(second)
    shares = [confusion[i][j] / sum(confusion[i]) for i, j in ((a, b), (b, a)) if sum(confusion[i])]
    return 1 - max(shares) if shares else None


def values_by_seed(records: list[dict], run: str, track: str, metric: Metric = "miou",
                   labelled: int | None = None) -> dict[int, float]:
    """``{seed: metric}`` of the counted records of ``run`` on ``track``, in seed order (seeds without a value left out)."""
    found = {seed: value(record, metric) for seed, record in by_seed(records, run, track, labelled).items()}
    return {seed: found[seed] for seed in sorted(found) if found[seed] is not None}


# -- the best run ------------------------------------------------------------------------------------------

NOISE = 0.02
"""A difference of mIoU smaller than this is treated as within the noise of one seed (the level notebooks 06, 07
and 09 use for their own single-seed runs)."""


@dataclasses.dataclass(frozen=True)
class Ranking:
    """Runs of one track ranked by their median mIoU over the seeds they all share (see :func:`rank`).

    Attributes:
        track: the track.
        seeds: the seeds every compared run has a counted record for.
        medians: ``{run: median mIoU over seeds}``, best first.
        lead: ``{seed: best's mIoU minus the runner-up's}`` (empty when only one run is compared).
    """

    track: str
    seeds: tuple[int, ...]
    medians: dict[str, float]
    lead: dict[int, float]

    @property
    def run(self) -> str:
        """The best run."""
        return next(iter(self.medians))

    @property
    def runner_up(self) -> str | None:
        """The second best run (None when only one is compared)."""
        return list(self.medians)[1] if len(self.medians) > 1 else None

    def within_noise(self, noise: float = NOISE) -> bool:
        """True when the best run does not lead the runner-up by at least ``noise`` in every shared seed:
        then the two cannot be told apart by these seeds, whatever their medians say."""
        return bool(self.lead) and min(self.lead.values()) < noise

    def __repr__(self) -> str:
        ranked = ", ".join(f"{run} {median:.3f}" for run, median in self.medians.items())
        text = f"best on {self.track}: {self.run} (median mIoU over seeds {list(self.seeds)}: {ranked})"
        if self.lead:
            leads = ", ".join(f"{value:+.3f}" for value in self.lead.values())
            verdict = "within noise" if self.within_noise() else f"ahead by {NOISE} or more in every seed"
            text += f"\n{self.run} minus {self.runner_up}, per seed: {leads}: {verdict}"
        return text


def rank(records: list[dict], track: str, runs: Iterable[str], labelled: int | None = None) -> Ranking | None:
    """Rank ``runs`` of ``track`` by their median mIoU over the seeds they all share.

    Runs without a counted record are left out; the others are compared on the seeds every one of
    them has, so that a run trained on fewer seeds is compared like with like. Ties: of two runs
    with the same median, the one listed first in ``runs`` ranks first. Near-ties are not
    hidden: :attr:`Ranking.lead` holds the best run's per-seed margin over the runner-up, and
    :meth:`Ranking.within_noise` says whether it reaches :data:`NOISE` in every seed. Returns None
    when no run has a record, or when the runs share no seed.
    """
    found = {run: values_by_seed(records, run, track, "miou", labelled) for run in dict.fromkeys(runs)}
    found = {run: values for run, values in found.items() if values}
    if not found:
        return None
    seeds = tuple(sorted(set.intersection(*(set(values) for values in found.values()))))
    if not seeds:
        return None
    medians = {run: statistics.median(values[seed] for seed in seeds) for run, values in found.items()}
    order = sorted(medians, key=lambda run: -medians[run])  # a stable sort: ties keep the order of `runs`
    best, second = order[0], (order[1] if len(order) > 1 else None)
    lead = {seed: found[best][seed] - found[second][seed] for seed in seeds} if second else {}
    return Ranking(track, seeds, {run: medians[run] for run in order}, lead)
