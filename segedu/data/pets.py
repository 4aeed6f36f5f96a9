"""``OxfordPets``: real photographs with pet / background trimaps (Oxford-IIIT Pet).

Wraps ``torchvision.datasets.OxfordIIITPet(target_types="segmentation")``, whose trimaps hold
1 = pet, 2 = background, 3 = border (the uncertain outline). They become class ids 1 = pet,
0 = background and 255 = border (ignored by the loss and the metrics, as in PASCAL VOC).

The data (about 800 MB) is never downloaded unless asked (``download=True``). Without it, or
when the download fails (no network, or a server that never answers: every network wait is
capped at :data:`DOWNLOAD_TIMEOUT_SECONDS`), :class:`DatasetNotAvailable` says what happened
and how to get the data, so a notebook can print the message and carry on with synthetic data.
"""

from __future__ import annotations

import socket
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets import OxfordIIITPet

from segedu.data.fetching import DatasetNotAvailable
from segedu.data.tracks import IGNORE_INDEX, palette
from segedu.data.transforms import as_image, as_mask, eval_transforms

PETS_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
PETS_SPLITS = ("trainval", "test")
DOWNLOAD_TIMEOUT_SECONDS = 30.0
"""Longest wait for the server (to connect, or for the next bytes) before the download gives up.
torchvision may try a URL up to three times (redirect check, https, then http)."""

TRIMAP_TO_CLASS = torch.tensor([IGNORE_INDEX, 1, 0, IGNORE_INDEX], dtype=torch.uint8)
"""Class id for each trimap value: 0 (absent in the data) and 3 (border) are ignored."""

LAYOUT = """    <root>/oxford-iiit-pet/images/<name>.jpg
    <root>/oxford-iiit-pet/annotations/trimaps/<name>.png
    <root>/oxford-iiit-pet/annotations/trainval.txt and test.txt (lines "<name> <class> <species> <breed>")"""


def _how_to_get(root: Path) -> str:
    return (f"To get it: run OxfordPets({str(root)!r}, download=True) on a machine with a network "
            f"(about 800 MB), or download images.tar.gz and annotations.tar.gz from {PETS_URL} and "
            f"unpack them so that the files are at\n{LAYOUT}")


def _timed_out(error: BaseException) -> bool:
    """Whether ``error`` (or the error urllib wrapped in it) is a socket timeout."""
    return isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError)


def _unreadable(paths: list[Path]) -> list[Path]:
    """The images among ``paths`` that PIL cannot decode to the end (all of them if each one decodes)."""
    bad = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
        except OSError:
            bad.append(path)
    return bad or paths


class OxfordPets(Dataset):
    """Oxford-IIIT Pet photos with segmentation masks: ``dataset[i] -> (image, mask)``.

    Args:
        root: folder holding (or to receive) ``oxford-iiit-pet/``.
        split: ``"trainval"`` or ``"test"``.
        size: output side in pixels, or ``(height, width)``: every item is resized to it (image
            antialiased, mask with nearest neighbours) so that items can be batched.
        download: download the data if it is not in ``root`` (needs a network).
        transform: optional joint transform ``(image, mask) -> (image, mask)`` applied to the
            full-size photo before the final resize, e.g.
            ``segedu.data.transforms.train_transforms(size, crop_scale=(0.5, 1.0))``.

    Items: ``image`` float32 ``3 x H x W`` in [0, 1]; ``mask`` int64 ``H x W``: 0 background,
    1 pet, 255 border. Attributes: ``classes == ("background", "pet")``, ``num_classes``, ``palette``.
    Raises :class:`DatasetNotAvailable` when the data is absent or incomplete and cannot be
    downloaded; reading an item whose file is damaged raises an ``OSError`` that names the file.
    """

    classes = ("background", "pet")
    num_classes = 2
    palette = palette(classes)

    def __init__(self, root, split: str = "trainval", size=128, download: bool = False, transform=None):
        if split not in PETS_SPLITS:
            raise ValueError(f"Unknown split {split!r} for Oxford-IIIT Pet; allowed splits: {', '.join(PETS_SPLITS)}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be a callable (image, mask) -> (image, mask), got {transform!r}")
        self.root, self.split, self.transform = Path(root).expanduser(), split, transform
        self.resize = eval_transforms(size)
        folder = self.root / "oxford-iiit-pet"
        # torchvision downloads only when images/ or annotations/ is missing, whatever they hold.
        folders_exist = (folder / "images").is_dir() and (folder / "annotations").is_dir()
        downloading = download and not folders_exist
        previous_timeout = socket.getdefaulttimeout()
        if downloading:  # urllib waits for ever by default: a silent server would hang the notebook
            socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
        try:
            self._pets = OxfordIIITPet(self.root, split=split, target_types="segmentation", download=download)
        except Exception as error:  # any failure here (missing files, no network, bad archive): no data
            if downloading:
                silent = (f" The server did not answer within {DOWNLOAD_TIMEOUT_SECONDS:g} s: a firewall or proxy "
                          f"may be holding the connection open." if _timed_out(error) else "")
                raise DatasetNotAvailable(
                    f"Oxford-IIIT Pet is not at {folder} and the download failed: {error!r}.{silent} "
                    f"{_how_to_get(self.root)}") from error
            if folders_exist:
                nothing = (" download=True downloads only when images/ or annotations/ is missing, so nothing "
                           "was downloaded." if download else "")
                raise DatasetNotAvailable(
                    f"Oxford-IIIT Pet at {folder} is incomplete ({error}).{nothing} Complete it, or move it away "
                    f"and start again. {_how_to_get(self.root)}") from error
            raise DatasetNotAvailable(
                f"Oxford-IIIT Pet was not found at {folder} ({error}). {_how_to_get(self.root)}") from error
        finally:
            socket.setdefaulttimeout(previous_timeout)
        listed = list(getattr(self._pets, "_images", [])) + list(getattr(self._pets, "_segs", []))
        missing = [path for path in listed if not Path(path).is_file()]
        if missing:
            raise DatasetNotAvailable(
                f"Oxford-IIIT Pet at {folder} is incomplete: {len(missing)} files listed in "
                f"annotations/{split}.txt are missing (e.g. {missing[0]}). {_how_to_get(self.root)}")

    def __len__(self) -> int:
        return len(self._pets)

    def files(self, index: int) -> tuple[Path, Path]:
        """The photo and the trimap of item ``index``: ``(.../images/<name>.jpg, .../trimaps/<name>.png)``."""
        return Path(self._pets._images[index]), Path(self._pets._segs[index])

    def __getitem__(self, index):
        try:
            photo, trimap = self._pets[index]
            image, mask = as_image(photo), as_mask(trimap)  # PIL reads the pixels only here
        except OSError as error:  # e.g. "image file is truncated", which names no file
            bad = " and ".join(str(path) for path in _unreadable(list(self.files(index))))
            raise OSError(
                f"Cannot read {bad} (item {index} of Oxford-IIIT Pet {self.split}): {error}. The file is damaged "
                f"or cut short, e.g. by an interrupted download or copy. Unpack it again from images.tar.gz "
                f"(photos) or annotations.tar.gz (trimaps) from {PETS_URL}, or move {self.root / 'oxford-iiit-pet'} "
                f"away and download again with download=True.") from error
        photo_file, trimap_file = self.files(index)
        if image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(
                f"The photo {photo_file} is {image.shape[-2]} x {image.shape[-1]} (height x width) but its trimap "
                f"{trimap_file} is {mask.shape[-2]} x {mask.shape[-1]}: they do not belong together. Unpack the "
                f"trimap again from annotations.tar.gz ({PETS_URL}).")
        mask = mask.as_subclass(torch.Tensor).long()
        if int(mask.max()) > 3:
            raise ValueError(
                f"The trimap {trimap_file} holds the value {int(mask.max())}, but trimaps hold only 1 (pet), "
                f"2 (background) and 3 (border): it is not an Oxford-IIIT Pet trimap. Unpack it again from "
                f"annotations.tar.gz ({PETS_URL}).")
        mask = TRIMAP_TO_CLASS[mask]
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return self.resize(image, mask)

    def __repr__(self) -> str:
        return f"OxfordPets(root={str(self.root)!r}, split={self.split!r}, {len(self)} photos)"
