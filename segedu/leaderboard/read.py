"""What the notebooks ask the leaderboard: per-seed tables, a claim's verdict by its id, the best run of a track.

Every function reads the committed leaderboard (:func:`segedu.leaderboard.records.load`) unless
it is given ``records`` (a list of record dicts), and counts only the records whose training ran
every step::

    leaderboard.per_seed("thin", ["encdec", "unet"])    # one column per seed, a median column
    leaderboard.claim("thin.unet_vs_encdec")            # the verdict, with every seed's margin
    leaderboard.claims("thin")                          # every verdict of a track
    leaderboard.best("context")                         # the best run, by median over the seeds all runs share
"""

from __future__ import annotations

import html
import statistics

from segedu.experiments import claims as claim_table
from segedu.experiments.results import Metric, Ranking, by_seed, metric_label, rank, values_by_seed
from segedu.experiments.tracks import TRACKS
from segedu.leaderboard.records import load
from segedu.leaderboard.report import claims_markdown
from segedu.leaderboard.verdicts import Verdict, check_claims, decide


class Table:
    """Rows of numbers under a title, shown as aligned text (``repr``) and as HTML in notebooks."""

    title = ""

    def _lines(self) -> list[list[str]]:
        """The header and one list of cells per row (strings)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        lines = self._lines()
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        text = ["  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line))
                for line in lines]
        return "\n".join([self.title, *text])

    def _repr_html_(self) -> str:
        head, *body = self._lines()
        cells = "".join(f"<th>{html.escape(cell)}</th>" for cell in head)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in line) + "</tr>" for line in body)
        return f"<table><caption>{html.escape(self.title)}</caption><tr>{cells}</tr>{rows}</table>"


def _cell(value, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


class SeedTable(Table):
    """Numbers seed by seed: one row per run (or metric), one column per seed, and each row's median.

    ``table[row]`` is ``{seed: value}``; ``table.median(row)`` the median over that row's seeds;
    ``table.minus(row)`` the per-seed differences of every other row from that one. "-" marks a
    seed for which a row has no record.
    """

    def __init__(self, name: str, rows: dict[str, dict[int, float]], signed: bool = False):
        self.name, self.title = name, f"{name} ('-': no record for that seed)"
        self.rows = {label: dict(sorted(row.items())) for label, row in rows.items()}
        self.signed = signed

    @property
    def seeds(self) -> list[int]:
        """Every seed of any row, in order."""
        return sorted({seed for row in self.rows.values() for seed in row})

    def __getitem__(self, label: str) -> dict[int, float]:
        if label not in self.rows:
            raise KeyError(f"{label!r} is not a row of this table; its rows: {', '.join(self.rows)}")
        return self.rows[label]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def median(self, label: str) -> float | None:
        """The median of row ``label`` over its seeds (None when it has none; a whole number for a row of them)."""
        values = list(self[label].values())
        if not values:
            return None
        median = statistics.median(values)
        whole = all(isinstance(value, int) for value in values) and float(median).is_integer()
        return int(median) if whole else median

    def minus(self, reference: str) -> SeedTable:
        """A table of every other row minus row ``reference``, seed by seed (the seeds both have)."""
        base = self[reference]
        rows = {f"{label} - {reference}": {seed: value - base[seed] for seed, value in row.items() if seed in base}
                for label, row in self.rows.items() if label != reference}
        return SeedTable(f"{self.name}: differences from {reference}", rows, signed=True)

    def _lines(self) -> list[list[str]]:
        header = ["", *(f"seed {seed}" for seed in self.seeds), "median"]
        return [header] + [[label, *(_cell(row.get(seed), self.signed) for seed in self.seeds),
                            _cell(self.median(label), self.signed)] for label, row in self.rows.items()]


class Summary(Table):
    """One row per run: its number of seeds and the median of each metric over them.

    ``table.row(run)`` is ``{column: median}``; ``table.median(run, column)`` one of them.
    """

    def __init__(self, title: str, columns: list[str], medians: dict[str, dict[str, float | None]],
                 seeds: dict[str, int]):
        self.title, self.columns, self.medians, self.seeds = title, columns, medians, seeds

    def __iter__(self):
        return iter(self.medians)

    def __contains__(self, run) -> bool:
        return run in self.medians

    def __len__(self) -> int:
        return len(self.medians)

    def row(self, run: str) -> dict[str, float | None]:
        if run not in self.medians:
            raise KeyError(f"{run!r} is not a row of this table; its rows: {', '.join(self.medians)}")
        return self.medians[run]

    def median(self, run: str, column: str) -> float | None:
        return self.row(run)[column]

    def _lines(self) -> list[list[str]]:
        return [["run", "seeds", *self.columns]] + [
            [run, str(self.seeds[run]), *(_cell(row[column]) for column in self.columns)]
            for run, row in self.medians.items()]


class Verdicts(list):
    """A list of :class:`~segedu.leaderboard.verdicts.Verdict`, shown one per line (text) or as a table (Markdown)."""

    def __repr__(self) -> str:
        return "\n".join(map(repr, self)) if self else "no claim decided by these records"

    def _repr_markdown_(self) -> str:
        return claims_markdown(list(self))


def _records(records: list[dict] | None) -> list[dict]:
    return load() if records is None else records


def _runs(track: str, runs, labelled: int | None, records: list[dict]) -> list[str]:
    """``runs`` as a list; by default the track's runs in the table, then any other run the records hold there."""
    if isinstance(runs, str):
        return [runs]
    if runs is not None:
        return list(dict.fromkeys(runs))
    listed = () if track not in TRACKS else (TRACKS[track].labelled_runs if labelled else TRACKS[track].runs)
    found = [*listed, *(r["run"] for r in records if r["track"] == track and r.get("labelled") == labelled)]
    if not found:
        raise ValueError(f"no run of track {track!r} in these records; the course's tracks: {', '.join(TRACKS)}")
    return list(dict.fromkeys(found))


def per_seed(track: str, runs=None, metric: Metric | list[Metric] = "miou", *, labelled: int | None = None,
             records: list[dict] | None = None) -> SeedTable:
    """A :class:`SeedTable` of ``metric`` for ``runs`` on ``track``, trained on ``labelled`` scenes (None: all).

    ``runs``: a run name or a list (default: the track's runs in the table, its ``labelled_runs`` when
    ``labelled`` is given, then any other run the records hold on the track). ``metric``: ``"miou"``,
    ``"boundary"``, ``"size:large"``, ``"class:wire"``... (:mod:`segedu.experiments.results`), or a
    list of them: the rows are then the metrics of one run (or ``"run metric"`` for several runs).
    """
    records = _records(records)
    runs = _runs(track, runs, labelled, records)
    metrics = list(metric) if isinstance(metric, (list, tuple)) else [metric]
    rows = {}
    for run in runs:
        for one in metrics:
            label = run if len(metrics) == 1 else metric_label(one) if callable(one) else one
            label = f"{run} {label}" if len(runs) > 1 and len(metrics) > 1 else label
            rows[label] = values_by_seed(records, run, track, one, labelled)
    scenes = f" ({labelled} labelled scenes)" if labelled else ""
    what = metric_label(metrics[0]) if len(metrics) == 1 else ", ".join(map(metric_label, metrics))
    return SeedTable(f"{what} on {track}{scenes}, per seed", rows)


def summary(track: str, metrics, runs=None, *, labelled: int | None = None,
            records: list[dict] | None = None) -> Summary:
    """A :class:`Summary` of ``runs`` on ``track``: for each run, its seeds and the median of each metric.

    ``metrics``: a list of metrics (their names head the columns) or a dict ``{column: metric}``.
    ``runs``: as :func:`per_seed`; by default the rows are sorted by the first metric's median, best first.
    """
    records = _records(records)
    named = dict(metrics) if isinstance(metrics, dict) else {
        (metric_label(metric) if callable(metric) else metric): metric for metric in metrics}
    order = _runs(track, runs, labelled, records)
    medians, seeds = {}, {}
    for run in order:
        found = by_seed(records, run, track, labelled)
        if not found:
            continue
        seeds[run] = len(found)
        medians[run] = {}
        for column, metric in named.items():
            values = list(values_by_seed(records, run, track, metric, labelled).values())
            medians[run][column] = statistics.median(values) if values else None
    if runs is None:
        first = next(iter(named))
        medians = dict(sorted(medians.items(), key=lambda item: -(item[1][first] or 0)))
    scenes = f" ({labelled} labelled scenes)" if labelled else ""
    return Summary(f"{track}{scenes}: medians over each run's seeds", list(named), medians, seeds)


def claim(claim_id: str, *, runs=None, records: list[dict] | None = None) -> Verdict:
    """The :class:`~segedu.leaderboard.verdicts.Verdict` of the claim ``claim_id`` (see
    :data:`segedu.experiments.claims.CLAIMS` for the ids), with every seed's value.

    ``runs``: ask the same question of other runs (e.g. ``claim("mixed.context_boat", runs=["unet_ppm"])``:
    does ``unet_ppm`` reach the boat IoU that ``unet_context`` claims?). A verdict the records cannot decide
    says which runs are missing.
    """
    found = claim_table.find(claim_id)
    return decide(found if runs is None else found.for_runs(runs), _records(records))


def claims(track: str | None = None, *, labelled: int | None = None, records: list[dict] | None = None) -> Verdicts:
    """The verdicts of the claims the records can decide, in table order: those of ``track`` on runs trained
    with ``labelled`` scenes (None: all the track's scenes), or every claim of the course when ``track`` is None."""
    return Verdicts(check_claims(_records(records), claim_table.of_track(track, labelled)))


def best(track: str, runs=None, *, labelled: int | None = None, records: list[dict] | None = None) -> Ranking:
    """The runs of ``track`` ranked by median mIoU over the seeds they all share: the best run is ``.run``.

    ``runs``: the runs to compare (default: the track's runs in the table). Runs without a record
    are left out. Ties go to the run listed first; a near tie is visible in ``.lead`` (the best
    run's margin over the runner-up in each shared seed) and ``.within_noise()``. Raises a
    ``ValueError`` when no compared run has a record, or when they share no seed.
    """
    runs = TRACKS[track].runs if runs is None and track in TRACKS else runs
    if runs is None:
        raise ValueError(f"no track {track!r} in the course's table: name the runs to compare")
    ranking = rank(_records(records), track, runs, labelled)
    if ranking is None:
        raise ValueError(f"no seed has a counted record of every one of {', '.join(runs)} on {track}: nothing "
                         f"to rank (python -m segedu.leaderboard --only '*/{track}' trains them)")
    return ranking
