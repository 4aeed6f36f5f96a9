"""Checkers for notebook 06 (pretrained backbones).

* :func:`check_frozen_backbone`: a model whose backbone is frozen and the count of its trainable parameters.
* :func:`check_imagenet_normalisation`: an image normalised the way ImageNet-pretrained ResNets expect.
* :func:`check_where_pretraining_matters`: the number of labelled scenes where pretraining gained most.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from segedu.course.checks import CheckResult, expect_tensor, failed, passed

NOT_DONE = "not done yet: replace the ... with your answer"


def _not_done(value) -> bool:
    return value is None or value is Ellipsis


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameter values that the optimiser will update (``requires_grad`` True)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_frozen_backbone(model, trainable) -> CheckResult:
    """Check that ``model.backbone`` is frozen, the rest is not, and ``trainable`` counts what is left."""
    if _not_done(model) or _not_done(trainable):
        return failed(NOT_DONE, "freeze the backbone, then count the parameters with requires_grad=True")
    backbone = getattr(model, "backbone", None)
    if not isinstance(model, nn.Module) or not isinstance(backbone, nn.Module):
        return failed(
            f"expected a segmentation model with a .backbone, got {type(model).__name__}",
            "pass the model itself (e.g. the FCN-8s built above)",
        )
    backbone_ids = {id(p) for p in backbone.parameters()}
    still_trainable = sum(p.numel() for p in backbone.parameters() if p.requires_grad)
    head = [p for p in model.parameters() if id(p) not in backbone_ids]
    if still_trainable:
        total = sum(p.numel() for p in backbone.parameters())
        return failed(
            f"{still_trainable:,} of the backbone's {total:,} parameters still have requires_grad=True",
            "loop over model.backbone.parameters() and set p.requires_grad = False on each",
        )
    if head and not any(p.requires_grad for p in head):
        return failed(
            "the head is frozen too: nothing would learn the segmentation task",
            "freeze only model.backbone.parameters(), not model.parameters()",
        )
    try:
        count = int(trainable)
    except (TypeError, ValueError):
        return failed(
            f"trainable should be a number, got {type(trainable).__name__}",
            "sum(p.numel() for p in model.parameters() if p.requires_grad)",
        )
    expected = trainable_parameters(model)
    if count == expected:
        frozen = sum(p.numel() for p in backbone.parameters())
        return passed(
            f"backbone frozen ({frozen:,} parameters); {expected:,} trainable parameters left in the head"
        )
    if count == sum(p.numel() for p in model.parameters()):
        return failed(
            f"{count:,} is every parameter of the model, frozen ones included",
            "keep only the parameters with p.requires_grad",
        )
    if count == sum(1 for p in model.parameters() if p.requires_grad):
        return failed(f"{count} counts parameter tensors, not the numbers inside them", "use p.numel()")
    return failed(
        f"{count:,} is not the number of trainable parameters",
        "sum(p.numel() for p in model.parameters() if p.requires_grad)",
    )


def check_imagenet_normalisation(normalised, image: torch.Tensor) -> CheckResult:
    """Check ``normalised`` == ``(image - IMAGENET_MEAN) / IMAGENET_STD`` per channel (image ``3 x H x W`` in [0, 1])."""
    from segedu.models.pretrained import IMAGENET_MEAN, IMAGENET_STD

    if _not_done(normalised):
        return failed(NOT_DONE, "subtract the mean and divide by the standard deviation, channel by channel")
    problem = expect_tensor(normalised, "the normalised image", tuple(image.shape))
    if problem is not None:
        return problem
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    want = (image - mean) / std
    if torch.allclose(normalised.float(), want, atol=1e-5):
        return passed("normalised like ImageNet's training images (mean ~0, std ~1 per channel)")
    if torch.allclose(normalised.float(), image * std + mean, atol=1e-5):
        return failed(
            "that is the inverse: it multiplies by the std and adds the mean",
            "normalising is (image - mean) / std",
        )
    if torch.allclose(normalised.float(), (image - mean.flip(0)) / std.flip(0), atol=1e-5):
        return failed("the channels are in the wrong order", "mean and std are given in R, G, B order")
    if torch.allclose(normalised.float(), image - mean, atol=1e-5):
        return failed("the mean is subtracted but the division by the std is missing")
    return failed(
        "the values differ from (image - mean) / std",
        "torch.tensor(IMAGENET_MEAN).view(3, 1, 1) broadcasts over a 3 x H x W image",
    )


def check_where_pretraining_matters(answer, results: dict) -> CheckResult:
    """Check ``answer``: the number of labelled scenes with the largest mIoU gain of pretraining.

    ``results``: labelled scenes -> ``{"pretrained": mIoU, "scratch": mIoU}``, as the notebook printed.
    """
    if _not_done(answer):
        return failed(NOT_DONE, "write one of the numbers of labelled scenes printed above")
    if not results:
        return failed("no results to compare yet", "run the training cells above first")
    gains = {}
    for labelled, row in results.items():
        try:
            gains[labelled] = float(row["pretrained"]) - float(row["scratch"])
        except (KeyError, TypeError, ValueError):
            return failed(f"results[{labelled!r}] should hold 'pretrained' and 'scratch' mIoUs, got {row!r}")
    if any(math.isnan(g) for g in gains.values()):
        return failed("a result is NaN", "re-run the training cells")
    best = max(gains, key=gains.get)
    if answer not in gains:
        return failed(
            f"{answer!r} is not one of the labelled-scene counts trained: {list(gains)}",
            "use a key of the results dict",
        )
    if answer == best:
        return passed(f"with {best} labelled scenes pretraining gained most: {gains[best]:+.3f} mIoU")
    return failed(
        f"with {answer} labelled scenes pretraining gained {gains[answer]:+.3f} mIoU; another count gained more",
        "for each row, subtract the scratch mIoU from the pretrained one and take the largest",
    )
