"""Pretrain the small backbone on synthetic classification: the course's stand-in for ImageNet.

"Training can start from a network pretrained on a large-scale image classification data
set to compensate for the limited availability of segmentation ground truth." Image labels
are cheap (one number per image) and masks are expensive; here the labels come from the
scene generator: each image shows a few objects of :data:`PRETRAIN_SHAPES` and is labelled
with the outline of its largest object. A backbone that learned to tell outlines apart is a
good start for segmenting them.

``python -m segedu.course.pretrain`` trains it and writes ``build/pretrained/small_backbone.pt``;
``--replace-course-weights`` (learner mode only) writes it over the course's weights instead,
``data/pretrained/small_backbone.pt``, the file the course ships and every notebook loads. Notebook 06
calls :func:`pretrain_backbone` with a smaller budget.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from segedu import __version__, config
from segedu.course.recipes import FAST
from segedu.data import SyntheticClassification, track_spec
from segedu.models import small_backbone_for_classification
from segedu.models.pretrained import course_weights_path, save_course_backbone

PRETRAIN_SHAPES = ("square", "cross", "box", "gear")
"""The outlines of the classification task. None of them is a class of the track the pretrained backbone is
then compared on (``shapes``: disks and triangles), so that the comparison measures transfer (outline features
learned on other shapes), not memory of the very classes it is tested on."""


@dataclasses.dataclass(frozen=True)
class PretrainResult:
    """What :func:`pretrain_backbone` returns: the trained classifier and how training went."""

    classifier: torch.nn.Module
    classes: tuple[str, ...]
    train_loss: list[float]
    val_accuracy: list[float]
    seconds: float
    images_seen: int
    images_per_epoch: int
    epochs: int
    size: int

    @property
    def backbone(self) -> torch.nn.Module:
        """The pretrained :class:`~segedu.models.backbones.SmallBackbone`."""
        return self.classifier.backbone


def classification_data(split: str, length: int, size: int = 64, seed: int = 0):
    """The classification view of the generator with :data:`PRETRAIN_SHAPES` (see :mod:`segedu.data`)."""
    spec = dataclasses.replace(track_spec("shapes"), shapes=PRETRAIN_SHAPES)
    return SyntheticClassification(split, size=size, length=length, seed=seed, spec=spec)


def accuracy(classifier: torch.nn.Module, data, batch_size: int = 256) -> float:
    """Fraction of ``data``'s images (``(image, label)`` pairs) whose label ``classifier`` predicts."""
    classifier.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in DataLoader(data, batch_size=batch_size):
            correct += int((classifier(images).argmax(1) == labels).sum())
    return correct / len(data)


def pretrain_backbone(images: int = 40_000, epochs: int = 4, batch_size: int = 64, lr: float = 3e-3,
                      size: int = 64, seed: int = 0, progress: bool = True) -> PretrainResult:
    """Train a :class:`~segedu.models.backbones.SmallBackboneClassifier` on ``images`` synthetic images.

    Each epoch draws ``images`` new training images (labels cost nothing); AdamW with a one-cycle schedule.
    Accuracy is measured on 1,000 validation images after every epoch. In fast mode the
    numbers shrink to a few batches. Returns a :class:`PretrainResult`.
    """
    for value, name in ((images, "images"), (epochs, "epochs"), (batch_size, "batch_size"), (size, "size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"pretrain_backbone: {name} must be a positive whole number, got {value!r}")
    if config.is_fast():
        images, epochs, size = min(images, 256), 1, FAST["image_size"]
    config.seed_everything(seed)
    val = classification_data("val", 256 if config.is_fast() else 1000, size)
    classifier = small_backbone_for_classification(len(val.classes))
    steps_per_epoch = -(-images // batch_size)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    losses, accuracies, start = [], [], time.perf_counter()
    for epoch in tqdm(range(epochs), desc="pretraining", disable=not progress):
        # Labels are free, so every epoch draws new images; read in order, because the
        # generator renders scenes in chunks and shuffled reads would re-render them.
        train = classification_data("train", images, size, seed=seed * epochs + epoch)
        loader = DataLoader(train, batch_size=batch_size)
        classifier.train()
        total, seen = 0.0, 0
        for images_batch, labels in tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not progress):
            loss = F.cross_entropy(classifier(images_batch), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(labels)
            seen += len(labels)
        losses.append(total / seen)
        accuracies.append(accuracy(classifier, val))
    return PretrainResult(classifier, val.classes, losses, accuracies, time.perf_counter() - start,
                          epochs * len(train), len(train), epochs, size)


def default_out() -> Path:
    """Where ``python -m segedu.course.pretrain`` writes unless told otherwise: ``build/pretrained/``."""
    return config.repo_root() / "build" / "pretrained" / "small_backbone.pt"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def output_path(out: str | None, replace_course_weights: bool) -> Path:
    """The file to write, or a ``SystemExit`` saying why not.

    The course's weights (:func:`~segedu.models.pretrained.course_weights_path`, shipped in the
    repository) are replaced only on purpose (``replace_course_weights``) and only in learner mode:
    a fast-mode backbone has seen 256 tiny images and would silently weaken notebook 06 and the
    leaderboard's pretraining rows.
    """
    shipped = course_weights_path().resolve()
    if replace_course_weights:
        if out is not None and Path(out).resolve() != shipped:
            raise SystemExit(f"--replace-course-weights writes {shipped}; drop --out {out}, or drop the flag.")
        if config.is_fast():
            raise SystemExit("--replace-course-weights is refused in fast mode (SEGEDU_FAST=1): the course's "
                             "weights are made in learner mode only. Unset SEGEDU_FAST.")
        return shipped
    path = Path(out) if out is not None else default_out()
    if path.resolve() == shipped:
        raise SystemExit(f"{path} holds the course's pretrained weights, which every notebook loads; to replace "
                         f"them on purpose, run in learner mode with --replace-course-weights (and no --out).")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segedu.course.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=_positive, default=40_000, help="training images drawn per epoch")
    parser.add_argument("--epochs", type=_positive, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help=f"file to write (default {default_out()})")
    parser.add_argument("--replace-course-weights", action="store_true",
                        help=f"write over the course's weights, {course_weights_path()} (learner mode only)")
    args = parser.parse_args(argv)
    path = output_path(args.out, args.replace_course_weights)
    result = pretrain_backbone(images=args.images, epochs=args.epochs, seed=args.seed)
    # The metadata says what was actually trained: fast mode shrinks every budget.
    save_course_backbone(
        result.backbone, path, task="synthetic classification", pretrained_on=list(result.classes),
        images=result.images_per_epoch, epochs=result.epochs, image_size=result.size, seed=args.seed,
        mode=config.mode(), val_accuracy=round(result.val_accuracy[-1], 4), seconds=round(result.seconds),
        segedu=__version__, torch=str(torch.__version__),
    )
    print(f"validation accuracy per epoch: {', '.join(f'{a:.3f}' for a in result.val_accuracy)}")
    print(f"{result.images_seen} images in {result.seconds / 60:.1f} min; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
