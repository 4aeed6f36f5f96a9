"""Run names: a model of :mod:`segedu.models` with its options, as the notebooks and the leaderboard name it.

A *run name* (``"fcn8s"``, ``"pspnet_noppm"``, ...) is a model with options (:data:`RUNS`), plus
the options a track adds (:data:`TRACK_OPTIONS`); :func:`build_run` builds it. A run name ending
in ``_pretrained`` or ``_scratch`` is the same model with its backbone pretrained by the course, or
trained from scratch (the pretraining comparison of notebook 06).

Fairness rules, which the tests check: the runs compared on a track get the same data, the same
steps and the same optimiser settings, and parameter counts within a factor of 3 of each other.
"""

from __future__ import annotations

from torch import nn

from segedu.models import build

RUNS: dict[str, tuple[str, dict]] = {
    "plain": ("plain", {}),
    "encdec": ("encdec", {}),
    "fcn32s": ("fcn32s", {}),
    "fcn16s": ("fcn16s", {}),
    "fcn8s": ("fcn8s", {}),
    "unet": ("unet", {}),
    "unet_s32": ("unet", {"widths": (16, 32, 48, 64, 96, 96)}),
    "pspnet": ("pspnet", {}),
    "pspnet_noppm": ("pspnet", {"ppm": False}),
    "pspnet_b1": ("pspnet", {"bins": (1,)}),
    "pspnet_max": ("pspnet", {"pooling": "max"}),
    "pspnet_nodr": ("pspnet", {"reduce": False}),
    # The harbour ablation (notebook 05): every convolution pads circularly, so no feature can tell how far it
    # is from the border, and the 1 x 1 bin can no longer say on which side the water is.
    "pspnet_noppm_circular": ("pspnet", {"ppm": False, "padding_mode": "circular"}),
    "pspnet_b1_circular": ("pspnet", {"bins": (1,), "padding_mode": "circular"}),
    "pspnet_circular": ("pspnet", {"padding_mode": "circular"}),
    "unet_ppm": ("unet_ppm", {}),
    "unet_context": ("unet_context", {}),
    # The ablation of unet_context's auxiliary classifier (notebook 08): the context without the auxiliary
    # loss, and the auxiliary loss (the same classifier on the bottleneck and its pooled context) without
    # the context before U-Net's classifier.
    "unet_context_noaux": ("unet_context", {"aux_head": False}),
    "unet_aux": ("unet_context", {"context": False}),
    "deeplabv3plus": ("deeplabv3plus", {}),
    # DeepLabV3+ whose image pooling also feeds the class scores directly (notebook 08's ablation).
    "deeplabv3plus_prior": ("deeplabv3plus", {"scene_prior": True}),
}
"""Run name -> (model name for :func:`segedu.models.build`, options)."""

TRACK_OPTIONS: dict[tuple[str, str], dict] = {
    # Against the 57 k-parameter plain CNN, a narrower encoder-decoder (109 k instead of 433 k)
    # keeps the parameter counts within a factor of 3.
    ("encdec", "shapes"): {"widths": (8, 16, 24, 32, 48)},
    # On thin, the encoder-decoder halves five times, like the FCNs' backbone: FCN-32s/16s/8s, the
    # encoder-decoder and unet_s32 then share a stride-32 bottleneck and differ only in the skips.
    ("encdec", "thin"): {"depth": 5},
}
"""Extra model options for a (run, track) pair, e.g. a narrower network to keep parameters comparable."""

PRETRAINED, SCRATCH = "_pretrained", "_scratch"
"""Suffixes of a run name: the backbone pretrained by the course, or trained from scratch."""


def model_spec(run: str, track: str | None = None) -> tuple[str, dict]:
    """``(model name, options)`` for a run name (with the track's extra options, if any)."""
    base = run.removesuffix(PRETRAINED).removesuffix(SCRATCH)
    if base not in RUNS:
        raise ValueError(f"unknown run {run!r}; known runs: {', '.join(RUNS)} (plus <run>{PRETRAINED}/{SCRATCH})")
    name, options = RUNS[base]
    options = {**options, **TRACK_OPTIONS.get((base, track), {})}
    if run.endswith(PRETRAINED):
        options["pretrained"] = "course"
    return name, options


def build_run(run: str, num_classes: int, track: str | None = None) -> nn.Module:
    """Build the (untrained) model of run ``run`` for ``num_classes`` classes, with ``track``'s options."""
    name, options = model_spec(run, track)
    return build(name, num_classes, **options)
