"""SyntheticClassification: one label per image, the class of the largest object."""

import pytest
import torch
from torch.utils.data import DataLoader

from segedu.data import CLASSES, SyntheticScenes
from segedu.data.classification import OTHERS_AT_MOST, SyntheticClassification


def test_items_are_an_image_and_a_scalar_label():
    dataset = SyntheticClassification("train", size=32, length=20)
    assert dataset.classes == CLASSES["shapes"][1:] and dataset.num_classes == 2
    for index in range(20):
        image, label = dataset[index]
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32
        assert label.shape == () and label.dtype == torch.int64 and 0 <= label < dataset.num_classes
    batch = dataset.batch(range(5))
    assert batch["image"].shape == (5, 3, 32, 32) and batch["label"].shape == (5,)
    images, labels = next(iter(DataLoader(dataset, batch_size=5)))
    assert torch.equal(images, batch["image"]) and torch.equal(labels, batch["label"])


@pytest.mark.parametrize("track", ["shapes", "mixed"])
def test_the_label_is_the_class_of_the_clearly_largest_object(track):
    dataset = SyntheticClassification("train", size=64, length=64, track=track)
    seen = set()
    for index in range(64):
        params, row = dataset.params(index)
        active = params.active[row]
        sizes, labels = params.size[row][active], params.label[row][active]
        largest = sizes.argmax()
        assert int(dataset[index][1]) == labels[largest] - 1
        others = torch.cat([sizes[:largest], sizes[largest + 1:]])
        assert (others <= OTHERS_AT_MOST * sizes[largest] + 1e-6).all()
        assert 1 <= active.sum() <= 3
        seen.add(int(dataset[index][1]))
    assert seen == set(range(dataset.num_classes))


def test_the_largest_object_is_visible_in_the_image():
    dataset = SyntheticClassification("val", size=64, length=16)
    for index in range(16):
        params, row = dataset.params(index)
        mask = SyntheticScenes.__getitem__(dataset, index)[1]  # the scene's mask, kept with the chunk
        assert (mask == dataset[index][1] + 1).sum() > 0


def test_classification_images_are_not_the_segmentation_scenes():
    scenes = SyntheticScenes("train", "shapes", size=32, length=8)
    images = SyntheticClassification("train", size=32, length=8)
    assert not any(torch.equal(scenes[i][0], images[i][0]) for i in range(8))


def test_a_transform_is_applied_to_the_image():
    dataset = SyntheticClassification("train", size=32, length=2, transform=lambda image: image.flip(-1))
    plain = SyntheticClassification("train", size=32, length=2)
    assert torch.equal(dataset[1][0], plain[1][0].flip(-1)) and dataset[1][1] == plain[1][1]
