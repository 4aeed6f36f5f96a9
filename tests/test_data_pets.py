"""OxfordPets offline: clear errors without the data, and loading a tiny fake copy in torchvision's layout."""

import urllib.error

import numpy as np
import pytest
import torch
import torchvision.datasets.oxford_iiit_pet as tv_pets
from PIL import Image

from segedu.data.pets import PETS_URL, DatasetNotAvailable, OxfordPets
from segedu.data.transforms import train_transforms

NAMES = {"trainval": ["Abyssinian_1", "beagle_12", "Bombay_3"], "test": ["Abyssinian_2", "pug_7"]}


def write_fake_pets(root, height=40, width=56):
    """A few random photos with a rectangular pet (trimap 1), its border (3) and background (2)."""
    base = root / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, names in NAMES.items():
        lines = []
        for number, name in enumerate(names):
            photo = (rng.random((height, width, 3)) * 255).astype("uint8")
            Image.fromarray(photo).save(base / "images" / f"{name}.jpg")
            trimap = np.full((height, width), 2, np.uint8)
            trimap[8:32, 10:40] = 3
            trimap[10:30, 12:38] = 1
            Image.fromarray(trimap).save(base / "annotations" / "trimaps" / f"{name}.png")
            lines.append(f"{name} {number + 1} {1 + name[0].islower()} 1")
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotAvailable) as error:
        OxfordPets(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "oxford-iiit-pet") in message and "not found" in message
    assert PETS_URL in message and "download=True" in message and "trimaps" in message
    assert isinstance(error.value, RuntimeError)


def test_a_failed_download_says_why(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(tv_pets, "download_and_extract_archive", offline)
    with pytest.raises(DatasetNotAvailable) as error:
        OxfordPets(tmp_path, download=True)
    message = str(error.value)
    assert "download failed" in message and "no network here" in message and PETS_URL in message


def test_torchvision_accepts_the_fake_copy(tmp_path):
    root = write_fake_pets(tmp_path)
    pets = tv_pets.OxfordIIITPet(root, split="trainval", target_types="segmentation")
    assert len(pets) == len(NAMES["trainval"])
    photo, trimap = pets[0]
    assert photo.size == (56, 40) and set(np.unique(np.array(trimap))) == {1, 2, 3}


@pytest.mark.parametrize("split", ["trainval", "test"])
def test_fake_copy_loads_with_pet_background_and_ignored_border(tmp_path, split):
    dataset = OxfordPets(write_fake_pets(tmp_path), split=split, size=(32, 48))
    assert len(dataset) == len(NAMES[split])
    assert dataset.classes == ("background", "pet") and len(dataset.palette) == 2
    for index in range(len(dataset)):
        image, mask = dataset[index]
        assert image.shape == (3, 32, 48) and image.dtype == torch.float32
        assert 0 <= image.min() and image.max() <= 1
        assert mask.shape == (32, 48) and mask.dtype == torch.int64
        assert set(mask.unique().tolist()) == {0, 1, 255}
        assert mask[16, 24] == 1 and mask[0, 0] == 0  # the pet's centre, a corner of the background


def test_fake_copy_with_a_joint_training_transform(tmp_path):
    dataset = OxfordPets(write_fake_pets(tmp_path), size=32, transform=train_transforms(32, crop_scale=(0.5, 1.0)))
    image, mask = dataset[1]
    assert image.shape == (3, 32, 32) and mask.shape == (32, 32)
    assert set(mask.unique().tolist()) <= {0, 1, 255}


def test_an_incomplete_copy_is_reported(tmp_path):
    root = write_fake_pets(tmp_path)
    (root / "oxford-iiit-pet" / "images" / "Bombay_3.jpg").unlink()
    with pytest.raises(DatasetNotAvailable, match="incomplete.*Bombay_3"):
        OxfordPets(root)


def test_bad_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="trainval, test"):
        OxfordPets(tmp_path, split="train")
