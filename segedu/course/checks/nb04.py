"""Checkers for notebook 04 (skip connections): FCN-16s shapes, a skip fusion, which variant wins.

Each checker takes the learner's answer and returns a :class:`~segedu.course.checks.CheckResult`;
an unfilled answer (``...`` or ``None``) gives "not done yet", never an exception. Expected
values come from running the course's own :class:`~segedu.models.FCN`, not from a formula.
"""

from __future__ import annotations

import torch

from segedu.course.checks import CheckResult, failed, passed

FUSION_KEYS = ("score32", "up32to16", "score16", "fused16", "logits")
"""The tensors of the FCN-16s fusion whose (height, width) the shapes exercise asks for."""


def _not_done(answer) -> bool:
    return answer is None or answer is Ellipsis


def _fcn16s(num_classes: int, seed: int = 0):
    from segedu.models import FCN

    torch.manual_seed(seed)
    model = FCN(num_classes, variant="16s").eval()
    with torch.no_grad():  # the score16 layer starts at zero; give it weights so that the skip matters
        model.score16.weight.normal_(0, 0.5)
        model.score16.bias.normal_(0, 0.5)
    return model


def fcn16s_fusion_sizes(image_size: tuple[int, int] = (96, 96), num_classes: int = 3) -> dict[str, tuple[int, int]]:
    """``{name: (height, width)}`` of the FCN-16s tensors in :data:`FUSION_KEYS` for one image of ``image_size``,
    measured with forward hooks on :class:`~segedu.models.FCN`."""
    model = _fcn16s(num_classes)
    sizes = {}

    def keep(name):
        return lambda module, inputs, output: sizes.__setitem__(name, tuple(output.shape[-2:]))

    handles = [getattr(model, name).register_forward_hook(keep(name)) for name in ("score32", "up32to16", "score16")]
    try:
        with torch.no_grad():
            logits = model(torch.zeros(1, 3, *image_size))
    finally:
        for handle in handles:
            handle.remove()
    sizes["fused16"] = sizes["up32to16"]
    sizes["logits"] = tuple(logits.shape[-2:])
    return {key: sizes[key] for key in FUSION_KEYS}


def check_fcn16s_shapes(answer, image_size: tuple[int, int] = (96, 96), num_classes: int = 3) -> CheckResult:
    """``answer``: ``{name: (height, width)}`` for every name in :data:`FUSION_KEYS`."""
    if _not_done(answer):
        return failed("not done yet: fill in the (height, width) of each tensor",
                      "the backbone halves the size five times (stride 32); score layers are 1x1 convolutions")
    if not isinstance(answer, dict):
        return failed(f"answer should be a dict name -> (height, width), got {type(answer).__name__}")
    expected = fcn16s_fusion_sizes(image_size, num_classes)
    missing = [key for key in FUSION_KEYS if key not in answer]
    if missing:
        return failed(f"missing entries: {', '.join(missing)}", f"give all of {', '.join(FUSION_KEYS)}")
    for key in FUSION_KEYS:
        value = answer[key]
        if _not_done(value):
            return failed(f"not done yet: {key} is still {value!r}")
        try:
            got = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            return failed(f"{key} should be a pair (height, width), got {value!r}")
        if len(got) == 4:
            got = got[-2:]  # a full N x C x H x W shape is fine too
        if got != expected[key]:
            height = image_size[0]
            hints = {
                "score32": f"the stride-32 map of a {height}-pixel image has {height} / 32 rows",
                "up32to16": "the transposed convolution doubles the size of the coarse scores",
                "score16": f"the stride-16 features have {height} / 16 rows; a 1x1 conv keeps the size",
                "fused16": "adding needs equal shapes: the sum has the size of both terms",
                "logits": "the final bilinear upsampling returns to the input size",
            }
            return failed(f"{key}: you said {got}, the model gives {expected[key]}", hints[key])
    return passed(f"all {len(FUSION_KEYS)} sizes match FCN-16s on a {image_size[0]}x{image_size[1]} image")


def check_skip_fusion(fuse, image_size: int = 64, num_classes: int = 3) -> CheckResult:
    """``fuse(coarse_scores, skip_features, up, score) -> fused scores`` must reproduce FCN-16s.

    ``coarse_scores``: ``N x C x H/32 x W/32``; ``skip_features``: the backbone's stride-16 map
    ``N x C16 x H/16 x W/16``; ``up`` and ``score``: the model's ``up32to16`` and ``score16``
    layers. The result, bilinearly upsampled to the input size, must equal the model's output.
    """
    if _not_done(fuse):
        return failed("not done yet: define fuse(coarse_scores, skip_features, up, score)",
                      "upsample the coarse scores with `up`, score the skip features with `score`, add")
    if not callable(fuse):
        return failed(f"fuse should be a function, got {type(fuse).__name__}")
    from segedu.models.blocks import upsample_to

    model = _fcn16s(num_classes)
    x = torch.rand(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, _, _, features16, features32 = model.backbone(x)
        coarse = model.score32(model.head(features32))
        want_fused = model.up32to16(coarse) + model.score16(features16)
        try:
            got = fuse(coarse, features16, model.up32to16, model.score16)
        except Exception as error:  # noqa: BLE001 - report any learner error as a hint
            return failed(f"fuse raised {type(error).__name__}: {error}",
                          "both terms must have the same shape before adding: upsample the coarse scores first")
        if _not_done(got):
            return failed("not done yet: fuse returns nothing", "return the sum of the two score maps")
        if not isinstance(got, torch.Tensor):
            return failed(f"fuse should return a tensor, got {type(got).__name__}")
        if got.shape != want_fused.shape:
            hint = "upsample the coarse scores with `up`, score the skip features with `score`, then add"
            if got.shape[1] != num_classes:
                hint = (f"the result should have one channel per class ({num_classes}): score the skip features "
                        "with `score` and add, do not concatenate")
            return failed(f"fuse returns shape {tuple(got.shape)}, expected {tuple(want_fused.shape)}", hint)
        logits = model(x)
        mine = upsample_to(got, x.shape[-2:])
        difference = (mine - logits).abs().max().item()
    if difference > 1e-4:
        interior = (got - want_fused).abs()[..., 1:-1, 1:-1].max().item()
        hint = "compute up(coarse_scores) + score(skip_features)"
        if interior <= 1e-4:
            hint = ("only the border differs: use the model's learned transposed convolution `up`, "
                    "not F.interpolate (they agree except at the border)")
        return failed(f"your fusion differs from the model's output by up to {difference:.3g}", hint)
    return passed("your fusion, upsampled to the input, gives exactly FCN-16s's logits")


def check_boundary_choice(choice) -> CheckResult:
    """Which of FCN-32s and FCN-8s should have the better boundary score? (``"fcn8s"``)."""
    if _not_done(choice):
        return failed('not done yet: set choice to "fcn32s" or "fcn8s"')
    text = str(choice).lower().replace("-", "").replace("_", "").replace(" ", "")
    if text in ("fcn8s", "8s", "8"):
        return passed("FCN-8s: its last scores come from the stride-8 map, where a boundary is placed "
                      "to within 8 pixels instead of 32, and the 1/8 features still see thin wires")
    if text in ("fcn32s", "32s", "32"):
        return failed("FCN-32s sees the most context, but every prediction is a bilinear blend of a "
                      "stride-32 grid: it cannot place a boundary more finely than that grid",
                      "which variant adds scores computed from finer feature maps?")
    return failed(f"{choice!r} is not one of the two choices", 'answer "fcn32s" or "fcn8s"')
