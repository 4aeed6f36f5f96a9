"""Joint transforms keep image and mask aligned; masks keep their class ids (nearest resizing)."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from segedu.data import SyntheticScenes, track_spec
from segedu.data.transforms import eval_transforms, train_transforms


def flat_scenes(length=8, size=64):
    """Large flat-coloured disks and triangles on a flat background: colour tells the class."""
    spec = dataclasses.replace(track_spec("shapes"), texture_strength=0.0, shading=0.0, noise_std=0.0,
                               min_objects=1, max_objects=1, size_range=(0.45, 0.5))
    return SyntheticScenes("train", "shapes", size=size, length=length, spec=spec)


def agreement(image: torch.Tensor, mask: torch.Tensor, object_colour: torch.Tensor, background: torch.Tensor):
    """Fraction of pixels whose mask (object or not) agrees with the nearer of the two colours."""
    to_object = (image - object_colour[:, None, None]).norm(dim=0)
    to_background = (image - background[:, None, None]).norm(dim=0)
    return ((to_object < to_background) == (mask > 0)).float().mean().item()


def colours(image: torch.Tensor, mask: torch.Tensor):
    return image[:, mask > 0].median(1).values, image[:, mask == 0].median(1).values


def test_random_crops_and_flips_keep_image_and_mask_aligned():
    dataset = flat_scenes()
    transform = train_transforms(48, flip=True, crop_scale=(0.3, 0.6), vertical_flip=True)
    torch.manual_seed(0)
    for index in range(len(dataset)):
        image, mask = dataset[index]
        object_colour, background = colours(image, mask)
        assert agreement(image, mask, object_colour, background) > 0.97
        for _ in range(3):
            new_image, new_mask = transform(image, mask)
            assert new_image.shape == (3, 48, 48) and new_mask.shape == (48, 48)
            assert new_image.dtype == torch.float32 and new_mask.dtype == torch.int64
            assert set(new_mask.unique().tolist()) <= set(mask.unique().tolist())  # nearest: no new ids
            assert agreement(new_image, new_mask, object_colour, background) > 0.95


def test_the_alignment_check_detects_a_misaligned_pair():
    dataset = flat_scenes()
    scores = []
    for index in range(len(dataset)):
        image, mask = dataset[index]
        object_colour, background = colours(image, mask)
        shifted = torch.roll(mask, shifts=(13, 17), dims=(0, 1))
        scores.append(agreement(image, shifted, object_colour, background))
    assert min(scores) < 0.9


def test_eval_transforms_resize_non_square_and_keep_class_ids():
    image, mask = SyntheticScenes("val", "mixed", size=64, length=1)[0]
    new_image, new_mask = eval_transforms((40, 72))(image, mask)
    assert new_image.shape == (3, 40, 72) and new_mask.shape == (40, 72)
    assert set(new_mask.unique().tolist()) <= set(mask.unique().tolist())
    same_image, same_mask = eval_transforms()(image, mask)
    assert torch.equal(same_image, image) and torch.equal(same_mask, mask)


def test_flip_without_crop_is_exact():
    image, mask = SyntheticScenes("val", "thin", size=32, length=1)[0]
    transform = train_transforms(flip=True)
    flips = 0
    torch.manual_seed(1)
    for _ in range(10):
        new_image, new_mask = transform(image, mask)
        flipped = torch.equal(new_mask, mask.flip(-1))
        assert flipped or torch.equal(new_mask, mask)
        assert torch.equal(new_image, image.flip(-1) if flipped else image)
        flips += flipped
    assert 0 < flips < 10


def test_pil_photos_and_trimaps_are_accepted():
    rng = np.random.default_rng(0)
    photo = Image.fromarray((rng.random((30, 50, 3)) * 255).astype("uint8"))
    trimap = Image.fromarray(rng.integers(1, 4, (30, 50)).astype("uint8"))
    image, mask = eval_transforms(24)(photo, trimap)
    assert image.shape == (3, 24, 24) and image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert mask.shape == (24, 24) and mask.dtype == torch.int64
    assert set(mask.unique().tolist()) <= {1, 2, 3}


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="output size"):
        train_transforms(crop_scale=(0.5, 1.0))
    with pytest.raises(ValueError, match="crop_scale"):
        train_transforms(32, crop_scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="size"):
        eval_transforms(-3)
    with pytest.raises(ValueError, match="integer class ids"):
        eval_transforms(16)(torch.rand(3, 8, 8), torch.rand(8, 8))
    with pytest.raises(ValueError, match="C x H x W"):
        eval_transforms(16)(torch.rand(8, 8), torch.zeros(8, 8, dtype=torch.long))


def test_numpy_arrays_and_none_are_refused_with_the_conversion_to_use():
    photo = np.zeros((8, 8, 3), dtype=np.uint8)
    labels = np.zeros((8, 8), dtype=np.int64)
    mask = torch.zeros(8, 8, dtype=torch.long)
    for transform in (train_transforms(), eval_transforms(4)):
        with pytest.raises(TypeError, match=r"image must be a torch tensor C x H x W or a PIL image, got a NumPy "
                                            r"array of shape \(8, 8, 3\).*torch.from_numpy\(array\).permute\(2, 0, 1\)"):
            transform(photo, mask)
        with pytest.raises(TypeError, match=r"mask must be a torch tensor H x W of class ids or a PIL image, got a "
                                            r"NumPy array.*torch.from_numpy\(array\).long\(\)"):
            transform(torch.zeros(3, 8, 8), labels)
        with pytest.raises(TypeError, match="image must be .* got None. Check what the dataset returns"):
            transform(None, mask)
        with pytest.raises(TypeError, match="mask must be .* got None"):
            transform(torch.zeros(3, 8, 8), None)
    image, converted = eval_transforms(4)(torch.from_numpy(photo).permute(2, 0, 1), torch.from_numpy(labels).long())
    assert image.shape == (3, 4, 4) and converted.shape == (4, 4)  # the conversions the messages give work


def test_datasets_apply_the_transform_to_items():
    transform = train_transforms(40, crop_scale=(0.5, 1.0))
    dataset = SyntheticScenes("train", "mixed", size=64, length=4, transform=transform)
    image, mask = dataset[2]
    assert image.shape == (3, 40, 40) and mask.shape == (40, 40)
    items = dataset.__getitems__([0, 1])
    assert items[0][0].shape == (3, 40, 40)


@pytest.mark.parametrize("transform", [eval_transforms(), eval_transforms(24), train_transforms(flip=False),
                                       train_transforms(24, crop_scale=(0.5, 1.0))], ids=repr)
def test_an_image_and_a_mask_of_different_sizes_are_refused(transform):
    for mask_size in [(16, 16), (16, 40), (32, 33)]:
        with pytest.raises(ValueError, match=rf"The image is 32 x 32 \(height x width\) but its mask is "
                                             rf"{mask_size[0]} x {mask_size[1]}: .*same size"):
            transform(torch.rand(3, 32, 32), torch.zeros(mask_size, dtype=torch.long))


def test_a_photo_and_a_trimap_of_different_sizes_are_refused():
    photo = Image.fromarray(np.zeros((30, 50, 3), np.uint8))  # PIL sizes are (width, height)
    with pytest.raises(ValueError, match="The image is 30 x 50 .* but its mask is 50 x 30"):
        eval_transforms(24)(photo, Image.fromarray(np.ones((50, 30), np.uint8)))


def test_crop_ranges_must_be_low_high_pairs():
    image, mask = torch.rand(3, 40, 40), torch.zeros(40, 40, dtype=torch.long)
    with pytest.raises(ValueError, match=r"crop_ratio must be a \(low, high\) pair with 0 < low <= high.*"
                                         r"got \(2, 1\) \(swap them: crop_ratio=\(1, 2\)\)"):
        train_transforms(32, crop_scale=(0.5, 1.0), crop_ratio=(2, 1))
    for bad in [(0, 1), (-1, 2), (1,), 1.5, ("a", "b")]:
        with pytest.raises(ValueError, match="crop_ratio must be a"):
            train_transforms(32, crop_scale=(0.5, 1.0), crop_ratio=bad)
    for bad in [0.5, (1.0, 0.5), (0.5, 1.5), (0.5, 1.0, 1.0)]:
        with pytest.raises(ValueError, match=r"crop_scale must be a \(low, high\) pair with 0 < low <= high <= 1"):
            train_transforms(32, crop_scale=bad)
    with pytest.raises(ValueError, match="crop_ratio sets the shape of the random crop, so it needs crop_scale"):
        train_transforms(32, crop_ratio=(1.0, 1.0))
    new_image, new_mask = train_transforms(32, crop_scale=(0.5, 0.5), crop_ratio=(1, 1))(image, mask)
    assert new_image.shape == (3, 32, 32) and new_mask.shape == (32, 32)
