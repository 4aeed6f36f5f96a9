"""segedu.receptive: exact fields on hand-computable stacks, chains against the closed form,
multi-path models, textbook numbers of torchvision networks, the layer table, the effective
field, and clear errors."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from segedu.models import build
from segedu.receptive import (
    FieldProbe,
    chain_layers,
    chain_steps,
    effective_receptive_field,
    layer_table,
    receptive_field,
    rf_size,
)


def conv_stack(depth: int, kernel: int = 3, stride: int = 1, dilation: int = 1, channels: int = 2):
    layers = []
    for index in range(depth):
        layers += [nn.Conv2d(3 if index == 0 else channels, channels, kernel, stride,
                             padding=dilation * (kernel - 1) // 2, dilation=dilation), nn.ReLU()]
    return nn.Sequential(*layers)


# ----------------------------------------------------------------------------- closed form


@pytest.mark.parametrize("depth", [1, 2, 5, 10])
def test_rf_size_of_stride_one_stack_is_2L_plus_1(depth):
    assert rf_size([(3, 1)] * depth) == 2 * depth + 1


def test_rf_size_stride_and_dilation_by_hand():
    assert rf_size([(3, 2)] * 3) == 1 + 2 * 1 + 2 * 2 + 2 * 4  # 15, jumps 1, 2, 4
    assert rf_size([(2, 2)] * 5) == 32  # five 2 x 2 poolings tile 32 pixels
    assert rf_size([(3, 1, 2)]) == 5
    assert rf_size([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == 15  # exponentially dilated stack
    steps = chain_steps([(7, 2, 1, 3), (3, 2, 1, 1)])  # ResNet stem: conv 7/2 pad 3, max pool 3/2 pad 1
    assert [(s.size, s.jump, s.start) for s in steps] == [(1, 1, 0), (7, 2, -3), (11, 4, -5)]
    assert steps[-1].offset == 0.0


@pytest.mark.parametrize("bad", [[(0, 1)], [(3,)], [(3, 1, 0)], [(3, 1, 1, -1)], [(3.0, 1)], [3]])
def test_rf_size_rejects_bad_layers(bad):
    with pytest.raises((ValueError, TypeError), match="layer 0"):
        rf_size(bad)


def test_chain_layers_recognises_chains_only():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)))
    names = [name for name, _, _ in chain_layers(model)]
    assert names == ["0", "1.0", "1.1", "1.2"]
    assert chain_layers(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Upsample(scale_factor=2))) is None
    assert chain_layers(uninitialised_resnet18()) is None
    assert chain_layers(nn.Conv2d(3, 4, 3, padding_mode="circular", padding=1)) is None


# ----------------------------------------------------------------------------- gradient method, exact


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_stride_one_stack_gives_2L_plus_1(depth):
    rf = receptive_field(conv_stack(depth), (3, 32, 32))
    assert rf.position == (16, 16) and rf.output_size == (32, 32)
    assert rf.size == (2 * depth + 1, 2 * depth + 1)
    assert rf.box == (16 - depth, 16 - depth, 16 + depth, 16 + depth)
    assert rf.theoretical_size == rf.size and rf.stride == (1, 1) and rf.offset == (0.0, 0.0)


def test_stride_two_stack_and_dilation_by_hand():
    rf = receptive_field(conv_stack(3, stride=2), (3, 64, 64), position=(4, 4))
    assert rf.size == (15, 15) and rf.stride == (8, 8)
    dilated = receptive_field(nn.Conv2d(3, 1, 3, dilation=2, padding=2), (3, 16, 16), position=(8, 8))
    assert dilated.size == (5, 5) and dilated.pixels == 9  # a 5 x 5 box with holes: the gridding effect
    assert dilated.mask[6:11:2, 6:11:2].all() and dilated.mask[7, 7].item() is False


def test_max_pooling_counts_its_whole_window_module_or_functional():
    class FunctionalPool(nn.Module):
        def forward(self, x):
            return F.max_pool2d(x, 3, stride=2, padding=1)

    for pool in (nn.MaxPool2d(3, stride=2, padding=1), FunctionalPool()):
        rf = receptive_field(pool, (1, 16, 16), position=(4, 4))
        assert rf.box == (7, 7, 9, 9)
    assert receptive_field(nn.AdaptiveMaxPool2d(1), (2, 9, 7)).covers_input


def test_softmax_over_channels_does_not_hide_the_field():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Softmax(dim=1))
    assert receptive_field(model, (3, 8, 8)).size == (3, 3)


def test_bilinear_upsampling_field_by_hand():
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    # output row 5 samples input row (5 + 0.5) / 2 - 0.5 = 2.25: rows 2 and 3
    assert receptive_field(Up(), (1, 8, 8), position=(5, 5)).box == (2, 2, 3, 3)
    assert receptive_field(Up(), (1, 8, 8), position=(4, 4)).box == (1, 1, 2, 2)


def random_chain(rng: random.Random):
    layers, channels = [], 3
    for _ in range(rng.randint(1, 5)):
        kernel, dilation = rng.choice([1, 2, 3, 5]), rng.choice([1, 1, 2])
        if rng.random() < 0.3:
            stride = rng.choice([1, 2, 3])
            padding = rng.randint(0, kernel // 2)
            layers.append(nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=rng.random() < 0.5))
        else:
            layers.append(nn.Conv2d(channels, 2, kernel, rng.choice([1, 1, 2]),
                                    padding=rng.randint(0, dilation * (kernel - 1)), dilation=dilation))
            channels = 2
            layers.append(rng.choice([nn.ReLU(), nn.BatchNorm2d(2), nn.Identity()]))
    return nn.Sequential(*layers)


def test_gradient_method_equals_closed_form_on_random_chains():
    rng, checked_interior = random.Random(0), 0
    for _ in range(30):
        model = random_chain(rng)
        try:
            model(torch.zeros(1, 3, 40, 40))
        except RuntimeError:  # the chain shrank the 40 x 40 input to nothing
            continue
        probe = FieldProbe(model, (3, 40, 40))  # one forward pass, then one backward per position
        height, width = probe.output_size
        for row, col in {(0, 0), (height // 2, width // 2), (height - 1, width - 1), (height // 3, min(1, width - 1))}:
            rf = probe.field((row, col))
            top, left, bottom, right = rf.theoretical_box
            assert rf.theoretical_size == (bottom - top + 1, right - left + 1)
            if top >= 0 and left >= 0 and bottom < 40 and right < 40:  # interior: exactly the formula
                assert rf.box == rf.theoretical_box, model
                checked_interior += 1
            elif rf.box is not None:  # at the border: inside the formula's box, clipped
                assert rf.box[0] >= max(top, 0) and rf.box[1] >= max(left, 0), model
                assert rf.box[2] <= min(bottom, 39) and rf.box[3] <= min(right, 39), model
    assert checked_interior >= 30
    assert rf.box == receptive_field(model, (3, 40, 40), (row, col)).box  # the probe is what the function uses


# ----------------------------------------------------------------------------- multi-path models


class TinyUNet(nn.Module):
    """Two poolings down, two upsamplings back, skips by concatenation."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.enc1 = conv_stack(2, channels=width)
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.bottleneck = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.up2 = nn.ConvTranspose2d(width, width, 2, stride=2)
        self.dec2 = nn.Conv2d(2 * width, width, 3, padding=1)
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec1 = nn.Conv2d(2 * width, 2, 3, padding=1)

    def forward(self, x):
        skip1 = self.enc1(x)
        skip2 = self.enc2(skip1)
        x = self.dec2(torch.cat([self.up2(self.bottleneck(skip2)), skip2], dim=1))
        return self.dec1(torch.cat([self.up1(x), skip1], dim=1))


class TinyPSP(nn.Module):
    """A local conv branch plus pyramid pooling (bins 1 and 2), upsampled and concatenated."""

    def __init__(self, bins=(1, 2)):
        super().__init__()
        self.local = nn.Conv2d(3, 4, 3, padding=1)
        self.pools = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(4, 1, 1)) for b in bins)
        self.head = nn.Conv2d(4 + len(bins), 2, 1)

    def forward(self, x):
        features = self.local(x)
        size = features.shape[-2:]
        pooled = [F.interpolate(pool(features), size=size, mode="bilinear", align_corners=False)
                  for pool in self.pools]
        return self.head(torch.cat([features, *pooled], dim=1))


def test_unet_output_field_reaches_the_bottleneck_extent():
    model = TinyUNet()
    bottleneck = receptive_field(model, (3, 64, 64), layer="bottleneck")
    assert bottleneck.output_size == (16, 16) and bottleneck.stride is None
    row, col = bottleneck.position
    output = receptive_field(model, (3, 64, 64), position=(4 * row, 4 * col))
    top, left, bottom, right = bottleneck.box
    assert output.box[0] <= top and output.box[1] <= left and output.box[2] >= bottom and output.box[3] >= right
    assert output.size[0] > bottleneck.size[0]
    # without the bottleneck path the field is only the skip path's: much smaller
    assert receptive_field(model, (3, 64, 64), layer="enc1").size == (5, 5)


def test_pyramid_pooling_field_covers_the_whole_input_but_the_local_branch_does_not():
    model = TinyPSP()
    for position in [(0, 0), (15, 31), (31, 0)]:
        assert receptive_field(model, (3, 32, 48), position=position).covers_input
    assert receptive_field(model, (3, 32, 48), layer="local").size == (3, 3)
    half = receptive_field(TinyPSP(bins=(2,)), (3, 32, 48), position=(0, 0))
    assert half.box == (0, 0, 16, 24)  # bin 2 alone: the top-left quarter of the features, + the 3 x 3 conv


def test_course_unet_output_field_contains_its_bottleneck_field():
    model = build("unet", 3, base_width=4)  # depth 3: the bottleneck is the last "down" block, stride 8
    bottleneck = receptive_field(model, (3, 128, 128), layer=f"downs.{model.depth - 1}")
    assert bottleneck.output_size == (16, 16) and bottleneck.size == (68, 68)  # 5, 6, 14, 16, 32, 36, 68
    row, col = bottleneck.position
    output = receptive_field(model, (3, 128, 128), position=(8 * row + 3, 8 * col + 3))
    top, left, bottom, right = bottleneck.box
    assert output.box[0] < top and output.box[1] < left and output.box[2] > bottom and output.box[3] > right


@pytest.mark.parametrize("depth, kernel, dilation", [(7, 3, 1), (3, 5, 1), (4, 3, 2)])
def test_course_plain_cnn_agrees_with_its_own_formula(depth, kernel, dilation):
    model = build("plain", 3, depth=depth, width=4, kernel_size=kernel, dilation=dilation)
    assert receptive_field(model, (3, 40, 40)).size == (model.receptive_field, model.receptive_field)


def test_course_pspnet_sees_the_whole_image_only_with_its_pyramid():
    with_ppm = build("pspnet", 3, head_width=8)
    without = build("pspnet", 3, head_width=8, ppm=False)
    assert receptive_field(with_ppm, (3, 128, 128), position=(0, 0)).covers_input
    assert receptive_field(with_ppm, (3, 128, 128), position=(127, 64)).covers_input
    assert not receptive_field(without, (3, 128, 128), position=(0, 0)).covers_input


def uninitialised_resnet18():
    """torchvision's ResNet-18 without the cost of initialising it (the probe overwrites the weights)."""
    with torch.device("meta"):
        model = torchvision.models.resnet18(weights=None)
    return model.to_empty(device="cpu")


def test_field_of_residual_block_is_its_longest_path():
    model = uninitialised_resnet18()
    rf = receptive_field(model, (3, 128, 128), layer="layer1")
    assert rf.size == (43, 43) and rf.stride is None


def test_model_is_left_untouched():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # a caller's no_grad block does not stop the gradient method
        assert receptive_field(model, (3, 16, 16)).size == (4, 4)
        assert layer_table(model, (3, 16, 16))["3"]["rf_size"] == (4, 4)
        assert effective_receptive_field(model, torch.rand(3, 16, 16)).field.size == (4, 4)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None and p.requires_grad and p.dtype == torch.float32 for p in model.parameters())


# ----------------------------------------------------------------------------- textbook numbers


def narrow_vgg16_features():
    """VGG-16's convolutional part with 1/16 of the channels: same geometry, 250 x cheaper."""
    cfg = [c if c == "M" else c // 16 for c in torchvision.models.vgg.cfgs["D"]]
    return torchvision.models.vgg.make_layers(cfg)


def features_without_initialisation(builder):
    """``builder(weights=None).features`` without the seconds spent initialising a large classifier.

    The weights are left uninitialised: the receptive-field probe overwrites them anyway.
    """
    with torch.device("meta"):
        model = builder(weights=None)
    return model.features.to_empty(device="cpu")


def test_narrow_vgg16_table_matches_the_textbook():
    model = narrow_vgg16_features()
    pools = [name for name, module in model.named_modules() if isinstance(module, nn.MaxPool2d)]
    table = layer_table(model, (3, 224, 224), layers=pools)
    assert [row["rf_size"][0] for row in table.rows] == [6, 16, 44, 100, 212]
    assert [row["stride"] for row in table.rows] == [(2, 2), (4, 4), (8, 8), (16, 16), (32, 32)]
    assert all(row["theoretical_rf"] == row["rf_size"] for row in table.rows)


def test_alexnet_features_give_195():
    rf = receptive_field(features_without_initialisation(torchvision.models.alexnet), (3, 288, 288))
    assert rf.size == (195, 195) == rf.theoretical_size and rf.stride == (32, 32)


def test_small_input_clips_the_field_but_keeps_the_theoretical_size():
    rf = receptive_field(narrow_vgg16_features(), (3, 64, 64))
    assert rf.output_size == (2, 2) and rf.covers_input
    assert rf.size == (64, 64) and rf.theoretical_size == (212, 212)


@pytest.mark.slow
def test_vgg16_features_give_212():
    rf = receptive_field(features_without_initialisation(torchvision.models.vgg16), (3, 224, 224))
    assert rf.size == (212, 212) == rf.theoretical_size and rf.box == (6, 6, 217, 217)


@pytest.mark.slow
def test_resnet18_layers_match_the_closed_form():
    # main path by hand: conv1 7, max pool 11, then + 2 * jump per 3 x 3 conv (jump 4, 8, 16, 32)
    table = layer_table(uninitialised_resnet18(), (3, 448, 448),
                        layers=["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"])
    assert [row["rf_size"][0] for row in table.rows] == [7, 11, 43, 99, 211, 435]
    assert [row["stride"][0] for row in table.rows] == [2, 4, 4, 8, 16, 32]


# ----------------------------------------------------------------------------- layer table


def test_layer_table_rows_and_renderings():
    table = layer_table(TinyPSP(), (3, 16, 16))
    names = [row["name"] for row in table.rows]
    assert names == ["local", "pools.0.0", "pools.0.1", "pools.1.0", "pools.1.1", "head"]
    assert table["local"]["rf_size"] == (3, 3) and table["head"]["rf_size"] == (16, 16)
    assert table["pools.1.0"]["output_size"] == (2, 2) and table["pools.1.0"]["stride"] == (8, 8)
    assert "<table" in table._repr_html_() and "receptive field" in table._repr_html_()
    assert repr(table).splitlines()[1].split()[:3] == ["#", "layer", "type"]
    with pytest.raises(KeyError, match="nope"):
        table["nope"]


def test_layer_table_adds_the_output_computed_in_forward():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3, stride=2, padding=1)

        def forward(self, x):
            return F.interpolate(self.conv(x), scale_factor=2, mode="bilinear", align_corners=False)

    table = layer_table(Net(), (3, 16, 16))
    assert [row["name"] for row in table.rows] == ["conv", "(output)"]
    assert table["(output)"]["output_size"] == (16, 16) and table["(output)"]["stride"] == (1, 1)
    assert table["conv"]["theoretical_rf"] is None
    with pytest.raises(ValueError, match="no layer"):
        layer_table(Net(), (3, 16, 16), layers=["missing"])


# ----------------------------------------------------------------------------- effective field


def test_effective_field_of_a_uniform_3x3_conv_is_exact():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    nn.init.constant_(conv.weight, 1.0)
    erf = effective_receptive_field(conv, torch.rand(1, 9, 9), position=(4, 4))
    expected = torch.zeros(9, 9)
    expected[3:6, 3:6] = 1 / 9
    assert torch.allclose(erf.heatmap, expected)
    assert erf.radius50 == 1.0 and erf.radius90 == pytest.approx(math.sqrt(2))
    assert erf.mass_in_box == pytest.approx(1.0) and erf.centre == (4.0, 4.0)


def test_effective_field_lies_inside_the_analytic_field_and_is_smaller():
    torch.manual_seed(0)
    model = conv_stack(6, channels=8)
    erf = effective_receptive_field(model, torch.randn(3, 32, 32), position=(10, 20))
    assert erf.heatmap.shape == (32, 32) and erf.heatmap.sum().item() == pytest.approx(1.0)
    assert erf.heatmap[~erf.field.mask].sum() == 0 and erf.mass_in_box == pytest.approx(1.0)
    assert erf.field.size == (13, 13)
    assert 0 < erf.radius50 <= erf.radius90 <= 6 * math.sqrt(2)


def test_effective_field_targets_batches_and_model_state():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=1))
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    images = torch.randn(2, 3, 16, 16)
    summed = effective_receptive_field(model, images, (8, 8))
    single = [effective_receptive_field(model, images[0], (8, 8), target=c) for c in range(3)]
    predicted = effective_receptive_field(model, images[0], (8, 8), target="predicted")
    assert predicted.target == "predicted" and summed.field.size == (5, 5)
    assert any(torch.allclose(predicted.heatmap, s.heatmap) for s in single)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="target"):
        effective_receptive_field(model, images, (8, 8), target=3)


def test_instance_norm_spreads_the_effective_field_beyond_the_analytic_box():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.InstanceNorm2d(4), nn.Conv2d(4, 2, 1))
    erf = effective_receptive_field(model, torch.randn(3, 16, 16), (8, 8))
    assert erf.field.size == (3, 3) and erf.mass_in_box < 0.999  # statistics couple every pixel


# ----------------------------------------------------------------------------- errors


def test_position_outside_the_output_names_the_valid_range():
    with pytest.raises(IndexError, match=r"rows 0\.\.7 and cols 0\.\.7"):
        receptive_field(nn.MaxPool2d(2), (1, 16, 16), position=(8, 0))
    with pytest.raises(IndexError, match="outside"):
        effective_receptive_field(nn.Conv2d(3, 1, 1), torch.rand(3, 4, 4), position=(-1, 0))
    with pytest.raises(TypeError, match="row, col"):
        receptive_field(nn.MaxPool2d(2), (1, 16, 16), position=5)


def test_too_small_input_says_which_size_works():
    with pytest.raises(ValueError, match=r"(?s)3 x 8 x 8 input.*does run on a 3 x 11 x 11"):
        receptive_field(nn.Sequential(*[nn.Conv2d(3, 3, 3) for _ in range(5)]), (3, 8, 8))
    with pytest.raises(ValueError, match="does run on a 3 x 32 x 32 input"):
        receptive_field(narrow_vgg16_features(), (3, 16, 16))


def test_wrong_channels_and_shapes_are_named():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match="expects 3 input channels"):
        receptive_field(model, (1, 16, 16))
    with pytest.raises(ValueError, match="expects 3 input channels"):
        effective_receptive_field(model, torch.rand(1, 16, 16))
    with pytest.raises(ValueError, match="C x H x W"):
        effective_receptive_field(model, torch.rand(16, 16))
    with pytest.raises(ValueError, match="channels, height, width"):
        receptive_field(model, (16, 16))
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        receptive_field(model, (3, 16, 16), layer="nope")
