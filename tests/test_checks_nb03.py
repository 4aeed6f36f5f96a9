"""Checkers of notebook 03: each passes the right answer and explains typical wrong ones."""

import torch
from torch import nn

from segedu.course.checks import nb03
from segedu.models import bilinear_kernel


def test_conv_output_size():
    assert nb03.check_conv_output_size(lambda s, k, st, p: (s + 2 * p - k) // st + 1)
    assert "not done yet" in nb03.check_conv_output_size(...).message
    no_plus_one = nb03.check_conv_output_size(lambda s, k, st, p: (s + 2 * p - k) // st)
    assert not no_plus_one and "+ 1" in no_plus_one.hint
    rounds_up = nb03.check_conv_output_size(lambda s, k, st, p: -(-(s + 2 * p - k) // st) + 1)
    assert not rounds_up and "rounds down" in rounds_up.hint
    true_division = nb03.check_conv_output_size(lambda s, k, st, p: (s + 2 * p - k) / st + 1)
    assert not true_division and "//" in true_division.hint
    crashes = nb03.check_conv_output_size(lambda s, k, st, p: s / 0)
    assert not crashes and "ZeroDivisionError" in crashes.message
    assert "not done" in nb03.check_conv_output_size(lambda *args: None).message


def test_upsampler_no_checkerboard():
    assert nb03.check_upsampler_no_checkerboard(4, 2, 1)
    assert nb03.check_upsampler_no_checkerboard(2, 2, 0)
    assert "not done yet" in nb03.check_upsampler_no_checkerboard(..., 2, ...).message
    checkerboard = nb03.check_upsampler_no_checkerboard(3, 2, 0)
    assert not checkerboard  # wrong size first
    odd = nb03.check_upsampler_no_checkerboard(6, 2, 2)
    assert odd  # 6 is a multiple of 2 and (8-1)*2 - 4 + 6 = 16
    wrong_size = nb03.check_upsampler_no_checkerboard(4, 2, 0)
    assert not wrong_size and "kernel_size - 2 * padding = stride" in wrong_size.hint
    uneven = nb03.check_upsampler_no_checkerboard(5, 3, 1)  # (8-1)*3 - 2 + 5 = 24 = 3*8, but 5 % 3 != 0
    assert not uneven and "checkerboard" in uneven.message
    assert not nb03.check_upsampler_no_checkerboard(4, 1, 1)
    assert not nb03.check_upsampler_no_checkerboard(4.0, 2, 1)


def _upsampler(weight, bias=False):
    conv = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias:
            conv.bias.fill_(0.5)
    return conv


def test_bilinear_upsampler():
    assert nb03.check_bilinear_upsampler(_upsampler(bilinear_kernel(2)))
    assert "not done yet" in nb03.check_bilinear_upsampler(None).message
    assert not nb03.check_bilinear_upsampler(nn.Conv2d(1, 1, 3))
    unnormalised = nb03.check_bilinear_upsampler(_upsampler(2 * bilinear_kernel(2)))
    assert not unnormalised and "sum should be 4" in unnormalised.hint
    with_bias = nb03.check_bilinear_upsampler(_upsampler(bilinear_kernel(2), bias=True))
    assert not with_bias and "bias" in with_bias.hint
    wrong_size = nb03.check_bilinear_upsampler(nn.ConvTranspose2d(1, 1, 4, stride=2, padding=0))
    assert not wrong_size and "expected" in wrong_size.message
    conv4 = nn.ConvTranspose2d(1, 1, 8, stride=4, padding=2, bias=False)
    with torch.no_grad():
        conv4.weight.copy_(bilinear_kernel(4))
    assert nb03.check_bilinear_upsampler(conv4, factor=4)
