"""What :func:`segedu.train.fit` returns: the :class:`History` of a training run."""

from __future__ import annotations

import dataclasses

TIME_CAP = "time cap"
INTERRUPTED = "interrupted"


@dataclasses.dataclass
class History:
    """What happened during :func:`~segedu.train.fit`. ``segedu.viz.plot_history(history)`` draws it.

    Attributes:
        planned_steps: the optimiser steps the plan asked for (``epochs * steps per epoch``).
        steps: the optimiser steps taken (fewer only if training was stopped).
        train_loss: mean training loss of each epoch (an epoch cut short counts).
        val_miou: validation mIoU after each epoch (None when not measured that epoch).
        epoch_steps: optimiser steps of each epoch.
        seconds: wall time of each epoch's training steps (validation excluded).
        lr: learning rate of the last step of each epoch.
        best_epoch: the epoch (from 1) whose weights the model holds at the end: the best
            validation mIoU when validation data was given, else the last epoch.
        stopped_by: None when every planned step ran; ``"time cap"`` (``max_seconds``) or
            ``"interrupted"`` (Ctrl-C, the notebook's stop button) otherwise.
        skipped_batches: batches skipped because every pixel was ignored.
    """

    planned_steps: int = 0
    steps: int = 0
    train_loss: list[float] = dataclasses.field(default_factory=list)
    val_miou: list[float | None] = dataclasses.field(default_factory=list)
    epoch_steps: list[int] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    lr: list[float] = dataclasses.field(default_factory=list)
    best_epoch: int | None = None
    stopped_by: str | None = None
    skipped_batches: int = 0

    @property
    def completed(self) -> bool:
        """True when training ran every planned step: only then are its scores the recipe's."""
        return self.stopped_by is None and self.steps + self.skipped_batches >= self.planned_steps

    @property
    def interrupted(self) -> bool:
        return self.stopped_by == INTERRUPTED

    @property
    def out_of_time(self) -> bool:
        return self.stopped_by == TIME_CAP

    @property
    def epochs(self) -> int:
        """Number of epochs recorded (an epoch cut short counts)."""
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

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(no epoch recorded)"
        parts = [f"{self.epochs} epochs, {self.steps} of {self.planned_steps} steps, {self.total_seconds:.1f} s",
                 f"train loss {self.train_loss[0]:.3f} -> {self.train_loss[-1]:.3f}"]
        if self.best_val_miou is not None:
            parts.append(f"best val mIoU {self.best_val_miou:.3f} at epoch {self.best_epoch}")
        if self.stopped_by:
            parts.append(f"stopped by the {self.stopped_by}: undertrained" if self.out_of_time
                         else "interrupted: undertrained")
        return f"History({'; '.join(parts)})"
