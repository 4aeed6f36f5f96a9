"""``SyntheticScenes``: the course's default data, drawn in memory with exact masks.

``dataset[i]`` depends only on (split, track, seed, size, i, spec): the same bytes in every
process, DataLoader worker and run, whatever the order of access. How:

* the random parameters of scenes are drawn ``PARAMS_PER_CHUNK`` at a time from a
  ``torch.Generator`` seeded with a stable hash (SHA-256, not Python's per-process ``hash()``)
  of (split, track, seed, chunk index), in relative units: a scene is the same at every size;
* scenes are rendered in chunks of about ``RENDER_PIXELS`` pixels (all of a parameter chunk at
  64 x 64, a quarter of it at 128 x 128), always whole, as one vectorised batch, and kept (as
  ``uint8``) in a bounded cache shared by all datasets of the process, so a shuffled second
  epoch costs only a lookup.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import operator

import torch
from torch.utils.data import Dataset

from segedu.config import budget
from segedu.data import render, tiles
from segedu.data.sampling import SceneParams, sample_scenes
from segedu.data.tracks import SIZE_BUCKETS, TrackSpec, check_track, palette, track_spec

SPLITS = ("train", "val", "test")

PARAMS_PER_CHUNK = 512
"""Scenes whose parameters are drawn together, from one random generator (whatever the image size)."""

RENDER_PIXELS = 512 * 64 * 64
"""A rendered chunk holds at most this many pixels (and at least 8 scenes): 512 scenes at 64 x 64,
128 at 128 x 128. Larger chunks share Python's cost per tensor operation between more scenes."""

_PARAMS = collections.OrderedDict()
_PARAMS_KEPT = 8  # parameter chunks kept for the rendered chunks that follow (a few kB each)

CACHE_BYTES = 256 * 2**20
"""Memory the rendered chunks of all datasets may take together (least recently used ones go first)."""

MIN_SIDE = 32


@dataclasses.dataclass
class Chunk:
    """A rendered chunk: ``images uint8 N x 3 x H x W``, ``masks uint8 N x H x W``, its parameters,
    size buckets ``uint8 N x H x W`` once asked for, and image-level labels ``int64 N`` if any."""

    params: SceneParams
    images: torch.Tensor
    masks: torch.Tensor
    buckets: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    @property
    def nbytes(self) -> int:
        tensors = [self.images, self.masks, self.buckets, self.labels]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)


class ChunkCache:
    """A least-recently-used store of rendered chunks, bounded in bytes."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._chunks: collections.OrderedDict = collections.OrderedDict()

    def get(self, key):
        chunk = self._chunks.get(key)
        if chunk is not None:
            self._chunks.move_to_end(key)
        return chunk

    def put(self, key, chunk: Chunk) -> None:
        self._chunks[key] = chunk
        self._chunks.move_to_end(key)
        self.shrink()

    def shrink(self) -> None:
        """Drop least recently used chunks until the cache fits ``max_bytes`` (keeps the newest)."""
        while len(self._chunks) > 1 and self.nbytes > self.max_bytes:
            self._chunks.popitem(last=False)

    @property
    def nbytes(self) -> int:
        return sum(chunk.nbytes for chunk in self._chunks.values())

    def clear(self) -> None:
        self._chunks.clear()

    def __len__(self) -> int:
        return len(self._chunks)


CACHE = ChunkCache()
"""The process-wide cache of rendered chunks (``CACHE.clear()`` frees it)."""


def stable_seed(*parts) -> int:
    """A 63-bit seed from ``parts`` (their ``str``), identical in every process and on every machine."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


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


def default_length(split: str) -> int:
    """Scenes per split in the current mode (``segedu.config.budget()``)."""
    plan = budget()
    return {"train": plan.train_scenes, "val": plan.val_scenes, "test": plan.test_scenes}[split]


class SyntheticScenes(Dataset):
    """Synthetic segmentation scenes: ``dataset[i] -> (image, mask)``.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (they never share scenes).
        track: ``"mixed"``, ``"shapes"``, ``"thin"`` or ``"context"`` (see :mod:`segedu.data.tracks`).
        size: image side in pixels, or ``(height, width)``; 32 to 512.
        length: number of scenes; ``None`` takes the split's size from ``segedu.config.budget()``.
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
            length = default_length(split)
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
        # Everything a chunk depends on (the spec as text: hashing a dataclass at every item is slow).
        self._cache_key = (self.purpose, self.split, self.track, self.seed, self.height, self.width, repr(self.spec))
        self.scenes_per_chunk = PARAMS_PER_CHUNK  # a power of two, so that chunks tile the parameter chunks
        while self.scenes_per_chunk > 8 and self.scenes_per_chunk * self.height * self.width > RENDER_PIXELS:
            self.scenes_per_chunk //= 2

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, track={self.track!r}, size=({self.height}, "
                f"{self.width}), length={self.length}, seed={self.seed})")

    def __getitem__(self, index):
        chunk, row = self._locate(index)
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
        located = [self._locate(index) for index in indices]
        images = torch.stack([chunk.images[row] for chunk, row in located]).float().mul_(1 / 255)
        masks = torch.stack([chunk.masks[row] for chunk, row in located]).long()
        return list(zip(images.unbind(0), masks.unbind(0), strict=True))

    def size_buckets(self, index) -> torch.Tensor:
        """``int64 H x W``: size bucket (0/1/2 = small/medium/large) of the object each pixel belongs to.

        Object pixels: the visible object's bucket; background pixels: the nearest object's
        (a Voronoi partition); 255 in a scene without objects. No transform is applied.
        """
        chunk, row = self._locate(index)
        return self._buckets(chunk)[row].long()

    def batch(self, indices) -> dict[str, torch.Tensor]:
        """``{"image": N x 3 x H x W, "mask": N x H x W, "size_bucket": N x H x W}`` for ``indices``
        (a list or range of ints), without the transform: the fast path for evaluation."""
        images, masks, buckets = [], [], []
        for index in indices:
            chunk, row = self._locate(index)
            images.append(chunk.images[row])
            masks.append(chunk.masks[row])
            buckets.append(self._buckets(chunk)[row])
        if not images:
            raise ValueError("batch() needs at least one index")
        return {"image": torch.stack(images).float().mul_(1 / 255), "mask": torch.stack(masks).long(),
                "size_bucket": torch.stack(buckets).long()}

    def params(self, index) -> tuple[SceneParams, int]:
        """The parameters of the chunk holding scene ``index`` and the scene's row in it (for inspection)."""
        chunk, row = self._locate(index)
        return chunk.params, row

    # -- chunks -------------------------------------------------------------------------------------

    def _locate(self, index) -> tuple[Chunk, int]:
        try:
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"Scene index must be an int, got {type(index).__name__}") from None
        if not 0 <= index < self.length:
            raise IndexError(f"Scene index {index} is out of range: this dataset has scenes 0 to {self.length - 1} "
                             f"(length {self.length}); negative indices are not supported")
        return self._chunk(index // self.scenes_per_chunk), index % self.scenes_per_chunk

    def _chunk(self, number: int) -> Chunk:
        key = (self._cache_key, number)
        chunk = CACHE.get(key)
        if chunk is None:
            chunk = self._make_chunk(number)
            CACHE.put(key, chunk)
        return chunk

    def _make_chunk(self, number: int) -> Chunk:
        params = self._chunk_params(number)
        images, masks = render.render_scenes(params, self.height, self.width, self.spec.ignore_width_px)
        return Chunk(params, images, masks)

    def _chunk_params(self, number: int) -> SceneParams:
        """The parameters of the scenes of rendered chunk ``number``: rows of a parameter chunk."""
        first = number * self.scenes_per_chunk
        key = self._cache_key[:4] + self._cache_key[6:] + (first // PARAMS_PER_CHUNK,)  # not the image size
        params = _PARAMS.get(key)
        if params is None:
            seed = stable_seed(self.purpose, self.split, self.track, self.seed, first // PARAMS_PER_CHUNK)
            params = sample_scenes(self.spec, torch.Generator().manual_seed(seed), PARAMS_PER_CHUNK)
            _PARAMS[key] = params
            while len(_PARAMS) > _PARAMS_KEPT:
                _PARAMS.popitem(last=False)
        start = first % PARAMS_PER_CHUNK
        return params.rows(slice(start, start + self.scenes_per_chunk))

    def _buckets(self, chunk: Chunk) -> torch.Tensor:
        if chunk.buckets is None:
            chunk.buckets = render.render_size_buckets(chunk.params, self.height, self.width)
            CACHE.shrink()
        return chunk.buckets
