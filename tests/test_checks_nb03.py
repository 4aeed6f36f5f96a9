"""Checkers of notebook 03: each passes the right answer and diagnoses the typical wrong ones."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from segedu.course.checks import nb03


def exact_upsampling(kernel, stride):
    padding = (kernel - stride + 1) // 2
    return padding, 2 * padding - (kernel - stride)


def test_exact_upsampling_passes_the_right_answer_and_any_other_valid_one():
    assert nb03.check_exact_upsampling(exact_upsampling)
    # (3, 3): (0, 0) and (1, 2) both give exactly 3n; a valid answer that is not the smallest padding passes too
    assert nb03.check_exact_upsampling(lambda k, s: (1, 2) if (k, s) == (3, 3) else exact_upsampling(k, s))
    assert "(1, 1)" in nb03.check_exact_upsampling(exact_upsampling).message


def test_exact_upsampling_diagnoses_the_typical_mistakes():
    assert "not done yet" in nb03.check_exact_upsampling(...).message
    assert "not done yet" in nb03.check_exact_upsampling(lambda k, s: ...).message
    same_conv_padding = nb03.check_exact_upsampling(lambda k, s: ((k - 1) // 2, 0))  # padding of a 'same' conv
    assert not same_conv_padding and "one pixel short" in same_conv_padding.hint
    assert "output_padding" in same_conv_padding.hint
    floor_and_remainder = nb03.check_exact_upsampling(lambda k, s: ((k - s) // 2, (k - s) % 2))
    assert not floor_and_remainder and "2 * padding - output_padding = kernel - stride" in floor_and_remainder.hint
    too_large = nb03.check_exact_upsampling(lambda k, s: (2, 3) if (k, s) == (4, 2) else exact_upsampling(k, s))
    assert not too_large and "as large as the stride" in too_large.message
    negative = nb03.check_exact_upsampling(lambda k, s: (-1, 0))
    assert not negative and "negative" in negative.message
    only_padding = nb03.check_exact_upsampling(lambda k, s: (k - s) // 2)
    assert not only_padding and "not a pair" in only_padding.message
    floats = nb03.check_exact_upsampling(lambda k, s: ((k - s) / 2, 0))
    assert not floats and "ints" in floats.message
    crashes = nb03.check_exact_upsampling(lambda k, s: 1 / 0)
    assert not crashes and "ZeroDivisionError" in crashes.message
    assert not nb03.check_exact_upsampling(42)


def flat_block(weight, stride, padding):
    kernel = weight.shape[-1]
    block = torch.zeros(stride, stride, dtype=weight.dtype)
    for a in range(stride):
        for b in range(stride):
            rows = [t for t in range(kernel) if (t - a - padding) % stride == 0]
            cols = [u for u in range(kernel) if (u - b - padding) % stride == 0]
            block[a, b] = weight[rows][:, cols].sum()
    return block


def test_flat_input_block_measured_is_what_the_layer_outputs_everywhere_inside():
    weight = torch.arange(9.0).view(3, 3)
    block = nb03.flat_input_block_measured(weight, 2, 1)
    out = F.conv_transpose2d(torch.ones(1, 1, 10, 10), weight.view(1, 1, 3, 3), stride=2, padding=1)[0, 0]
    interior = out[4:14, 4:14]
    assert torch.equal(interior, block.repeat(5, 5))
    # all-ones kernel 3: the 4, 2, 2, 1 pattern of the overlap counts; all-ones kernel 4: flat
    assert nb03.flat_input_block_measured(torch.ones(3, 3), 2, 1).tolist() == [[1, 2], [2, 4]]
    assert nb03.flat_input_block_measured(torch.ones(4, 4), 2, 1).tolist() == [[4, 4], [4, 4]]


def test_flat_input_block_passes_the_right_answer():
    assert nb03.check_flat_input_block(flat_block)
    assert nb03.check_flat_input_block(nb03.flat_input_block_measured)
    assert nb03.check_flat_input_block(lambda w, s, p: flat_block(w, s, p).tolist())  # nested lists are fine


def test_flat_input_block_diagnoses_the_typical_mistakes():
    assert "not done yet" in nb03.check_flat_input_block(...).message
    assert "not done yet" in nb03.check_flat_input_block(lambda w, s, p: None).message
    counts = nb03.check_flat_input_block(lambda w, s, p: flat_block(torch.ones_like(w), s, p))
    assert not counts and "counted" in counts.message
    no_padding = nb03.check_flat_input_block(lambda w, s, p: flat_block(w, s, 0))
    assert not no_padding and "padding out" in no_padding.message
    flipped = nb03.check_flat_input_block(lambda w, s, p: flat_block(w.flip(-1, -2), s, p))
    assert not flipped and "flipped" in flipped.message and "zero-insertion" in flipped.hint
    swapped = nb03.check_flat_input_block(lambda w, s, p: flat_block(w, s, p).T)
    assert not swapped and "rows and columns" in swapped.message
    average = nb03.check_flat_input_block(lambda w, s, p: torch.full((s, s), float(w.sum()) / s**2))
    assert not average and "average" in average.message
    total = nb03.check_flat_input_block(lambda w, s, p: torch.full((s, s), float(w.sum())))
    assert not total and "sum of all the weights" in total.message
    wrong_shape = nb03.check_flat_input_block(lambda w, s, p: torch.zeros(2 * s, 2 * s))
    assert not wrong_shape and "shape" in wrong_shape.message
    other = nb03.check_flat_input_block(lambda w, s, p: flat_block(w, s, p) + 1)
    assert not other and "(o + padding - t) % stride" in other.hint
    crashes = nb03.check_flat_input_block(lambda w, s, p: w[100])
    assert not crashes and "IndexError" in crashes.message
    assert not nb03.check_flat_input_block("block")


@pytest.mark.parametrize("wrong", [lambda k, s: (k + 1, 0), lambda k, s: (2 * k, 0), lambda k, s: (k * s, 0),
                                   lambda k, s: (100, 0), lambda k, s: (10**12, 0)])
def test_a_padding_too_large_for_the_layer_is_diagnosed_not_a_torch_error(wrong):
    """Issue 26: these crashed in PyTorch ("could not construct a memory descriptor using a format tag")."""
    result = nb03.check_exact_upsampling(wrong)
    assert not result and "not smaller than the kernel" in result.message, result
    assert "memory descriptor" not in result.message and "Error" not in result.message


def test_a_padding_below_the_kernel_that_shrinks_the_map_is_measured_and_diagnosed():
    result = nb03.check_exact_upsampling(lambda k, s: (k - 1, 0) if (k, s) == (8, 4) else exact_upsampling(k, s))
    assert not result and "turn a 3-pixel side into 2 pixels, not 12" in result.message
    assert nb03._transposed_side(3, 3, 2, 1, 1) == 6
    assert nb03._transposed_side(3, 3, 2, 4, 0) is None  # PyTorch refuses: the output would have -1 pixels


def test_exact_upsampling_reads_numpy_and_torch_ints_but_no_floats():
    for spelling in (lambda pair: tuple(np.int64(v) for v in pair), np.array, torch.tensor, list):
        assert nb03.check_exact_upsampling(lambda k, s, spelling=spelling: spelling(exact_upsampling(k, s))), spelling
    floats = nb03.check_exact_upsampling(lambda k, s: np.array(exact_upsampling(k, s), dtype=float))
    assert not floats and "must be ints" in floats.message
    assert "not a pair" in nb03.check_exact_upsampling(lambda k, s: np.zeros((2, 2), dtype=int)).message
    assert "must be ints" in nb03.check_exact_upsampling(lambda k, s: ("1", 0)).message


def test_a_function_that_fails_only_when_asked_again_is_reported_not_raised():
    """The passing message used to call the function once more, outside the checker's guard."""
    calls = []

    def flaky(kernel, stride):
        calls.append((kernel, stride))
        if calls.count((3, 2)) > 1:
            raise ValueError("second call")
        return exact_upsampling(kernel, stride)

    result = nb03.check_exact_upsampling(flaky)
    assert result and "(1, 1)" in result.message and calls.count((3, 2)) == 1
