"""The plumbing of :mod:`segedu.viz`: colours, images for display, batches, and the figure grid.

Every figure is made by :func:`new_figure`: a ``matplotlib.figure.Figure`` that pyplot no longer
tracks (made by pyplot, which sets up the notebook's inline display, then closed at once), so
that a notebook shows it exactly once.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from segedu.metrics import IGNORE_INDEX

_DEFAULT_COLOURS = [(64, 64, 64), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120)]


def default_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """``num_classes`` distinct (r, g, b) colours, background dark grey (used when no palette is given)."""
    colours = list(_DEFAULT_COLOURS[:num_classes])
    while len(colours) < num_classes:  # many classes: spread hues around the colour wheel
        hue = (len(colours) * 0.618034) % 1.0
        colours.append(tuple(int(255 * (0.5 + 0.45 * math.cos(2 * math.pi * (hue + k / 3)))) for k in range(3)))
    return colours


def resolve_palette(palette, class_names, *label_maps) -> list[tuple[int, int, int]]:
    """The palette to draw with: the given one, else a default one sized by the class names or labels."""
    if palette is None:
        count = len(class_names) if class_names else 2
        for labels in label_maps:
            if labels is not None and bool((labels != IGNORE_INDEX).any()):
                count = max(count, int(labels[labels != IGNORE_INDEX].max()) + 1)
        palette = default_palette(count)
    if class_names is not None and len(class_names) != len(palette):
        raise ValueError(f"{len(class_names)} class names but {len(palette)} palette colours")
    return [tuple(int(v) for v in colour) for colour in palette]


def check_palette(mask: torch.Tensor, palette) -> None:
    """Raise a clear error if ``mask`` holds a class that ``palette`` has no colour for."""
    labels = mask[mask != IGNORE_INDEX]
    if labels.numel() and int(labels.max()) >= len(palette):
        raise ValueError(f"The mask holds class {int(labels.max())} but the palette has only {len(palette)} "
                         f"colours: pass the dataset's palette (dataset.palette).")


def to_uint8_image(image: torch.Tensor) -> torch.Tensor:
    """An image for display: ``3 x H x W`` (or ``1 x H x W``) float in [0, 1] or uint8 -> uint8 ``3 x H x W``.

    Float images outside [0, 1] (e.g. normalised with ImageNet statistics) are rescaled
    to their own min..max.
    """
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"An image must be 3 x H x W or 1 x H x W, got shape {tuple(image.shape)}")
    image = image.detach().cpu()
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    if image.dtype == torch.uint8:
        return image.clone()
    image = image.float()
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:
        image = (image - low) / max(high - low, 1e-8)
    return (image * 255).round().to(torch.uint8)


def as_batch(images, masks, max_images: int):
    """Accept a batch dict, 3-D or 4-D images, 2-D or 3-D masks; return at most ``max_images`` of them as
    ``(N x 3 x H x W, N x H x W on the CPU or None)``."""
    if isinstance(images, dict):
        images, masks = images["image"], images.get("mask") if masks is None else masks
    if images.dim() == 3:
        images = images[None]
    if masks is not None and masks.dim() == 2:
        masks = masks[None]
    if masks is not None and masks.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {masks.shape[0]} masks")
    return images[:max_images], (None if masks is None else masks[:max_images].cpu())


def new_figure(**options) -> Figure:
    """``plt.figure(**options)``, closed: shown once as a cell's value, never by the inline backend's
    end-of-cell flush (which would show it a second time)."""
    figure = plt.figure(**options)
    plt.close(figure)
    return figure


def image_grid(rows: int, cols: int, cell: float = 1.7):
    """A figure of ``rows x cols`` axes without ticks, for pictures: ``(figure, axes[rows, cols])``."""
    figure = new_figure(figsize=(cell * cols + 0.6, cell * rows + 0.7), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return figure, axes


def show_image(ax, picture: torch.Tensor) -> None:
    """Draw a uint8 ``3 x H x W`` picture on ``ax``, one screen block per pixel."""
    ax.imshow(picture.permute(1, 2, 0).numpy(), interpolation="nearest")


def add_legend(figure, palette, class_names, extra: dict[str, tuple[int, int, int]]) -> None:
    """A legend below the pictures: one patch per class, then ``extra`` (label -> colour)."""
    names = class_names or [f"class {c}" for c in range(len(palette))]
    entries = [(str(names[c]), palette[c]) for c in range(len(names))] + list(extra.items())
    handles = [Patch(color=[v / 255 for v in colour], label=label) for label, colour in entries]
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8), fontsize="small")
