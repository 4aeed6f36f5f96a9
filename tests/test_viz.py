"""Figures: what they contain (axes, titles, legends, pixel colours), for binary and many-class masks."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from segedu import viz  # noqa: E402
from segedu.metrics import ConfusionMatrix  # noqa: E402
from segedu.train import History, Scores  # noqa: E402

PALETTE = [(40, 40, 40), (200, 0, 0), (0, 150, 250)]
NAMES = ("background", "disk", "wire")


def scene_batch(n=3, size=6):
    """Black images; class 1 in the top-left 2x2 block, class 2 at (4, 4), one ignored pixel at (5, 0)."""
    images = torch.zeros(n, 3, size, size)
    masks = torch.zeros(n, size, size, dtype=torch.long)
    masks[:, :2, :2] = 1
    masks[:, 4, 4] = 2
    masks[:, 5, 0] = 255
    return images, masks


def legend_labels(figure):
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def shown(ax):
    return torch.as_tensor(ax.images[0].get_array()).permute(2, 0, 1)


def test_overlay_paints_palette_colours_with_alpha_and_ignored_pixels_grey():
    images, masks = scene_batch(1)
    picture = viz.overlay(images[0], masks[0], PALETTE, alpha=0.8)
    assert picture.dtype == torch.uint8 and picture.shape == (3, 6, 6)
    assert picture[:, 0, 0].tolist() == pytest.approx([160, 0, 0], abs=1)  # 0.8 * (200, 0, 0) over black
    assert picture[:, 4, 4].tolist() == pytest.approx([0, 120, 200], abs=1)
    assert picture[:, 5, 0].tolist() == pytest.approx([128, 128, 128], abs=1)  # 0.8 * IGNORE_COLOUR
    assert picture[:, 3, 3].tolist() == pytest.approx([32, 32, 32], abs=1)  # background colour
    white = torch.ones(3, 6, 6)
    untouched = viz.overlay(white, masks[0], PALETTE, background=False)
    assert untouched[:, 3, 3].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match="palette has only 2 colours"):
        viz.overlay(images[0], masks[0], PALETTE[:2])


def test_error_map_marks_right_wrong_and_ignored_pixels():
    _, masks = scene_batch(1)
    prediction = masks[0].clone()
    prediction[5, 0] = 0
    prediction[0, 0] = 2
    picture = viz.error_map(prediction, masks[0])
    assert picture[:, 0, 0].tolist() == list(viz.WRONG_COLOUR)
    assert picture[:, 1, 1].tolist() == list(viz.RIGHT_COLOUR)
    assert picture[:, 5, 0].tolist() == list(viz.IGNORE_COLOUR)


def test_show_batch_has_image_and_mask_rows_a_legend_and_the_overlay_pixels():
    before = plt.get_fignums()
    images, masks = scene_batch(3)
    figure = viz.show_batch(images, masks, PALETTE, NAMES)
    assert isinstance(figure, Figure) and plt.get_fignums() == before  # not managed by pyplot
    axes = figure.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:3]] == ["image 0", "image 1", "image 2"]
    assert legend_labels(figure) == ["background", "disk", "wire", "ignored (255)"]
    mask_row = shown(axes[3])
    assert mask_row[:, 0, 0].tolist() == pytest.approx([160, 0, 0], abs=1)
    assert mask_row[:, 4, 4].tolist() == pytest.approx([0, 120, 200], abs=1)
    # a batch dict (as dataset.batch returns) works too, and images alone give one row
    assert len(viz.show_batch({"image": images, "mask": masks}, palette=PALETTE).axes) == 6
    assert len(viz.show_batch(images).axes) == 3


def test_show_predictions_has_four_rows_with_errors_and_accuracy_titles():
    images, masks = scene_batch(2)
    predictions = masks.clone()
    predictions[predictions == 255] = 0
    predictions[1, :2, :2] = 0  # image 1: the 4 disk pixels missed, 31 of 35 labelled pixels right
    figure = viz.show_predictions(predictions, images, masks, PALETTE, NAMES)
    axes = figure.axes
    assert len(axes) == 8
    assert [axes[i].get_ylabel() for i in (0, 2, 4, 6)] == ["image", "truth", "prediction", "errors"]
    assert axes[0].get_title() == "image 0: 100% right" and axes[1].get_title() == "image 1: 89% right"
    errors = shown(axes[7])
    assert errors[:, 0, 0].tolist() == list(viz.WRONG_COLOUR) and errors[:, 3, 3].tolist() == list(viz.RIGHT_COLOUR)
    assert legend_labels(figure)[-1] == "error"
    logits = nn.functional.one_hot(predictions, 3).permute(0, 3, 1, 2).float()
    same = viz.show_predictions(logits, images, masks, PALETTE, NAMES)
    assert torch.equal(shown(same.axes[7]), errors)


def test_show_predictions_runs_a_model_and_keeps_its_mode():
    images, masks = scene_batch(2)
    model = nn.Conv2d(3, 3, 1).train()
    figure = viz.show_predictions(model, images, masks, PALETTE, NAMES)
    assert len(figure.axes) == 8 and model.training


def test_binary_and_many_class_masks_render():
    images = torch.rand(2, 3, 8, 8)
    binary = (torch.rand(2, 8, 8) > 0.5).long()
    figure = viz.show_batch(images, binary, class_names=("background", "pet"))
    assert legend_labels(figure) == ["background", "pet"]
    many = torch.arange(64).view(8, 8).expand(2, 8, 8) % 25
    names = tuple(f"c{i}" for i in range(25))
    figure = viz.show_predictions(many, torch.zeros(2, 3, 8, 8), many, class_names=names)
    assert legend_labels(figure) == [*names, "error"]
    palette = viz.default_palette(25)
    assert len(set(palette)) == 25
    assert len({tuple(shown(figure.axes[2])[:, r, c].tolist()) for r in range(8) for c in range(8)}) == 25


def test_normalised_images_are_rescaled_for_display():
    image = torch.stack([torch.linspace(-2, 2, 16).view(4, 4)] * 3)
    picture = viz.to_uint8_image(image)
    assert picture.min() == 0 and picture.max() == 255
    assert viz.to_uint8_image(torch.full((1, 2, 2), 0.5)).shape == (3, 2, 2)
    with pytest.raises(ValueError, match="3 x H x W"):
        viz.to_uint8_image(torch.zeros(4, 2, 2))


def test_compare_models_has_a_row_per_model_labelled_with_its_miou():
    images, masks = scene_batch(2)
    perfect = masks.clone()
    perfect[perfect == 255] = 0
    figure = viz.compare_models({"perfect": perfect, "all background": torch.zeros_like(masks)},
                                images, masks, PALETTE, NAMES)
    assert len(figure.axes) == 8
    assert figure.axes[4].get_ylabel() == "perfect\nmIoU 1.00\non these 2"
    background_iou = 60 / 70  # 2 x 30 background pixels of 70 labelled; disk and wire IoU 0
    assert figure.axes[6].get_ylabel() == f"all background\nmIoU {background_iou / 3:.2f}\non these 2"


def make_history(losses, mious):
    return History(train_loss=losses, val_miou=mious, seconds=[1.0] * len(losses), lr=[0.1] * len(losses),
                   epoch_steps=[2] * len(losses), best_epoch=1)


def test_plot_history_two_panels_one_axes_or_several_runs():
    history = make_history([1.0, 0.5, 0.4], [0.2, None, 0.6])
    figure = viz.plot_history(history)
    loss_ax, miou_ax = figure.axes
    assert (loss_ax.get_title(), miou_ax.get_title()) == ("training loss", "validation mIoU")
    assert list(loss_ax.lines[0].get_ydata()) == [1.0, 0.5, 0.4]
    assert list(miou_ax.lines[0].get_xdata()) == [1, 3]  # the unmeasured epoch is skipped
    figure = viz.plot_history({"a": history, "b": make_history([2.0, 1.0], [0.1, 0.3])})
    assert len(figure.axes[0].lines) == 2 and [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == [
        "a train loss", "b train loss"]
    own = Figure()
    ax = own.subplots()
    assert viz.plot_history(history, ax=ax) is own and len(own.axes) == 2  # mIoU on a twin axis


def test_plot_confusion_labels_and_numbers():
    confusion = ConfusionMatrix(3)
    confusion.update(torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 0, 1, 1, 2, 2]))
    figure = viz.plot_confusion(confusion, NAMES)
    ax = figure.axes[0]
    assert ax.get_title() == "confusion (row-normalised; blank: no pixel)"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(NAMES)
    assert sorted(t.get_text() for t in ax.texts) == ["0.50", "0.50", "1.00", "1.00"]  # empty cells blank
    counts = viz.plot_confusion(confusion.matrix, normalize=False).axes[0]
    assert sorted(t.get_text() for t in counts.texts) == ["1", "1", "2", "2"]


def test_plot_confusion_never_writes_zero_for_a_cell_with_pixels():
    truth = torch.zeros(1001, dtype=torch.long)
    predicted = truth.clone()
    predicted[0] = 1  # 1 pixel of 1001: a share of 0.001, which would round to 0.00
    confusion = ConfusionMatrix(3).update(predicted, truth)
    texts = sorted(t.get_text() for t in viz.plot_confusion(confusion, NAMES).axes[0].texts)
    assert texts == ["1.00", "<.01"]  # row 0: 0.999 and 0.001; rows 1 and 2 have no pixel, so they stay blank
    counts = viz.plot_confusion(confusion, NAMES, normalize=False).axes[0]
    assert sorted(t.get_text() for t in counts.texts) == ["1", "1000"] and "blank: none" in counts.get_title()


def scores_for(class_iou, miou):
    return Scores(miou=miou, pixel_accuracy=0.9, class_iou=class_iou, boundary=None, boundary_width=1,
                  size_iou=None, confusion=ConfusionMatrix(len(class_iou)), class_names=tuple(class_iou),
                  num_images=1)


def test_plot_confusion_of_scores_takes_their_class_names():
    scores = scores_for({"background": 0.9, "disk": 0.5, "wire": None}, 0.7)
    scores.confusion.update(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2]))
    ax = viz.plot_confusion(scores).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["background", "disk", "wire"]
    assert sorted(t.get_text() for t in ax.texts) == ["1.00", "1.00", "1.00"]
