"""The course's claims, checked against benchmark records.

Each claim states a number that must be reached in **every seed**, not only by the median: a
median can hide a seed where the idea did not show. :func:`check_claims` returns one
:class:`Claim` per claim the records can decide, with the smallest per-seed value next to what it
needs. Only records whose training ran every step count (:func:`segedu.leaderboard.records.counted`).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable

from segedu.leaderboard.records import counted

Record = dict
Getter = Callable[[Record], float | None]


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checked claim.

    Attributes:
        text: the claim, e.g. "thin: U-Net beats the encoder-decoder by >= 0.10 mIoU".
        holds: True when every seed reaches ``needs``.
        needs: the value each seed must reach (a margin, or a level).
        per_seed: the value of each seed, in seed order (for a claim on the median: the median alone).
        seeds: the seeds compared (empty for a claim on the median).
    """

    text: str
    holds: bool
    needs: float
    per_seed: tuple[float, ...]
    seeds: tuple[int, ...]

    @property
    def smallest(self) -> float:
        """The smallest per-seed value: how close the claim came to failing."""
        return min(self.per_seed)

    @property
    def detail(self) -> str:
        if not self.seeds:
            return f"median {self.smallest:.3f} (needs >= {self.needs:.2f})"
        values = ", ".join(f"{value:+.3f}" for value in self.per_seed)
        return f"smallest {self.smallest:+.3f} (needs >= {self.needs:+.2f}); seeds {list(self.seeds)}: {values}"


def miou(record: Record) -> float | None:
    return record["miou"]


def boundary(record: Record) -> float | None:
    return record["boundary"]


def size_bucket(name: str) -> Getter:
    return lambda record: (record.get("size_iou") or {}).get(name)


def class_iou(name: str) -> Getter:
    return lambda record: (record.get("class_iou") or {}).get(name)


def by_seed(records: list[Record], run: str, track: str, labelled=None) -> dict[int, Record]:
    """The counted records of ``run`` on ``track``, by seed."""
    return {r["seed"]: r for r in counted(records)
            if r["run"] == run and r["track"] == track and r.get("labelled") == labelled}


def _claim(text: str, needs: float, values: dict[int, float | None]) -> Claim | None:
    values = {seed: value for seed, value in values.items() if value is not None}
    if not values:
        return None
    seeds = tuple(sorted(values))
    per_seed = tuple(values[seed] for seed in seeds)
    return Claim(text, all(value >= needs - 1e-12 for value in per_seed), needs, per_seed, seeds)


def compare(records: list[Record], track: str, better: str, worse: str, margin: float, text: str,
            score: Getter = miou, labelled=None) -> Claim | None:
    """``better`` beats ``worse`` on ``track`` by at least ``margin`` in every seed (None if a run is missing)."""
    a, b = by_seed(records, better, track, labelled), by_seed(records, worse, track, labelled)
    return _claim(text, margin, {seed: (None if score(a[seed]) is None or score(b[seed]) is None
                                        else score(a[seed]) - score(b[seed])) for seed in set(a) & set(b)})


def larger_gain_on_large_objects(records: list[Record], track: str, better: str, worse: str) -> Claim | None:
    """``better``'s gain over ``worse`` is larger on large objects than on small ones, in every seed."""
    a, b = by_seed(records, better, track), by_seed(records, worse, track)
    large, small = size_bucket("large"), size_bucket("small")
    gaps = {}
    for seed in set(a) & set(b):
        values = [getter(record) for record in (a[seed], b[seed]) for getter in (large, small)]
        if None not in values:
            gaps[seed] = (values[0] - values[2]) - (values[1] - values[3])
    return _claim(f"{track}: {better}'s gain over {worse} is larger on large objects than on small ones "
                  "(gain on large minus gain on small)", 0.0, gaps)


def at_least(records: list[Record], track: str, run: str, level: float, text: str, score: Getter = miou) -> Claim | None:
    """``score`` of ``run`` on ``track`` reaches ``level`` in every seed."""
    return _claim(text, level, {seed: score(record) for seed, record in by_seed(records, run, track).items()})


def median_at_least(records: list[Record], track: str, run: str, level: float, text: str) -> Claim | None:
    """The median mIoU of ``run`` on ``track`` over seeds reaches ``level`` (one value: the median)."""
    values = [record["miou"] for record in by_seed(records, run, track).values()]
    if not values:
        return None
    median = statistics.median(values)
    return Claim(text, median >= level, level, (median,), ())


def best_reaches(records: list[Record], track: str, runs: tuple[str, ...], level: float) -> Claim | None:
    """The best of ``runs`` (by median mIoU) reaches ``level`` mIoU on ``track`` in every seed."""
    medians = {run: statistics.median([r["miou"] for r in found.values()])
               for run in runs if (found := by_seed(records, run, track))}
    if not medians:
        return None
    best = max(medians, key=medians.get)
    return at_least(records, track, best, level, f"{track}: the best model ({best}) reaches {level:.2f} mIoU")


def check_claims(records: list[Record]) -> list[Claim]:
    """Every claim of the course that ``records`` can decide (see the README's leaderboard)."""
    from segedu.course import recipes

    pretrained, scratch = f"{recipes.PRETRAIN_MODEL}_pretrained", f"{recipes.PRETRAIN_MODEL}_scratch"
    candidates = [
        compare(records, "shapes", "encdec", "plain", 0.10,
                "shapes: the encoder-decoder beats the plain CNN by >= 0.10 mIoU"),
        larger_gain_on_large_objects(records, "shapes", "encdec", "plain"),
        compare(records, "thin", "unet", "encdec", 0.10, "thin: U-Net beats the encoder-decoder by >= 0.10 mIoU"),
        compare(records, "thin", "unet_s32", "encdec", 0.05,
                "thin: U-Net with the same stride-32 bottleneck beats the encoder-decoder by >= 0.05 mIoU"),
        compare(records, "thin", "fcn8s", "encdec", 0.05, "thin: FCN-8s beats the encoder-decoder by >= 0.05 mIoU"),
        compare(records, "thin", "fcn8s", "encdec", 0.05,
                "thin: FCN-8s beats the encoder-decoder on boundary IoU by >= 0.05", score=boundary),
        compare(records, "thin", "fcn8s", "fcn16s", 0.0, "thin: FCN-8s >= FCN-16s"),
        compare(records, "thin", "fcn16s", "fcn32s", 0.0, "thin: FCN-16s >= FCN-32s"),
        compare(records, "context", "pspnet", "pspnet_noppm", 0.05,
                "context: PSPNet beats the same network without pyramid pooling by >= 0.05 mIoU"),
        compare(records, "context", "pspnet", "unet", 0.0, "context: PSPNet at least matches U-Net"),
        compare(records, "harbour", "pspnet", "pspnet_b1", 0.02,
                "harbour: bins 1, 2, 3, 6 beat the single global bin by >= 0.02 mIoU"),
        compare(records, recipes.PRETRAIN_TRACK, pretrained, scratch, 0.05,
                f"{recipes.PRETRAIN_TRACK}, 64 labelled scenes: the backbone pretrained on other outlines beats "
                "training from scratch by >= 0.05 mIoU", labelled=64),
        best_reaches(records, "mixed", tuple(recipes.TRACK_RUNS.get("mixed", ())), 0.70),
        compare(records, "mixed", "unet_context", "unet", 0.10,
                "mixed: U-Net with the global context before its classifier beats U-Net by >= 0.10 mIoU"),
        at_least(records, "mixed", "unet_context", 0.80, "mixed: unet_context's boat IoU >= 0.80",
                 class_iou("boat")),
        at_least(records, "mixed", "unet_context", 0.80, "mixed: unet_context's car IoU >= 0.80",
                 class_iou("car")),
        compare(records, "mixed", "unet_context", "unet", -0.03,
                "mixed: unet_context keeps U-Net's wires (wire IoU at most 0.03 below U-Net's)",
                score=class_iou("wire")),
        median_at_least(records, "mixed", "unet_context", 0.88, "mixed: unet_context's median mIoU >= 0.88"),
    ]
    return [claim for claim in candidates if claim is not None]
