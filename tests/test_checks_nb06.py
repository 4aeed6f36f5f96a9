"""Checkers of notebook 06 (pretrained backbones): right answers pass, typical wrong ones fail with a useful message."""

import torch

from segedu.course.checks import nb06
from segedu.models import build
from segedu.models.pretrained import IMAGENET_MEAN, IMAGENET_STD


def _model():
    return build("fcn8s", 3)


def test_frozen_backbone_passes():
    model = _model()
    for parameter in model.backbone.parameters():
        parameter.requires_grad = False
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result = nb06.check_frozen_backbone(model, trainable)
    assert result and f"{trainable:,} trainable" in result.message
    assert trainable == nb06.trainable_parameters(model) > 0


def test_frozen_backbone_typical_mistakes():
    assert "not done" in nb06.check_frozen_backbone(_model(), ...).message
    model = _model()
    result = nb06.check_frozen_backbone(model, nb06.trainable_parameters(model))
    assert not result and "still have requires_grad=True" in result.message
    everything = _model()
    for parameter in everything.parameters():
        parameter.requires_grad = False
    assert "head is frozen too" in nb06.check_frozen_backbone(everything, 0).message
    model = _model()
    for parameter in model.backbone.parameters():
        parameter.requires_grad = False
    total = sum(p.numel() for p in model.parameters())
    assert "every parameter" in nb06.check_frozen_backbone(model, total).message
    tensors = sum(1 for p in model.parameters() if p.requires_grad)
    assert "numel" in nb06.check_frozen_backbone(model, tensors).hint
    assert not nb06.check_frozen_backbone(model, 12)
    assert "backbone" in nb06.check_frozen_backbone(torch.nn.Linear(2, 2), 6).message


def test_imagenet_normalisation():
    image = torch.rand(3, 5, 7)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert nb06.check_imagenet_normalisation((image - mean) / std, image)
    assert "not done" in nb06.check_imagenet_normalisation(..., image).message
    assert "inverse" in nb06.check_imagenet_normalisation(image * std + mean, image).message
    assert "order" in nb06.check_imagenet_normalisation((image - mean.flip(0)) / std.flip(0), image).message
    assert "division" in nb06.check_imagenet_normalisation(image - mean, image).message
    assert "shape" in nb06.check_imagenet_normalisation(torch.rand(5, 7, 3), image).message
    assert not nb06.check_imagenet_normalisation(image, image)


def test_where_pretraining_matters():
    results = {16: {"pretrained": 0.5, "scratch": 0.3}, 64: {"pretrained": 0.6, "scratch": 0.5},
               4096: {"pretrained": 0.7, "scratch": 0.69}}
    result = nb06.check_where_pretraining_matters(16, results)
    assert result and "+0.200" in result.message
    wrong = nb06.check_where_pretraining_matters(4096, results)
    assert not wrong and "another count gained more" in wrong.message and "subtract" in wrong.hint
    assert "not one of" in nb06.check_where_pretraining_matters(32, results).message
    assert "not done" in nb06.check_where_pretraining_matters(..., results).message
    assert "no results" in nb06.check_where_pretraining_matters(16, {}).message
    assert "should hold" in nb06.check_where_pretraining_matters(16, {16: {"x": 1}}).message
