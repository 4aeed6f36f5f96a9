"""segedu.widgets: the explorers' callbacks, driven by setting slider values (no browser)."""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from segedu.receptive import effective_receptive_field, receptive_field, rf_size  # noqa: E402
from segedu.widgets import TEXT_CLASS, receptive_field_explorer, rf_arithmetic_explorer  # noqa: E402


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
