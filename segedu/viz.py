"""Pictures: masks over images, predictions and their errors, training curves, confusion.

The one idea: a mask is drawn by painting each pixel with its class's colour over the image
(:func:`overlay`), and a prediction is judged by comparing it with the truth pixel by pixel
(:func:`error_map`: white where right, red where wrong, grey where the truth says "ignore").
Everything else arranges such pictures in a grid.

Every function returns a ``matplotlib.figure.Figure`` that pyplot no longer tracks: a notebook
shows it exactly once when it is the cell's last value, ``display(fig)`` shows it from inside a
loop, an ``interact`` callback can return it, and ``fig.savefig(path)`` writes it. ``plt.show()``
does *not* show it. Nothing here calls ``plt.show()``, so it also works headless (Agg backend).

Overlays use ``torchvision.utils.draw_segmentation_masks`` with the dataset's palette at
80% opacity (the synthetic images are colourful: a fainter overlay mixes with them and
becomes hard to read). Colours, image conversion and the figure grid are in
:mod:`segedu.helpers.drawing`, which a first reading can skip.
"""

from __future__ import annotations

import math

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torchvision.utils import draw_segmentation_masks

from segedu.helpers.drawing import (
    add_legend,
    as_batch,
    check_palette,
    default_palette,
    image_grid,
    new_figure,
    resolve_palette,
    show_image,
    to_uint8_image,
)
from segedu.metrics import IGNORE_INDEX, ConfusionMatrix
from segedu.train import predict

__all__ = ["IGNORE_COLOUR", "RIGHT_COLOUR", "WRONG_COLOUR", "compare_models", "default_palette", "error_map",
           "new_figure", "overlay", "plot_confusion", "plot_history", "show_batch", "show_predictions",
           "to_uint8_image"]

IGNORE_COLOUR = (160, 160, 160)
RIGHT_COLOUR = (255, 255, 255)
WRONG_COLOUR = (200, 0, 0)  # no class colour is red (segedu.data.tracks.CLASS_COLOURS)


def overlay(image: torch.Tensor, mask: torch.Tensor, palette, alpha: float = 0.8,
            background: bool = True) -> torch.Tensor:
    """Classes of ``mask`` (int ``H x W``) painted over ``image`` (``3 x H x W``) -> uint8 ``3 x H x W``.

    Class ``c`` pixels become ``(1 - alpha) * image + alpha * palette[c]`` (ignored pixels,
    255, use :data:`IGNORE_COLOUR`). ``background=False`` leaves class 0 unpainted.
    """
    image, mask = to_uint8_image(image), mask.detach().cpu()
    if mask.shape != image.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} and image {tuple(image.shape[-2:])} differ in size")
    check_palette(mask, palette)
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


def show_batch(images, masks=None, palette=None, class_names=None, max_images: int = 8) -> Figure:
    """Images (top row) and their masks over them (bottom row).

    Args:
        images: ``N x 3 x H x W`` (or a dict from ``dataset.batch(...)``, masks included).
        masks: int ``N x H x W`` or None (images only).
        palette: one (r, g, b) per class, e.g. ``dataset.palette``; default :func:`default_palette`.
        class_names: legend labels, e.g. ``dataset.classes``.
        max_images: show at most this many.
    """
    images, masks = as_batch(images, masks, max_images)
    palette = resolve_palette(palette, class_names, masks)
    figure, axes = image_grid(1 if masks is None else 2, images.shape[0])
    for i, image in enumerate(images):
        show_image(axes[0, i], to_uint8_image(image))
        axes[0, i].set_title(f"image {i}", fontsize="small")
        if masks is not None:
            show_image(axes[1, i], overlay(image, masks[i], palette))
    axes[0, 0].set_ylabel("image")
    if masks is not None:
        axes[1, 0].set_ylabel("mask")
        add_legend(figure, palette, class_names, _ignored_entry(masks))
    return figure


def show_predictions(model_or_predictions, images, masks, palette=None, class_names=None,
                     max_images: int = 6) -> Figure:
    """One column per image; rows: image, true mask, predicted mask, error map (red = wrong).

    ``model_or_predictions``: a model (run with :func:`segedu.train.predict`), class ids
    ``N x H x W`` or logits ``N x C x H x W``. Column titles give each image's pixel accuracy.
    """
    images, masks = as_batch(images, masks, max_images)
    predictions = _predictions(model_or_predictions, images)[: images.shape[0]]
    palette = resolve_palette(palette, class_names, masks, predictions)
    figure, axes = image_grid(4, images.shape[0])
    for i, image in enumerate(images):
        labelled = masks[i] != IGNORE_INDEX
        accuracy = float((predictions[i] == masks[i])[labelled].float().mean()) if labelled.any() else math.nan
        axes[0, i].set_title(f"image {i}: {accuracy:.0%} right", fontsize="small")
        show_image(axes[0, i], to_uint8_image(image))
        show_image(axes[1, i], overlay(image, masks[i], palette))
        show_image(axes[2, i], overlay(image, predictions[i], palette))
        show_image(axes[3, i], error_map(predictions[i], masks[i]))
    for row, label in enumerate(("image", "truth", "prediction", "errors")):
        axes[row, 0].set_ylabel(label)
    add_legend(figure, palette, class_names, {**_ignored_entry(masks), "error": WRONG_COLOUR})
    return figure


def compare_models(models: dict, images, masks, palette=None, class_names=None, max_images: int = 6) -> Figure:
    """Several models on the same images: rows image, truth, then one row per model (labelled
    with its mIoU on these images only, which the label says: it is not a test-set score).
    ``models``: name -> model, or name -> predictions; ``images`` ``N x 3 x H x W`` and ``masks`` ``N x H x W``
    (or a batch dict), of which the first ``max_images`` are shown."""
    images, masks = as_batch(images, masks, max_images)
    predictions = {name: _predictions(model, images)[: images.shape[0]] for name, model in models.items()}
    palette = resolve_palette(palette, class_names, masks, *predictions.values())
    figure, axes = image_grid(2 + len(models), images.shape[0])
    for i, image in enumerate(images):
        show_image(axes[0, i], to_uint8_image(image))
        show_image(axes[1, i], overlay(image, masks[i], palette))
        axes[0, i].set_title(f"image {i}", fontsize="small")
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("truth")
    for row, (name, predicted) in enumerate(predictions.items(), start=2):
        miou = ConfusionMatrix(len(palette)).update(predicted, masks).miou()
        for i, image in enumerate(images):
            show_image(axes[row, i], overlay(image, predicted[i], palette))
        axes[row, 0].set_ylabel(f"{name}\nmIoU {miou:.2f}\non these {images.shape[0]}")
    add_legend(figure, palette, class_names, _ignored_entry(masks))
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
    class, which fraction went where"); numbers are written in cells up to 12 classes. One
    convention for every cell: blank means no pixel at all, and a share that would round to
    0.00 but has pixels is written "<.01", so no cell reads "0.00".
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
    ax.set_title("confusion (row-normalised; blank: no pixel)" if normalize else "confusion (pixels; blank: none)")
    if size <= 12:  # write the numbers; cells with no pixel at all stay blank
        top = float(matrix.max()) or 1.0
        for t, p in (confusion_counts > 0).nonzero().tolist():
            value = float(matrix[t, p])
            text = f"{value:.0f}" if not normalize else f"{value:.2f}" if value >= 0.005 else "<.01"
            ax.text(p, t, text, ha="center", va="center", fontsize="x-small",
                    color="white" if value > 0.6 * top else "black")
    return figure


def _predictions(model_or_predictions, images: torch.Tensor) -> torch.Tensor:
    """Class ids ``N x H x W`` from a model (run on ``images``), from ids, or from logits ``N x C x H x W``."""
    if isinstance(model_or_predictions, torch.nn.Module):
        return predict(model_or_predictions, images)
    predictions = model_or_predictions.detach().cpu()
    if predictions.is_floating_point():  # logits N x C x H x W
        predictions = predictions.argmax(1)
    return predictions if predictions.dim() == 3 else predictions[None]


def _ignored_entry(masks: torch.Tensor) -> dict[str, tuple[int, int, int]]:
    """The legend entry of ignored pixels, when some mask has them."""
    return {"ignored (255)": IGNORE_COLOUR} if bool((masks == IGNORE_INDEX).any()) else {}
