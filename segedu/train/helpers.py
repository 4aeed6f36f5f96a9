"""The pieces of :func:`segedu.train.fit` that a first reading can skip.

Optimisers and learning-rate schedules by name, the loss with its checks, the copy of the best
weights, the time estimate and the optional time cap, the CPU memory layout, and the checks of
the arguments, of each batch and of a loss that is not finite, each of which names the problem
and the fix.
"""

from __future__ import annotations

import contextlib
import copy
import math
import multiprocessing
import sys
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from segedu.helpers.masks import check_target
from segedu.metrics import IGNORE_INDEX
from segedu.models.base import main_output
from segedu.train.batches import num_classes_of
from segedu.train.history import TIME_CAP, History

SCHEDULES = ("onecycle", "poly", "cosine", None)
OPTIMIZERS = ("adamw", "adam", "sgd")

clock = time.perf_counter
"""The clock that :func:`segedu.train.fit` reads for its time cap and its time estimate (tests replace it)."""


class BestWeights:
    """The best validation score so far and a copy of the weights that made it (without validation
    data, ``score`` is None and the latest epoch counts as the best)."""

    def __init__(self):
        self.score, self.state, self.epoch = -math.inf, None, None

    def consider(self, model: nn.Module, score: float | None, epoch: int, history: History) -> None:
        if score is None or score > self.score:
            state = copy.deepcopy(model.state_dict())  # copied first: Ctrl-C here keeps the previous best
            self.score, self.state, self.epoch = (score if score is not None else -math.inf), state, epoch
        if score is not None and history.val_miou:
            history.val_miou[-1] = score

    def restore(self, model: nn.Module, history: History) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)
            history.best_epoch = self.epoch
        else:
            history.best_epoch = history.epochs or None


class Timer:
    """Tells the learner, after the first steps, how long training will take; stops at ``max_seconds``."""

    def __init__(self, history: History, max_seconds: float | None, progress: bool, estimate_after: int = 20):
        self.history, self.max_seconds, self.progress = history, max_seconds, progress
        self.estimate_after = min(estimate_after, max(history.planned_steps // 10, 1))
        self.start = clock()

    def after_step(self) -> bool:
        """Called after every step; True when the time cap says stop."""
        elapsed = clock() - self.start
        if self.progress and self.history.steps == self.estimate_after and self.history.planned_steps > self.estimate_after:
            total = elapsed / self.history.steps * self.history.planned_steps
            self._say(f"{self.history.steps} of {self.history.planned_steps} steps took {elapsed:.1f} s: training "
                      f"should take about {_duration(total)} on this machine (plus validation).")
        if self.max_seconds is not None and elapsed >= self.max_seconds:
            self.history.stopped_by = TIME_CAP
            return True
        return False

    def report_stop(self) -> None:
        if self.progress and self.history.stopped_by:
            self._say(f"Training was {'interrupted' if self.history.interrupted else 'stopped by the time cap'} "
                      f"after {self.history.steps} of {self.history.planned_steps} steps: the model is "
                      f"undertrained, and its scores are not those of the recipe.")

    @staticmethod
    def _say(text: str) -> None:
        tqdm.write(text)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


@contextlib.contextmanager
def on_device(model: nn.Module, device: torch.device):
    """Move ``model`` to ``device``. On the CPU, train in the channels-last memory layout (oneDNN's
    convolutions run about 1.2 to 1.3 times faster in it) and hand the model back in the usual one."""
    model.to(device)
    channels_last = device.type == "cpu"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)


def make_criterion(loss: Callable, train_data, class_weights, device) -> Callable:
    """``loss(logits, target)`` (given ``class_weights``, a float sequence of ``C``, as a third
    argument), after checking that the model has one output channel per class of ``train_data``
    and that the loss returns one differentiable number."""
    classes = num_classes_of(train_data)
    base = loss
    if class_weights is not None:
        weights = check_class_weights(class_weights, classes).to(device)
        base = lambda logits, target: loss(logits, target, weights)  # noqa: E731

    def criterion(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if classes is not None and logits.shape[1] != classes:
            raise ValueError(f"The model outputs {logits.shape[1]} channels but the dataset has {classes} "
                             f"classes: build the model with num_classes={classes}.")
        return check_loss_value(base(logits, target))

    return criterion


def check_class_weights(class_weights, classes: int | None) -> torch.Tensor:
    """``class_weights`` as a float32 tensor of ``C``, after checking that every weight is a finite
    number >= 0 and that at least one is positive (the weighted mean divides by their sum)."""
    try:
        weights = torch.as_tensor(class_weights, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"class_weights must be a sequence of numbers, one per class, got {class_weights!r}") from None
    if weights.dim() != 1 or (classes is not None and weights.shape != (classes,)):
        raise ValueError(f"class_weights needs one weight per class ({classes}), got {tuple(weights.shape)}")
    if not bool(torch.isfinite(weights).all()):
        raise ValueError(f"class_weights hold NaN or infinite values ({weights.tolist()}): give every class a finite "
                         f"weight >= 0 (1 is a class's normal weight, 0 leaves its pixels out of the loss).")
    if bool((weights < 0).any()):
        negative = [index for index, weight in enumerate(weights.tolist()) if weight < 0]
        raise ValueError(f"class_weights must be >= 0, got {weights.tolist()} (negative for class(es) {negative}): a "
                         f"negative weight would push the model away from that class. Use 0 to leave a class out.")
    if not bool((weights > 0).any()):
        raise ValueError(f"class_weights are all 0 ({weights.tolist()}): no pixel would count in the loss. Give "
                         f"the classes to learn a positive weight (1 is a class's normal weight).")
    return weights


def check_loss_value(value) -> torch.Tensor:
    """``value`` if it is what a loss must return (one number, as a tensor with a gradient); else a clear error."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"The loss returned a {type(value).__name__} ({value!r}), not a tensor: fit needs the "
                        f"torch scalar computed from the logits, so that backward() can find the gradients. "
                        f"Return the tensor itself (no .item() or float()).")
    if value.numel() != 1:
        raise ValueError(f"The loss returned a tensor of shape {tuple(value.shape)}, not one number: reduce it to "
                         f"a scalar, e.g. the default reduction='mean' of nn.CrossEntropyLoss(ignore_index=255), "
                         f"or .mean() of the per-pixel losses.")
    if not value.requires_grad and torch.is_grad_enabled():
        raise ValueError("The loss has no gradient: it does not depend on the model's weights. Compute it from "
                         "the logits with torch operations (not from argmax, .detach(), .item() or numpy).")
    return value


def check_batch(images: torch.Tensor, masks: torch.Tensor, first: bool = False) -> None:
    """Raise a clear error unless ``masks`` are class ids ``N x H x W`` of the images' size (``N x 3 x H x W``);
    the ``first`` batches (until one step was taken) must also have finite images."""
    if masks.dim() == 4:
        raise ValueError(f"The masks of a batch are {tuple(masks.shape)}: 4-D, one channel per class (one-hot?). "
                         f"fit needs one class id per pixel, N x H x W: convert each mask with mask.argmax(0) "
                         f"(and keep 255 where a pixel has no label).")
    if masks.dim() != 3:
        raise ValueError(f"The masks of a batch must be N x H x W class ids, got shape {tuple(masks.shape)}: each "
                         f"item's mask is H x W.")
    if images.dim() == 4 and images.shape[-2:] != masks.shape[-2:]:
        raise ValueError(f"The images of a batch are {images.shape[-2]} x {images.shape[-1]} but their masks "
                         f"{masks.shape[-2]} x {masks.shape[-1]}: mask pixel (i, j) labels image pixel (i, j), so "
                         f"both need the same size. Resize the masks (nearest-neighbour) or the images first.")
    if first and images.is_floating_point() and not bool(torch.isfinite(images).all()):
        raise ValueError(f"The first batch of images holds {int((~torch.isfinite(images)).sum())} NaN or infinite "
                         f"value(s): the data is broken, and training on it gives a loss of NaN. Check how the "
                         f"images are made or normalised (a division by zero?); torch.isfinite(image).all() finds them.")


def batch_loss(output, masks: torch.Tensor, criterion: Callable, aux_weight: float) -> torch.Tensor:
    """The loss of one batch, after checking that the model's output fits the masks.

    ``output``: logits ``N x C x H x W`` or ``{"out": ..., "aux": ...}``; ``masks``: int ``N x H x W``.
    With an auxiliary output: ``criterion(out) + aux_weight * criterion(aux)`` (aux upsampled if smaller).
    """
    logits = main_output(output)
    check_target(masks, logits.shape[1], IGNORE_INDEX)
    masks = masks.long()  # uint8 / int32 masks are fine; cross-entropy wants int64
    if logits.shape[-2:] != masks.shape[-2:]:
        raise ValueError(f"The logits size {tuple(logits.shape[-2:])} differs from the mask size "
                         f"{tuple(masks.shape[-2:])}: upsample the logits to the input size in the model.")
    value = criterion(logits, masks)
    if isinstance(output, dict) and output.get("aux") is not None and aux_weight > 0:
        aux = output["aux"]
        if aux.shape[-2:] != masks.shape[-2:]:
            aux = F.interpolate(aux, size=masks.shape[-2:], mode="bilinear", align_corners=False)
        value = value + aux_weight * criterion(aux, masks)
    return value


def not_finite(value: float, steps_done: int, images: torch.Tensor, model: nn.Module) -> FloatingPointError:
    """The error for a loss ``value`` that is NaN or infinite, with the cause it can find: the batch's images,
    weights that were never finite, the loss itself (before any update the learning rate cannot be the
    cause), or divergence."""
    where = f"The loss became {value} at step {steps_done + 1}"
    bad_pixels = int((~torch.isfinite(images)).sum())
    if bad_pixels:
        return FloatingPointError(f"{where}: the images of that batch hold {bad_pixels} NaN or infinite value(s), "
                                  f"so the data is broken, not the training. Check how the images are made or "
                                  f"normalised (a division by zero?); torch.isfinite(image).all() finds them.")
    finite_weights = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    if steps_done == 0 and not finite_weights:
        return FloatingPointError(f"{where}: the model's weights held NaN or infinite values before training "
                                  f"started. Build a new model, or load weights that are finite.")
    if steps_done == 0:
        return FloatingPointError(f"{where}, on the first batch, before any update: the learning rate is not the "
                                  f"cause, and the images and weights are finite. Check the loss function (a log "
                                  f"of 0, a division by a count that can be 0, class weights).")
    return FloatingPointError(f"{where}: training diverged. Try a smaller learning rate.")


def nothing_to_learn(history: History) -> ValueError:
    """The error for a first epoch in which every batch was skipped because all its pixels were ignored."""
    return ValueError(f"Every pixel of every training mask is the ignore label {IGNORE_INDEX} "
                      f"({history.skipped_batches} batches, not one labelled pixel): there is nothing to learn, and "
                      f"the model was not changed. Check the masks: class ids go from 0 to C - 1, and "
                      f"{IGNORE_INDEX} marks only the pixels that have no label.")


def make_optimizer(optimizer, model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("The model has no trainable parameters (all have requires_grad=False).")
    if callable(optimizer):
        return optimizer(parameters, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"Unknown optimizer {optimizer!r}: use one of {OPTIMIZERS} or a torch.optim class.")


def make_schedule(schedule, optimizer: torch.optim.Optimizer, lr: float, total_steps: int):
    """A per-step learning-rate scheduler over ``total_steps`` steps (None for a constant learning rate)."""
    if schedule is None:
        return None
    if schedule == "poly":  # the DeepLab / PSPNet "poly" policy: lr * (1 - step / total) ** 0.9
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: (1 - min(step, total_steps) / total_steps) ** 0.9)
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    raise ValueError(f"Unknown schedule {schedule!r}: use one of {SCHEDULES}.")


def safe_num_workers(requested: int) -> int:
    """Worker processes started by 'spawn' or 'forkserver' (Windows, macOS, Python 3.14+ on Linux)
    re-import ``__main__``, which fails for a dataset defined in a notebook; there, load in this process."""
    if requested <= 0:
        return 0
    interactive = not hasattr(sys.modules.get("__main__"), "__file__")
    if interactive and multiprocessing.get_context().get_start_method() != "fork":
        warnings.warn(f"num_workers={requested} does not work in a notebook on this platform; using 0.",
                      stacklevel=3)
        return 0
    return requested


def check_fit_args(model, train_data, epochs, batch_size, lr, weight_decay, aux_weight, max_seconds, val_every,
                   loss, class_weights) -> None:
    """Raise an error that names the problem and the fix for any argument of :func:`~segedu.train.fit`
    that cannot work."""
    if not isinstance(model, nn.Module):
        if isinstance(model, str):
            raise TypeError(f"fit() takes a model, not a model's name: build it first, e.g. "
                            f"model = segedu.models.build({model!r}, num_classes=...), then fit(model, ...).")
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(train_data, DataLoader):
        raise TypeError("fit() takes a Dataset, not a DataLoader: it makes its own (shuffled with your seed, "
                        "batch_size=...). Pass loader.dataset and the batch size.")
    if not hasattr(train_data, "__getitem__") or not hasattr(train_data, "__len__"):
        raise TypeError(f"train_data must be a Dataset of (image, mask) pairs, got {type(train_data).__name__}")
    if len(train_data) == 0:
        raise ValueError("train_data is empty (length 0): there is nothing to train on.")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("val_every", val_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not _is_number(lr) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not _is_number(weight_decay) or not 0 <= weight_decay < math.inf:
        raise ValueError(f"weight_decay must be a number >= 0 (0 turns it off; 1e-4 is the course's default), "
                         f"got {weight_decay!r}")
    if not _is_number(aux_weight) or not 0 <= aux_weight < math.inf:
        raise ValueError(f"aux_weight must be a number >= 0, got {aux_weight!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive or None, got {max_seconds!r}")
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a function loss(logits, mask) -> scalar tensor, e.g. "
                        f"nn.CrossEntropyLoss(ignore_index=255), got {loss!r}")
    if loss is not None and class_weights is not None:
        raise ValueError("class_weights only applies to the default loss; put the weights in your own loss.")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
