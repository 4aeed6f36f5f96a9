"""Exact maths of the models' parts: bilinear transposed convolutions, checkerboards, strides, pyramid pooling."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segedu.models import (
    ConvBNReLU,
    EncoderDecoder,
    PlainCNN,
    PSPNet,
    PyramidPoolingModule,
    ResNet18Backbone,
    SmallBackbone,
    Upsample2x,
    bilinear_kernel,
    bilinear_transposed_conv,
    checkerboard_demo,
    init_bilinear_,
)


def test_bilinear_kernel_values():
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
    assert torch.equal(bilinear_kernel(2), taps[:, None] * taps[None, :])
    taps4 = torch.tensor([1, 3, 5, 7, 7, 5, 3, 1]) / 8
    assert torch.equal(bilinear_kernel(4), taps4[:, None] * taps4[None, :])


@pytest.mark.parametrize("factor", [2, 4])
def test_bilinear_transposed_conv_equals_interpolate_away_from_the_border(factor):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 7, 9, dtype=torch.float64) + 0.5  # positive, so the zero padding shows
    up = bilinear_transposed_conv(3, factor).double()
    reference = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    with torch.no_grad():
        out = up(x)
    assert out.shape == reference.shape == (2, 3, 7 * factor, 9 * factor)
    border = factor // 2
    interior = (..., slice(border, -border), slice(border, -border))
    torch.testing.assert_close(out[interior], reference[interior], rtol=0, atol=1e-12)
    # The outermost factor/2 rows and columns differ: the transposed conv blends in the zeros
    # beyond the edge (darker), F.interpolate repeats the edge pixel.
    assert (out[..., :border, :] < reference[..., :border, :]).all()
    assert (out[..., :, -border:] < reference[..., :, -border:]).all()


def test_bilinear_init_with_mixing_is_interpolation_then_1x1_conv():
    torch.manual_seed(0)
    up = Upsample2x(4, 3, mode="transposed", kernel_size=4, bilinear_init=True).layers[0].double()
    mixing = up.weight[:, :, 1, 1] / bilinear_kernel(2)[1, 1]  # recover the 4 x 3 mixing matrix
    x = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        expected = torch.einsum("io,nihw->nohw", mixing,
                                F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        torch.testing.assert_close(up(x)[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1])


def test_bilinear_init_refuses_kernels_that_are_not_twice_the_stride():
    with pytest.raises(ValueError, match="kernel_size = 2 \\* stride"):
        init_bilinear_(nn.ConvTranspose2d(2, 2, 3, stride=2))
    with pytest.raises(ValueError, match="as many input as output channels"):
        init_bilinear_(nn.ConvTranspose2d(2, 3, 4, stride=2))


def test_checkerboard_of_kernel_3_stride_2_is_uneven():
    out = checkerboard_demo(kernel_size=3, stride=2, size=4)
    one_d = torch.tensor([1.0, 1, 2, 1, 2, 1, 2, 1, 1])  # how many inputs reach each output, per axis
    assert torch.equal(out, one_d[:, None] * one_d[None, :])
    interior = out[2:-2, 2:-2]
    assert torch.equal(interior[:2, :2], torch.tensor([[4.0, 2], [2, 1]]))


def test_kernel_4_stride_2_has_an_even_interior():
    out = checkerboard_demo(kernel_size=4, stride=2, size=4)
    assert out.shape == (10, 10)
    assert torch.equal(out[2:-2, 2:-2], torch.full((6, 6), 4.0))
    assert torch.equal(out[0], torch.tensor([1.0, 1, 2, 2, 2, 2, 2, 2, 1, 1]))


def test_transposed_decoder_with_kernel_3_makes_a_checkerboard():
    # Constant weights in a k=3 decoder step turn a constant map into a periodic one.
    up = Upsample2x(1, 1, mode="transposed", kernel_size=3).layers[0]
    with torch.no_grad():
        up.weight.fill_(1.0)
        out = up(torch.ones(1, 1, 5, 5))[0, 0]
    assert out.shape == (10, 10)
    assert torch.equal(out[1:5, 1:5], torch.tensor([[4.0, 2, 4, 2], [2, 1, 2, 1], [4, 2, 4, 2], [2, 1, 2, 1]]))


def test_plain_cnn_receptive_field_is_exact():
    torch.manual_seed(0)
    model = PlainCNN(2, depth=3, width=4, dilation=2).eval()
    assert model.receptive_field == 13
    # Remove the ReLUs so that no path is switched off, then measure which inputs the centre sees.
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
            module.forward = lambda t: t
    x = torch.randn(1, 3, 31, 31, requires_grad=True)
    model(x)[0, 0, 15, 15].backward()
    rows, cols = x.grad[0].abs().sum(0).nonzero(as_tuple=True)
    assert (rows.min().item(), rows.max().item()) == (15 - 6, 15 + 6)
    assert (cols.min().item(), cols.max().item()) == (15 - 6, 15 + 6)


@pytest.mark.parametrize("output_stride, sizes", [(32, [32, 16, 8, 4, 2]), (16, [32, 16, 8, 4, 4]),
                                                  (8, [32, 16, 8, 8, 8])])
def test_backbone_strides_and_dilation(output_stride, sizes):
    small = SmallBackbone(output_stride=output_stride, channels=(4, 4, 8, 8, 8))
    features = small(torch.randn(1, 3, 64, 64))
    assert list(features) == ["stage1", "stage2", "stage3", "stage4", "stage5"]
    assert [f.shape[-1] for f in features.values()] == sizes
    assert {name: f.shape[1] for name, f in features.items()} == small.channels
    assert list(small.channels.values()) == [4, 4, 8, 8, 8]
    assert small.strides == {name: 64 // f.shape[-1] for name, f in features.items()}


def test_resnet18_backbone_dilation_keeps_weight_shapes():
    plain, dilated = ResNet18Backbone(output_stride=32), ResNet18Backbone(output_stride=8)
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in dilated.state_dict().items()}
    features = dilated(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in features.values()] == [32, 16, 8, 8, 8]
    assert [f.shape[1] for f in features.values()] == [64, 64, 128, 256, 512] == list(dilated.channels.values())
    assert dilated.strides == {"stage1": 2, "stage2": 4, "stage3": 8, "stage4": 8, "stage5": 8}


def test_pyramid_pooling_channels_and_a_constant_map():
    ppm = PyramidPoolingModule(8, bins=(1, 2, 3, 6))
    assert ppm.out_channels == 8 + 4 * 2
    assert PyramidPoolingModule(8, reduce=False).out_channels == 8 * 5
    # Without reduction, pooling a constant map and upsampling it gives back the same constant.
    ppm = PyramidPoolingModule(2, bins=(1, 3), pooling="max", reduce=False)
    x = torch.full((1, 2, 8, 8), 0.5)
    assert torch.equal(ppm(x), torch.full((1, 6, 8, 8), 0.5))


def test_pyramid_pooling_1_bin_branch_avoids_the_batchnorm_trap():
    # The trap: BatchNorm on a 1x1 map in training mode with a batch of one fails ...
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm2d(4).train()(torch.randn(1, 4, 1, 1))
    # ... so the module has no BatchNorm in its branches, and trains on a batch of one.
    ppm = PyramidPoolingModule(4, bins=(1,)).train()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ppm.modules())
    ppm(torch.randn(1, 4, 8, 8)).sum().backward()


def test_encoder_decoder_depth_and_output_stride():
    assert EncoderDecoder(2, depth=3).output_stride == 8
    assert EncoderDecoder(2, output_stride=4).depth == 2
    assert EncoderDecoder(2, depth=6, widths=(4, 8)).widths == (4, 8, 8, 8, 8, 8, 8)


@pytest.mark.parametrize("output_stride", [8, 32])
def test_circular_padding_makes_the_backbone_shift_equivariant(output_stride):
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 64)
    shifted = images.roll(shifts=(output_stride, 2 * output_stride), dims=(2, 3))  # one and two cells of the last map
    for padding_mode, equivariant in (("circular", True), ("zeros", False)):
        torch.manual_seed(1)
        backbone = SmallBackbone(output_stride=output_stride, padding_mode=padding_mode).eval()
        with torch.no_grad():
            features, features_of_shifted = backbone(images)["stage5"], backbone(shifted)["stage5"]
        rolled = features.roll(shifts=(1, 2), dims=(2, 3))
        assert torch.allclose(features_of_shifted, rolled, atol=1e-5) == equivariant, padding_mode


def test_circular_padding_leaves_no_mark_of_the_border_on_a_constant_image():
    torch.manual_seed(0)
    constant = torch.full((1, 3, 64, 64), 0.5)
    for padding_mode in ("circular", "zeros"):
        model = PSPNet(3, ppm=False, padding_mode=padding_mode).eval()
        with torch.no_grad():
            features = model.backbone(constant)["stage5"][0]  # 96 x 8 x 8
        spread = (features - features[:, :1, :1]).abs().max().item()
        assert (spread < 1e-6) == (padding_mode == "circular"), (padding_mode, spread)


def test_padding_mode_default_and_errors():
    conv = ConvBNReLU(3, 4)[0]
    assert conv.padding_mode == "zeros" and conv.padding == (1, 1)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        ConvBNReLU(3, 4, padding_mode="wrap")
    with pytest.raises(ValueError, match="exists only for backbone='small'"):
        PSPNet(3, backbone="resnet18", padding_mode="circular")
    backbone = SmallBackbone(output_stride=8, padding_mode="circular")
    assert backbone.min_circular_side == 25  # the dilation-4 convs pad 4 cells of a stride-8 map
    backbone(torch.rand(2, 3, 25, 25))
    with pytest.raises(ValueError, match="at least 25 x 25 pixels"):
        backbone(torch.rand(2, 3, 24, 40))
    model = PSPNet(3, padding_mode="circular")
    assert {m.padding_mode for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)} == {
        "circular"}
