"""The models of notebook 08: where the global prior enters (UNetPPM, UNetContext) and DeepLabV3+ with its ASPP.

The shared checks (any input size, forward and backward, clear errors) are in test_models.py; here
is what each of these models claims to compute.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segedu.course import recipes
from segedu.models import ASPP, DeepLabV3Plus, UNet, UNetContext, UNetPPM, build, count_parameters
from segedu.models import valid_weight_fraction as valid

NUM_CLASSES = 7


def record_input(module: nn.Module, seen: dict, key: str) -> None:
    """Store the first input of ``module``'s next forward passes in ``seen[key]`` (the output is left alone)."""
    def hook(module, args, out):
        seen[key] = args[0]
    module.register_forward_hook(hook)


def brute_force_valid_fraction(rate, size):
    # Count, for every position, the taps of a 3x3 filter with dilation ``rate`` that land inside the map:
    # a convolution with all-ones weights of an all-ones map under the zero padding that keeps the size.
    conv = nn.Conv2d(1, 1, 3, padding=rate, dilation=rate, bias=False)
    nn.init.ones_(conv.weight)
    with torch.no_grad():
        return float(conv(torch.ones(1, 1, size, size)).mean()) / 9


@pytest.mark.parametrize("size", [8, 16, 33])
@pytest.mark.parametrize("rate", [1, 2, 3, 4, 6, 12, 18, 40])
def test_valid_weight_fraction_counts_the_taps_inside_the_map(rate, size):
    assert valid(rate, size) == pytest.approx(brute_force_valid_fraction(rate, size), abs=1e-6)


def test_valid_weight_fraction_exact_values():
    assert valid(1, 8) == pytest.approx((22 / 24) ** 2)  # the two border rows and columns lose one tap each
    assert valid(8, 8) == valid(100, 8) == pytest.approx(1 / 9)  # only the centre tap is left: a 1x1 filter
    assert valid(18, 33) == pytest.approx((63 / 99) ** 2)  # DeepLab's largest rate on its 33 x 33 maps: 0.405
    assert valid(5, 7, kernel_size=1) == 1.0
    with pytest.raises(ValueError, match="rate must be at least 1"):
        valid(0, 8)


def test_aspp_is_five_parallel_branches_concatenated_and_projected():
    torch.manual_seed(0)
    aspp = ASPP(6, 4, rates=(1, 2, 3)).eval()
    assert [conv[0].dilation for conv in aspp.atrous] == [(1, 1), (2, 2), (3, 3)]
    assert [conv[0].padding for conv in aspp.atrous] == [(1, 1), (2, 2), (3, 3)]
    assert aspp.project[0][0].in_channels == 5 * 4
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        pooled = aspp.image_pooling(x)
        assert pooled.shape == (2, 4, 1, 1)
        by_hand = aspp.project(torch.cat([aspp.conv1x1(x), *(conv(x) for conv in aspp.atrous),
                                          pooled.expand(-1, -1, 8, 8)], dim=1))
        torch.testing.assert_close(aspp(x), by_hand)


def test_only_the_image_pooling_branch_reaches_across_the_map():
    # Rates 1 to 3 reach 3 cells; a change in one corner of an 8 x 8 map reaches the opposite corner only
    # through the global average.
    torch.manual_seed(0)
    aspp = ASPP(6, 4, rates=(1, 2, 3)).eval()
    x = torch.randn(1, 6, 8, 8)
    changed = x.clone()
    changed[..., 0, 0] += 5.0
    with torch.no_grad():
        assert not torch.allclose(aspp(x)[..., 7, 7], aspp(changed)[..., 7, 7])
        aspp.image_pooling[1].weight.zero_()  # image pooling now gives the same constant for every input
        torch.testing.assert_close(aspp(x)[..., 7, 7], aspp(changed)[..., 7, 7])


def test_aspp_refuses_bad_rates():
    with pytest.raises(ValueError, match="rates must be a non-empty tuple"):
        ASPP(8, 4, rates=3)
    with pytest.raises(ValueError, match="every rate must be at least 1"):
        ASPP(8, 4, rates=(0, 2))


def test_deeplab_decoder_takes_the_stride_4_skip_and_aspp_the_stride_8_map():
    model = DeepLabV3Plus(NUM_CLASSES).eval()
    seen = {}
    record_input(model.reduce, seen, "skip")
    record_input(model.aspp, seen, "aspp")
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, NUM_CLASSES, 64, 64)
    assert seen["skip"].shape[-2:] == (16, 16) and seen["aspp"].shape[-2:] == (8, 8)
    dilations = [m.dilation for m in model.backbone.modules() if isinstance(m, nn.Conv2d)]
    assert max(dilations) > (1, 1), "the backbone is dilated: its last stages keep stride 8"
    with pytest.raises(ValueError, match="output_stride must be 8 or 16"):
        DeepLabV3Plus(NUM_CLASSES, output_stride=32)


def joint_classifier(model: UNetContext) -> nn.Conv2d:
    """The single 1x1 convolution on ``cat(decoder map, upsampled context)`` that the model's classifier claims
    to be: the weights of its two parts side by side, and U-Net's bias."""
    joint = nn.Conv2d(model.widths[0] + model.scene.out_channels, model.num_classes, kernel_size=1)
    with torch.no_grad():
        joint.weight.copy_(torch.cat([model.classifier.weight, *(c.weight for c in model.context_classifier)], 1))
        joint.bias.copy_(model.classifier.bias)
    return joint


@pytest.mark.parametrize("bins", [(1,), (1, 2)])
def test_unet_context_is_a_1x1_classifier_on_the_decoder_map_and_the_upsampled_scene(bins):
    torch.manual_seed(0)
    model = UNetContext(NUM_CLASSES, bins=bins, aux_head=False).eval()
    seen = {}
    record_input(model.classifier, seen, "decoder")
    record_input(model.scene, seen, "bottleneck")
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        logits = model(x)
        context = model.scene.upsampled(model.scene(seen["bottleneck"]), (64, 48))
        joint = joint_classifier(model)
        torch.testing.assert_close(logits, joint(torch.cat([seen["decoder"], context], dim=1)), rtol=1e-4, atol=1e-5)
    assert seen["bottleneck"].shape == (2, 128, 8, 6) and joint.in_channels == 16 + 64 * len(bins)
    global_context = context[:, :64]  # the 1x1 bin: one vector per image, the same at every pixel
    torch.testing.assert_close(global_context, global_context[..., :1, :1].expand_as(global_context))
    assert not torch.allclose(global_context[0], global_context[1])


def test_the_context_changes_the_logits_by_the_same_amount_at_every_pixel():
    # With the global bin only, the scene adds one vector of class scores to every pixel: a scene-level bias.
    torch.manual_seed(0)
    model = UNetContext(NUM_CLASSES, aux_head=False).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        with_context = model(x)
        model.context_classifier[0].weight.zero_()
        shift = with_context - model(x)
    torch.testing.assert_close(shift, shift[..., :1, :1].expand_as(shift))
    assert shift.abs().max() > 0


def test_unet_context_returns_the_auxiliary_logits_only_in_training():
    model = UNetContext(NUM_CLASSES).train()
    result = model(torch.randn(2, 3, 32, 32))
    assert set(result) == {"out", "aux"} and result["aux"].shape == (2, NUM_CLASSES, 32, 32)
    assert isinstance(model.eval()(torch.randn(2, 3, 32, 32)), torch.Tensor)
    assert isinstance(UNetContext(NUM_CLASSES, aux_head=False).train()(torch.randn(2, 3, 32, 32)), torch.Tensor)


def test_unet_with_the_auxiliary_classifier_alone_is_a_unet_at_inference():
    torch.manual_seed(0)
    with_aux = UNetContext(NUM_CLASSES, context=False).eval()
    unet = UNet(NUM_CLASSES).eval()
    missing, unexpected = unet.load_state_dict(with_aux.state_dict(), strict=False)
    assert not missing and all(key.startswith(("scene.", "aux_head.")) for key in unexpected)
    x = torch.randn(2, 3, 40, 48)
    with torch.no_grad():
        torch.testing.assert_close(with_aux(x), unet(x))
    with pytest.raises(ValueError, match="build 'unet' instead"):
        UNetContext(NUM_CLASSES, context=False, aux_head=False)


def test_unet_ppm_feeds_the_pyramid_to_the_decoder():
    model = UNetPPM(NUM_CLASSES)
    assert model.ppm.bins == (1, 2, 3, 6)
    assert model.ups[0].in_channels == model.ppm.out_channels == 2 * model.widths[-1]
    seen = {}
    record_input(model.ups[0], seen, "input")
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, 64, 64))
    assert seen["input"].shape == (1, 256, 8, 8)


@pytest.mark.parametrize("run", ["unet_ppm", "unet_context", "unet_context_noaux", "unet_aux", "deeplabv3plus"])
def test_notebook_09_runs_stay_within_3_times_unet_parameters(run):
    unet = count_parameters(build("unet", NUM_CLASSES))
    assert count_parameters(recipes.build_run(run, NUM_CLASSES, "mixed")) <= 3 * unet
    assert run in recipes.TRACK_RUNS["mixed"]


def test_the_ablation_runs_differ_from_unet_context_in_one_option_each():
    name, options = recipes.model_spec("unet_context")
    assert name == "unet_context" and options == {}
    default = UNetContext(NUM_CLASSES)
    assert default.aux_head is not None and default.use_context
    assert recipes.model_spec("unet_context_noaux") == ("unet_context", {"aux_head": False})
    assert recipes.model_spec("unet_aux") == ("unet_context", {"context": False})


def test_the_auxiliary_loss_trains_the_context():
    # In training, the loss fit() uses (main + 0.4 aux) gives the context's 1x1 convolution a gradient even when
    # the context is not before the classifier: the auxiliary classifier is the only way it is trained.
    torch.manual_seed(0)
    model = UNetContext(NUM_CLASSES, context=False).train()
    out = model(torch.randn(2, 3, 32, 32))
    target = torch.randint(0, NUM_CLASSES, (2, 32, 32))
    (F.cross_entropy(out["out"], target) + 0.4 * F.cross_entropy(out["aux"], target)).backward()
    assert model.scene.branches[0][1].weight.grad.abs().sum() > 0


def test_deeplab_scene_prior_adds_one_score_per_class_the_same_at_every_pixel():
    torch.manual_seed(0)
    plain, prior = build("deeplabv3plus", 4).eval(), build("deeplabv3plus", 4, scene_prior=True).eval()
    assert count_parameters(prior) - count_parameters(plain) == 64 * 4  # a 1x1 conv, no bias: aspp_width x classes
    prior_without = build("deeplabv3plus", 4, scene_prior=True).eval()
    prior_without.load_state_dict(prior.state_dict())
    torch.nn.init.zeros_(prior_without.scene_classifier.weight)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        difference = prior(x) - prior_without(x)
    # the prior's scores are one vector per image, upsampled: the same at every pixel
    assert torch.allclose(difference, difference[..., :1, :1].expand_as(difference), atol=1e-5)
    assert difference.abs().max() > 0
