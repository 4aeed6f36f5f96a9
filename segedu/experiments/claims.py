"""Every claim the course makes, as data: what it compares, on which metric, by how much, and its sentence.

A claim must hold in **every seed**, not only by the median: a median can hide a seed where the
idea did not show. The leaderboard decides each claim of :data:`CLAIMS` on its records
(:func:`segedu.leaderboard.verdicts.decide`); the notebooks read the verdicts by id
(``leaderboard.claim("thin.unet_vs_encdec")``), never by the text of the sentence.

Kinds of claim (:attr:`Claim.kind`):

* ``"better"``: ``runs[0]`` beats ``runs[1]`` on ``metric`` by at least ``needs`` in every seed
  both have (``needs`` may be negative: "at most 0.03 below");
* ``"level"``: ``runs[0]``'s ``metric`` reaches ``needs`` in every seed;
* ``"median"``: the median over seeds of ``runs[0]``'s ``metric`` reaches ``needs`` (one value);
* ``"best"``: the best of ``runs`` (:func:`segedu.leaderboard.best`) reaches ``needs`` on ``metric``
  in every seed; ``{best}`` in the sentence becomes its name;
* ``"larger_on_large"``: ``runs[0]``'s gain over ``runs[1]`` is larger on large objects than on
  small ones in every seed (gain on ``size:large`` minus gain on ``size:small`` at least ``needs``).

Adding a claim is one entry in :data:`CLAIMS` (and a test that decides it on made-up records).
"""

from __future__ import annotations

import dataclasses

from segedu.experiments.results import check_metric, metric_label
from segedu.experiments.tracks import PRETRAIN_MODEL, PRETRAIN_TRACK, TRACKS

KINDS = {
    "better": "beats another run by a margin in every seed",
    "level": "reaches a level in every seed",
    "median": "reaches a level with its median over seeds",
    "best": "the best of the runs reaches a level in every seed",
    "larger_on_large": "gains more on large objects than on small ones in every seed",
}
"""Every kind of claim, with what it asks."""

RUNS_PER_KIND = {"better": 2, "level": 1, "median": 1, "larger_on_large": 2}
"""How many runs each kind compares (a claim on the best run compares any number)."""


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of the course.

    Attributes:
        id: short and stable, ``"<track>.<what>"``: notebooks and tests find the claim by it.
        track: the track whose records decide it.
        kind: a key of :data:`KINDS`.
        runs: the run names it compares (see :data:`KINDS` for their roles).
        needs: the margin (``"better"``) or level every seed must reach.
        text: the sentence, as the leaderboard and the notebooks print it.
        metric: the number compared (:mod:`segedu.experiments.results`): ``"miou"``, ``"boundary"``,
            ``"size:large"``, ``"class:wire"``, ``"classes:pole,sign"``...
        labelled: the records with this many labelled training scenes (the pretraining
            comparison); None: trained on all the track's scenes.
    """

    id: str
    track: str
    kind: str
    runs: tuple[str, ...]
    needs: float
    text: str
    metric: str = "miou"
    labelled: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: unknown kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        wanted = RUNS_PER_KIND.get(self.kind)
        if (wanted is not None and len(self.runs) != wanted) or not self.runs:
            raise ValueError(f"claim {self.id!r} of kind {self.kind!r} compares {wanted or 'some'} run(s), "
                             f"got {self.runs!r}")
        if not isinstance(self.metric, str):
            raise ValueError(f"claim {self.id!r}: a claim's metric is a name such as 'miou' or 'class:wire', "
                             f"got {self.metric!r}")
        check_metric(self.metric)

    def for_runs(self, runs) -> Claim:
        """The same test on other runs (e.g. whether ``unet_ppm`` reaches the level ``unet_context`` claims),
        with a sentence made for them: a question asked of the leaderboard, not a claim of the course."""
        runs = (runs,) if isinstance(runs, str) else tuple(runs)
        return dataclasses.replace(self, id=f"{self.id}[{','.join(runs)}]", runs=runs,
                                   text=sentence(self.kind, self.track, runs, self.needs, self.metric))


def sentence(kind: str, track: str, runs: tuple[str, ...], needs: float, metric: str = "miou") -> str:
    """A plain sentence for a claim of ``kind`` on ``runs`` (the table's own sentences name the models in words)."""
    label = metric_label(metric)
    if kind == "better" and needs < 0:
        return f"{track}: {runs[0]}'s {label} at most {-needs:.2f} below {runs[1]}'s"
    if kind == "better" and needs == 0:
        return f"{track}: {runs[0]} at least matches {runs[1]} on {label}"
    if kind == "better":
        return f"{track}: {runs[0]} beats {runs[1]} by >= {needs:.2f} {label}"
    if kind == "level":
        return f"{track}: {runs[0]}'s {label} >= {needs:.2f}"
    if kind == "median":
        return f"{track}: {runs[0]}'s median {label} >= {needs:.2f}"
    if kind == "best":
        return f"{track}: the best model ({{best}}) reaches {needs:.2f} {label}"
    return (f"{track}: {runs[0]}'s gain over {runs[1]} is larger on large objects than on small ones "
            "(gain on large minus gain on small)")


CLAIMS: tuple[Claim, ...] = (
    # id, track, kind, runs, needs, sentence (and the metric when it is not mIoU)
    Claim("shapes.encdec_vs_plain", "shapes", "better", ("encdec", "plain"), 0.10,
          "shapes: the encoder-decoder beats the plain CNN by >= 0.10 mIoU"),
    Claim("shapes.gain_on_large_objects", "shapes", "larger_on_large", ("encdec", "plain"), 0.0,
          "shapes: encdec's gain over plain is larger on large objects than on small ones "
          "(gain on large minus gain on small)"),
    Claim("thin.unet_vs_encdec", "thin", "better", ("unet", "encdec"), 0.10,
          "thin: U-Net beats the encoder-decoder by >= 0.10 mIoU"),
    Claim("thin.unet_s32_vs_encdec", "thin", "better", ("unet_s32", "encdec"), 0.05,
          "thin: U-Net with the same stride-32 bottleneck beats the encoder-decoder by >= 0.05 mIoU"),
    Claim("thin.fcn8s_vs_encdec", "thin", "better", ("fcn8s", "encdec"), 0.05,
          "thin: FCN-8s beats the encoder-decoder by >= 0.05 mIoU"),
    Claim("thin.fcn8s_vs_encdec_boundary", "thin", "better", ("fcn8s", "encdec"), 0.05,
          "thin: FCN-8s beats the encoder-decoder on boundary IoU by >= 0.05", metric="boundary"),
    Claim("thin.fcn8s_vs_fcn16s", "thin", "better", ("fcn8s", "fcn16s"), 0.0, "thin: FCN-8s >= FCN-16s"),
    Claim("thin.fcn16s_vs_fcn32s", "thin", "better", ("fcn16s", "fcn32s"), 0.0, "thin: FCN-16s >= FCN-32s"),
    Claim("context.pspnet_vs_noppm", "context", "better", ("pspnet", "pspnet_noppm"), 0.05,
          "context: PSPNet beats the same network without pyramid pooling by >= 0.05 mIoU"),
    Claim("context.pspnet_vs_unet", "context", "better", ("pspnet", "unet"), 0.0,
          "context: PSPNet at least matches U-Net"),
    Claim("harbour.b1236_vs_b1", "harbour", "better", ("pspnet", "pspnet_b1"), 0.02,
          "harbour: bins 1, 2, 3, 6 beat the single global bin by >= 0.02 mIoU"),
    # With circular padding (no position in the features): set on 1,024 validation scenes, seeds 0-2 (bins 1, 2, 3, 6
    # minus the single bin +0.232, +0.025, +0.406; minus no pyramid +0.083, +0.278, +0.063) before test was scored.
    Claim("harbour.circular_b1236_vs_b1", "harbour", "better", ("pspnet_circular", "pspnet_b1_circular"), 0.02,
          "harbour, circular padding (features that cannot tell where they are): bins 1, 2, 3, 6 beat the single "
          "global bin by >= 0.02 mIoU"),
    Claim("harbour.circular_pyramid_vs_noppm", "harbour", "better", ("pspnet_circular", "pspnet_noppm_circular"),
          0.05, "harbour, circular padding: the pyramid beats no pyramid by >= 0.05 mIoU"),
    Claim("shapes.pretrained_vs_scratch", PRETRAIN_TRACK, "better",
          (f"{PRETRAIN_MODEL}_pretrained", f"{PRETRAIN_MODEL}_scratch"), 0.05,
          f"{PRETRAIN_TRACK}, 64 labelled scenes: the backbone pretrained on other outlines beats training from "
          "scratch by >= 0.05 mIoU", labelled=64),
    Claim("mixed.best_reaches", "mixed", "best", TRACKS["mixed"].runs, 0.70,
          "mixed: the best model ({best}) reaches 0.70 mIoU"),
    Claim("mixed.context_vs_unet", "mixed", "better", ("unet_context", "unet"), 0.10,
          "mixed: U-Net with the global context before its classifier beats U-Net by >= 0.10 mIoU"),
    Claim("mixed.context_boat", "mixed", "level", ("unet_context",), 0.80,
          "mixed: unet_context's boat IoU >= 0.80", metric="class:boat"),
    Claim("mixed.context_car", "mixed", "level", ("unet_context",), 0.80,
          "mixed: unet_context's car IoU >= 0.80", metric="class:car"),
    Claim("mixed.context_keeps_wires", "mixed", "better", ("unet_context", "unet"), -0.03,
          "mixed: unet_context keeps U-Net's wires (wire IoU at most 0.03 below U-Net's)", metric="class:wire"),
    Claim("mixed.context_median", "mixed", "median", ("unet_context",), 0.88,
          "mixed: unet_context's median mIoU >= 0.88"),
    # DeepLabV3+ with its image pooling also feeding the class scores: set on 1,024 validation scenes (seeds 0-3:
    # no boat or car pixel swapped, boat IoU 0.69-0.73, car IoU 0.69-0.72) before its test scenes were scored.
    Claim("mixed.deeplab_prior_apart", "mixed", "level", ("deeplabv3plus_prior",), 0.98,
          "mixed: DeepLabV3+ with the scene prior swaps at most 2 % of boat pixels to car and of car pixels to boat",
          metric="apart:boat,car"),
    Claim("mixed.deeplab_prior_boat", "mixed", "level", ("deeplabv3plus_prior",), 0.65,
          "mixed: DeepLabV3+ with the scene prior reaches boat IoU >= 0.65", metric="class:boat"),
    Claim("mixed.deeplab_prior_car", "mixed", "level", ("deeplabv3plus_prior",), 0.65,
          "mixed: DeepLabV3+ with the scene prior reaches car IoU >= 0.65", metric="class:car"),
    # CamVid: set on the validation photos (seed 0) before any test photo was scored; see CAMVID_RECIPE.
    Claim("camvid.unet_vs_encdec_thin", "camvid", "better", ("unet", "encdec"), 0.05,
          "camvid: on the thin and small classes (pole, sign, pedestrian, bicyclist), U-Net beats the "
          "encoder-decoder by >= 0.05 IoU", metric="classes:pole,sign,pedestrian,bicyclist"),
    Claim("camvid.fcn8s_vs_encdec", "camvid", "better", ("fcn8s", "encdec"), 0.05,
          "camvid: FCN-8s beats the encoder-decoder by >= 0.05 mIoU"),
    Claim("camvid.best_reaches", "camvid", "best", TRACKS["camvid"].runs, 0.50,
          "camvid: the best model ({best}) reaches 0.50 test mIoU on the photos"),
)
"""Every claim of the course, in the order the leaderboard reports them."""


def find(claim_id: str) -> Claim:
    """The claim whose id is ``claim_id``, or a ``ValueError`` that lists the ids."""
    for claim in CLAIMS:
        if claim.id == claim_id:
            return claim
    raise ValueError(f"no claim {claim_id!r}; the claims are: {', '.join(claim.id for claim in CLAIMS)}")


def of_track(track: str | None, labelled: int | None = None) -> tuple[Claim, ...]:
    """The claims of ``track`` on the records with ``labelled`` training scenes (None: trained on all the
    track's scenes), in table order; every claim of the course when ``track`` is None."""
    return tuple(claim for claim in CLAIMS if track is None or (claim.track, claim.labelled) == (track, labelled))
