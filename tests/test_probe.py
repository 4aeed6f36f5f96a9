"""Linear probes (segedu.probe): what a linear read-out of features can tell, on the harbour track."""

import pytest
import torch

from segedu.data import SyntheticScenes
from segedu.models import SmallBackbone
from segedu.probe import global_average, half_probe, linear_probe_accuracy, mirror_pairs, mirror_probe


@pytest.fixture(scope="module")
def harbour():
    return SyntheticScenes("val", "harbour", size=64, length=96)


def test_global_average_is_the_mean_over_positions():
    maps = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    assert torch.equal(global_average(maps), maps.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="N x C x h x w"):
        global_average(maps[0])


def test_linear_probe_reads_a_separable_label_and_not_an_unreadable_one():
    torch.manual_seed(0)
    features = torch.randn(200, 4)
    labels = (features[:, 2] > 0).long()
    assert linear_probe_accuracy(features[:100], labels[:100], features[100:], labels[100:]) >= 0.95
    # The same features twice with opposite labels: whatever the probe says, it is right on exactly half.
    twice, opposite = torch.cat([features, features]), torch.cat([labels, 1 - labels])
    assert linear_probe_accuracy(twice, opposite, twice, opposite) == 0.5
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        linear_probe_accuracy(features, labels + 1, features, labels)


def test_mirror_pairs_are_flipped_across_the_bands_with_opposite_labels(harbour):
    images, water_first = mirror_pairs(harbour)
    assert len(images) == len(water_first) > 0 and len(images) % 2 == 0
    assert torch.equal(water_first[0::2], 1 - water_first[1::2])
    for scene, mirror in zip(images[0::2], images[1::2], strict=True):
        assert torch.equal(mirror, scene.flip(-2)) or torch.equal(mirror, scene.flip(-1))
        assert torch.equal(scene.flatten(1).sort().values, mirror.flatten(1).sort().values)  # the same pixels
    # Water is blue: in the top or left band when water_first is 1.
    blue_minus_red = images[:, 2] - images[:, 0]
    top_left = torch.stack([(blue_minus_red[i, :4].mean() + blue_minus_red[i, :, :4].mean())
                            - (blue_minus_red[i, -4:].mean() + blue_minus_red[i, :, -4:].mean())
                            for i in range(len(images))])
    assert ((top_left > 0).long() == water_first).float().mean() == 1.0
    with pytest.raises(ValueError, match="two bands"):
        mirror_pairs(SyntheticScenes("val", "context", size=64, length=4))


def test_the_average_of_the_pixels_cannot_tell_a_scene_from_its_mirror_image(harbour):
    assert mirror_probe(lambda images: images.mean(dim=(2, 3)), harbour) == 0.5
    # The blue of the top and left rows against the bottom and right ones can.
    sides = lambda images: torch.stack([images[:, 2, :8].mean((1, 2)) - images[:, 2, -8:].mean((1, 2)),  # noqa: E731
                                        images[:, 2, :, :8].mean((1, 2)) - images[:, 2, :, -8:].mean((1, 2))], 1)
    assert mirror_probe(sides, harbour) >= 0.9


def test_half_probe_finds_the_border_with_zero_padding_and_not_with_circular():
    torch.manual_seed(0)
    noise = torch.rand(16, 3, 64, 64)
    accuracy = {}
    for padding_mode in ("zeros", "circular"):
        torch.manual_seed(0)
        backbone = SmallBackbone(output_stride=8, padding_mode=padding_mode).eval()
        accuracy[padding_mode] = half_probe(lambda images, b=backbone: b(images)["stage5"], noise)
    assert accuracy["zeros"] >= 0.9
    assert accuracy["circular"] <= 0.65
    rows = lambda images: torch.arange(8.0).view(1, 1, 8, 1).expand(len(images), 1, 8, 8)  # noqa: E731
    assert half_probe(rows, noise) == 1.0
    with pytest.raises(ValueError, match="even h"):
        half_probe(lambda images: torch.zeros(len(images), 1, 7, 8), noise)
