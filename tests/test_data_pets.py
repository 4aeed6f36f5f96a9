"""OxfordPets offline: clear errors without the data (or with damaged files), and loading a tiny fake copy in
torchvision's layout."""

import socket
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.oxford_iiit_pet as tv_pets
from PIL import Image
from silent_server import silent_server

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


def test_a_download_from_a_server_that_never_answers_times_out_and_says_what_to_do(tmp_path, monkeypatch):
    from segedu.data import pets

    monkeypatch.setattr(pets, "DOWNLOAD_TIMEOUT_SECONDS", 0.5)
    with silent_server() as url:
        monkeypatch.setattr(tv_pets.OxfordIIITPet, "_RESOURCES", tuple(
            (f"{url}/{Path(address).name}", md5) for address, md5 in tv_pets.OxfordIIITPet._RESOURCES))
        start = time.monotonic()
        with pytest.raises(DatasetNotAvailable) as error:
            OxfordPets(tmp_path, download=True)
        elapsed = time.monotonic() - start
    assert elapsed < 10, f"the download waited {elapsed:.1f} s"
    message = str(error.value)
    assert "download failed" in message and "did not answer within 0.5 s" in message
    # What to do offline: where to get the archives and where to put the files by hand.
    assert PETS_URL in message and "images.tar.gz" in message and "oxford-iiit-pet/annotations/trimaps" in message
    assert socket.getdefaulttimeout() is None  # the process-wide timeout is restored


def test_empty_folders_with_download_say_that_nothing_was_downloaded(tmp_path, monkeypatch):
    attempts = []
    monkeypatch.setattr(tv_pets, "download_and_extract_archive", lambda *args, **kwargs: attempts.append(args))
    (tmp_path / "oxford-iiit-pet" / "images").mkdir(parents=True)
    (tmp_path / "oxford-iiit-pet" / "annotations").mkdir()
    with pytest.raises(DatasetNotAvailable) as error:
        OxfordPets(tmp_path, download=True)
    message = str(error.value)
    assert attempts == []
    assert "download failed" not in message
    assert f"{tmp_path / 'oxford-iiit-pet'} is incomplete" in message and "trainval.txt" in message
    assert "nothing was downloaded" in message and "move it away" in message and PETS_URL in message


def test_empty_folders_without_download_are_reported_as_incomplete(tmp_path):
    (tmp_path / "oxford-iiit-pet" / "images").mkdir(parents=True)
    (tmp_path / "oxford-iiit-pet" / "annotations").mkdir()
    with pytest.raises(DatasetNotAvailable, match="is incomplete.*trainval.txt") as error:
        OxfordPets(tmp_path)
    assert "nothing was downloaded" not in str(error.value)


@pytest.mark.parametrize("damaged", ["trimap", "photo"])
def test_a_truncated_file_is_named_when_it_is_read(tmp_path, damaged):
    dataset = OxfordPets(write_fake_pets(tmp_path, height=120, width=160))
    photo, trimap = dataset.files(1)
    path = trimap if damaged == "trimap" else photo
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    dataset[0]  # the other items still load
    with pytest.raises(OSError, match="truncated") as error:
        dataset[1]
    message = str(error.value)
    assert f"Cannot read {path} (item 1" in message
    assert str(photo if damaged == "trimap" else trimap) not in message
    assert "annotations.tar.gz" in message and "download=True" in message


def test_a_trimap_of_another_size_than_its_photo_is_refused(tmp_path):
    dataset = OxfordPets(write_fake_pets(tmp_path), size=24)
    photo, trimap = dataset.files(2)
    Image.fromarray(np.full((20, 28), 2, np.uint8)).save(trimap)
    with pytest.raises(ValueError) as error:
        dataset[2]
    message = str(error.value)
    assert f"The photo {photo} is 40 x 56" in message and f"its trimap {trimap} is 20 x 28" in message


def test_a_file_that_is_not_a_trimap_is_refused(tmp_path):
    dataset = OxfordPets(write_fake_pets(tmp_path))
    _, trimap = dataset.files(0)
    Image.fromarray(np.full((40, 56), 200, np.uint8)).save(trimap)
    with pytest.raises(ValueError, match=f"trimap {trimap} holds the value 200.*only 1 \\(pet\\)"):
        dataset[0]
