"""Confusion matrix, IoU, Boundary IoU and size-bucket IoU: exact values and torchmetrics agreement."""

import math

import pytest
import torch
from torchmetrics.classification import MulticlassJaccardIndex

from segedu.metrics import (
    BoundaryIoU,
    BucketedConfusion,
    ConfusionMatrix,
    default_boundary_width,
    label_boundary,
)


def shifted_squares(size=10, side=4, top=2, left=2):
    """Truth: a side x side square of class 1; prediction: the same square one pixel to the right."""
    truth = torch.zeros(size, size, dtype=torch.long)
    truth[top:top + side, left:left + side] = 1
    pred = torch.zeros(size, size, dtype=torch.long)
    pred[top:top + side, left + 1:left + side + 1] = 1
    return pred, truth


def inner_boundary(regions, width):
    """The definition of a region's inner band, one region at a time: bool ``N x K x H x W`` -> the pixels of
    each region within ``width`` pixels (chessboard distance) of its edge, ``region AND NOT erode(region)``.
    Erosion is a min-pool, ``-max_pool(-x)``; max-pooling pads with -inf, so the frame erodes nothing."""
    eroded = -torch.nn.functional.max_pool2d(-regions.float(), 2 * width + 1, stride=1, padding=width)
    return regions & (eroded < 0.5)


def torchmetrics_miou(pred, target, num_classes):
    metric = MulticlassJaccardIndex(num_classes, ignore_index=255)
    return float(metric(pred, target))


# --------------------------------------------------------------------------- confusion matrix


def test_shifted_squares_give_the_hand_computed_scores():
    pred, truth = shifted_squares()
    cm = ConfusionMatrix(2).update(pred, truth)
    # 16 true square pixels, 12 of them still predicted 1; 4 background pixels predicted 1.
    assert cm.matrix.tolist() == [[80, 4], [4, 12]]
    assert cm.iou().tolist() == pytest.approx([80 / 88, 12 / 20])
    assert cm.miou() == pytest.approx((80 / 88 + 12 / 20) / 2)
    assert cm.pixel_accuracy() == pytest.approx(92 / 100)
    assert cm.total == 100


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_torchmetrics_on_random_logits_with_ignored_pixels(seed):
    generator = torch.Generator().manual_seed(seed)
    num_classes = 5
    logits = torch.randn(4, num_classes, 12, 9, generator=generator)
    target = torch.randint(0, num_classes, (4, 12, 9), generator=generator)
    target[torch.rand(target.shape, generator=generator) < 0.2] = 255
    cm = ConfusionMatrix(num_classes).update(logits, target)
    expected = torchmetrics_miou(logits.argmax(1), target, num_classes)
    assert cm.miou() == pytest.approx(expected, abs=1e-6)


def test_agrees_with_torchmetrics_when_a_class_is_absent_from_both_truth_and_prediction():
    # Class 3 appears nowhere. torchmetrics 1.x (macro average) leaves such a class out of the
    # mean -- it does not count it as 0 -- and so do we. (Its per-class output, average=None,
    # reports 0.0 for the absent class where we report NaN: "no evidence", not "wrong".)
    pred = torch.tensor([[0, 1, 1, 2]])
    target = torch.tensor([[0, 1, 2, 2]])
    cm = ConfusionMatrix(4).update(pred, target)
    assert cm.miou() == pytest.approx(torchmetrics_miou(pred, target, 4), abs=1e-6)
    assert cm.miou() == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert math.isnan(cm.iou()[3])
    per_class = MulticlassJaccardIndex(4, ignore_index=255, average=None)(pred, target)
    assert per_class[3] == 0.0


def test_a_class_only_in_the_prediction_counts_as_zero_like_torchmetrics():
    pred = torch.tensor([[0, 0, 3, 3]])
    target = torch.tensor([[0, 0, 0, 0]])
    cm = ConfusionMatrix(4).update(pred, target)
    assert cm.iou()[3] == 0.0
    assert cm.miou() == pytest.approx(0.25)
    assert cm.miou() == pytest.approx(torchmetrics_miou(pred, target, 4), abs=1e-6)


def test_edge_cases_agree_with_torchmetrics():
    target = torch.tensor([[1, 1], [1, 1]])
    # perfect prediction, one class only
    cm = ConfusionMatrix(3).update(target.clone(), target)
    assert cm.miou() == 1.0 == torchmetrics_miou(target, target, 3)
    # one class only in the truth, half predicted right
    pred = torch.tensor([[1, 0], [1, 0]])
    cm = ConfusionMatrix(3).update(pred, target)
    assert cm.miou() == pytest.approx(torchmetrics_miou(pred, target, 3), abs=1e-6)
    assert cm.miou() == pytest.approx((0 + 0.5) / 2)
    # every pixel ignored: nothing to score; both libraries say NaN
    ignored = torch.full((2, 2), 255)
    cm = ConfusionMatrix(3).update(pred, ignored)
    assert cm.total == 0
    assert math.isnan(cm.miou()) and math.isnan(torchmetrics_miou(pred, ignored, 3))
    assert math.isnan(cm.pixel_accuracy())


def test_accumulates_pixels_over_the_dataset_not_an_average_of_images():
    # Image 1: 1 pixel of class 1, missed. Image 2: 99 pixels of class 1, all right.
    truth_a, pred_a = torch.tensor([[1] + [0] * 99]), torch.zeros(1, 100, dtype=torch.long)
    truth_b, pred_b = torch.ones(1, 100, dtype=torch.long), torch.ones(1, 100, dtype=torch.long)
    truth_b[0, 0] = 0
    pred_b[0, 0] = 0
    cm = ConfusionMatrix(2).update(pred_a, truth_a).update(pred_b, truth_b)
    assert cm.iou()[1] == pytest.approx(99 / 100)  # per-image mean would be (0 + 1) / 2
    both = ConfusionMatrix(2).update(torch.cat([pred_a, pred_b]), torch.cat([truth_a, truth_b]))
    assert torch.equal(cm.matrix, both.matrix)


def test_integer_predictions_of_a_single_image_and_uint8_masks_are_accepted():
    pred, truth = shifted_squares()
    cm = ConfusionMatrix(2).update(pred.to(torch.uint8), truth.to(torch.uint8))
    assert cm.matrix.tolist() == [[80, 4], [4, 12]]
    logits = torch.nn.functional.one_hot(pred, 2).permute(2, 0, 1).float()  # C x H x W for one H x W mask
    assert ConfusionMatrix(2).update(logits, truth).matrix.tolist() == [[80, 4], [4, 12]]


def test_bad_inputs_raise_clear_errors():
    cm = ConfusionMatrix(3)
    mask = torch.zeros(2, 4, 4, dtype=torch.long)
    with pytest.raises(TypeError, match="integer class ids"):
        cm.update(torch.zeros(2, 4, 4, dtype=torch.long), mask.float())
    bad = mask.clone()
    bad[0, 0, 0], bad[1, 1, 1] = 7, -1
    with pytest.raises(ValueError, match=r"class id\(s\) -1, 7 outside \[0, 3\).*3 classes"):
        cm.update(torch.zeros(2, 4, 4, dtype=torch.long), bad)
    with pytest.raises(ValueError, match="differs from the mask size.*interpolate"):
        cm.update(torch.randn(2, 3, 2, 2), mask)
    with pytest.raises(ValueError, match="4 channels but there are 3 classes"):
        cm.update(torch.randn(2, 4, 4, 4), mask)
    with pytest.raises(ValueError, match="prediction holds class id"):
        cm.update(torch.full((2, 4, 4), 255), mask)
    with pytest.raises(TypeError, match="float predictions"):
        cm.update(torch.zeros(2, 4, 4), mask)
    assert cm.total == 0  # nothing half-counted
    with pytest.raises(ValueError, match="positive int"):
        ConfusionMatrix(0)


# --------------------------------------------------------------------------- boundary IoU


def test_label_boundary_is_the_ring_of_the_given_width_and_the_frame_is_not_an_edge():
    square = torch.zeros(1, 9, 9, dtype=torch.long)
    square[:, 2:7, 2:7] = 1
    assert int((label_boundary(square, 1) & (square == 1)).sum()) == 25 - 9
    assert int((label_boundary(square, 2) & (square == 1)).sum()) == 25 - 1
    assert int((label_boundary(square, 1) & (square == 0)).sum()) == 7 * 7 - 25  # the ring just outside
    assert not label_boundary(torch.ones(1, 9, 9, dtype=torch.long), 2).any()
    # A region touching the frame has a band only along its inner edge.
    left_half = torch.zeros(1, 6, 6, dtype=torch.long)
    left_half[..., :3] = 1
    assert (label_boundary(left_half, 1) & (left_half == 1))[0].nonzero()[:, 1].unique().tolist() == [2]


def test_boundary_iou_of_squares_shifted_by_one_pixel():
    pred, truth = shifted_squares()
    score = BoundaryIoU(2, width=1).update(pred, truth)
    # Class 1: two 12-pixel rings sharing 6 pixels -> 6 / 18. Background: two 20-pixel rings
    # around the squares sharing 10 pixels -> 10 / 30.
    assert score.intersection.tolist() == [10, 6]
    assert score.union.tolist() == [30, 18]
    assert score.miou() == pytest.approx(1 / 3)
    # Width 2 on 6x6 squares: 32-pixel bands, 24 shared -> 24 / 40 for class 1.
    pred, truth = shifted_squares(size=12, side=6)
    assert BoundaryIoU(2, width=2).update(pred, truth).iou()[1] == pytest.approx(24 / 40)


def test_boundary_iou_is_one_for_a_perfect_prediction_and_nan_without_edges():
    _, truth = shifted_squares()
    assert BoundaryIoU(2).update(truth, truth).miou() == 1.0
    flat = torch.zeros(8, 8, dtype=torch.long)
    assert math.isnan(BoundaryIoU(2).update(flat, flat).miou())


def test_boundary_iou_sums_over_images_and_skips_ignored_pixels():
    pred, truth = shifted_squares()
    score = BoundaryIoU(2, width=1).update(pred[None], truth[None]).update(truth[None], truth[None])
    assert score.intersection.tolist() == [10 + 20, 6 + 12]
    assert score.union.tolist() == [30 + 20, 18 + 12]
    ignored = truth.clone()
    ignored[:, 6:] = 255  # hides the right column (4 px) of the predicted square's ring
    score = BoundaryIoU(2, width=1).update(pred, ignored)
    assert (score.intersection[1], score.union[1]) == (6, 12 + 8 - 6)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_boundary_iou_equals_the_per_class_definition_on_random_label_maps(width):
    """The accumulator finds every class's band at once from a label map; check it against the
    definition written class by class: |G_d & P_d| / |G_d | P_d| with G_d = inner_boundary(G)."""
    generator = torch.Generator().manual_seed(width)
    coarse = torch.randint(0, 4, (3, 5, 4), generator=generator)  # blobs, not salt-and-pepper
    target = coarse.repeat_interleave(4, 1).repeat_interleave(5, 2)
    pred = torch.roll(target, shifts=(1, -2), dims=(1, 2))
    target[torch.rand(target.shape, generator=generator) < 0.05] = 255
    score = BoundaryIoU(4, width=width).update(pred, target)
    valid = target != 255
    for c in range(4):
        true_band = inner_boundary((target == c)[:, None], width)[:, 0] & valid
        pred_band = inner_boundary((pred == c)[:, None], width)[:, 0] & valid
        assert score.intersection[c] == int((true_band & pred_band).sum())
        assert score.union[c] == int((true_band | pred_band).sum())


def test_default_boundary_width_follows_the_paper_two_percent_of_the_diagonal():
    assert [default_boundary_width(s, s) for s in (16, 32, 64, 128)] == [1, 1, 2, 4]
    _, truth = shifted_squares(size=64)
    score = BoundaryIoU(2).update(truth, truth)
    assert score.last_width == 2


# --------------------------------------------------------------------------- size buckets


def test_bucketed_confusion_scores_each_bucket_on_its_own_pixels():
    pred, truth = shifted_squares()
    buckets = torch.full_like(truth, 2)  # everything "large" ...
    buckets[:, :5] = 0  # ... except the left half, "small"
    bucketed = BucketedConfusion(2)
    bucketed.update(pred, truth, buckets)
    expected = {}
    for index, name in enumerate(("small", "medium", "large")):
        region = torch.where(buckets == index, truth, torch.full_like(truth, 255))
        expected[name] = ConfusionMatrix(2).update(pred, region).miou() if (buckets == index).any() else None
    assert bucketed.miou() == expected
    assert expected["medium"] is None
    # left half: truth class 1 in columns 2-4 (12 px), prediction in columns 3-4 (8 px)
    assert bucketed.matrices["small"].matrix.tolist() == [[38, 0], [4, 8]]
