"""segedu.widgets: the explorers' callbacks, driven by setting control values (no browser).

Every explorer: a control moved changes ``state`` and the picture, the numbers are exact where the
arithmetic gives them, and bad arguments raise an error that says what is wrong (never clamped).
"""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from segedu.models import bilinear_kernel, build, checkerboard_demo  # noqa: E402
from segedu.receptive import effective_receptive_field, receptive_field, rf_size  # noqa: E402
from segedu.widgets import (  # noqa: E402
    TEXT_CLASS,
    chain_explorer,
    compare_fields,
    deepest_stage,
    pyramid_explorer,
    receptive_field_explorer,
    rf_arithmetic_explorer,
    scale_explorer,
    stage_names,
    upsampling_explorer,
)
from segedu.widgets.common import check_palette  # noqa: E402
from segedu.widgets.pyramid import adaptive_cells  # noqa: E402
from segedu.widgets.upsampling import bilinear_taps  # noqa: E402


def three_convs():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 3, 3, padding=1),
    )


def down_up():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(6, 3, 1),
    )


@pytest.fixture
def image():
    torch.manual_seed(2)
    return torch.rand(3, 24, 24)


def png_shown(explorer) -> bytes:
    (output,) = explorer.view.outputs  # exactly one figure, replaced on every move
    return base64.b64decode(output["data"]["image/png"])


def test_explorer_moves_and_reports_exact_analytic_numbers(image):
    explorer = receptive_field_explorer(three_convs(), image)
    assert explorer.state["position"] == (12, 12) and explorer.state["size"] == (7, 7)
    assert explorer.state["box"] == (9, 9, 15, 15)
    explorer.row.value = 0
    assert explorer.state["position"] == (0, 12)
    assert explorer.state["box"] == (0, 9, 3, 15) and explorer.state["size"] == (4, 7)
    explorer.col.value = 23
    assert explorer.state["box"] == (0, 20, 3, 23)
    assert "pixel (0, 23): receptive field 4 x 4 px, box rows 0-3 cols 20-23" in explorer.text.value
    assert TEXT_CLASS in explorer.text._dom_classes
    assert png_shown(explorer).startswith(b"\x89PNG") and png_shown(explorer) == explorer.last_png


def test_explorer_effective_numbers_match_the_function(image):
    model = three_convs()
    explorer = receptive_field_explorer(model, image)
    explorer.row.value, explorer.col.value = 5, 17
    direct = effective_receptive_field(model, image, (5, 17))
    assert explorer.state["radius90"] == direct.radius90 and explorer.state["radius50"] == direct.radius50
    assert explorer.state["mass_in_box"] == pytest.approx(1.0)
    assert f"90% of the gradient within {direct.radius90:.1f} px" in explorer.text.value


def test_layer_dropdown_switches_output_and_keeps_the_image_location(image):
    model = down_up()
    explorer = receptive_field_explorer(model, image)
    assert explorer.layer.options[0] == "(output)" and "3" in explorer.layer.options
    explorer.row.value, explorer.col.value = 16, 4
    explorer.layer.value = "3"  # the convolution after the pooling: a 12 x 12 map
    assert (explorer.row.max, explorer.col.max) == (11, 11)
    assert explorer.state["position"] == (8, 2)
    expected = receptive_field(model, (3, 24, 24), (8, 2), layer="3")
    assert explorer.state["box"] == expected.box and explorer.state["size"] == (8, 8)
    assert explorer.state["theoretical_size"] == (8, 8)  # a chain up to that layer
    assert explorer.text.value.startswith("position (8, 2) of layer 3:")
    explorer.layer.value = "(output)"
    assert explorer.row.max == 23 and explorer.state["position"] == (16, 4)


def test_explorer_caches_fields_and_does_not_pile_up_figures(image, monkeypatch):
    plt.close("all")
    explorer = receptive_field_explorer(three_convs(), image, layers=["2"])
    calls = []
    original = explorer._analytic["(output)"].field
    monkeypatch.setattr(explorer._analytic["(output)"], "field", lambda p: calls.append(p) or original(p))
    for value in (3, 4, 3, 4, 3):
        explorer.row.value = value
    assert calls == [(3, 12), (4, 12)]  # each position computed once
    explorer.layer.value = "2"
    explorer.layer.value = "(output)"
    assert set(explorer._analytic) == {"(output)", "2"}
    assert plt.get_fignums() == [] and len(explorer.view.outputs) == 1


def test_compare_models_prediction_and_state_restored(image):
    plain, unet_like = three_convs(), down_up()
    plain.train()
    before = [p.detach().clone() for p in plain.parameters()]
    mask = torch.zeros(24, 24, dtype=torch.long)
    mask[4:10, 4:10] = 1
    mask[0, 0] = 255  # ignored pixel: drawn grey
    explorer = receptive_field_explorer({"plain": plain, "down-up": unet_like}, image, mask=mask,
                                        class_names=["a", "b", "c"], palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    assert list(explorer.layer.options) == ["plain", "down-up"] and explorer.layer.description == "model"
    assert explorer.state["size"] == (7, 7)
    explorer.layer.value = "down-up"
    assert explorer.text.value.startswith("down-up, pixel (12, 12): receptive field")
    assert explorer.state["size"] == receptive_field(unet_like, (3, 24, 24)).size
    predicted = int(unet_like(image[None])[0, :, 12, 12].argmax())
    assert explorer.state["predicted"] == predicted and f"predicted: {'abc'[predicted]}" in explorer.text.value
    assert plain.training and all(torch.equal(a, b) for a, b in zip(before, plain.parameters(), strict=True))
    assert all(p.grad is None for p in plain.parameters())


def test_explorer_rejects_bad_input(image):
    with pytest.raises(ValueError, match="C x H x W"):
        receptive_field_explorer(three_convs(), image[0])
    with pytest.raises(ValueError, match="dict of models"):
        receptive_field_explorer({"a": three_convs()}, image, layers=["0"])
    with pytest.raises(ValueError, match="no layer"):
        receptive_field_explorer(three_convs(), image, layers=["7"])
    with pytest.raises(TypeError, match="nn.Module"):
        receptive_field_explorer({"a": "not a model"}, image)
    with pytest.raises(ValueError, match="expects 3 input channels"):
        receptive_field_explorer(three_convs(), image[:1])


def test_arithmetic_explorer_follows_the_sliders():
    explorer = rf_arithmetic_explorer()
    assert explorer.state["sizes"] == [1, 3, 5, 7] and explorer.state["jump"] == 1
    explorer.stride.value = 2
    assert explorer.state["sizes"] == [1, 3, 7, 15] and explorer.state["jumps"] == [1, 2, 4, 8]
    explorer.stride.value, explorer.dilation.value, explorer.depth.value = 1, 2, 1
    assert explorer.state["size"] == 5 and explorer.state["supports"] == [[0, 2, 4], [0]]  # holes
    assert "<b>5</b>" in explorer.text.value
    for kernel, stride, dilation, depth in [(5, 3, 1, 4), (2, 2, 3, 5), (7, 3, 3, 6)]:
        explorer.kernel.value, explorer.stride.value = kernel, stride
        explorer.dilation.value, explorer.depth.value = dilation, depth
        assert explorer.state["size"] == rf_size([(kernel, stride, dilation)] * depth)
        assert explorer.state["supports"][0][-1] == explorer.state["size"] - 1
        assert png_shown(explorer).startswith(b"\x89PNG")
    assert explorer.state["size"] == 6553  # drawn as bars, not unit by unit


# -- bad arguments: errors that say what is wrong, never a silent fix --------------------------------------


@pytest.mark.parametrize("kernel", [100, 0, 2.5, True])
def test_arithmetic_explorer_refuses_a_kernel_outside_its_slider_instead_of_clamping_or_rounding_it(kernel):
    with pytest.raises(ValueError, match=r"kernel must be .*from 1 to 7"):
        rf_arithmetic_explorer(kernel=kernel)


def test_a_mask_of_another_size_is_an_error_not_stretched(image):
    with pytest.raises(ValueError, match=r"mask is 10 x 10 but the image is 24 x 24"):
        receptive_field_explorer(three_convs(), image, mask=torch.zeros(10, 10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"mask must hold integer class indices"):
        receptive_field_explorer(three_convs(), image, mask=torch.zeros(24, 24))


def test_too_few_class_names_or_colours_is_an_error(image):
    with pytest.raises(ValueError, match=r"the model predicts 3 classes but class_names has only 1 name"):
        receptive_field_explorer(three_convs(), image, class_names=["a"], palette=[(0, 0, 0)] * 3)
    with pytest.raises(ValueError, match=r"the model predicts 3 classes but the palette has only 2 colour"):
        receptive_field_explorer(three_convs(), image, class_names=["a", "b", "c"], palette=[(0, 0, 0)] * 2)
    mask = torch.zeros(24, 24, dtype=torch.long)
    mask[0, 0] = 3
    with pytest.raises(ValueError, match=r"mask holds class 3 but there are only 3 classes"):
        receptive_field_explorer(three_convs(), image, mask, class_names=["a", "b", "c"])


def test_palettes_of_0_to_1_floats_are_scaled_and_0_to_255_integers_kept():
    assert check_palette([(1.0, 0.0, 0.5)], 1, "").tolist() == [[255, 0, 128]]
    assert check_palette(np.array([[1, 0.5, 0]], dtype=np.float32), 1, "").tolist() == [[255, 128, 0]]
    assert check_palette([(1, 0, 255), (3, 4, 5)], 2, "").tolist() == [[1, 0, 255], [3, 4, 5]]
    with pytest.raises(ValueError, match="0-255 integers or 0-1 floats"):
        check_palette([(300, 0, 0)], 1, "")
    with pytest.raises(ValueError, match=r"palette must be a list of \(r, g, b\) colours"):
        check_palette([(1, 2)], 1, "")


# -- compare_fields ----------------------------------------------------------------------------------------


@pytest.fixture
def pair():
    return {"plain": three_convs(), "down-up": down_up()}


def test_compare_fields_shows_every_model_at_the_same_pixel(image, pair):
    names, palette = ["a", "b", "c"], [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    mask = torch.zeros(24, 24, dtype=torch.long)
    explorer = compare_fields(pair, image, mask, names, palette)
    plain, down_up_model = explorer.state["models"]["plain"], explorer.state["models"]["down-up"]
    assert explorer.state["pixel"] == (12, 12) and explorer.state["layer"] == "output"
    assert plain["box"] == (9, 9, 15, 15) and plain["size"] == (7, 7) and plain["layer"] is None
    assert down_up_model["box"] == receptive_field(pair["down-up"], (3, 24, 24), (12, 12)).box
    before = png_shown(explorer)
    explorer.row.value, explorer.col.value = 0, 23
    assert explorer.state["pixel"] == (0, 23) and explorer.state["models"]["plain"]["box"] == (0, 20, 3, 23)
    for name, model in pair.items():
        assert explorer.state["models"][name]["predicted"] == int(model(image[None])[0, :, 0, 23].argmax())
        assert explorer.state["models"][name]["radius90"] == effective_receptive_field(model, image, (0, 23)).radius90
    assert png_shown(explorer) != before and png_shown(explorer).startswith(b"\x89PNG")
    assert "<td>plain</td><td>output 24 x 24 (0, 23)</td><td>4 x 4 px</td>" in explorer.text.value


def test_compare_fields_deepest_stage_is_the_bottleneck_of_each_model(image, pair):
    explorer = compare_fields(pair, image, layer="deepest", pixel=(17, 5))
    shown = explorer.state["models"]["down-up"]
    assert shown["layer"] == "3" and shown["output_size"] == (12, 12) and shown["position"] == (8, 2)
    assert shown["box"] == receptive_field(pair["down-up"], (3, 24, 24), (8, 2), layer="3").box
    assert explorer.state["models"]["plain"]["layer"] == "4"  # a chain of convolutions: its last one
    explorer.layer.value = "output"
    assert explorer.state["models"]["down-up"]["position"] == (17, 5)
    chosen = compare_fields(pair, image, layer="deepest", stages={"down-up": "0"})
    assert chosen.state["models"]["down-up"]["layer"] == "0" and chosen.state["models"]["down-up"]["size"] == (3, 3)


def test_compare_fields_computes_each_pixel_once_and_leaves_the_models_alone(image, pair):
    pair["plain"].train()
    explorer = compare_fields(pair, image)
    calls = []
    for (name, _layer), probe in explorer._probes.items():
        original = probe.field
        probe.field = lambda position, target, original=original, name=name: calls.append(name) or original(
            position, target)
    for row in (3, 4, 3, 4, 3):
        explorer.row.value = row
    assert sorted(calls) == ["down-up", "down-up", "plain", "plain"]
    assert pair["plain"].training and all(p.grad is None for m in pair.values() for p in m.parameters())


def test_compare_fields_rejects_bad_arguments(image, pair):
    with pytest.raises(ValueError, match="dict of 1 to 6"):
        compare_fields(three_convs(), image)
    with pytest.raises(ValueError, match="layer must be one of"):
        compare_fields(pair, image, layer="middle")
    with pytest.raises(ValueError, match=r"pixel row must be from 0 to 23, got 24"):
        compare_fields(pair, image, pixel=(24, 0))
    with pytest.raises(ValueError, match=r"mask is 12 x 12 but the image is 24 x 24"):
        compare_fields(pair, image, mask=torch.zeros(12, 12, dtype=torch.long))
    with pytest.raises(ValueError, match=r"the models predict 3 classes but class_names has only 2"):
        compare_fields(pair, image, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"has no layer 'nope'"):
        compare_fields(pair, image, stages={"plain": "nope"})
    pooled = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.MaxPool2d(2))
    with pytest.raises(ValueError, match=r"predicts a 12 x 12 map for a 24 x 24 image"):
        compare_fields({"pooled": pooled}, image)


def test_deepest_stage_of_the_course_models():
    expected = {"plain": "features.6", "encdec": "encoder.3", "unet": "downs.2", "pspnet": "backbone.stages.4",
                "fcn8s": "backbone.stages.4"}
    for name, stage in expected.items():
        torch.manual_seed(0)
        assert deepest_stage(build(name, 3)) == stage, name
    assert stage_names(build("unet", 3)) == ["first", "downs.0", "downs.1", "downs.2"]
    assert deepest_stage(down_up(), (3, 24, 24)) == "3"


# -- chain_explorer ----------------------------------------------------------------------------------------


def test_chain_explorer_gives_jump_and_field_after_each_layer():
    explorer = chain_explorer()  # two VGG blocks: conv, conv, pool, conv, conv, pool
    assert explorer.state["sizes"] == [1, 3, 5, 6, 10, 14, 16] and explorer.state["jumps"] == [1, 1, 1, 2, 2, 2, 4]
    assert "<td>3</td><td>pool 2x2, stride 2</td><td>2</td><td><b>6</b></td>" in explorer.text.value
    before = png_shown(explorer)
    explorer.layer.value = 2  # the first pooling layer
    explorer.stride.value = 1
    assert explorer.state["layers"][2] == ("pool", 2, 1, 1)
    assert explorer.state["sizes"] == [1, 3, 5, 6, 8, 10, 11] and png_shown(explorer) != before
    explorer.kind.value = "conv"
    explorer.dilation.value = 3
    assert explorer.state["layers"][2] == ("conv", 2, 1, 3) and explorer.state["sizes"][3] == 8


def test_chain_explorer_adds_and_removes_layers():
    explorer = chain_explorer([(3, 2)])
    assert explorer.remove.disabled and explorer.state["sizes"] == [1, 3]
    explorer.add.click()  # a copy of the selected layer after it
    assert explorer.state["layers"] == [("conv", 3, 2, 1)] * 2 and explorer.layer.value == 1
    assert explorer.state["sizes"] == [1, 3, 7] and not explorer.remove.disabled
    explorer.kernel.value = 5
    assert explorer.state["sizes"] == [1, 3, 11] == [1, 3, rf_size([(3, 2), (5, 2)])]
    explorer.layer.value = 0
    explorer.remove.click()
    assert explorer.state["layers"] == [("conv", 5, 2, 1)] and explorer.layer.options == (("1: conv 5x5, stride 2", 0),)


def test_chain_explorer_takes_tuples_dicts_and_a_sequential_alike():
    as_tuples = chain_explorer([(3, 1), ("pool", 2, 2), (3, 1, 2)])
    as_dicts = chain_explorer([{"kernel": 3, "stride": 1}, {"kind": "pool", "kernel": 2, "stride": 2},
                               {"kernel": 3, "stride": 1, "dilation": 2}])
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Conv2d(4, 4, 3, padding=2, dilation=2))
    as_module = chain_explorer(module)
    assert as_tuples.state["layers"] == as_dicts.state["layers"] == as_module.state["layers"]
    assert as_module.state["size"] == receptive_field(module, (3, 64, 64)).theoretical_size[0] == 12
    assert chain_explorer([(3, 1, 2)]).state["supports"] == [[0, 2, 4], [0]]  # the holes of dilation


def test_chain_explorer_rejects_bad_layers():
    with pytest.raises(ValueError, match=r"layer 0: kernel must be from 1 to 11, got 12"):
        chain_explorer([(12, 1)])
    with pytest.raises(ValueError, match=r"layer 1: stride must be a whole number from 1 to 4, got 1.5"):
        chain_explorer([(3, 1), (3, 1.5)])
    with pytest.raises(ValueError, match=r"kind must be one of \('conv', 'pool'\)"):
        chain_explorer([("deconv", 3, 2)])
    with pytest.raises(ValueError, match="a chain needs 1 to 10 layers, got 0"):
        chain_explorer([])
    with pytest.raises(ValueError, match="not square"):
        chain_explorer(nn.Sequential(nn.Conv2d(3, 3, (3, 5))))
    with pytest.raises(ValueError, match="not a plain chain"):
        chain_explorer(down_up())


def test_the_arithmetic_explorer_is_the_chain_of_one_repeated_layer():
    explorer = rf_arithmetic_explorer(kernel=5, stride=2, dilation=2, depth=3)
    chain = chain_explorer([(5, 2, 2)] * 3)
    assert {k: explorer.state[k] for k in ("sizes", "jumps", "supports")} == \
        {k: chain.state[k] for k in ("sizes", "jumps", "supports")}


# -- upsampling_explorer -----------------------------------------------------------------------------------


def test_upsampling_explorer_counts_overlaps_and_sizes_exactly():
    explorer = upsampling_explorer(kernel=3, stride=2, padding=0, size=5)
    assert explorer.state["output_size"] == (5 - 1) * 2 + 3 == 11
    assert explorer.state["pattern"] == [[4, 2], [2, 1]] and explorer.state["counts"] == [1, 2, 4]
    assert explorer.state["checkerboard"] and "4/2/2/1" in explorer.text.value
    assert explorer.state["flat"]  # the 3-tap bilinear kernel [0.5, 1, 0.5] evens the counts out
    before = png_shown(explorer)
    explorer.kernel.value = 4
    assert explorer.state["output_size"] == 12 and explorer.state["counts"] == [4]
    assert not explorer.state["checkerboard"] and explorer.state["flat"] and png_shown(explorer) != before
    explorer.kernel.value, explorer.padding.value, explorer.output_padding.value = 5, 2, 1
    assert explorer.state["output_size"] == (5 - 1) * 2 - 2 * 2 + 5 + 1 == 10
    assert explorer.state["output_range"] is None and "no bilinear kernel for kernel 5" in explorer.text.value


@pytest.mark.parametrize("kernel, stride", [(3, 2), (4, 2), (5, 3), (2, 1), (7, 4)])
def test_the_count_map_is_the_checkerboard_demo(kernel, stride):
    explorer = upsampling_explorer(kernel=kernel, stride=stride, padding=0, size=6)
    interior = checkerboard_demo(kernel, stride, size=6)[kernel - 1 : 5 * stride + 1, kernel - 1 : 5 * stride + 1]
    assert explorer.state["counts"] == sorted({int(v) for v in interior.flatten()})


def test_bilinear_taps_are_fcns_kernel():
    assert torch.allclose(bilinear_taps(4)[:, None] * bilinear_taps(4)[None, :], bilinear_kernel(2).double())
    assert bilinear_taps(3).tolist() == [0.5, 1.0, 0.5]


def test_resize_then_convolve_has_no_checkerboard():
    explorer = upsampling_explorer(mode="resize", kernel=3, stride=2, padding=1, output_padding=0, size=5)
    assert explorer.state["output_size"] == 5 * 2 + 2 - 3 + 1 == 10
    assert explorer.state["counts"] == [9] and not explorer.state["checkerboard"] and explorer.state["flat"]
    assert explorer.output_padding.disabled and explorer.weights.disabled


def test_impossible_settings_say_why_and_draw_nothing():
    explorer = upsampling_explorer(kernel=3, stride=2, padding=1, output_padding=1)
    explorer.output_padding.value = 2
    assert explorer.state["output_size"] is None and explorer.view.outputs == ()
    assert "output_padding (2) must be smaller than the stride (2)" in explorer.state["error"]
    assert "cannot upsample" in explorer.text.value
    explorer.output_padding.value = 0
    assert explorer.state["error"] is None and png_shown(explorer).startswith(b"\x89PNG")
    explorer.size.value, explorer.kernel.value, explorer.stride.value, explorer.padding.value = 2, 1, 1, 4
    assert "padding 4 leaves no output ((2 - 1) x 1 - 2 x 4 + 1 + 0 = -6)" in explorer.state["error"]


def test_upsampling_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"kernel must be from 1 to 8, got 0"):
        upsampling_explorer(kernel=0)
    with pytest.raises(ValueError, match=r"output_padding \(2\) must be smaller than the stride \(2\)"):
        upsampling_explorer(stride=2, output_padding=2)
    with pytest.raises(ValueError, match="weights must be one of"):
        upsampling_explorer(weights="trained")
    two = nn.Sequential(nn.ConvTranspose2d(2, 2, 4, 2, 1), nn.ConvTranspose2d(2, 2, 4, 2, 1))
    with pytest.raises(ValueError, match=r"exactly one nn.ConvTranspose2d, found 2"):
        upsampling_explorer(trained=two)


def test_a_trained_kernel_on_a_flat_input():
    layer = nn.ConvTranspose2d(2, 3, kernel_size=3, stride=2, padding=1, output_padding=1)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[:, 1] = 1.0  # output channel 1: every tap 1 from both inputs -> twice the overlap count
        layer.bias.zero_()
    explorer = upsampling_explorer(trained=nn.Sequential(layer, nn.ReLU()))
    assert (explorer.state["kernel"], explorer.state["stride"], explorer.state["padding"]) == (3, 2, 1)
    assert explorer.kernel.disabled and explorer.state["weights"] == "trained"
    assert explorer.state["channel"] == 1  # the most uneven channel comes first
    assert explorer.state["output_range"] == (2.0, 8.0) and not explorer.state["flat"]
    explorer.channel.value = 0
    assert explorer.state["flat"] and explorer.state["output_range"] == (0.0, 0.0)
    explorer.weights.value = "bilinear"
    assert not explorer.kernel.disabled and explorer.state["flat"]


# -- pyramid_explorer --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, bins", [(8, 3), (16, 6), (4, 6), (6, 2)])
def test_adaptive_cells_are_torchs_adaptive_pooling(size, bins):
    values = torch.arange(size, dtype=torch.float64)[None, None, :, None]
    pooled = F.adaptive_avg_pool2d(values, (bins, 1))[0, 0, :, 0]
    assert [sum(range(a, b + 1)) / (b - a + 1) for a, b in adaptive_cells(size, bins)] == pooled.tolist()


@pytest.fixture
def scenes():
    torch.manual_seed(3)
    return {"image": torch.rand(3, 3, 64, 64), "mask": torch.randint(0, 3, (3, 64, 64))}


@pytest.fixture
def pyramid_models():
    torch.manual_seed(0)
    return {"no PPM": build("pspnet", 3, ppm=False), "PSPNet": build("pspnet", 3)}


def test_pyramid_explorer_draws_the_cells_of_the_chosen_level(scenes, pyramid_models):
    explorer = pyramid_explorer(scenes, pyramid_models, bin=2)
    assert explorer.state["feature_size"] == (8, 8) and explorer.state["stride"] == 8
    assert explorer.state["cells"] == [(0, 0, 31, 31), (0, 32, 31, 63), (32, 0, 63, 31), (32, 32, 63, 63)]
    image = scenes["image"][0]
    (whole,) = explorer.state["averages"][1]
    assert whole == pytest.approx((image * 255).round().mean(dim=(1, 2)).div(255).tolist(), abs=1e-6)
    for name, model in pyramid_models.items():
        predicted = model.eval()(image[None])[0].argmax(0)
        assert explorer.state["accuracy"][name] == pytest.approx(float((predicted == scenes["mask"][0]).float().mean()))
    before = png_shown(explorer)
    explorer.bin.value = 3
    assert len(explorer.state["cells"]) == 9 and explorer.state["cells"][1] == (0, 16, 23, 47)  # overlapping cells
    assert "neighbouring cells overlap" in explorer.text.value and png_shown(explorer) != before
    explorer.scene.value = 2
    assert explorer.state["scene"] == 2 and explorer.state["averages"][1] != [whole]
    named = pyramid_explorer(scenes, pyramid_models, class_names=["sea", "boat", "car"], palette=[(0, 0, 255)] * 3)
    assert '<span style="color: rgb(0, 0, 255)">&#9632;</span> boat' in named.text.value


def test_pyramid_explorer_without_a_module_uses_the_output_stride(scenes, pyramid_models):
    explorer = pyramid_explorer(scenes["image"], {"no PPM": pyramid_models["no PPM"]}, bins=(1, 4))
    assert explorer.state["feature_size"] == (8, 8) and explorer.state["bin"] == 4
    assert explorer.state["accuracy"] == {"no PPM": None}  # no masks given


def test_pyramid_explorer_rejects_bad_arguments(scenes, pyramid_models):
    with pytest.raises(ValueError, match=r"scene 0's mask is 32 x 32 but the image is 64 x 64"):
        pyramid_explorer({"image": scenes["image"], "mask": torch.zeros(3, 32, 32, dtype=torch.long)},
                         pyramid_models)
    with pytest.raises(ValueError, match=r"every bin must be from 1 to 16, got 0"):
        pyramid_explorer(scenes, pyramid_models, bins=(0, 2))
    with pytest.raises(ValueError, match=r"bin must be one of bins \(1, 2\), got 3"):
        pyramid_explorer(scenes, pyramid_models, bins=(1, 2), bin=3)
    with pytest.raises(ValueError, match=r"the models predict 3 classes but class_names has only 2"):
        pyramid_explorer(scenes, pyramid_models, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"scene must be from 0 to 2, got 3"):
        pyramid_explorer(scenes, pyramid_models, scene=3)


# -- scale_explorer ----------------------------------------------------------------------------------------


def four_halvings():
    """Four 3x3 stride-2 convolutions (padding 1): fields 3, 7, 15, 31 px, jumps 2, 4, 8, 16."""
    torch.manual_seed(0)
    layers = []
    for index in range(4):
        layers += [nn.Conv2d(3 if index == 0 else 4, 4, 3, stride=2, padding=1), nn.ReLU()]
    return nn.Sequential(*layers)


def test_scale_explorer_finds_the_first_stage_that_holds_the_object():
    explorer = scale_explorer(four_halvings(), size=20)
    assert [stage["size"][0] for stage in explorer.state["stages"]] == [3, 7, 15, 31]
    assert explorer.state["object"] == (22, 22, 41, 41) and explorer.state["first"] == "6"
    assert [stage["holds"] for stage in explorer.state["stages"]] == [False, False, False, True]
    held = explorer.state["stages"][3]
    assert held["box"] == receptive_field(four_halvings(), (3, 64, 64), held["position"], layer="6").box
    before = png_shown(explorer)
    explorer.size.value = 14  # rows 25-38: inside the field of position 4 of the stride-8 stage (rows 25-39)
    assert explorer.state["first"] == "4" and png_shown(explorer) != before
    explorer.size.value = 15  # rows 24-38: 15 px fields sit at rows 8p - 7 .. 8p + 7, none holds it
    stride_8 = explorer.state["stages"][2]
    assert stride_8["size"] == (15, 15) and not stride_8["holds"] and explorer.state["first"] == "6"
    explorer.size.value = 40
    assert explorer.state["first"] is None and "no stage holds a 40 px object" in explorer.text.value


def test_scale_explorer_on_a_course_model_and_with_named_stages():
    torch.manual_seed(0)
    encdec = build("encdec", 3)
    explorer = scale_explorer(encdec, size=8)
    assert [s["layer"] for s in explorer.state["stages"]] == ["stem", "encoder.0", "encoder.1", "encoder.2",
                                                             "encoder.3"]
    assert [s["stride"] for s in explorer.state["stages"]] == [1, 2, 4, 8, 16]
    named = scale_explorer(four_halvings(), size=20, stages={"stride 8": "4", "stride 16": "6"})
    assert named.state["first"] == "stride 16" and len(named.state["stages"]) == 2


def test_scale_explorer_rejects_bad_arguments():
    for size in (0, 65, 2.5):
        with pytest.raises(ValueError, match=r"size must be"):
            scale_explorer(four_halvings(), size=size)
    with pytest.raises(ValueError, match=r"has no layer\(s\) \['9'\]"):
        scale_explorer(four_halvings(), stages=["9"])
    with pytest.raises(ValueError, match="must be an nn.Module"):
        scale_explorer("encdec")
