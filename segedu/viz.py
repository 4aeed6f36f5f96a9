"""Pictures: masks over images, predictions and their errors, training curves, confusion, IoU bars.

Every function returns a ``matplotlib.figure.Figure`` that pyplot no longer tracks (made by
pyplot, which sets up the notebook's inline display, then closed at once): a notebook shows
it exactly once when it is the cell's last value (an open pyplot figure returned from a
function is shown twice), ``display(fig)`` shows it from inside a loop, an ``interact``
callback can return it, and ``fig.savefig(path)`` writes it. ``plt.show()`` does *not* show
it. Nothing here calls ``plt.show()``, so it also works headless (Agg backend).

Overlays use ``torchvision.utils.draw_segmentation_masks`` with the dataset's palette at
80% opacity (the synthetic images are colourful: a fainter overlay mixes with them and
becomes hard to read); ignored pixels (255) are drawn in a neutral grey.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from torchvision.utils import draw_segmentation_masks

from segedu.metrics import IGNORE_INDEX, ConfusionMatrix

IGNORE_COLOUR = (160, 160, 160)
RIGHT_COLOUR = (255, 255, 255)
WRONG_COLOUR = (200, 0, 0)  # no class colour is red (segedu.data.tracks.CLASS_COLOURS)
_DEFAULT_COLOURS = [(64, 64, 64), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120)]


def default_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """``num_classes`` distinct (r, g, b) colours, background dark grey (used when no palette is given)."""
    colours = list(_DEFAULT_COLOURS[:num_classes])
    while len(colours) < num_classes:  # many classes: spread hues around the colour wheel
        hue = (len(colours) * 0.618034) % 1.0
        colours.append(tuple(int(255 * (0.5 + 0.45 * math.cos(2 * math.pi * (hue + k / 3)))) for k in range(3)))
    return colours


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


def _check_palette(mask: torch.Tensor, palette) -> None:
    labels = mask[mask != IGNORE_INDEX]
    if labels.numel() and int(labels.max()) >= len(palette):
        raise ValueError(f"The mask holds class {int(labels.max())} but the palette has only {len(palette)} "
                         f"colours: pass the dataset's palette (dataset.palette).")


def overlay(image: torch.Tensor, mask: torch.Tensor, palette, alpha: float = 0.8,
            background: bool = True) -> torch.Tensor:
    """Classes of ``mask`` (int ``H x W``) painted over ``image`` (``3 x H x W``) -> uint8 ``3 x H x W``.

    Class ``c`` pixels become ``(1 - alpha) * image + alpha * palette[c]`` (ignored pixels,
    255, use :data:`IGNORE_COLOUR`). ``background=False`` leaves class 0 unpainted.
    """
    image, mask = to_uint8_image(image), mask.detach().cpu()
    if mask.shape != image.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} and image {tuple(image.shape[-2:])} differ in size")
    _check_palette(mask, palette)
    labels = [c for c in range(0 if background else 1, len(palette)) if bool((mask == c).any())]
    colours = [tuple(palette[c]) for c in labels]
    regions = [mask == c for c in labels]
    if bool((mask == IGNORE_INDEX).any()):
        colours.append(IGNORE_COLOUR)
        regions.append(mask == IGNORE_INDEX)
    if not regions:
        return image
    return draw_segmentation_masks(image, torch.stack(regions), alpha=alpha, colors=colours)


def error_map(prediction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Where ``prediction`` (int ``H x W``) is right (white), wrong (red) or ignored (grey): uint8 ``3 x H x W``."""
    prediction, mask = prediction.detach().cpu(), mask.detach().cpu()
    picture = torch.empty(3, *mask.shape, dtype=torch.uint8)
    picture[:] = torch.tensor(RIGHT_COLOUR, dtype=torch.uint8).view(3, 1, 1)
    picture[:, prediction != mask] = torch.tensor(WRONG_COLOUR, dtype=torch.uint8).view(3, 1)
    picture[:, mask == IGNORE_INDEX] = torch.tensor(IGNORE_COLOUR, dtype=torch.uint8).view(3, 1)
    return picture


def _as_batch(images, masks):
    """Accept a batch dict, 3-D or 4-D images, 2-D or 3-D masks; return (N x 3 x H x W, N x H x W or None)."""
    if isinstance(images, dict):
        images, masks = images["image"], images.get("mask") if masks is None else masks
    if images.dim() == 3:
        images = images[None]
    if masks is not None and masks.dim() == 2:
        masks = masks[None]
    if masks is not None and masks.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {masks.shape[0]} masks")
    return images, masks


def _predictions(model_or_predictions, images: torch.Tensor) -> torch.Tensor:
    if isinstance(model_or_predictions, torch.nn.Module):
        from segedu.train import predict

        return predict(model_or_predictions, images)
    predictions = model_or_predictions.detach().cpu()
    if predictions.is_floating_point():  # logits N x C x H x W
        predictions = predictions.argmax(1)
    return predictions if predictions.dim() == 3 else predictions[None]


def new_figure(**options) -> Figure:
    """``plt.figure(**options)``, closed: shown once as a cell's value, never by the inline backend's
    end-of-cell flush (which would show it a second time)."""
    figure = plt.figure(**options)
    plt.close(figure)
    return figure


def _grid(rows: int, cols: int, cell: float = 1.7):
    figure = new_figure(figsize=(cell * cols + 0.6, cell * rows + 0.7), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return figure, axes


def _show(ax, picture: torch.Tensor) -> None:
    ax.imshow(picture.permute(1, 2, 0).numpy(), interpolation="nearest")


def _legend(figure, palette, class_names, with_ignore: bool, with_errors: bool = False) -> None:
    names = class_names or [f"class {c}" for c in range(len(palette))]
    handles = [Patch(color=[v / 255 for v in palette[c]], label=str(names[c])) for c in range(len(names))]
    if with_ignore:
        handles.append(Patch(color=[v / 255 for v in IGNORE_COLOUR], label="ignored (255)"))
    if with_errors:
        handles.append(Patch(color=[v / 255 for v in WRONG_COLOUR], label="error"))
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 8), fontsize="small")


def _setup(images, masks, max_images):
    images, masks = _as_batch(images, masks)
    return images[:max_images], (None if masks is None else masks[:max_images].cpu())


def _resolve_palette(palette, class_names, *label_maps):
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


def show_batch(images, masks=None, palette=None, class_names=None, max_images: int = 8) -> Figure:
    """Images (top row) and their masks over them (bottom row).

    Args:
        images: ``N x 3 x H x W`` (or a dict from ``dataset.batch(...)``, masks included).
        masks: int ``N x H x W`` or None (images only).
        palette: one (r, g, b) per class, e.g. ``dataset.palette``; default :func:`default_palette`.
        class_names: legend labels, e.g. ``dataset.classes``.
        max_images: show at most this many.
    """
    images, masks = _setup(images, masks, max_images)
    palette = _resolve_palette(palette, class_names, masks)
    figure, axes = _grid(1 if masks is None else 2, images.shape[0])
    for i, image in enumerate(images):
        _show(axes[0, i], to_uint8_image(image))
        axes[0, i].set_title(f"image {i}", fontsize="small")
        if masks is not None:
            _show(axes[1, i], overlay(image, masks[i], palette))
    axes[0, 0].set_ylabel("image")
    if masks is not None:
        axes[1, 0].set_ylabel("mask")
        _legend(figure, palette, class_names, bool((masks == IGNORE_INDEX).any()))
    return figure


def show_predictions(model_or_predictions, images, masks, palette=None, class_names=None,
                     max_images: int = 6) -> Figure:
    """One column per image; rows: image, true mask, predicted mask, error map (red = wrong).

    ``model_or_predictions``: a model (run with :func:`segedu.train.predict`), class ids
    ``N x H x W`` or logits ``N x C x H x W``. Column titles give each image's pixel accuracy.
    """
    images, masks = _setup(images, masks, max_images)
    predictions = _predictions(model_or_predictions, images)[: images.shape[0]]
    palette = _resolve_palette(palette, class_names, masks, predictions)
    figure, axes = _grid(4, images.shape[0])
    for i, image in enumerate(images):
        labelled = masks[i] != IGNORE_INDEX
        accuracy = float((predictions[i] == masks[i])[labelled].float().mean()) if labelled.any() else math.nan
        axes[0, i].set_title(f"image {i}: {accuracy:.0%} right", fontsize="small")
        _show(axes[0, i], to_uint8_image(image))
        _show(axes[1, i], overlay(image, masks[i], palette))
        _show(axes[2, i], overlay(image, predictions[i], palette))
        _show(axes[3, i], error_map(predictions[i], masks[i]))
    for row, label in enumerate(("image", "truth", "prediction", "errors")):
        axes[row, 0].set_ylabel(label)
    _legend(figure, palette, class_names, bool((masks == IGNORE_INDEX).any()), with_errors=True)
    return figure


def compare_models(models: dict, images, masks, palette=None, class_names=None, max_images: int = 6) -> Figure:
    """Several models on the same images: rows image, truth, then one row per model (labelled
    with its mIoU on these images). ``models``: name -> model, or name -> predictions."""
    images, masks = _setup(images, masks, max_images)
    predictions = {name: _predictions(model, images)[: images.shape[0]] for name, model in models.items()}
    palette = _resolve_palette(palette, class_names, masks, *predictions.values())
    figure, axes = _grid(2 + len(models), images.shape[0])
    for i, image in enumerate(images):
        _show(axes[0, i], to_uint8_image(image))
        _show(axes[1, i], overlay(image, masks[i], palette))
        axes[0, i].set_title(f"image {i}", fontsize="small")
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("truth")
    for row, (name, predicted) in enumerate(predictions.items(), start=2):
        miou = ConfusionMatrix(len(palette)).update(predicted, masks).miou()
        for i, image in enumerate(images):
            _show(axes[row, i], overlay(image, predicted[i], palette))
        axes[row, 0].set_ylabel(f"{name}\nmIoU {miou:.2f}")
    _legend(figure, palette, class_names, bool((masks == IGNORE_INDEX).any()))
    return figure


def plot_history(history, ax=None) -> Figure:
    """Training loss and validation mIoU per epoch.

    ``history``: a :class:`segedu.train.History`, or a dict name -> History to overlay runs.
    With ``ax=None`` the figure has two panels; with an Axes, loss goes on it and mIoU on
    a twin y axis (on the right).
    """
    runs = history if isinstance(history, dict) else {"": history}
    if ax is None:
        figure = new_figure(figsize=(9, 3.2), layout="constrained")
        loss_ax, miou_ax = figure.subplots(1, 2)
    else:
        figure, loss_ax = ax.figure, ax
        miou_ax = ax.twinx()
    for name, run in runs.items():
        epochs = list(range(1, len(run.train_loss) + 1))
        line, = loss_ax.plot(epochs, run.train_loss, marker="o", label=f"{name} train loss".strip())
        measured = [(e, v) for e, v in zip(epochs, run.val_miou, strict=False) if v is not None]
        if measured:
            style = "--" if ax is not None else "-"
            miou_ax.plot(*zip(*measured, strict=True), marker="s", linestyle=style, color=line.get_color(),
                         label=f"{name} val mIoU".strip())
    for axis in (loss_ax, miou_ax):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    miou_ax.set_ylabel("validation mIoU")
    if ax is None:
        loss_ax.set_title("training loss")
        miou_ax.set_title("validation mIoU")
        miou_ax.set_xlabel("epoch")
    for axis in (loss_ax, miou_ax):
        if axis.get_legend_handles_labels()[0] and (len(runs) > 1 or ax is not None):
            axis.legend(fontsize="small", loc="upper left" if axis is loss_ax else "lower right")
    return figure


def plot_confusion(confusion, class_names=None, normalize: bool = True) -> Figure:
    """The confusion matrix as a heat map (rows truth, columns prediction).

    ``confusion``: a :class:`~segedu.metrics.ConfusionMatrix`, a ``Scores`` or a ``C x C`` tensor.
    ``normalize``: divide each row by its total (each row then reads "of the pixels of this
    class, which fraction went where"); numbers are written in cells up to 12 classes.
    """
    if hasattr(confusion, "confusion"):  # Scores
        class_names = class_names or confusion.class_names
        confusion = confusion.confusion
    confusion_counts = confusion.matrix if isinstance(confusion, ConfusionMatrix) else torch.as_tensor(confusion)
    matrix = confusion_counts.double()
    size = matrix.shape[0]
    names = list(class_names) if class_names is not None else [f"class {c}" for c in range(size)]
    if normalize:
        matrix = matrix / matrix.sum(1, keepdim=True).clamp_min(1)
    figure = new_figure(figsize=(1.0 + 0.55 * size + 1.5, 0.8 + 0.55 * size + 1.0), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(matrix.numpy(), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(size), names, rotation=45, ha="right")
    ax.set_yticks(range(size), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("confusion (row-normalised)" if normalize else "confusion (pixels)")
    if size <= 12:  # write the numbers; cells with no pixel at all stay blank
        top = float(matrix.max()) or 1.0
        for t, p in (confusion_counts > 0).nonzero().tolist():
            value = float(matrix[t, p])
            ax.text(p, t, f"{value:.2f}" if normalize else f"{value:.0f}", ha="center", va="center",
                        fontsize="x-small", color="white" if value > 0.6 * top else "black")
    return figure


def plot_class_iou(scores) -> Figure:
    """Horizontal bars of IoU per class; ``scores``: a ``Scores`` or a dict name -> Scores (grouped bars).
    Classes absent from truth and prediction are marked "absent" instead of a bar."""
    runs = scores if isinstance(scores, dict) else {"": scores}
    names = list(next(iter(runs.values())).class_iou)
    height = 0.8 / len(runs)
    figure = new_figure(figsize=(6, 0.9 + 0.35 * len(names) * max(1, len(runs) * 0.6)), layout="constrained")
    ax = figure.subplots()
    for k, (run_name, run) in enumerate(runs.items()):
        offsets = [c - 0.4 + height * (k + 0.5) for c in range(len(names))]
        values = [run.class_iou.get(name) for name in names]
        label = f"{run_name} (mIoU {run.miou:.2f})" if run_name else f"mIoU {run.miou:.2f}"
        ax.barh(offsets, [v or 0.0 for v in values], height=height, label=label)
        for y, value in zip(offsets, values, strict=True):
            if value is None:
                ax.text(0.01, y, "absent", va="center", fontsize="x-small", color="grey")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("IoU")
    ax.set_title("IoU per class")
    ax.legend(fontsize="small", loc="lower right")
    return figure
