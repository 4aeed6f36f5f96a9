"""Train a segmentation model: :func:`fit` -> :class:`History`.

Also re-exports :func:`evaluate`, :func:`predict`, :class:`Scores` (from
:mod:`segedu.evaluate`) and :func:`save`, :func:`load` (from :mod:`segedu.checkpoint`), so a
notebook needs one import::

    from segedu.train import fit, evaluate, predict, save, load

Training is "a standard cross-entropy summed over all the pixels": the default loss is
:func:`pixel_cross_entropy`, averaged over the labelled pixels of a batch.
"""

from __future__ import annotations

import copy
import dataclasses
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

from segedu.checkpoint import load, save
from segedu.config import get_device, seed_everything
from segedu.evaluate import Scores, _unpack, evaluate, num_classes_of, predict
from segedu.metrics import IGNORE_INDEX, check_target
from segedu.models.base import main_output

__all__ = ["History", "Scores", "evaluate", "fit", "load", "pixel_cross_entropy", "predict", "save"]

SCHEDULES = ("poly", "onecycle", "cosine", None)
OPTIMIZERS = ("adamw", "adam", "sgd")


def pixel_cross_entropy(logits: torch.Tensor, target: torch.Tensor, class_weights: torch.Tensor | None = None,
                        ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Cross-entropy over every labelled pixel: logits ``N x C x H x W``, target int64 ``N x H x W`` -> scalar.

    The mean over pixels whose label is not ``ignore_index`` (weighted by ``class_weights[label]``
    when given, a float tensor of ``C``). A batch in which every pixel is ignored gives a
    loss of exactly 0 (with a gradient of 0), not the NaN that ``F.cross_entropy`` returns.
    """
    if not bool((target != ignore_index).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, target, weight=class_weights, ignore_index=ignore_index)


@dataclasses.dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch.

    Attributes:
        train_loss: mean training loss of each epoch.
        val_miou: validation mIoU after each epoch (None when not measured that epoch).
        seconds: wall time of each epoch's training steps (validation excluded).
        lr: learning rate used by the last step of each epoch.
        epoch_steps: optimisation steps taken in each epoch (fewer in an interrupted epoch).
        best_epoch: epoch number (counting from 1) whose weights the model holds at the end:
            the best validation mIoU when validation data was given, else the last epoch.
        interrupted: True if training was stopped with Ctrl-C / the stop button.
        out_of_time: True if ``max_seconds`` ended training early.
        skipped_batches: batches skipped because every pixel was ignored.
    """

    train_loss: list[float] = dataclasses.field(default_factory=list)
    val_miou: list[float | None] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    lr: list[float] = dataclasses.field(default_factory=list)
    epoch_steps: list[int] = dataclasses.field(default_factory=list)
    best_epoch: int | None = None
    interrupted: bool = False
    out_of_time: bool = False
    skipped_batches: int = 0

    @property
    def epochs(self) -> int:
        """Number of epochs recorded (an interrupted epoch counts)."""
        return len(self.train_loss)

    @property
    def total_seconds(self) -> float:
        """Training time summed over epochs (validation excluded)."""
        return float(sum(self.seconds))

    @property
    def best_val_miou(self) -> float | None:
        """The highest validation mIoU measured, or None."""
        measured = [value for value in self.val_miou if value is not None]
        return max(measured) if measured else None

    def plot(self, ax=None):
        """Plot loss and validation mIoU per epoch; returns the matplotlib Figure (see
        :func:`segedu.viz.plot_history`)."""
        from segedu.viz import plot_history

        return plot_history(self, ax=ax)

    def to_dict(self) -> dict:
        """A JSON-safe dict of every field."""
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(no epoch recorded)"
        parts = [f"{self.epochs} epochs, {sum(self.epoch_steps)} steps, {self.total_seconds:.1f} s",
                 f"train loss {self.train_loss[0]:.3f} -> {self.train_loss[-1]:.3f}"]
        if self.best_val_miou is not None:
            parts.append(f"best val mIoU {self.best_val_miou:.3f} at epoch {self.best_epoch}")
        if self.interrupted:
            parts.append("interrupted")
        if self.out_of_time:
            parts.append("stopped by max_seconds")
        return f"History({'; '.join(parts)})"


def _make_optimizer(optimizer, model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
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


def _make_schedule(schedule, optimizer: torch.optim.Optimizer, lr: float, total_steps: int):
    """A per-step learning-rate scheduler (or None for a constant learning rate)."""
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


def _safe_num_workers(requested: int) -> int:
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


def _check_args(epochs, batch_size, lr, aux_weight, max_seconds, val_every) -> None:
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("val_every", val_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if aux_weight < 0:
        raise ValueError(f"aux_weight must be >= 0, got {aux_weight!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive or None, got {max_seconds!r}")


def _batch_loss(output, masks: torch.Tensor, criterion: Callable, num_classes: int | None,
                aux_weight: float) -> torch.Tensor:
    """The loss of one batch, after checking that the model's output fits the masks.

    ``output``: logits ``N x C x H x W`` or ``{"out": ..., "aux": ...}``; ``masks``: int ``N x H x W``.
    With an auxiliary output: ``criterion(out) + aux_weight * criterion(aux)`` (aux upsampled if smaller).
    """
    logits = main_output(output)
    classes = num_classes if num_classes is not None else logits.shape[1]
    check_target(masks, classes)
    masks = masks.long()  # uint8 / int32 masks are fine; cross-entropy wants int64
    if logits.shape[1] != classes:
        raise ValueError(f"The model outputs {logits.shape[1]} channels but the dataset has {classes} "
                         f"classes: build the model with num_classes={classes}.")
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


def fit(model: nn.Module, train_data, val_data=None, *, epochs: int, batch_size: int, lr: float,
        optimizer="adamw", schedule: str | None = "poly", loss: Callable | None = None, aux_weight: float = 0.4,
        device=None, seed: int = 0, progress: bool = True, weight_decay: float = 1e-4,
        class_weights=None, max_seconds: float | None = None, val_every: int = 1,
        callback: Callable | None = None, num_workers: int = 0, amp: bool = True) -> History:
    """Train ``model`` on ``train_data`` and return the :class:`History`.

    Args:
        model: maps images ``N x 3 x H x W`` to logits ``N x C x H x W`` (or, in training mode,
            a dict ``{"out": logits, "aux": aux_logits}`` -- then loss = main + aux_weight * aux).
        train_data: a Dataset of ``(image 3 x H x W float, mask H x W int64)`` pairs; shuffled
            each epoch by a generator seeded with ``seed``.
        val_data: optional Dataset scored (mIoU) every ``val_every`` epochs and after the last.
            With it, the model ends up holding the weights of its best validation epoch.
        epochs, batch_size, lr: the usual; the last partial batch is kept.
        optimizer: "adamw", "adam", "sgd" (momentum 0.9) or a callable ``(params, lr=, weight_decay=)``.
        schedule: per-step learning-rate schedule: "poly" (power 0.9), "cosine", "onecycle" or None.
        loss: ``loss(logits, mask) -> scalar``; default :func:`pixel_cross_entropy` with ``class_weights``.
        device: where to train (moves the model); None picks CUDA, then MPS, then the CPU. On the
            CPU, training runs in the channels-last memory layout (faster there), and the model is
            handed back in the usual layout.
        seed: seeds torch/NumPy/Python (dropout, shuffling) so that a CPU run repeats exactly.
        progress: show tqdm progress bars (notebook widgets or text).
        weight_decay: passed to the optimizer.
        class_weights: float sequence of ``C`` per-class loss weights (default loss only).
        max_seconds: stop after this much training time, finishing the current step. When the
            steps will not all fit, the schedule advances with the clock instead of the steps, so a
            slow machine still ends training at a low learning rate.
        callback: called as ``callback(history)`` after each epoch; return True to stop.
        num_workers: DataLoader worker processes (0 = load in this process, safe everywhere).
        amp: use mixed precision (float16 autocast and gradient scaling) when training on CUDA.

    Returns:
        :class:`History`. Ctrl-C (or the notebook's stop button) ends training cleanly:
        ``history.interrupted`` is True and the best weights so far are restored.
    """
    _check_args(epochs, batch_size, lr, aux_weight, max_seconds, val_every)
    if len(train_data) == 0:
        raise ValueError("train_data is empty (length 0): there is nothing to train on.")
    if loss is not None and class_weights is not None:
        raise ValueError("class_weights only applies to the default loss; put the weights in your own loss.")
    device = device if isinstance(device, torch.device) else get_device(device)
    model.to(device)
    # oneDNN's CPU convolutions run faster on channels-last tensors (about 1.3x for U-Net's training
    # step on 2 cores); the model goes back to the usual layout when training ends.
    memory_format = torch.channels_last if device.type == "cpu" else torch.preserve_format
    model.to(memory_format=memory_format)
    num_classes = num_classes_of(train_data)
    if class_weights is not None:
        class_weights = torch.as_tensor(class_weights, dtype=torch.float32, device=device)
        if num_classes is not None and class_weights.shape != (num_classes,):
            raise ValueError(f"class_weights needs one weight per class ({num_classes}), got {tuple(class_weights.shape)}")
    criterion = loss or (lambda logits, target: pixel_cross_entropy(logits, target, class_weights))

    generator = seed_everything(seed)
    loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, generator=generator, drop_last=False,
                        num_workers=_safe_num_workers(num_workers))
    opt = _make_optimizer(optimizer, model, lr, weight_decay)
    total_steps = epochs * len(loader)
    scheduler = _make_schedule(schedule, opt, lr, total_steps)
    scheduled = 0  # scheduler steps taken
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    history = History()
    best_score, best_state = -math.inf, None
    start = time.perf_counter()
    from tqdm.auto import tqdm

    epoch_bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    try:
        for epoch in epoch_bar:
            model.train()
            epoch_start, loss_sum, images_seen, steps, step_lr = time.perf_counter(), 0.0, 0, 0, lr
            step_bar = tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
            stop = False
            try:
                for batch in step_bar:
                    images, masks, _ = _unpack(batch)
                    images, masks = images.to(device, memory_format=memory_format), masks.to(device)
                    if not bool((masks != IGNORE_INDEX).any()):
                        history.skipped_batches += 1
                        continue
                    with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
                        value = _batch_loss(model(images), masks, criterion, num_classes, aux_weight)
                    loss_value = value.item()
                    if not math.isfinite(loss_value):
                        raise FloatingPointError(
                            f"The loss became {loss_value} at epoch {epoch + 1}, step {steps + 1}: "
                            f"training diverged. Try a smaller lr (now {lr}).")
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(value).backward()
                    scaler.step(opt)
                    scaler.update()
                    step_lr = opt.param_groups[0]["lr"]
                    if scheduler is not None and scheduled < total_steps:  # the clock may have run it to the end
                        due = scheduled + 1
                        if max_seconds is not None:
                            # On a machine too slow for the budget, the schedule follows the clock, so the
                            # learning rate has decayed when max_seconds stops training (not still at its peak).
                            due = max(due, int(total_steps * (time.perf_counter() - start) / max_seconds))
                        due = min(due, total_steps)
                        for _ in range(due - scheduled):
                            scheduler.step()
                        scheduled = due
                    steps += 1
                    loss_sum += loss_value * images.shape[0]
                    images_seen += images.shape[0]
                    step_bar.set_postfix(loss=f"{loss_value:.3f}")
                    if max_seconds is not None and time.perf_counter() - start >= max_seconds:
                        history.out_of_time = stop = True
                        break
            except KeyboardInterrupt:
                history.interrupted = stop = True
            finally:
                step_bar.close()
                if steps:
                    history.train_loss.append(loss_sum / images_seen)
                    history.seconds.append(time.perf_counter() - epoch_start)
                    history.lr.append(step_lr)
                    history.epoch_steps.append(steps)
                    history.val_miou.append(None)
            if not steps:  # interrupted at once, or every batch was fully ignored
                if stop:
                    break
                continue
            last = stop or epoch + 1 == epochs
            if val_data is not None and not history.interrupted and ((epoch + 1) % val_every == 0 or last):
                score = evaluate(model, val_data, batch_size=max(batch_size, 64)).miou
                history.val_miou[-1] = score
                if score > best_score:
                    best_score, best_state = score, copy.deepcopy(model.state_dict())
                    history.best_epoch = epoch + 1
                epoch_bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", val_miou=f"{score:.3f}")
            else:
                epoch_bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
            if callback is not None and callback(history):
                stop = True
            if stop:
                break
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        epoch_bar.close()
        if memory_format is torch.channels_last:
            model.to(memory_format=torch.contiguous_format)
    if best_state is not None:
        model.load_state_dict(best_state)
    elif history.epochs:
        history.best_epoch = history.epochs
    return history
