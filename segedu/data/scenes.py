"""``SyntheticScenes``: the course's default data, drawn in memory with exact masks.

What a scene holds is described apart from how it is drawn fast:

* :mod:`segedu.data.tracks`: each track's knobs (:class:`~segedu.data.tracks.TrackSpec`): which
  outlines, how many objects, how large, the scene cue;
* :mod:`segedu.data.sampling`: the random draw of one scene's objects, colours and labels;
* :mod:`segedu.data.shapes`: each outline as a signed distance function.

The engine that turns them into pixels, thousands of scenes per second, is in
:mod:`segedu.data.engine` (a learner does not need to read it). ``dataset[i]`` depends only on
(split, track, seed, size, i, spec): the same bytes in every process, worker and run.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from segedu.data.engine import tiles
from segedu.data.engine.chunks import SceneChunks, render_chunk
from segedu.data.sampling import SceneParams
from segedu.data.tracks import SIZE_BUCKETS, TrackSpec, check_track, palette, track_spec

SPLITS = ("train", "val", "test")
DEFAULT_LENGTH = {"train": 1024, "val": 256, "test": 256}
"""Scenes per split when ``length`` is not given (the recipes of :mod:`segedu.experiments` always give it)."""

MIN_SIDE = 32


def check_size(size) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair of ints, each between 32 and ``tiles.MAX_SIDE``."""
    pair = (size, size) if isinstance(size, int) and not isinstance(size, bool) else size
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(side, int) and not isinstance(side, bool) for side in pair)):
        raise TypeError(f"size must be an int or a (height, width) pair of ints, got {size!r}")
    if not all(MIN_SIDE <= side <= tiles.MAX_SIDE for side in pair):
        raise ValueError(f"size must be between {MIN_SIDE} and {tiles.MAX_SIDE} pixels per side, got {size!r}")
    return int(pair[0]), int(pair[1])


def check_split(split: str) -> str:
    """Return ``split`` if it is one of :data:`SPLITS`, else raise a ``ValueError`` naming them."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; allowed splits: {', '.join(SPLITS)}")
    return split


class SyntheticScenes(Dataset):
    """Synthetic segmentation scenes: ``dataset[i] -> (image, mask)``.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (they never share scenes).
        track: ``"mixed"``, ``"shapes"``, ``"thin"`` or ``"context"`` (see :mod:`segedu.data.tracks`).
        size: image side in pixels, or ``(height, width)``; 32 to 512.
        length: number of scenes; ``None`` takes :data:`DEFAULT_LENGTH` of the split.
        seed: another seed gives other scenes.
        transform: optional callable ``(image, mask) -> (image, mask)`` (see :mod:`segedu.data.transforms`).
        spec: optional :class:`TrackSpec` replacing the track's default difficulty knobs.

    Items: ``image`` float32 ``3 x H x W`` in [0, 1]; ``mask`` int64 ``H x W``, class ids, 255 = ignore.
    Attributes: ``classes`` (``classes[0] == "background"``), ``num_classes``, ``palette``.
    """

    purpose = "scenes"

    def __init__(self, split: str = "train", track: str = "mixed", size=64, length: int | None = None,
                 seed: int = 0, transform=None, spec: TrackSpec | None = None):
        self.split = check_split(split)
        self.track = check_track(track)
        self.height, self.width = check_size(size)
        if spec is not None and not isinstance(spec, TrackSpec):
            raise TypeError(f"spec must be a TrackSpec (see segedu.data.track_spec), got {type(spec).__name__}")
        self.spec = spec or track_spec(track)
        if length is None:
            length = DEFAULT_LENGTH[split]
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise ValueError(f"length must be a non-negative int (or None for the budget's size), got {length!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be a callable (image, mask) -> (image, mask), got {transform!r}")
        self.length, self.seed, self.transform = length, seed, transform
        self.classes = self.spec.classes
        self.num_classes = len(self.classes)
        self.palette = palette(self.classes)
        self.size_bucket_names = SIZE_BUCKETS
        self.chunks = SceneChunks(self.purpose, self.split, self.track, self.seed, self.height, self.width,
                                  self.spec, self.length, self._make_chunk)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, track={self.track!r}, size=({self.height}, "
                f"{self.width}), length={self.length}, seed={self.seed})")

    def __getitem__(self, index):
        chunk, row = self.chunks.locate(index)
        image = chunk.images[row].float().mul_(1 / 255)
        mask = chunk.masks[row].long()
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def __getitems__(self, indices) -> list:
        """The items ``indices`` (a list of ints), as ``DataLoader`` asks for a batch; converts all the
        images of the batch at once, which is faster than item by item."""
        if self.transform is not None:
            return [self[index] for index in indices]
        located = [self.chunks.locate(index) for index in indices]
        images = torch.stack([chunk.images[row] for chunk, row in located]).float().mul_(1 / 255)
        masks = torch.stack([chunk.masks[row] for chunk, row in located]).long()
        return list(zip(images.unbind(0), masks.unbind(0), strict=True))

    def batch(self, indices) -> dict[str, torch.Tensor]:
        """``{"image": N x 3 x H x W, "mask": N x H x W, "size_bucket": N x H x W}`` for ``indices``
        (a list or range of ints), without the transform: the fast path for evaluation.

        ``size_bucket`` (int64) is the size bucket (0/1/2 = small/medium/large) of the object each
        pixel belongs to: for an object pixel the visible object's, for a background pixel the
        nearest object's (a Voronoi partition); 255 in a scene without objects.
        """
        images, masks, buckets = [], [], []
        for index in indices:
            chunk, row = self.chunks.locate(index)
            images.append(chunk.images[row])
            masks.append(chunk.masks[row])
            buckets.append(self.chunks.buckets(chunk)[row])
        if not images:
            raise ValueError("batch() needs at least one index")
        return {"image": torch.stack(images).float().mul_(1 / 255), "mask": torch.stack(masks).long(),
                "size_bucket": torch.stack(buckets).long()}

    def params(self, index) -> tuple[SceneParams, int]:
        """The parameters of the chunk holding scene ``index`` and the scene's row in it (for inspection)."""
        chunk, row = self.chunks.locate(index)
        return chunk.params, row

    @staticmethod
    def _make_chunk(params: SceneParams, height: int, width: int, spec: TrackSpec):
        """Render a chunk of scenes (:class:`SyntheticClassification` renders its own way)."""
        return render_chunk(params, height, width, spec)
