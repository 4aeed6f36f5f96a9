"""Checkers for notebook 06 (pretrained backbones).

* :func:`check_memory_tracks`: the tracks on which a pretrained-vs-scratch comparison would partly
  measure memory (a class of the track is one the backbone was pretrained on);
* :func:`check_backbone_loading`: a function that loads the course's checkpoint into the backbone of a
  segmentation model, and nowhere else;
* :func:`check_frozen_changes`: which tensors of a frozen backbone changed during training (BatchNorm's
  running statistics do; the weights do not).
"""

from __future__ import annotations

import copy

import numpy
import torch
from torch import nn

from segedu.course.checks import (
    CheckResult,
    checker,
    describe,
    expect_function,
    failed,
    not_done,
    passed,
    raised,
)
from segedu.models import build

NOT_DONE = "not done yet: replace the ... with your answer"
BACKGROUND = "background"


def _names(answer, what: str) -> tuple[set[str] | None, CheckResult | None]:
    """``(set of strings, None)`` for a list, set, tuple or 1-d numpy array of strings, else ``(None, a failing
    result)``."""
    if isinstance(answer, numpy.ndarray) and answer.ndim == 1:
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple, set, frozenset)):
        return None, failed(f"give a list or set of {what}, got {type(answer).__name__}",
                            f"even one goes in a list: ['{answer}']" if isinstance(answer, str) else
                            "e.g. ['thin', 'mixed']")
    names = list(answer)
    if not all(isinstance(name, str) for name in names):
        odd = next(name for name in names if not isinstance(name, str))
        return None, failed(f"every entry should be one of the {what} (a string), got {describe(odd)}")
    return {name.strip() for name in names}, None


def _tracks_table(pretrained_on, classes_by_track) -> CheckResult | None:
    """A failing result when the checker's own arguments are not class names and a table track -> class names."""
    if isinstance(pretrained_on, str) or not isinstance(pretrained_on, (list, tuple, set, frozenset)) or not all(
            isinstance(name, str) for name in pretrained_on):
        return failed(f"pretrained_on should be the list of classes the backbone was pretrained on, got "
                      f"{describe(pretrained_on)}", "pass meta['metadata']['pretrained_on']")
    if not isinstance(classes_by_track, dict) or not all(
            isinstance(track, str) and isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes)
            for track, classes in classes_by_track.items()):
        return failed(f"classes_by_track should be a dict track -> class names, got {describe(classes_by_track)}",
                      "pass segedu.data.CLASSES")
    return None


def _state_dict_problem(state_dict, name: str, hint: str) -> CheckResult | None:
    """A failing result when ``state_dict`` is not a non-empty dict of name -> tensor."""
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state_dict.items()):
        return failed(f"{name} should be the checkpoint's dict of tensors, got {describe(state_dict)}", hint)
    return None


# -- transfer or memory ------------------------------------------------------------------------------------


def memory_tracks(pretrained_on, classes_by_track: dict[str, tuple[str, ...]]) -> set[str]:
    """Tracks with at least one class (background aside) among the pretraining classes ``pretrained_on``."""
    seen = set(pretrained_on)
    return {track for track, classes in classes_by_track.items() if seen & (set(classes) - {BACKGROUND})}


@checker
def check_memory_tracks(answer, pretrained_on, classes_by_track: dict[str, tuple[str, ...]]) -> CheckResult:
    """Check ``answer``: the tracks of ``classes_by_track`` (track -> class names) that share a class with
    ``pretrained_on`` (the classes the backbone was pretrained on, from its checkpoint's meta)."""
    if not_done(answer):
        return failed(NOT_DONE, "compare each track's classes with meta['metadata']['pretrained_on']")
    problem = _tracks_table(pretrained_on, classes_by_track)
    if problem is not None:
        return problem
    chosen, problem = _names(answer, "track names")
    if problem is not None:
        return problem
    expected = memory_tracks(pretrained_on, classes_by_track)
    seen = set(pretrained_on)
    if chosen == expected:
        shared = {track: sorted(seen & set(classes_by_track[track])) for track in sorted(expected)}
        which = "; ".join(f"{track}: {', '.join(names)}" for track, names in shared.items()) or "none"
        return passed(f"tracks whose classes the backbone has seen: {which}. A pretrained-vs-scratch comparison "
                      f"there would partly measure memory, not transfer")
    all_classes = {name for classes in classes_by_track.values() for name in classes}
    if chosen and chosen <= all_classes and not chosen & set(classes_by_track):
        return failed("those are class names; the question asks for tracks",
                      f"tracks are the keys of the table: {', '.join(classes_by_track)}")
    unknown = sorted(chosen - set(classes_by_track))
    if unknown:
        return failed(f"{', '.join(unknown)}: not a track", f"the tracks are {', '.join(classes_by_track)}")
    extra = sorted(chosen - expected)
    if extra:
        track = extra[0]
        return failed(f"{track}'s classes ({', '.join(c for c in classes_by_track[track] if c != BACKGROUND)}) are "
                      f"none of the pretraining classes ({', '.join(pretrained_on)})",
                      "a track belongs in the answer only if one of its classes was a pretraining class")
    missing = sorted(expected - chosen)
    track = missing[0]
    shared = sorted(seen & set(classes_by_track[track]))
    return failed(f"{track} is missing: its class {', '.join(shared)} is one of the pretraining classes",
                  "look at every class of every track, not only at the shapes track's")


# -- loading a checkpoint into the backbone ------------------------------------------------------------------


def _fresh_model(num_classes: int = 3) -> nn.Module:
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(12345)  # the same random start every time, without disturbing the notebook's seed
    try:
        return build("fcn8s", num_classes)
    finally:
        torch.random.set_rng_state(generator_state)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


@checker
def check_backbone_loading(function, state_dict: dict) -> CheckResult:
    """Check ``function(model, state_dict)``: it puts ``state_dict`` (a course backbone's checkpoint, read with
    :func:`segedu.files.load`) into ``model.backbone`` of an FCN-8s, in place, and leaves the head alone.

    The checker calls ``function`` on a fresh FCN-8s and a copy of ``state_dict``, and diagnoses the usual
    mistakes: loading into the whole model (the names lack the ``backbone.`` prefix), ``strict=False`` that
    silently loads nothing, a new model built instead of the one given, a head that changed too.
    """
    if not_done(function):
        return failed(NOT_DONE, "define load_backbone_weights(model, state_dict)")
    problem = expect_function(function, "load_backbone_weights",
                              "check_backbone_loading(load_backbone_weights, checkpoint_state)")
    if problem is None:
        problem = _state_dict_problem(state_dict, "state_dict", "state_dict, meta = segedu.files.load(weights_file)")
    if problem is not None:
        return problem
    model = _fresh_model()
    own = model.backbone.state_dict()
    unfit = [name for name, tensor in state_dict.items() if name not in own or own[name].shape != tensor.shape]
    if unfit or len(state_dict) != len(own):
        name = unfit[0] if unfit else next(name for name in own if name not in state_dict)
        what = ("is not a name of it" if name not in own else f"has shape {tuple(state_dict[name].shape)}, not "
                f"{tuple(own[name].shape)}") if unfit else "is missing"
        return failed(f"state_dict is not a checkpoint of the course's backbone: {name} {what}",
                      "pass checkpoint_state, the state_dict read from the course's backbone file")
    before = copy.deepcopy(model.state_dict())
    head_names = [name for name in before if not name.startswith("backbone.")]
    try:
        returned = function(model, {name: tensor.clone() for name, tensor in state_dict.items()})
    except RuntimeError as error:
        text = str(error)
        if "Unexpected key" in text:
            return failed("load_state_dict on the whole model found names it does not know: the file's names "
                          f"('{next(iter(state_dict))}', ...) are the backbone's own, the model's start with "
                          "'backbone.'", "load into the part the file was saved from: model.backbone")
        if "Missing key" in text:
            return failed("the file holds no weights for the head, so a strict load of the whole model fails",
                          "load into model.backbone; the head starts from random weights")
        return failed(raised(error, "load_backbone_weights"),
                      "print a few names of state_dict and of model.state_dict() and compare them")
    except Exception as error:  # noqa: BLE001 - the learner's code: report it instead of crashing the notebook
        return failed(raised(error, "load_backbone_weights"), "try model.backbone.load_state_dict(state_dict)")
    if isinstance(returned, nn.Module) and returned is not model:
        return failed("the function returned another model: the one it was given is unchanged",
                      "load into the model passed as an argument (in place), do not build a new one")
    after = model.state_dict()
    changed_dtype = sorted(name for name in after if name in before and after[name].dtype != before[name].dtype)
    if changed_dtype:
        return failed(f"the model's tensors changed dtype (e.g. {changed_dtype[0]} is now "
                      f"{after[changed_dtype[0]].dtype}): it can no longer read the course's float32 images",
                      "load the weights only; do not call .double() or .to(dtype) on the model")
    backbone = {name.removeprefix("backbone."): tensor for name, tensor in after.items() if name.startswith("backbone.")}
    if _same(after, before):
        keys = getattr(returned, "unexpected_keys", None)
        if keys:
            return failed(f"nothing was loaded: with strict=False, load_state_dict skipped all {len(keys)} names, "
                          "none of which is a name of the model", "load into model.backbone, whose names are the "
                          "file's, and keep strict=True: then a mismatch raises instead of passing silently")
        return failed("not done yet, or nothing was loaded: the model's weights did not change",
                      "load the tensors into the part of the model they were saved from (its backbone)")
    if not all(torch.equal(after[name], before[name]) for name in head_names):
        return failed("the head's weights changed too: only the backbone was pretrained",
                      "load into model.backbone and leave the rest of the model as it is")
    if backbone.keys() != state_dict.keys() or not all(torch.equal(backbone[n], state_dict[n]) for n in state_dict):
        differ = [n for n in state_dict if n not in backbone or not torch.equal(backbone[n], state_dict[n])]
        return failed(f"{len(differ)} of the backbone's {len(state_dict)} tensors differ from the file's "
                      f"(e.g. {differ[0]})", "load every tensor of the file: model.backbone.load_state_dict(state_dict)")
    values = sum(tensor.numel() for tensor in state_dict.values())
    head = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("backbone."))
    return passed(f"the backbone holds the file's {len(state_dict)} tensors ({values:,} numbers, BatchNorm's running "
                  f"statistics included); the head's {head:,} parameters keep their random start")


# -- what a frozen backbone still changes ----------------------------------------------------------------------


def changed_tensors(backbone: nn.Module, start: dict) -> set[str]:
    """Names of ``backbone.state_dict()`` entries that differ from ``start`` (the state it started from)."""
    return {name for name, tensor in backbone.state_dict().items()
            if name not in start or not torch.equal(tensor.cpu(), start[name].cpu())}


@checker
def check_frozen_changes(answer, model: nn.Module, start: dict) -> CheckResult:
    """Check ``answer``: the names of the tensors of ``model.backbone`` (frozen, then trained) that differ from
    ``start``, the checkpoint's state_dict it was built from. Names with a ``backbone.`` prefix are accepted."""
    if not_done(answer):
        return failed(NOT_DONE, "compare frozen_model.backbone.state_dict() with the checkpoint's state_dict, "
                                "name by name (torch.equal)")
    backbone = getattr(model, "backbone", None) if isinstance(model, nn.Module) else None
    if not isinstance(backbone, nn.Module):
        return failed("the model has no .backbone", "pass frozen_model, the model trained with a frozen backbone")
    problem = _state_dict_problem(start, "start", "pass checkpoint_state, the state_dict the backbone was built from")
    if problem is not None:
        return problem
    chosen, problem = _names(answer, "tensor names")
    if problem is not None:
        return problem
    chosen = {name.removeprefix("backbone.") for name in chosen}
    expected = changed_tensors(backbone, start)
    parameters = {name for name, _ in backbone.named_parameters()}
    if chosen == expected:
        kinds = sorted({name.rsplit(".", 1)[-1] for name in expected})
        if expected and not expected & parameters:
            return passed(f"{len(expected)} tensors changed, none of them a weight: only {', '.join(kinds)} of the "
                          f"BatchNorm layers. requires_grad=False stops the optimiser, not the running averages "
                          f"that BatchNorm updates on every batch in training mode")
        return passed(f"{len(expected)} tensors changed ({', '.join(kinds) or 'none'})")
    unknown = sorted(chosen - set(backbone.state_dict()))
    if unknown:
        return failed(f"{unknown[0]} is not a name of the backbone's state_dict",
                      "take the names from frozen_model.backbone.state_dict()")
    if not chosen and expected:
        return failed("you found no change, but some tensors did change: model.parameters() holds only the "
                      "weights and biases", "compare the whole state_dict(): it also holds BatchNorm's buffers")
    if chosen & parameters - expected:
        return failed(f"{sorted(chosen & parameters - expected)[0]} is a frozen parameter: it did not change",
                      "list only the names whose tensors differ (torch.equal is False)")
    missing = expected - chosen
    if missing and all(name.endswith("num_batches_tracked") for name in missing):
        return failed("the num_batches_tracked counters changed too (each counts the batches BatchNorm has seen)",
                      "compare every entry of the state_dict, integer ones included, with torch.equal")
    if chosen - expected:
        return failed(f"{sorted(chosen - expected)[0]} did not change", "keep only the names whose tensors differ")
    return failed(f"{len(missing)} changed tensors are missing, e.g. {sorted(missing)[0]}",
                  "compare every entry of frozen_model.backbone.state_dict() with the checkpoint's")
