"""Checkers of notebook 06 (pretrained backbones): right answers pass, typical wrong ones fail with a useful message."""

import numpy as np
import pytest
import torch

from segedu.course.checks import nb06
from segedu.data import CLASSES
from segedu.models import build
from segedu.train import fit

PRETRAINED_ON = ("square", "cross", "box", "gear")


def test_memory_tracks():
    assert nb06.memory_tracks(PRETRAINED_ON, CLASSES) == {"thin", "mixed"}  # gear is a class of both
    assert nb06.memory_tracks(("disk",), {"a": ("background", "disk"), "b": ("background", "car")}) == {"a"}
    assert nb06.memory_tracks(("background",), {"a": ("background", "disk")}) == set()
    result = nb06.check_memory_tracks(["mixed", "thin"], PRETRAINED_ON, CLASSES)
    assert result and "mixed: gear; thin: gear" in result.message
    assert nb06.check_memory_tracks({" thin", "mixed "}, PRETRAINED_ON, CLASSES)


def test_memory_tracks_typical_mistakes():
    assert "not done" in nb06.check_memory_tracks(..., PRETRAINED_ON, CLASSES).message
    assert "list or set" in nb06.check_memory_tracks("thin", PRETRAINED_ON, CLASSES).message
    assert "class names" in nb06.check_memory_tracks(["gear"], PRETRAINED_ON, CLASSES).message
    shapes = nb06.check_memory_tracks(["shapes", "thin", "mixed"], PRETRAINED_ON, CLASSES)
    assert not shapes and "shapes's classes (disk, triangle) are none of the pretraining classes" in shapes.message
    missing = nb06.check_memory_tracks(["thin"], PRETRAINED_ON, CLASSES)
    assert not missing and "mixed is missing: its class gear" in missing.message
    assert "not a track" in nb06.check_memory_tracks(["thin", "mixed", "pets"], PRETRAINED_ON, CLASSES).message
    assert "string" in nb06.check_memory_tracks([1, 2], PRETRAINED_ON, CLASSES).message


@pytest.fixture(scope="module")
def checkpoint():
    # a backbone's state_dict as the course's checkpoint holds it (names without the "backbone." prefix)
    torch.manual_seed(1)
    state = {name: tensor.clone() for name, tensor in build("fcn8s", 3).backbone.state_dict().items()}
    for name, tensor in state.items():
        if name.endswith(("running_mean", "running_var")):  # statistics of pretraining, not a fresh layer's 0 and 1
            tensor.add_(torch.rand_like(tensor))
    return state


def test_backbone_loading_passes_the_right_answers(checkpoint):
    def into_backbone(model, state_dict):
        return model.backbone.load_state_dict(state_dict)

    def with_prefix(model, state_dict):
        model.load_state_dict({f"backbone.{name}": tensor for name, tensor in state_dict.items()}, strict=False)

    result = nb06.check_backbone_loading(into_backbone, checkpoint)
    assert result and f"the file's {len(checkpoint)} tensors" in result.message and "random start" in result.message
    assert nb06.check_backbone_loading(with_prefix, checkpoint)


def test_backbone_loading_typical_mistakes(checkpoint):
    def whole_model(model, state_dict):
        return model.load_state_dict(state_dict)

    def not_strict(model, state_dict):
        return model.load_state_dict(state_dict, strict=False)

    def prefixed_strict(model, state_dict):
        model.load_state_dict({f"backbone.{name}": tensor for name, tensor in state_dict.items()})

    def new_model(model, state_dict):
        other = build("fcn8s", 3)
        other.backbone.load_state_dict(state_dict)
        return other

    def head_too(model, state_dict):
        model.backbone.load_state_dict(state_dict)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if not name.startswith("backbone."):
                    parameter.zero_()

    def weights_only(model, state_dict):
        model.backbone.load_state_dict({name: tensor for name, tensor in state_dict.items() if "running" not in name},
                                       strict=False)

    def placeholder(model, state_dict):
        ...

    cases = {
        whole_model: "found names it does not know",
        not_strict: "nothing was loaded: with strict=False",
        prefixed_strict: "no weights for the head",
        new_model: "returned another model",
        head_too: "head's weights changed too",
        weights_only: "tensors differ from the file's",
        placeholder: "not done yet",
        (lambda model, state_dict: 1 / 0): "raised ZeroDivisionError",
        3: "should be a function",
        ...: "not done yet",
    }
    for function, expected in cases.items():
        result = nb06.check_backbone_loading(function, checkpoint)
        assert not result and expected in result.message, (expected, result)
    assert "the model's own" not in nb06.check_backbone_loading(whole_model, checkpoint).message
    assert "model.backbone" in nb06.check_backbone_loading(whole_model, checkpoint).hint
    assert "checkpoint's dict" in nb06.check_backbone_loading(whole_model, {}).message


@pytest.fixture(scope="module")
def frozen(checkpoint):
    # an FCN-8s whose backbone starts from `checkpoint`, frozen (weights only), trained a few steps
    from segedu.data import SyntheticScenes

    model = build("fcn8s", 3)
    model.backbone.load_state_dict(checkpoint)
    for parameter in model.backbone.parameters():
        parameter.requires_grad = False
    fit(model, SyntheticScenes("train", "shapes", size=32, length=16), epochs=1, batch_size=8, lr=1e-3,
        progress=False, device="cpu")
    return model


def test_frozen_changes(frozen, checkpoint):
    expected = nb06.changed_tensors(frozen.backbone, checkpoint)
    assert expected and all(name.rsplit(".", 1)[1] in ("running_mean", "running_var", "num_batches_tracked")
                            for name in expected)
    result = nb06.check_frozen_changes(sorted(expected), frozen, checkpoint)
    assert result and "none of them a weight" in result.message and "running_mean" in result.message
    assert nb06.check_frozen_changes({f"backbone.{name}" for name in expected}, frozen, checkpoint)
    untouched = build("fcn8s", 3)
    untouched.backbone.load_state_dict(checkpoint)
    assert nb06.check_frozen_changes([], untouched, checkpoint)


def test_frozen_changes_typical_mistakes(frozen, checkpoint):
    expected = nb06.changed_tensors(frozen.backbone, checkpoint)
    assert "not done" in nb06.check_frozen_changes(..., frozen, checkpoint).message
    assert "model.parameters()" in nb06.check_frozen_changes([], frozen, checkpoint).message
    weight = next(name for name, _ in frozen.backbone.named_parameters())
    assert "frozen parameter" in nb06.check_frozen_changes([*expected, weight], frozen, checkpoint).message
    floats = [name for name in expected if not name.endswith("num_batches_tracked")]
    assert "num_batches_tracked" in nb06.check_frozen_changes(floats, frozen, checkpoint).message
    means = [name for name in expected if name.endswith("running_mean")]
    assert "missing" in nb06.check_frozen_changes(means, frozen, checkpoint).message
    assert "not a name" in nb06.check_frozen_changes(["head.weight"], frozen, checkpoint).message
    assert "list or set" in nb06.check_frozen_changes("running_mean", frozen, checkpoint).message
    assert "no .backbone" in nb06.check_frozen_changes([], torch.nn.Linear(2, 2), checkpoint).message


def test_a_model_turned_float64_is_told_its_dtype(checkpoint):
    def into_float64(model, state_dict):
        model.backbone.load_state_dict(state_dict)
        model.double()

    result = nb06.check_backbone_loading(into_float64, checkpoint)
    assert not result and "float64" in result.message and ".double()" in result.hint


def test_the_checkers_own_arguments_are_checked_too(checkpoint, frozen):
    assert "checkpoint's dict of tensors, got None" in nb06.check_backbone_loading(
        lambda model, state_dict: None, None).message
    assert "checkpoint's dict" in nb06.check_backbone_loading(lambda model, state_dict: None, {"a": 1}).message
    assert "got a layer" in nb06.check_backbone_loading(torch.nn.Linear(2, 2), checkpoint).message
    assert "pretrained_on should be" in nb06.check_memory_tracks(["thin"], "gear", CLASSES).message
    assert "classes_by_track should be" in nb06.check_memory_tracks(["thin"], PRETRAINED_ON, None).message
    assert "start should be" in nb06.check_frozen_changes([], frozen, None).message
    assert "no .backbone" in nb06.check_frozen_changes([], "frozen_model", checkpoint).message


def test_names_may_come_as_a_numpy_array_but_not_as_a_tensor(frozen, checkpoint):
    assert nb06.check_memory_tracks(np.array(["thin", "mixed"]), PRETRAINED_ON, CLASSES)
    expected = sorted(nb06.changed_tensors(frozen.backbone, checkpoint))
    assert nb06.check_frozen_changes(np.array(expected), frozen, checkpoint)
    assert "list or set" in nb06.check_memory_tracks(torch.tensor(3), PRETRAINED_ON, CLASSES).message
    assert "got None" in nb06.check_memory_tracks(["thin", None], PRETRAINED_ON, CLASSES).message


def test_a_state_dict_of_another_network_is_named_before_loading(checkpoint):
    def into_backbone(model, state_dict):
        return model.backbone.load_state_dict(state_dict)

    name = next(iter(checkpoint))
    other_shape = nb06.check_backbone_loading(into_backbone, {**checkpoint, name: torch.zeros(2, 3)})
    assert not other_shape and f"{name} has shape (2, 3)" in other_shape.message and "Error" not in other_shape.message
    whole_model = build("fcn8s", 3).state_dict()
    assert "is not a name of it" in nb06.check_backbone_loading(into_backbone, whole_model).message
    fewer = {key: value for key, value in checkpoint.items() if key != name}
    assert f"{name} is missing" in nb06.check_backbone_loading(into_backbone, fewer).message
