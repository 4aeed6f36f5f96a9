"""The course's claims, checked against benchmark records, and the leaderboard picture.

Each claim compares two runs on one track: the difference of their median scores over seeds
must reach a margin, and the ordering must hold in every seed (a median can hide a seed
where the claim fails). Records are the dicts written by :mod:`segedu.bench`.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from pathlib import Path

Record = dict
Getter = Callable[[Record], float | None]


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checked claim: its text, whether it holds, and the numbers behind the verdict."""

    text: str
    holds: bool
    detail: str


def miou(record: Record) -> float | None:
    return record["miou"]


def boundary(record: Record) -> float | None:
    return record["boundary"]


def size_bucket(name: str) -> Getter:
    return lambda record: (record.get("size_iou") or {}).get(name)


def _by_seed(records: list[Record], run: str, track: str, labelled=None) -> dict[int, Record]:
    return {r["seed"]: r for r in records
            if r["model"] == run and r["track"] == track and r.get("labelled") == labelled}


def compare(records: list[Record], track: str, better: str, worse: str, margin: float, text: str,
            score: Getter = miou, labelled=None) -> Claim | None:
    """Claim that ``better`` beats ``worse`` on ``track`` by ``margin`` (median over seeds) and is
    at least as good in every seed. None when either run is missing from ``records``."""
    a, b = _by_seed(records, better, track, labelled), _by_seed(records, worse, track, labelled)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    differences = [score(a[s]) - score(b[s]) for s in seeds]
    median = statistics.median(differences)
    every_seed = all(d >= 0 for d in differences)
    holds = median >= margin and every_seed
    detail = (f"median difference {median:+.3f} (needs >= {margin:+.2f}); per seed "
              + ", ".join(f"{d:+.3f}" for d in differences))
    return Claim(text, holds, detail)


def larger_gain_on_large_objects(records: list[Record], track: str, better: str, worse: str) -> Claim | None:
    """Claim that ``better``'s gain over ``worse`` is larger on large objects than on small ones."""
    a, b = _by_seed(records, better, track), _by_seed(records, worse, track)
    seeds = sorted(set(a) & set(b))
    large, small = size_bucket("large"), size_bucket("small")
    if not seeds or any(g(r) is None for s in seeds for r in (a[s], b[s]) for g in (large, small)):
        return None
    gaps = [(large(a[s]) - large(b[s])) - (small(a[s]) - small(b[s])) for s in seeds]
    return Claim(f"{track}: {better}'s gain over {worse} is larger on large objects than on small ones",
                 all(g > 0 for g in gaps),
                 "gain on large minus gain on small, per seed: " + ", ".join(f"{g:+.3f}" for g in gaps))


def best_reaches(records: list[Record], track: str, runs: tuple[str, ...], level: float) -> Claim | None:
    """Claim that the best of ``runs`` (by median mIoU) reaches ``level`` mIoU on ``track``."""
    medians = {}
    for run in runs:
        values = [r["miou"] for r in _by_seed(records, run, track).values()]
        if values:
            medians[run] = statistics.median(values)
    if not medians:
        return None
    best = max(medians, key=medians.get)
    return Claim(f"{track}: the best of {', '.join(runs)} reaches {level:.2f} mIoU", medians[best] >= level,
                 f"{best}: median {medians[best]:.3f}")


def check_claims(records: list[Record]) -> list[Claim]:
    """Every claim of the course that ``records`` can decide (see the README's leaderboard)."""
    from segedu import recipes

    candidates = [
        compare(records, "shapes", "encdec", "plain", 0.10,
                "shapes: the encoder-decoder beats the plain CNN by >= 0.10 mIoU"),
        larger_gain_on_large_objects(records, "shapes", "encdec", "plain"),
        compare(records, "thin", "unet", "encdec", 0.05, "thin: U-Net beats the encoder-decoder by >= 0.05 mIoU"),
        compare(records, "thin", "fcn8s", "encdec", 0.05, "thin: FCN-8s beats the encoder-decoder by >= 0.05 mIoU"),
        compare(records, "thin", "unet", "encdec", 0.05,
                "thin: U-Net beats the encoder-decoder on boundary IoU by >= 0.05", score=boundary),
        compare(records, "thin", "fcn8s", "encdec", 0.05,
                "thin: FCN-8s beats the encoder-decoder on boundary IoU by >= 0.05", score=boundary),
        compare(records, "thin", "fcn8s", "fcn16s", 0.0, "thin: FCN-8s >= FCN-16s"),
        compare(records, "thin", "fcn16s", "fcn32s", 0.0, "thin: FCN-16s >= FCN-32s"),
        compare(records, "context", "pspnet", "pspnet_noppm", 0.05,
                "context: PSPNet beats the same network without pyramid pooling by >= 0.05 mIoU"),
        compare(records, "context", "pspnet", "unet", 0.0, "context: PSPNet at least matches U-Net"),
        compare(records, "context", "pspnet", "pspnet_b1", 0.0,
                "context: bins 1,2,3,6 (average pooling) at least match bin 1 alone"),
        compare(records, recipes.PRETRAIN_TRACK, f"{recipes.PRETRAIN_MODEL}_pretrained",
                f"{recipes.PRETRAIN_MODEL}_scratch", 0.05,
                f"{recipes.PRETRAIN_TRACK}, 64 labelled scenes: the pretrained backbone beats training from "
                "scratch by >= 0.05 mIoU", labelled=64),
        best_reaches(records, "mixed", ("pspnet", "unet"), 0.70),
    ]
    return [claim for claim in candidates if claim is not None]


def plot_leaderboard(records: list[Record], path: Path | None = None):
    """Bar chart of mIoU per track and run (median over seeds, dots for each seed); returns the Figure."""
    from matplotlib.figure import Figure

    tracks = list(dict.fromkeys(r["track"] for r in records))
    figure = Figure(figsize=(3.2 * len(tracks), 3.6), layout="constrained")
    axes = figure.subplots(1, len(tracks), squeeze=False)[0]
    for ax, track in zip(axes, tracks, strict=True):
        runs = list(dict.fromkeys(
            f"{r['model']}@{r['labelled']}" if r.get("labelled") else r["model"]
            for r in records if r["track"] == track))
        for x, run in enumerate(runs):
            name, _, labelled = run.partition("@")
            values = [r["miou"] for r in records if r["track"] == track and r["model"] == name
                      and str(r.get("labelled") or "") == labelled]
            ax.bar(x, statistics.median(values), color="#4c72b0", alpha=0.8)
            ax.plot([x] * len(values), values, "k.", markersize=4)
        ax.set_xticks(range(len(runs)), runs, rotation=60, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(track)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("test mIoU")
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
