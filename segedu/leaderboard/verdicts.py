"""The leaderboard's verdict on each claim of the course, decided on its records in every seed.

The claims themselves are data (:data:`segedu.experiments.claims.CLAIMS`: what each compares, on
which metric, by how much). :func:`decide` turns one claim and the records into a
:class:`Verdict`: the value of every seed next to what it needs. :func:`check_claims` decides every
claim the records can decide. Only records whose training ran every step count
(:func:`segedu.experiments.results.counted`).
"""

from __future__ import annotations

import dataclasses
import statistics

from segedu.experiments.claims import CLAIMS, Claim
from segedu.experiments.results import rank, values_by_seed

TOLERANCE = 1e-12
"""A per-seed value this close below what it needs still counts as reaching it (rounding of sums)."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A claim decided on records.

    Attributes:
        claim: the claim (:class:`segedu.experiments.claims.Claim`).
        text: its sentence (for a claim on the best run, with that run's name).
        holds: True when every seed reaches ``claim.needs`` (for a claim on a median: the median does).
        per_seed: the value of each seed, in seed order (for a claim on the median: the median alone;
            empty when the records cannot decide the claim).
        seeds: the seeds compared (empty for a claim on the median, or an undecided one).
    """

    claim: Claim
    text: str
    holds: bool
    per_seed: tuple[float, ...]
    seeds: tuple[int, ...]

    @property
    def id(self) -> str:
        return self.claim.id

    @property
    def needs(self) -> float:
        """The margin or level every seed must reach."""
        return self.claim.needs

    @property
    def decided(self) -> bool:
        """False when the records hold no seed of the runs the claim compares."""
        return bool(self.per_seed)

    @property
    def smallest(self) -> float | None:
        """The smallest per-seed value: how close the claim came to failing (None when undecided)."""
        return min(self.per_seed) if self.per_seed else None

    @property
    def margins(self) -> dict[int, float]:
        """``{seed: value}`` of every seed compared (empty for a claim on the median)."""
        return dict(zip(self.seeds, self.per_seed, strict=True))

    @property
    def seeds_holding(self) -> tuple[int, ...]:
        """The seeds whose value reaches what the claim needs."""
        return tuple(seed for seed, value in self.margins.items() if value >= self.needs - TOLERANCE)

    @property
    def detail(self) -> str:
        """``"smallest +0.341 (needs >= +0.05); seeds [0, 1, 2]: +0.401, +0.422, +0.490"`` (or the median)."""
        if not self.decided:
            return "not decided: " + missing_runs(self.claim)
        if not self.seeds:
            return f"median {self.smallest:.3f} (needs >= {self.needs:.2f})"
        values = ", ".join(f"{value:+.3f}" for value in self.per_seed)
        return f"smallest {self.smallest:+.3f} (needs >= {self.needs:+.2f}); seeds {list(self.seeds)}: {values}"

    def __repr__(self) -> str:
        if not self.decided:
            return f"not decided: {self.text} ({missing_runs(self.claim)})"
        every = "" if self.claim.kind == "median" else " in every seed"
        return f"{'holds' if self.holds else 'does NOT hold'}{every}: {self.text} ({self.detail})"


def missing_runs(claim: Claim) -> str:
    """What an undecided claim lacks, and the command that trains it."""
    only = " ".join(f"--only '{run}/{claim.track}'" for run in claim.runs)
    return (f"the records have no seed of {', '.join(claim.runs)} on {claim.track}; "
            f"python -m segedu.leaderboard {only} trains them")


def decide(claim: Claim, records: list[dict]) -> Verdict:
    """The :class:`Verdict` of ``claim`` on ``records`` (undecided when they lack its runs)."""
    text = claim.text
    if claim.kind == "median":
        values = list(values_by_seed(records, claim.runs[0], claim.track, claim.metric, claim.labelled).values())
        if not values:
            return Verdict(claim, text, False, (), ())
        median = statistics.median(values)
        return Verdict(claim, text, median >= claim.needs, (median,), ())
    if claim.kind == "best":
        ranking = rank(records, claim.track, claim.runs, claim.labelled)
        if ranking is None:
            return Verdict(claim, text, False, (), ())
        text = text.format(best=ranking.run)
        values = values_by_seed(records, ranking.run, claim.track, claim.metric, claim.labelled)
    elif claim.kind == "level":
        values = values_by_seed(records, claim.runs[0], claim.track, claim.metric, claim.labelled)
    elif claim.kind == "better":
        values = _differences(records, claim, claim.metric)
    else:  # "larger_on_large": (gain on large objects) minus (gain on small ones)
        large, small = _differences(records, claim, "size:large"), _differences(records, claim, "size:small")
        values = {seed: large[seed] - small[seed] for seed in large if seed in small}
    seeds = tuple(sorted(values))
    per_seed = tuple(values[seed] for seed in seeds)
    return Verdict(claim, text, bool(per_seed) and all(value >= claim.needs - TOLERANCE for value in per_seed),
                   per_seed, seeds)


def _differences(records: list[dict], claim: Claim, metric: str) -> dict[int, float]:
    """``{seed: metric of runs[0] minus metric of runs[1]}`` over the seeds where both have a value."""
    a, b = (values_by_seed(records, run, claim.track, metric, claim.labelled) for run in claim.runs)
    return {seed: a[seed] - b[seed] for seed in a if seed in b}


def check_claims(records: list[dict], claims=CLAIMS) -> list[Verdict]:
    """The verdicts of every claim (of ``claims``, default the course's) that ``records`` can decide."""
    return [verdict for verdict in (decide(claim, records) for claim in claims) if verdict.decided]
