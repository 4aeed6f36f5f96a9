"""The training loop: :func:`fit` and :func:`train_one_epoch`, which record what happened in a
:class:`~segedu.train.history.History`.

:func:`fit` is the textbook loop: each epoch is one pass over the shuffled training scenes
(forward, loss, backward, optimiser step, learning-rate step), then the mIoU on the validation
scenes; at the end the model holds the weights of its best epoch. How long it trains is a
number of optimiser steps (``epochs`` passes of ``ceil(len(train_data) / batch_size)`` steps),
never a number of seconds, so the same seed gives the same model on a fast, a slow or a busy
machine. The loss is "a standard cross-entropy summed over all the pixels":
:func:`pixel_cross_entropy`, averaged over the labelled pixels of a batch.

The pieces a first reading can skip (optimisers, schedules, the time estimate, argument checks)
are in :mod:`segedu.train.helpers`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from segedu.config import get_device, seed_everything
from segedu.metrics import IGNORE_INDEX
from segedu.train import helpers
from segedu.train.batches import collate, model_device, unpack
from segedu.train.evaluate import evaluate
from segedu.train.history import INTERRUPTED, History


def pixel_cross_entropy(logits: torch.Tensor, target: torch.Tensor, class_weights: torch.Tensor | None = None,
                        ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Cross-entropy over every labelled pixel: logits ``N x C x H x W``, target int64 ``N x H x W`` -> scalar.

    The mean over pixels whose label is not ``ignore_index`` (weighted by ``class_weights[label]``
    when given, a float tensor of ``C``). A batch in which every pixel is ignored (or, with
    ``class_weights``, every labelled pixel has weight 0) gives a loss of exactly 0 with a gradient
    of 0, not the NaN that ``F.cross_entropy`` returns (it divides by the pixels' total weight).
    """
    labelled = target != ignore_index
    if not bool(labelled.any()):
        return logits.sum() * 0.0
    if class_weights is not None and not bool(class_weights[target[labelled]].any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, target, weight=class_weights, ignore_index=ignore_index)


def fit(model: nn.Module, train_data, val_data=None, *, epochs: int, batch_size: int, lr: float,
        weight_decay: float = 1e-4, schedule: str | None = "onecycle", optimizer="adamw",
        loss: Callable | None = None, class_weights=None, aux_weight: float = 0.4, seed: int = 0,
        device=None, val_every: int = 1, max_seconds: float | None = None, progress: bool = True,
        num_workers: int = 0) -> History:
    """Train ``model`` on ``train_data`` for ``epochs`` passes and return the :class:`History`.

    Args:
        model: maps images ``N x 3 x H x W`` to logits ``N x C x H x W`` (or, in training mode,
            a dict ``{"out": logits, "aux": aux_logits}``: the loss is then main + ``aux_weight`` * aux).
        train_data: a Dataset of ``(image 3 x H x W float, mask H x W int64)`` pairs, shuffled
            each epoch by a generator seeded with ``seed`` (the last partial batch is kept).
        val_data: optional Dataset scored (mIoU) every ``val_every`` epochs and after the last;
            with it, the model ends up holding the weights of its best validation epoch.
        epochs, batch_size, lr, weight_decay: the usual.
        schedule: learning rate per step: "onecycle" (warm up, then anneal), "poly" (power 0.9),
            "cosine" or None (constant).
        optimizer: "adamw", "adam", "sgd" (momentum 0.9) or a callable ``(params, lr=, weight_decay=)``.
        loss: ``loss(logits, mask) -> scalar``; default :func:`pixel_cross_entropy` with ``class_weights``
            (a float sequence of ``C`` per-class weights).
        seed: seeds the initial shuffle, dropout and NumPy/Python; with the same thread count and torch
            version, a CPU run repeats bit for bit.
        device: where to train (the model is moved there); None picks CUDA, then MPS, then the CPU.
        max_seconds: optional time cap. It only stops training (``history.stopped_by == "time cap"``):
            the schedule never depends on the clock, and a stopped model is undertrained.
        progress: progress bars, and after the first steps a line with the expected training time.
        num_workers: DataLoader worker processes (0 = load in this process, safe everywhere).

    Returns:
        :class:`History`. Ctrl-C (or the notebook's stop button) ends training cleanly with
        ``history.stopped_by == "interrupted"``; the best weights so far are kept. If the loss
        becomes NaN, the best weights so far are restored before the error is raised.
    """
    helpers.check_fit_args(model, train_data, epochs, batch_size, lr, weight_decay, aux_weight, max_seconds,
                           val_every, loss, class_weights)
    device = device if isinstance(device, torch.device) else get_device(device)
    criterion = helpers.make_criterion(loss or pixel_cross_entropy, train_data, class_weights, device)
    loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, generator=seed_everything(seed),
                        num_workers=helpers.safe_num_workers(num_workers), collate_fn=collate)
    opt = helpers.make_optimizer(optimizer, model, lr, weight_decay)
    history = History(planned_steps=epochs * len(loader))
    scheduler = helpers.make_schedule(schedule, opt, lr, history.planned_steps)
    timer = helpers.Timer(history, max_seconds, progress)
    best = helpers.BestWeights()
    with helpers.on_device(model, device):
        try:
            for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=not progress):
                train_one_epoch(model, loader, opt, scheduler, criterion, history, timer, aux_weight,
                                desc=f"epoch {epoch}", progress=progress)
                if history.steps == 0 and not history.stopped_by:  # a whole epoch without a labelled pixel
                    raise helpers.nothing_to_learn(history)
                if val_data is None:
                    best.consider(model, None, epoch, history)
                elif epoch % val_every == 0 or epoch == epochs or history.stopped_by:
                    score = evaluate(model, val_data, batch_size=max(batch_size, 64)).miou
                    best.consider(model, score, epoch, history)
                if history.stopped_by:
                    break
        except KeyboardInterrupt:
            history.stopped_by = INTERRUPTED
        except FloatingPointError as error:
            best.restore(model, history)  # never hand back a model with non-finite weights
            if best.state is None:
                raise
            raise FloatingPointError(f"{error} The model now holds the weights of epoch {best.epoch}, "
                                     f"the best before it diverged.") from None
        best.restore(model, history)
    timer.report_stop()
    return history


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer, scheduler, criterion: Callable,
                    history: History, timer=None, aux_weight: float = 0.4, desc: str = "epoch",
                    progress: bool = False) -> None:
    """One pass over ``loader``: forward, loss, backward, optimiser step, learning-rate step.

    Appends the epoch's mean loss, steps, seconds and last learning rate to ``history`` (also
    when the pass is cut short by the time cap or Ctrl-C).
    """
    device = model_device(model)
    layout = torch.channels_last if device.type == "cpu" else torch.preserve_format  # see helpers.on_device
    model.train()
    loss_sum, images_seen, steps, lr, start = 0.0, 0, 0, None, helpers.clock()
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress)
    try:
        for images, masks in (unpack(batch)[:2] for batch in bar):
            helpers.check_batch(images, masks, first=history.steps == 0)
            images, masks = images.to(device, memory_format=layout), masks.to(device)
            if not bool((masks != IGNORE_INDEX).any()):
                history.skipped_batches += 1
                continue
            loss = helpers.batch_loss(model(images), masks, criterion, aux_weight)
            value = loss.item()
            if not math.isfinite(value):
                raise helpers.not_finite(value, history.steps, images, model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            history.steps += 1
            steps += 1
            loss_sum += value * len(images)
            images_seen += len(images)
            bar.set_postfix(loss=f"{value:.3f}")
            if timer is not None and timer.after_step():
                break
    finally:
        bar.close()
        if steps:
            history.train_loss.append(loss_sum / images_seen)
            history.val_miou.append(None)
            history.epoch_steps.append(steps)
            history.seconds.append(helpers.clock() - start)
            history.lr.append(lr)
