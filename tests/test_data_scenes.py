"""SyntheticScenes: items, classes, determinism, splits, sizes, size buckets, rendering, bad input."""

import dataclasses
import hashlib
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader

from segedu.data import (
    CACHE,
    CLASSES,
    IGNORE_INDEX,
    SIZE_BUCKET_EDGES,
    TRACKS,
    SyntheticScenes,
    TrackSpec,
    describe,
    track_spec,
)
from segedu.data.engine import chunks, render
from segedu.data.engine.chunks import PARAMS_PER_CHUNK, stable_seed
from segedu.data.sampling import sample_scenes


def digest(*tensors) -> str:
    hasher = hashlib.sha256()
    for tensor in tensors:
        hasher.update(tensor.contiguous().numpy().tobytes())
    return hasher.hexdigest()


def flat_spec(**changes) -> TrackSpec:
    """Shapes without texture, light or noise: every pixel is the object's or the background's colour
    (or, on an edge, a mix of the two)."""
    base = dict(texture_strength=0.0, shading=0.0, noise_std=0.0)
    return dataclasses.replace(track_spec("shapes"), **{**base, **changes})


def params_for(spec: TrackSpec, seed: int = 0, scenes: int = 8):
    return sample_scenes(spec, torch.Generator().manual_seed(seed), scenes)


# -- items and classes -----------------------------------------------------------------------------


@pytest.mark.parametrize("track", TRACKS)
def test_items_have_the_documented_types_ranges_and_class_ids(track):
    dataset = SyntheticScenes("val", track, size=32, length=12)
    assert len(dataset) == 12
    assert dataset.classes == CLASSES[track] and dataset.classes[0] == "background"
    assert dataset.num_classes == len(dataset.classes)
    for index in range(len(dataset)):
        image, mask = dataset[index]
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32
        assert mask.shape == (32, 32) and mask.dtype == torch.int64
        assert 0.0 <= image.min() and image.max() <= 1.0
        ids = set(mask.unique().tolist())
        assert ids <= set(range(dataset.num_classes)) | {IGNORE_INDEX}


@pytest.mark.parametrize("track", TRACKS)
def test_every_class_appears_in_256_scenes(track):
    dataset = SyntheticScenes("train", track, size=32, length=256)
    masks = dataset.batch(range(256))["mask"]
    counts = torch.bincount(masks.flatten(), minlength=dataset.num_classes)[:dataset.num_classes]
    assert (counts > 0).all(), dict(zip(dataset.classes, counts.tolist(), strict=True))


def test_palette_has_one_distinct_colour_per_class_and_a_dark_grey_background():
    dataset = SyntheticScenes("val", "mixed", size=32, length=1)
    assert len(dataset.palette) == dataset.num_classes
    assert len(set(dataset.palette)) == dataset.num_classes
    assert all(isinstance(c, int) and 0 <= c <= 255 for colour in dataset.palette for c in colour)
    red, green, blue = dataset.palette[0]
    assert red == green == blue and red < 80


def test_describe_names_the_classes_and_the_purpose():
    text = describe("context")
    assert "boat" in text and "car" in text and "water" in text
    for track in TRACKS:
        assert all(name in describe(track) for name in CLASSES[track])


def test_context_objects_take_their_class_from_the_band_far_away():
    dataset = SyntheticScenes("train", "context", size=64, length=64)
    boat, car = dataset.classes.index("boat"), dataset.classes.index("car")
    sides_seen = set()
    for index in range(64):
        params, row = dataset.params(index)
        image, mask = dataset[index]
        present = set(mask.unique().tolist()) - {0}
        assert present <= ({boat} if params.cue[row] == 0 else {car})
        side = int(params.cue_side[row])  # 0 top, 1 bottom, 2 left, 3 right: turn the scene so the band is on top
        sides_seen.add(side)
        turn = {0: lambda t: t, 1: lambda t: t.flip(-2), 2: lambda t: t.transpose(-1, -2),
                3: lambda t: t.flip(-1).transpose(-1, -2)}[side]
        image, mask = turn(image), turn(mask)
        band = int(params.band_width[row] * 64)  # the band's rows are background...
        gap = int(track_spec("context").cue_gap * 64)  # ... and no object comes near it
        assert (mask[:band + gap] == 0).all()
        red, _, blue = image[:, :band].mean((1, 2)).tolist()
        assert (blue - red > 0.3) if params.cue[row] == 0 else (abs(blue - red) < 0.15)  # water or road
    assert sides_seen == {0, 1, 2, 3}  # the band is at any border


def test_harbour_objects_take_the_class_of_the_farther_band():
    spec = track_spec("harbour")
    dataset = SyntheticScenes("train", "harbour", size=64, length=96)
    boat, car = dataset.classes.index("boat"), dataset.classes.index("car")
    layouts, halves, objects = set(), set(), 0
    for index in range(96):
        params, row = dataset.params(index)
        image, mask = dataset[index]
        side = int(params.cue_side[row])  # turn the scene so that the first band is on top, the far one at the bottom
        turn = {0: lambda t: t, 1: lambda t: t.flip(-2), 2: lambda t: t.transpose(-1, -2),
                3: lambda t: t.flip(-1).transpose(-1, -2)}[side]
        image, mask = turn(image), turn(mask)
        band, gap = int(spec.cue_band * 64), int(spec.cue_gap * 64)
        assert (mask[:band + gap] == 0).all() and (mask[-(band + gap):] == 0).all()  # no object near either band
        water = [bool(b[2] - b[0] > 0.3) for b in (image[:, :band].mean((1, 2)), image[:, -band:].mean((1, 2)))]
        assert water == [int(params.cue[row]) == 0, int(params.far_cue[row]) == 0]  # blue water, grey road
        layouts.add(tuple(water))
        for slot in range(params.active.shape[1]):
            if not params.active[row, slot]:
                continue
            objects += 1
            centre = params.y[row, slot] if side <= 1 else params.x[row, slot]
            across = float(centre if side in (0, 2) else 1 - centre)  # 0 at the first band, 1 at the far one
            assert abs(across - 0.5) >= spec.cue_gap / 2 - 1e-6  # never a tie between the bands
            farther_is_water = water[1] if across < 0.5 else water[0]
            assert int(params.label[row, slot]) == (boat if farther_is_water else car)
            halves.add(across < 0.5)
        assert set(mask.unique().tolist()) <= {0, boat, car}
    # Objects in both halves; the two bands' kinds drawn independently (all four layouts).
    assert objects > 150 and halves == {True, False} and len(layouts) == 4


def test_a_second_band_changes_only_positions_labels_and_the_far_band():
    # The far band's random numbers are drawn after all the others, so that the one-band tracks draw the
    # same numbers as before the harbour track existed: their scenes did not change.
    two = track_spec("harbour")
    one = dataclasses.replace(two, cue_bands=1)
    first, second = (sample_scenes(spec, torch.Generator().manual_seed(7), 64) for spec in (one, two))
    for name in ("shape", "radius", "angle", "colour", "background", "cue", "cue_side", "band_colour", "band_phase",
                 "noise_offset", "blotch", "light"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    assert (first.far_cue == -1).all() and set(second.far_cue.tolist()) == {0, 1}


# -- determinism and splits ------------------------------------------------------------------------


def test_items_do_not_depend_on_access_order_length_or_cache():
    a = SyntheticScenes("train", "mixed", size=32, length=PARAMS_PER_CHUNK + 10, seed=3)
    b = SyntheticScenes("train", "mixed", size=32, length=20, seed=3)
    last = a[PARAMS_PER_CHUNK + 5]
    first = [a[i] for i in range(5)]
    CACHE.clear()
    for i in range(5):
        assert torch.equal(first[i][0], b[i][0]) and torch.equal(first[i][1], b[i][1])
    CACHE.clear()
    again = a[PARAMS_PER_CHUNK + 5]
    assert torch.equal(last[0], again[0]) and torch.equal(last[1], again[1])


def test_dataloader_workers_give_the_same_bytes_as_the_main_process():
    dataset = SyntheticScenes("train", "mixed", size=32, length=24, seed=11)
    CACHE.clear()  # the workers must draw and render the scenes themselves (one thread each)
    chunks._PARAMS.clear()
    with_workers = [batch for batch in DataLoader(dataset, batch_size=8, num_workers=2)]
    CACHE.clear()
    in_process = [batch for batch in DataLoader(dataset, batch_size=8, num_workers=0)]
    assert digest(*[t for batch in with_workers for t in batch]) == digest(*[t for batch in in_process for t in batch])


def test_the_number_of_threads_does_not_change_the_bytes(monkeypatch):
    params = params_for(track_spec("mixed"), seed=8, scenes=16)
    one, one_buckets = render.render_scenes(params, 40, 40), render.render_size_buckets(params, 40, 40)
    monkeypatch.setattr(render, "RENDER_THREADS", 2)
    two, two_buckets = render.render_scenes(params, 40, 40), render.render_size_buckets(params, 40, 40)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1]) and torch.equal(one_buckets, two_buckets)


def test_another_process_renders_the_same_bytes():
    code = (
        "import hashlib, torch\n"
        "from segedu.data import SyntheticScenes\n"
        "d = SyntheticScenes('test', 'mixed', size=(32, 48), length=6, seed=5)\n"
        "h = hashlib.sha256()\n"
        "for i in range(6):\n"
        "    image, mask = d[i]\n"
        "    h.update(image.numpy().tobytes()); h.update(mask.numpy().tobytes())\n"
        "print(h.hexdigest())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    dataset = SyntheticScenes("test", "mixed", size=(32, 48), length=6, seed=5)
    assert result.stdout.strip() == digest(*[t for i in range(6) for t in dataset[i]])


def test_stable_seed_is_a_fixed_function_of_its_parts():
    assert stable_seed("scenes", "train", "mixed", 0, 0) == stable_seed("scenes", "train", "mixed", 0, 0)
    assert stable_seed("scenes", "train", "mixed", 0, 0) != stable_seed("scenes", "val", "mixed", 0, 0)
    assert 0 <= stable_seed("x") < 2**63


def test_splits_and_seeds_never_share_scenes():
    hashes = {}
    for split in ("train", "val", "test"):
        dataset = SyntheticScenes(split, "shapes", size=32, length=96)
        hashes[split] = {digest(dataset[i][0]) for i in range(len(dataset))}
        assert len(hashes[split]) == len(dataset)
    assert not hashes["train"] & hashes["val"] and not hashes["train"] & hashes["test"]
    assert not hashes["val"] & hashes["test"]
    other_seed = SyntheticScenes("train", "shapes", size=32, length=96, seed=1)
    assert not {digest(other_seed[i][0]) for i in range(96)} & hashes["train"]


def test_length_defaults_to_the_same_number_in_every_mode(monkeypatch):
    from segedu.data.scenes import DEFAULT_LENGTH

    for fast in ("1", "0"):
        monkeypatch.setenv("SEGEDU_FAST", fast)
        assert len(SyntheticScenes("train", "shapes", size=32)) == DEFAULT_LENGTH["train"] == 1024
        assert len(SyntheticScenes("test", "shapes", size=32)) == DEFAULT_LENGTH["test"]


# -- sizes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(48, 80), (72, 40), (37, 53)])
def test_non_square_sizes(size):
    dataset = SyntheticScenes("train", "mixed", size=size, length=4)
    image, mask = dataset[3]
    assert image.shape == (3, *size) and mask.shape == size
    batch = dataset.batch([0, 1])
    assert batch["image"].shape == (2, 3, *size) and batch["size_bucket"].shape == (2, *size)


def test_scene_parameters_do_not_depend_on_the_image_size():
    small, large = SyntheticScenes("val", "mixed", size=40, length=600), SyntheticScenes("val", "mixed", size=160,
                                                                                         length=600)
    assert small.chunks.scenes_per_chunk > large.chunks.scenes_per_chunk  # large images: smaller rendered chunks
    for index in (0, 130, 599):
        (params_small, row_small), (params_large, row_large) = small.params(index), large.params(index)
        for name in ("x", "y", "radius", "angle", "label", "colour"):
            assert torch.equal(getattr(params_small, name)[row_small], getattr(params_large, name)[row_large])


def test_a_scene_looks_the_same_at_every_size():
    small = SyntheticScenes("val", "shapes", size=32, length=4)
    large = SyntheticScenes("val", "shapes", size=64, length=4)
    for index in range(4):
        shrunk = torch.nn.functional.avg_pool2d(large[index][1].eq(0).float()[None, None], 2)[0, 0]
        agreement = ((shrunk > 0.5) == small[index][1].eq(0)).float().mean()
        assert agreement > 0.9


# -- rendering -------------------------------------------------------------------------------------


def test_masks_are_exact_and_edges_anti_aliased():
    spec = flat_spec(shapes=("disk",), min_objects=1, max_objects=1, size_range=(0.5, 0.6))
    params = params_for(spec)
    images, masks = render.render_scenes(params, 64, 64)
    for scene in range(params.num_scenes):
        x, y = params.x[scene, 0] * 64, params.y[scene, 0] * 64
        radius = params.radius[scene, 0] * 64
        centres = torch.arange(64) + 0.5
        distance = ((centres.view(1, -1) - x) ** 2 + (centres.view(-1, 1) - y) ** 2).sqrt() - radius
        clear = distance.abs() > 1e-3
        assert torch.equal(masks[scene][clear] == 1, (distance < 0)[clear])  # class of the pixel centre
        image = images[scene].float()
        inside = image[:, distance < -1].mean(1)  # flat colours: object and background
        outside = image[:, distance > 1].mean(1)
        assert torch.allclose(image[:, distance < -1], inside[:, None], atol=1)
        channel = (inside - outside).abs().argmax()
        low, high = sorted((inside[channel].item(), outside[channel].item()))
        edge = image[channel][distance.abs() < 0.4]
        assert ((edge > low + 2) & (edge < high - 2)).sum() >= 8  # edge pixels mix the two colours


@pytest.mark.parametrize("track", TRACKS)
def test_skipping_untouched_tiles_changes_nothing(track):
    params = params_for(track_spec(track), seed=4, scenes=24)
    culled, full = render.render_scenes(params, 48, 40), render.render_scenes(params, 48, 40, cull=False)
    assert torch.equal(culled[0], full[0]) and torch.equal(culled[1], full[1])


def test_later_objects_hide_earlier_ones():
    spec = flat_spec(shapes=("disk", "triangle"), min_objects=2, max_objects=2, max_overlap=1.0,
                     size_range=(0.4, 0.4), large_first=False)
    params = params_for(spec, scenes=2)
    params.x[:] = 0.5
    params.y[:] = 0.5
    _, masks = render.render_scenes(params, 64, 64)
    for scene in range(2):
        assert masks[scene, 32, 32] == params.label[scene, 1]  # the second object is on top


def test_ignore_width_marks_only_pixels_near_visible_outlines():
    spec = flat_spec(shapes=("disk",), min_objects=1, max_objects=1, size_range=(0.5, 0.6), ignore_width_px=1.0)
    params = params_for(spec, scenes=4)
    _, masks = render.render_scenes(params, 64, 64, ignore_width_px=1.0)
    _, exact = render.render_scenes(params, 64, 64)
    ignored = masks == IGNORE_INDEX
    assert ignored.any()
    assert torch.equal(masks[~ignored], exact[~ignored])
    outside = torch.nn.functional.pad((exact != 1).float()[:, None], (3, 3, 3, 3), value=1.0)  # outlines may be
    interior = torch.nn.functional.max_pool2d(outside, 7, 1)[:, 0] == 0  # just outside the image, too
    assert not (ignored & interior).any()


def test_wires_are_thin_and_unbroken():
    spec = dataclasses.replace(track_spec("thin"), shapes=("wire",), min_objects=1, max_objects=1,
                               wire_width_px=(1.0, 1.0), wire_length_range=(0.6, 0.8))
    dataset = SyntheticScenes("train", "thin", size=64, length=16, spec=spec)
    for index in range(16):
        wire = dataset[index][1] == 1
        assert 20 <= wire.sum() <= 80
        thick = torch.nn.functional.avg_pool2d(wire.float()[None, None], 3, 1, 1)[0, 0]
        assert thick[wire].max() <= 5 / 9  # never a 3 x 3 block: about one pixel wide


# -- size buckets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("size_range", "bucket"), [((0.45, 0.5), 2), ((0.25, 0.3), 1), ((0.1, 0.15), 0)])
def test_one_object_puts_every_pixel_in_its_bucket(size_range, bucket):
    spec = flat_spec(shapes=("disk",), min_objects=1, max_objects=1, size_range=size_range)
    dataset = SyntheticScenes("train", "shapes", size=64, length=6, spec=spec)
    for index in range(6):
        assert (dataset.batch([index])["size_bucket"] == bucket).all()
        params, row = dataset.params(index)
        assert params.size[row, 0] == pytest.approx(params.radius[row, 0] * 2)


def test_size_buckets_follow_the_visible_object_and_the_nearest_one():
    spec = flat_spec(shapes=("disk",), min_objects=2, max_objects=2, max_overlap=1.0, large_first=False)
    params = params_for(spec, scenes=1)
    params.x[0] = torch.tensor([0.25, 0.7])
    params.y[0] = torch.tensor([0.5, 0.5])
    params.radius[0] = torch.tensor([0.05, 0.25])  # small at the left, large at the right
    params.size[0] = params.radius[0] * 2
    params.bucket[0] = torch.bucketize(params.size[0], torch.tensor(SIZE_BUCKET_EDGES), right=True)
    buckets = render.render_size_buckets(params, 64, 64)[0]
    _, masks = render.render_scenes(params, 64, 64)
    assert params.bucket[0].tolist() == [0, 2]
    assert buckets[32, 16] == 0 and buckets[32, 44] == 2  # on each object
    assert buckets[32, 2] == 0 and buckets[32, 62] == 2  # beside each: the nearest object
    assert (buckets[masks[0] == 1] != IGNORE_INDEX).all()
    params.active[0] = False
    assert (render.render_size_buckets(params, 64, 64) == IGNORE_INDEX).all()


def test_batch_matches_items_and_adds_size_buckets():
    dataset = SyntheticScenes("train", "mixed", size=32, length=10)
    batch = dataset.batch(range(3, 7))
    assert batch["image"].dtype == torch.float32 and batch["mask"].dtype == torch.int64
    assert batch["size_bucket"].dtype == torch.int64
    for row, index in enumerate(range(3, 7)):
        image, mask = dataset[index]
        assert torch.equal(batch["image"][row], image) and torch.equal(batch["mask"][row], mask)
        assert torch.equal(batch["size_bucket"][row], dataset.batch([index])["size_bucket"][0])
    assert set(batch["size_bucket"].unique().tolist()) <= {0, 1, 2, IGNORE_INDEX}
    for (image, mask), index in zip(dataset.__getitems__([4, 9, 0]), [4, 9, 0], strict=True):  # DataLoader's way
        assert torch.equal(image, dataset[index][0]) and torch.equal(mask, dataset[index][1])


# -- bad input -------------------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="mixed, shapes, thin, context"):
        SyntheticScenes("train", "circles")
    with pytest.raises(ValueError, match="train, val, test"):
        SyntheticScenes("training", "mixed")
    with pytest.raises(ValueError, match="between 32 and"):
        SyntheticScenes("train", "mixed", size=16)
    with pytest.raises(ValueError, match="between 32 and"):
        SyntheticScenes("train", "mixed", size=(64, 8))
    with pytest.raises(TypeError, match="int or a"):
        SyntheticScenes("train", "mixed", size=64.0)
    with pytest.raises(TypeError, match="int or a"):
        SyntheticScenes("train", "mixed", size="64")
    with pytest.raises(ValueError, match="length"):
        SyntheticScenes("train", "mixed", length=-1)
    with pytest.raises(ValueError, match="seed"):
        SyntheticScenes("train", "mixed", seed=-2)
    with pytest.raises(TypeError, match="TrackSpec"):
        SyntheticScenes("train", "mixed", spec={"max_objects": 2})
    with pytest.raises(TypeError, match="callable"):
        SyntheticScenes("train", "mixed", transform="flip")


def test_bad_indices_raise_index_errors():
    dataset = SyntheticScenes("train", "shapes", size=32, length=5)
    with pytest.raises(IndexError, match="0 to 4"):
        dataset[5]
    with pytest.raises(IndexError, match="negative"):
        dataset[-1]
    with pytest.raises(TypeError, match="int"):
        dataset[1.5]
    with pytest.raises(IndexError):
        dataset.batch([0, 7])


def test_track_specs_check_their_knobs():
    with pytest.raises(ValueError, match="unknown shape"):
        TrackSpec(shapes=("hexagon",))
    with pytest.raises(ValueError, match="min_objects"):
        TrackSpec(min_objects=5, max_objects=2)
    with pytest.raises(ValueError, match="exactly 2"):
        TrackSpec(context_classes=("boat",))
    with pytest.raises(ValueError, match="wire_width_px"):
        TrackSpec(wire_width_px=(0.5, 1.0))
    with pytest.raises(ValueError, match="kind_weights"):
        TrackSpec(shapes=("disk", "triangle"), kind_weights=(1.0,))
    spec = dataclasses.replace(track_spec("shapes"), max_objects=2)
    assert SyntheticScenes("train", "shapes", size=32, length=2, spec=spec).spec.max_objects == 2
