"""Scenes are rendered in chunks, and rendered chunks are kept in a bounded cache.

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
from collections.abc import Callable

import torch

from segedu.data.engine import render
from segedu.data.sampling import SceneParams, sample_scenes
from segedu.data.tracks import TrackSpec

PARAMS_PER_CHUNK = 512
"""Scenes whose parameters are drawn together, from one random generator (whatever the image size)."""

RENDER_PIXELS = 512 * 64 * 64
"""A rendered chunk holds at most this many pixels (and at least 8 scenes): 512 scenes at 64 x 64,
128 at 128 x 128. Larger chunks share Python's cost per tensor operation between more scenes."""

CACHE_BYTES = 256 * 2**20
"""Memory the rendered chunks of all datasets may take together (least recently used ones go first)."""

_PARAMS = collections.OrderedDict()
_PARAMS_KEPT = 8  # parameter chunks kept for the rendered chunks that follow (a few kB each)


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


class SceneChunks:
    """The scenes of one dataset, chunk by chunk: where scene ``i`` is, rendered on first use.

    ``purpose, split, track, seed``: what the scenes are (they seed the parameters);
    ``height, width``: the image size; ``spec``: the track's knobs; ``length``: number of scenes;
    ``make_chunk(params) -> Chunk``: how a chunk is rendered (default :func:`render_chunk`).
    """

    def __init__(self, purpose: str, split: str, track: str, seed: int, height: int, width: int, spec: TrackSpec,
                 length: int, make_chunk: Callable[[SceneParams, int, int, TrackSpec], Chunk] | None = None):
        self.height, self.width, self.spec, self.length = height, width, spec, length
        self.make_chunk = make_chunk or render_chunk
        self._names = (purpose, split, track, seed)
        # Everything a chunk depends on (the spec as text: hashing a dataclass at every item is slow).
        self._key = (purpose, split, track, seed, height, width, repr(spec))
        self.scenes_per_chunk = PARAMS_PER_CHUNK  # a power of two, so that chunks tile the parameter chunks
        while self.scenes_per_chunk > 8 and self.scenes_per_chunk * height * width > RENDER_PIXELS:
            self.scenes_per_chunk //= 2

    def locate(self, index) -> tuple[Chunk, int]:
        """The chunk that holds scene ``index`` and the scene's row in it."""
        try:
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"Scene index must be an int, got {type(index).__name__}") from None
        if not 0 <= index < self.length:
            raise IndexError(f"Scene index {index} is out of range: this dataset has scenes 0 to {self.length - 1} "
                             f"(length {self.length}); negative indices are not supported")
        return self._chunk(index // self.scenes_per_chunk), index % self.scenes_per_chunk

    def buckets(self, chunk: Chunk) -> torch.Tensor:
        """The size buckets of ``chunk``'s pixels (``uint8 N x H x W``), rendered on first use."""
        if chunk.buckets is None:
            chunk.buckets = render.render_size_buckets(chunk.params, self.height, self.width)
            CACHE.shrink()
        return chunk.buckets

    def _chunk(self, number: int) -> Chunk:
        key = (self._key, number)
        chunk = CACHE.get(key)
        if chunk is None:
            chunk = self.make_chunk(self._params(number), self.height, self.width, self.spec)
            CACHE.put(key, chunk)
        return chunk

    def _params(self, number: int) -> SceneParams:
        """The parameters of the scenes of rendered chunk ``number``: rows of a parameter chunk."""
        first = number * self.scenes_per_chunk
        key = (*self._names, self._key[-1], first // PARAMS_PER_CHUNK)  # not the image size
        params = _PARAMS.get(key)
        if params is None:
            seed = stable_seed(*self._names, first // PARAMS_PER_CHUNK)
            params = sample_scenes(self.spec, torch.Generator().manual_seed(seed), PARAMS_PER_CHUNK)
            _PARAMS[key] = params
            while len(_PARAMS) > _PARAMS_KEPT:
                _PARAMS.popitem(last=False)
        start = first % PARAMS_PER_CHUNK
        return params.rows(slice(start, start + self.scenes_per_chunk))


def render_chunk(params: SceneParams, height: int, width: int, spec: TrackSpec) -> Chunk:
    """Render the scenes ``params`` at ``height x width`` into a :class:`Chunk`."""
    images, masks = render.render_scenes(params, height, width, spec.ignore_width_px)
    return Chunk(params, images, masks)
