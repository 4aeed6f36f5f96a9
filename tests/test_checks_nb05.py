"""Checkers of notebook 05 (pyramid pooling): right answers pass, typical wrong ones fail with a useful message."""

import torch
import torch.nn.functional as F

from segedu.course.checks import nb05
from segedu.models import PyramidPoolingModule


def test_level_shapes_pass_and_fail():
    assert nb05.check_level_shapes((2, 96, 3, 3), (2, 24, 3, 3), (2, 24, 8, 8))
    assert "not done" in nb05.check_level_shapes(..., ..., ...).message
    wrong = nb05.check_level_shapes((2, 96, 8, 8), (2, 24, 3, 3), (2, 24, 8, 8))
    assert not wrong and "after pooling" in wrong.message and "3 x 3" in wrong.hint
    wrong = nb05.check_level_shapes((2, 96, 3, 3), (2, 96, 3, 3), (2, 24, 8, 8))
    assert not wrong and "reduction" in wrong.message and "C / 4" in wrong.hint
    wrong = nb05.check_level_shapes((2, 96, 3, 3), (2, 24, 3, 3), (2, 24, 3, 3))
    assert not wrong and "upsampling" in wrong.message
    assert "tuple of ints" in nb05.check_level_shapes("abc", (2, 24, 3, 3), (2, 24, 8, 8)).message


def test_level_shapes_match_the_module():
    features = torch.randn(2, 96, 8, 8)
    module = PyramidPoolingModule(96)
    branch = module.branches[2]  # bin 3
    pooled = branch[0](features)
    reduced = branch[2](branch[1](pooled))
    up = F.interpolate(reduced, size=(8, 8), mode="bilinear", align_corners=False)
    assert (tuple(pooled.shape), tuple(reduced.shape), tuple(up.shape)) == nb05.level_shapes(2, 96, 8, 8, 3)


def test_reference_level_equals_the_module_branch():
    module = PyramidPoolingModule(8, bins=(1, 2, 3, 6))
    features = torch.randn(2, 8, 10, 12)
    out = module(features)
    for index, size in enumerate(module.bins):
        conv = module.branches[index][1]
        level = nb05.reference_level(features, size, conv)
        assert torch.allclose(out[:, 8 + 2 * index: 8 + 2 * (index + 1)], level, atol=1e-6)


def test_pyramid_level_right_and_wrong():
    assert nb05.check_pyramid_level(nb05.reference_level)
    assert "not done" in nb05.check_pyramid_level(...).message

    def max_pool(features, bin_size, conv):
        return F.interpolate(torch.relu(conv(F.adaptive_max_pool2d(features, bin_size))), size=features.shape[-2:],
                             mode="bilinear", align_corners=False)

    def no_relu(features, bin_size, conv):
        return F.interpolate(conv(F.adaptive_avg_pool2d(features, bin_size)), size=features.shape[-2:],
                             mode="bilinear", align_corners=False)

    def corners(features, bin_size, conv):
        return F.interpolate(torch.relu(conv(F.adaptive_avg_pool2d(features, bin_size))), size=features.shape[-2:],
                             mode="bilinear", align_corners=True)

    def not_upsampled(features, bin_size, conv):
        return torch.relu(conv(F.adaptive_avg_pool2d(features, bin_size)))

    def broken(features, bin_size, conv):
        raise RuntimeError("oops")

    def returns_nothing(features, bin_size, conv):
        pass

    assert "max pooling" in nb05.check_pyramid_level(max_pool).message
    assert "ReLU" in nb05.check_pyramid_level(no_relu).message
    assert "align_corners" in nb05.check_pyramid_level(corners).message
    result = nb05.check_pyramid_level(not_upsampled)
    assert not result and "shape" in result.message and "interpolate" in result.hint
    assert "RuntimeError: oops" in nb05.check_pyramid_level(broken).message
    assert "not done" in nb05.check_pyramid_level(returns_nothing).message


def test_pair_maps_have_equal_means():
    for name in nb05.PAIRS:
        a, b = nb05.pair_maps(name)
        assert a.shape == b.shape == (1, 1, 6, 6)
        assert torch.isclose(a.mean(), b.mean())


def test_bins_that_tell_apart():
    assert nb05.bins_that_tell_apart(*nb05.pair_maps("band")) == {2, 3, 6}
    assert nb05.bins_that_tell_apart(*nb05.pair_maps("centre")) == {3, 6}
    assert nb05.check_bins_that_tell_apart({2, 3, 6}, "band")
    assert nb05.check_bins_that_tell_apart([3, 6], "centre")
    assert "not done" in nb05.check_bins_that_tell_apart(..., "band").message
    one = nb05.check_bins_that_tell_apart({1, 2, 3, 6}, "band")
    assert not one and "1x1 pool cannot" in one.message and "mean" in one.hint
    extra = nb05.check_bins_that_tell_apart({2, 3, 6}, "centre")
    assert not extra and "bin 2 gives the same" in extra.message
    missing = nb05.check_bins_that_tell_apart({6}, "band")
    assert not missing and "bin 2 does tell" in missing.message
    assert "not bin sizes" in nb05.check_bins_that_tell_apart({4}, "band").message
