"""Turn scene parameters (:mod:`segedu.data.sampling`) into images, masks and size buckets.

A batch of scenes is drawn at once, vectorised over scenes and objects, on an image cut into
8 x 8 **tiles** (an image is stored as ``rows * cols`` tiles of ``3 x 8 x 8``):

1. Background: a colour plus one of a few fixed fields of smooth random blotches.
2. The cue band (where the track has one), then the objects, with the painter's algorithm:
   each is drawn over what is already there. An object is evaluated only on the tiles it
   can touch, so a small object costs a few tiles, not the whole image. On a tile, its signed
   distance (:mod:`segedu.data.shapes`) gives its coverage of each pixel,
   ``clamp(0.5 - sdf, 0, 1)`` (anti-aliased edges), and the mask takes the object's class
   where the pixel centre is inside (``sdf < 0``): masks are exact.
3. A light gradient, pixel noise from a fixed bank of random numbers, rounding to ``uint8``.

:func:`render_size_buckets` evaluates every object on every tile instead, to find the
object nearest to each pixel; only evaluation needs it.
"""

from __future__ import annotations

import contextlib
import math

import torch

from segedu.data import shapes as shape_sdfs
from segedu.data.engine.tiles import (
    BAND_PHASES,
    GRID_X,
    GRID_Y,
    MAX_SIDE,
    NOISE_STEP,
    TILE,
    band_templates,
    blotch_fields,
    from_tiles,
    keep_freed_memory,
    noise_bank,
    tile_coordinates,
    tiles_of,
    to_uint8,
)
from segedu.data.sampling import SceneParams
from segedu.data.tracks import IGNORE_INDEX, SHAPES

TILE_REACH = (TILE - 1) / math.sqrt(2) + 1.0
"""An object can change a tile's pixels only if its bounding box is closer than this to the tile's
centre: the farthest pixel centre is (TILE - 1) / sqrt(2) away, and an object reaches half a
pixel beyond its outline (up to one pixel at the sharp corners of the approximate SDFs)."""

PASS_PIXELS = 512 * 64 * 64
"""Scenes are drawn in passes of at most this many pixels (512 scenes at 64 x 64): the signed
distances of a whole pass are computed at once, so that Python's cost per tensor operation is
shared by many scenes, while memory stays bounded."""

BLOCK_PIXELS = 32 * 64 * 64
"""Within a pass, images are drawn in blocks of this many pixels (32 scenes at 64 x 64), small
enough for the CPU cache: the image passes over them are limited by memory speed otherwise."""

RENDER_THREADS = 1
"""Torch threads used while rendering. Rendering is many medium-sized operations: on a quiet
2-core machine a second thread gains about 15 %, but on a busy one every operation waits for
the thread that is not running, which can make rendering fifty times slower. DataLoader
workers run on one thread for the same reason."""

OBJECT_COLUMNS = ("x", "y", "angle", "cos", "sin", "radius", "aspect", "teeth", "depth", "amplitude", "waves",
                  "phase", "width", "box_u", "box_v", "reach", "red", "green", "blue", "label", "shape")
"""Columns of the per-object table built by :func:`object_table` (lengths in pixels)."""


def render_scenes(params: SceneParams, height: int, width: int, ignore_width_px: float = 0.0,
                  cull: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the scenes ``params`` at ``height x width`` pixels.

    Returns ``(images, masks)``: ``uint8 N x 3 x H x W`` (0..255) and ``uint8 N x H x W`` (class
    ids; 255 within ``ignore_width_px`` of a visible outline). ``cull=False`` evaluates every
    object on every tile (slow; the result is the same, which the tests check).
    """
    check_image_size(height, width)
    keep_freed_memory()
    per_pass = max(1, PASS_PIXELS // (height * width))
    images = torch.empty(params.num_scenes, 3, height, width, dtype=torch.uint8)
    masks = torch.empty(params.num_scenes, height, width, dtype=torch.uint8)
    with render_threads():
        for start in range(0, params.num_scenes, per_pass):
            part = slice(start, start + per_pass)
            _render_pass(params.rows(part), height, width, ignore_width_px, cull, images[part], masks[part])
    return images, masks


@contextlib.contextmanager
def render_threads():
    """Run torch on ``RENDER_THREADS`` threads inside the ``with`` block, restoring the count after."""
    threads = torch.get_num_threads()
    if threads != RENDER_THREADS:
        torch.set_num_threads(RENDER_THREADS)
    try:
        yield
    finally:
        if threads != RENDER_THREADS:
            torch.set_num_threads(threads)


def check_image_size(height, width) -> None:
    """Raise a ``ValueError`` unless ``height`` and ``width`` are ints between 1 and ``MAX_SIDE``."""
    if not (isinstance(height, int) and isinstance(width, int) and 1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ValueError(f"Image size must be two ints between 1 and {MAX_SIDE}, got {height!r} x {width!r}")


def object_table(params: SceneParams, height: int, width: int) -> torch.Tensor:
    """The objects' parameters in pixels, one row per object: ``N x K x len(OBJECT_COLUMNS)``."""
    scale = min(height, width)
    is_wire = params.shape == SHAPES.index("wire")
    wire_margin = torch.where(is_wire, params.width_px / 2, 0.0)
    # Radius of a circle around the object: the circumscribed circle, or around a wire's curve.
    reach = torch.where(is_wire, (params.radius * params.radius + params.amplitude * params.amplitude).sqrt(),
                        params.radius) * scale + wire_margin
    columns = {
        "x": params.x * width, "y": params.y * height, "angle": params.angle,
        "cos": params.angle.cos(), "sin": params.angle.sin(), "radius": params.radius * scale,
        "aspect": params.aspect, "teeth": params.teeth, "depth": params.depth,
        "amplitude": params.amplitude * scale, "waves": params.waves, "phase": params.phase,
        "width": params.width_px, "box_u": params.box_u * scale + wire_margin,
        "box_v": params.box_v * scale + wire_margin, "reach": reach, "red": params.colour[..., 0],
        "green": params.colour[..., 1], "blue": params.colour[..., 2], "label": params.label.float(),
        "shape": params.shape.float(),
    }
    return torch.stack([columns[name] for name in OBJECT_COLUMNS], -1)


class Columns:
    """Named access to the columns of an object table (``M x len(OBJECT_COLUMNS)``): ``cols["radius"]``
    is an ``M x 1 x 1`` view, ready to broadcast against ``M x TILE x TILE`` pixel values."""

    _index = {name: i for i, name in enumerate(OBJECT_COLUMNS)}

    def __init__(self, table: torch.Tensor):
        self.table = table

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.table[:, self._index[name]].view(-1, 1, 1)


def object_pairs(active: torch.Tensor, table: torch.Tensor, rows: int, cols: int, cull: bool = True,
                 block: int | None = None):
    """Every (object, tile) pair where an active object may show, sorted by slot (drawing order),
    or by block of ``block`` scenes and then by slot.

    Returns ``(slot, scene, tile, origin)``: ``P`` slots, scenes, tile numbers (``row * cols + col``)
    and ``P x 2`` pixel coordinates (x, y) of the tiles' top-left corners.
    """
    n, k = active.shape
    if cull:
        touched = _tiles_touched(active, table, rows, cols)
    else:
        touched = active[..., None, None].expand(n, k, rows, cols)
    slot, scene, tile_row, tile_col = touched.permute(1, 0, 2, 3).nonzero(as_tuple=True)
    if block is not None and block < n:
        order = torch.argsort(scene // block, stable=True)
        slot, scene, tile_row, tile_col = slot[order], scene[order], tile_row[order], tile_col[order]
    origin = torch.stack([tile_col, tile_row], 1).float() * TILE
    return slot, scene, tile_row * cols + tile_col, origin


def pixel_offsets(origin: torch.Tensor, obj: Columns) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets ``dx, dy`` (``P x TILE x TILE``) of the pixel centres of tiles at ``origin`` (``P x 2``)
    from the objects' centres. Pixel centres are computed first (exact in float), so a pixel gets
    the same offsets whatever tile or batch it is computed in."""
    dx = (origin[:, 0].view(-1, 1, 1) + GRID_X).sub_(obj["x"])
    dy = (origin[:, 1].view(-1, 1, 1) + GRID_Y).sub_(obj["y"])
    return dx, dy


def signed_distances(table: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    """SDF ``P x TILE x TILE`` of each object row of ``table`` (``P x columns``) on the tile at ``origin``."""
    shape = table[:, OBJECT_COLUMNS.index("shape")]
    sdf = torch.empty(table.shape[0], TILE, TILE)
    for index, name in enumerate(SHAPES):
        rows = (shape == index).nonzero()[:, 0]
        if len(rows):
            obj = Columns(table[rows])
            sdf[rows] = shape_sdfs.SDF[name](*pixel_offsets(origin[rows], obj), obj)
    return sdf


def _tiles_touched(active: torch.Tensor, table: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """``N x K x rows x cols`` bool: active objects within TILE_REACH of the tile centre.

    The distance to the object is bounded from below by the distances to a box and to a circle
    around it (the object lies inside both), so no tile the object shows on is skipped.
    """
    obj = {name: table[..., OBJECT_COLUMNS.index(name), None, None]
           for name in ("x", "y", "cos", "sin", "box_u", "box_v", "reach")}
    to_centre_x = ((torch.arange(cols) * TILE + TILE / 2).view(1, 1, 1, cols) - obj["x"]).expand(-1, -1, rows, -1)
    to_centre_y = ((torch.arange(rows) * TILE + TILE / 2).view(1, 1, rows, 1) - obj["y"]).expand(-1, -1, -1, cols)
    to_box = shape_sdfs.box_distance(to_centre_x, to_centre_y, obj, obj["box_u"], obj["box_v"])
    to_circle = shape_sdfs.length(to_centre_x, to_centre_y).sub_(obj["reach"])
    return (torch.maximum(to_box, to_circle) < TILE_REACH) & active[..., None, None]


def _render_pass(params: SceneParams, height: int, width: int, ignore_width_px: float, cull: bool,
                 images: torch.Tensor, masks: torch.Tensor) -> None:
    """Signed distances of every (object, tile) pair of the pass at once, then the drawing, one
    block of scenes at a time (small enough for the CPU cache)."""
    n, k = params.active.shape
    rows, cols = tiles_of(height, width)
    block = max(1, BLOCK_PIXELS // (height * width))
    table = object_table(params, height, width)
    slot, scene, tile, origin = object_pairs(params.active, table, rows, cols, cull, block)
    obj = table[scene, slot]
    sdf = signed_distances(obj, origin).unsqueeze(1)  # P x 1 x T x T
    objects = {
        "slot": slot, "scene": scene, "tile": tile, "sdf": sdf,
        "colour": obj[:, [OBJECT_COLUMNS.index(c) for c in ("red", "green", "blue")]].view(-1, 3, 1, 1),
        "label": obj[:, OBJECT_COLUMNS.index("label")].view(-1, 1, 1, 1),
    }
    ends = torch.searchsorted(scene // block, torch.arange(1, -(-n // block) + 1)).tolist()  # of each block
    for number, first in enumerate(range(0, n, block)):
        scenes = slice(first, min(n, first + block))
        part = {key: value[ends[number - 1] if number else 0:ends[number]] for key, value in objects.items()}
        _draw_block(params.rows(scenes), first, height, width, part, ignore_width_px, images[scenes], masks[scenes])


def _draw_block(params: SceneParams, first: int, height: int, width: int, pairs: dict, ignore_width_px: float,
                images: torch.Tensor, masks: torch.Tensor) -> None:
    """Draw scenes ``first, first + 1, ...`` (``params``) into ``images`` and ``masks``: background,
    cue band, objects (``pairs``: their (object, tile) pairs) in drawing order, then light, noise
    and rounding."""
    n, k = params.active.shape
    rows, cols = tiles_of(height, width)
    tiles = _background(params, height, width)  # (n * rows * cols) x 3 x T x T
    labels = torch.zeros(n * rows * cols, 1, TILE, TILE)
    ignored = torch.zeros(n * rows * cols, 1, TILE, TILE, dtype=torch.bool) if ignore_width_px > 0 else None
    _draw_cue_band(tiles, params, height, width)  # first, like an object under all others, but background

    tile_index = (pairs["scene"] - first) * (rows * cols) + pairs["tile"]
    start = 0
    for count in torch.bincount(pairs["slot"], minlength=k).tolist():  # painter's algorithm, slot by slot
        part, index = slice(start, start + count), tile_index[start:start + count]
        start += count
        if count == 0:
            continue
        sdf = pairs["sdf"][part]
        coverage = (0.5 - sdf).clamp_(0, 1)  # anti-aliasing: the object covers about this much of the pixel
        inside = (sdf < 0).float()  # the mask: the pixel centre is inside
        tiles.index_copy_(0, index, torch.lerp(tiles.index_select(0, index), pairs["colour"][part], coverage))
        labels.index_copy_(0, index, torch.lerp(labels.index_select(0, index), pairs["label"][part], inside))
        if ignored is not None:  # hide earlier outlines under the object, add the object's own
            near = sdf.abs() < ignore_width_px
            ignored.index_copy_(0, index, torch.where(inside > 0, near, near | ignored.index_select(0, index)))

    if ignored is not None:
        labels.masked_fill_(ignored, IGNORE_INDEX)
    _finish(tiles, params, height, width)
    from_tiles(to_uint8(tiles), n, rows, cols, images)  # rounds down: _finish added 0.5 to round
    from_tiles(to_uint8(labels), n, rows, cols, masks[:, None])


def _background(params: SceneParams, height: int, width: int) -> torch.Tensor:
    """Background colour plus one of the blotch fields: ``(N * rows * cols) x 3 x TILE x TILE``."""
    fields = blotch_fields(height, width)
    chosen = (params.blotch * len(fields)).long().clamp(max=len(fields) - 1)
    colour = params.background.view(-1, 1, 3, 1, 1)
    tiles = torch.addcmul(colour, fields.index_select(0, chosen), params.blotch_strength.view(-1, 1, 1, 1, 1))
    return tiles.view(-1, 3, TILE, TILE)


def _draw_cue_band(tiles: torch.Tensor, params: SceneParams, height: int, width: int) -> None:
    """Draw the cue band(s) of every scene that has one onto ``tiles`` (``N * rows * cols x 3 x T x T``),
    like an object whose signed distance is the distance from the border minus the band's width. Tracks
    with two bands have the second one on the opposite border (``far_cue``, its kind)."""
    opposite = params.cue_side ^ 1  # top <-> bottom, left <-> right
    for kind, sides, colour, phase in ((params.cue, params.cue_side, params.band_colour, params.band_phase),
                                       (params.far_cue, opposite, params.far_band_colour, params.far_band_phase)):
        _draw_bands(tiles, params, height, width, kind, sides, colour, phase)


def _draw_bands(tiles, params, height, width, kind, sides, colour, phase) -> None:
    with_band = kind >= 0
    if not with_band.any():
        return
    rows, cols = tiles_of(height, width)
    templates = band_templates(height, width, float(params.band_width[with_band][0]))
    for side, (side_tiles, coverage, patterns) in enumerate(templates):
        scenes = (with_band & (sides == side)).nonzero()[:, 0]
        if len(scenes) == 0 or len(side_tiles) == 0:
            continue
        chosen_phase = (phase[scenes] * BAND_PHASES).long().clamp(max=BAND_PHASES - 1)
        pattern = patterns[kind[scenes], chosen_phase]  # m x B x 1 x T x T
        paint = torch.addcmul(colour[scenes].view(-1, 1, 3, 1, 1), pattern,
                              params.band_pattern[scenes].view(-1, 1, 1, 1, 1))
        index = (scenes[:, None] * (rows * cols) + side_tiles).view(-1)
        below = tiles.index_select(0, index).view_as(paint)
        tiles.index_copy_(0, index, torch.lerp(below, paint, coverage).view(-1, 3, TILE, TILE))


def _finish(tiles: torch.Tensor, params: SceneParams, height: int, width: int) -> None:
    """Light gradient and pixel noise, clamped to 0..255.5, in place on the tiles (``N * tiles x 3 x T x T``).

    Values are scaled to 0..255 and shifted by 0.5, so that the conversion to ``uint8``, which
    rounds down, rounds to the nearest value. The noise is independent per pixel, so adding it
    in tile layout is fine.
    """
    n, scale, grid = params.num_scenes, min(height, width), tile_coordinates(height, width)
    unit_x = ((grid["x"] - width / 2) / scale).view(1, -1, 1, TILE, TILE)
    unit_y = ((grid["y"] - height / 2) / scale).view(1, -1, 1, TILE, TILE)
    light_x, light_y = (params.light[:, i].view(n, 1, 1, 1, 1) * 255 for i in (0, 1))
    light = (unit_x * light_x).add_(unit_y * light_y).add_(255)  # 255 times the light: n x tiles x 1 x T x T
    scenes = tiles.view(n, -1, 3, TILE, TILE).mul_(light).view(n, -1)
    std = float(params.noise_std[0]) if n else 0.0  # the same for every scene of a track
    windows = noise_bank(255 * std, 0.5).unfold(0, scenes.shape[1], NOISE_STEP)  # a view: windows x values
    chosen = (params.noise_offset * len(windows)).long().clamp(max=len(windows) - 1)
    scenes.add_(windows.index_select(0, chosen))
    tiles.clamp_(0, 255.5)


def render_size_buckets(params: SceneParams, height: int, width: int) -> torch.Tensor:
    """Size bucket (0/1/2) of the object each pixel belongs to: ``uint8 N x H x W``.

    On an object, the visible object's bucket; on the background, the bucket of the nearest
    object (smallest signed distance: a Voronoi partition of the image); 255 in a scene
    without objects. Computes every object's SDF on every tile (the same numbers as
    :func:`render_scenes`, so both agree on which object a pixel shows).
    """
    check_image_size(height, width)
    n, k = params.active.shape
    per_pass = max(1, PASS_PIXELS // (height * width * max(k, 1)))
    buckets = torch.empty(n, height, width, dtype=torch.uint8)
    with render_threads():
        for start in range(0, n, per_pass):
            part = slice(start, start + per_pass)
            _size_buckets_pass(params.rows(part), height, width, buckets[part])
    return buckets


def _size_buckets_pass(params: SceneParams, height: int, width: int, out: torch.Tensor) -> None:
    n, k = params.active.shape
    rows, cols = tiles_of(height, width)
    if k == 0 or not params.active.any():
        out.fill_(IGNORE_INDEX)
        return
    table = object_table(params, height, width)
    slot, scene, tile, origin = object_pairs(params.active, table, rows, cols, cull=False)
    sdf = torch.full((n, k, rows * cols, TILE, TILE), float("inf"))
    sdf[scene, slot, tile] = signed_distances(table[scene, slot], origin)
    visible = torch.where(sdf < 0, torch.arange(k).view(1, k, 1, 1, 1), -1).amax(1)  # the last drawn wins
    owner = torch.where(visible >= 0, visible, sdf.argmin(1))  # else the nearest: n x tiles x T x T
    bucket = params.bucket.gather(1, owner.view(n, -1)).view_as(owner)
    bucket = bucket.masked_fill(~params.active.any(1).view(n, 1, 1, 1), IGNORE_INDEX)
    from_tiles(bucket.view(-1, 1, TILE, TILE), n, rows, cols, out[:, None])
