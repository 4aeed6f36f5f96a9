"""The pieces of :func:`segedu.train.fit` that a first reading can skip.

Optimisers and learning-rate schedules by name, the loss with its checks, the copy of the best
weights, the time estimate and the optional time cap, the CPU memory layout, argument checks.
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
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from segedu.metrics import check_target
from segedu.models.base import main_output
from segedu.train.evaluate import num_classes_of

if TYPE_CHECKING:
    from segedu.train.loop import History

SCHEDULES = ("onecycle", "poly", "cosine", None)
OPTIMIZERS = ("adamw", "adam", "sgd")
TIME_CAP = "time cap"
INTERRUPTED = "interrupted"

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
    argument), after checking that the model has one output channel per class of ``train_data``."""
    classes = num_classes_of(train_data)
    base = loss
    if class_weights is not None:
        weights = torch.as_tensor(class_weights, dtype=torch.float32, device=device)
        if classes is not None and weights.shape != (classes,):
            raise ValueError(f"class_weights needs one weight per class ({classes}), got {tuple(weights.shape)}")
        base = lambda logits, target: loss(logits, target, weights)  # noqa: E731

    def criterion(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if classes is not None and logits.shape[1] != classes:
            raise ValueError(f"The model outputs {logits.shape[1]} channels but the dataset has {classes} "
                             f"classes: build the model with num_classes={classes}.")
        return base(logits, target)

    return criterion


def batch_loss(output, masks: torch.Tensor, criterion: Callable, aux_weight: float) -> torch.Tensor:
    """The loss of one batch, after checking that the model's output fits the masks.

    ``output``: logits ``N x C x H x W`` or ``{"out": ..., "aux": ...}``; ``masks``: int ``N x H x W``.
    With an auxiliary output: ``criterion(out) + aux_weight * criterion(aux)`` (aux upsampled if smaller).
    """
    logits = main_output(output)
    check_target(masks, logits.shape[1])
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


def check_fit_args(train_data, epochs, batch_size, lr, aux_weight, max_seconds, val_every, loss,
                    class_weights) -> None:
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
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not aux_weight >= 0:
        raise ValueError(f"aux_weight must be >= 0, got {aux_weight!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive or None, got {max_seconds!r}")
    if loss is not None and class_weights is not None:
        raise ValueError("class_weights only applies to the default loss; put the weights in your own loss.")
