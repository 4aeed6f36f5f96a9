"""Checkers of notebook 04: each passes the right answer and explains typical wrong ones."""

import torch.nn.functional as F

from segedu.course.checks import nb04

RIGHT = {"score32": (3, 3), "up32to16": (6, 6), "score16": (6, 6), "fused16": (6, 6), "logits": (96, 96)}


def test_fusion_sizes_are_measured_from_the_model():
    assert nb04.fcn16s_fusion_sizes((96, 96)) == RIGHT
    assert nb04.fcn16s_fusion_sizes((128, 64))["score16"] == (8, 4)


def test_fcn16s_shapes():
    assert nb04.check_fcn16s_shapes(RIGHT)
    assert nb04.check_fcn16s_shapes({**RIGHT, "score32": (1, 3, 3, 3)})  # full shapes are fine
    assert "not done yet" in nb04.check_fcn16s_shapes(...).message
    assert "not done yet" in nb04.check_fcn16s_shapes({**RIGHT, "score16": ...}).message
    assert "missing" in nb04.check_fcn16s_shapes({"score32": (3, 3)}).message
    not_upsampled = nb04.check_fcn16s_shapes({**RIGHT, "up32to16": (3, 3)})
    assert not not_upsampled and "doubles" in not_upsampled.hint
    stride8 = nb04.check_fcn16s_shapes({**RIGHT, "score16": (12, 12)})
    assert not stride8 and "96 / 16" in stride8.hint
    assert not nb04.check_fcn16s_shapes([(3, 3)])
    assert not nb04.check_fcn16s_shapes({**RIGHT, "logits": "big"})


def test_skip_fusion():
    assert nb04.check_skip_fusion(lambda coarse, skip, up, score: up(coarse) + score(skip))
    assert "not done yet" in nb04.check_skip_fusion(...).message
    assert "not done yet" in nb04.check_skip_fusion(lambda *args: ...).message
    no_upsampling = nb04.check_skip_fusion(lambda coarse, skip, up, score: coarse + score(skip))
    assert not no_upsampling and "RuntimeError" in no_upsampling.message
    unscored = nb04.check_skip_fusion(lambda coarse, skip, up, score: up(coarse) + skip)
    assert not unscored
    concatenated = nb04.check_skip_fusion(
        lambda coarse, skip, up, score: __import__("torch").cat([up(coarse), score(skip)], 1))
    assert not concatenated and "do not concatenate" in concatenated.hint
    interpolated = nb04.check_skip_fusion(
        lambda coarse, skip, up, score: F.interpolate(coarse, scale_factor=2, mode="bilinear") + score(skip))
    assert not interpolated and "border" in interpolated.hint
    coarse_only = nb04.check_skip_fusion(lambda coarse, skip, up, score: up(coarse))
    assert not coarse_only and "differs" in coarse_only.message


def test_boundary_choice():
    assert nb04.check_boundary_choice("fcn8s") and nb04.check_boundary_choice("FCN-8s")
    assert "not done yet" in nb04.check_boundary_choice(...).message
    wrong = nb04.check_boundary_choice("fcn32s")
    assert not wrong and wrong.hint
    assert not nb04.check_boundary_choice("unet")
