"""The tile layout of images, and fixed tables the renderer makes once per process and reuses.

The renderer (:mod:`segedu.data.engine.render`) stores an image as ``rows * cols`` square **tiles** of
``TILE x TILE`` pixels (``N x C x H x W`` becomes ``(N * rows * cols) x C x TILE x TILE``), so
that an object can be drawn on just the few tiles it touches.

The tables: a bank of normal random numbers for pixel noise, smooth random colour fields for
backgrounds, the pixel coordinates of each tile, and the patterns of the cue bands. They are
the same in every process (fixed seeds), so scenes are too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

TILE = 8
"""Side of the square tiles that objects are rendered on, in pixels."""

MAX_SIDE = 512
"""Largest image side (the noise bank holds 3 x 512 x 512 values twice)."""

NOISE_BANK_SIZE = 2**21
"""Pixel noise is read from a fixed bank of this many normal numbers at a random offset per scene:
much cheaper than drawing fresh noise, and the same in every process."""

BLOTCH_FIELDS, BLOTCH_CELLS, BLOTCH_MEMORY = 64, 4, 2**23
"""Background blotches: one of BLOTCH_FIELDS fixed fields per image size (fewer if they would take
more than BLOTCH_MEMORY values), each random colours on a grid of BLOTCH_CELLS cells per image
side, smoothly (bicubically) interpolated."""

NOISE_STEP = 64
"""Pixel noise is read from the bank at offsets that are multiples of this."""

WAVE_PERIOD, WIGGLE_PERIOD, DASH_PERIOD, DASH_HALF_WIDTH = 0.05, 0.3, 0.12, 0.012
"""Patterns of the cue bands (fractions of the shorter side): waves on water, dashes on a road."""

BAND_PHASES = 8
"""The band patterns are made once per image size, at this many shifts (phases)."""

_CENTRES = torch.arange(TILE) + 0.5
GRID_X = _CENTRES.view(1, 1, TILE).expand(1, TILE, TILE).contiguous()
"""Pixel-centre x coordinates within a tile (``1 x TILE x TILE``); ``GRID_Y`` the y coordinates."""
GRID_Y = _CENTRES.view(1, TILE, 1).expand(1, TILE, TILE).contiguous()
_cache: dict = {}


def noise_bank(scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    """``NOISE_BANK_SIZE`` fixed standard normal numbers times ``scale`` plus ``shift`` (made on first use)."""
    key = ("noise", scale, shift)
    if key not in _cache:
        bank = torch.randn(NOISE_BANK_SIZE, generator=torch.Generator().manual_seed(20230618))
        _cache[key] = bank.mul_(scale).add_(shift)
    return _cache[key]


def blotch_fields(height: int, width: int) -> torch.Tensor:
    """The fixed smooth random colour fields that backgrounds are made of, values in [-1, 1], in tile
    layout: ``fields x (rows * cols) x 3 x TILE x TILE`` (at most ``BLOTCH_FIELDS``, fewer for large
    images so that they fit in ``BLOTCH_MEMORY`` values). Made once per image size."""
    key = ("blotches", height, width)
    if key not in _cache:
        rows, cols = -(-height // TILE), -(-width // TILE)
        count = max(4, min(BLOTCH_FIELDS, BLOTCH_MEMORY // (3 * rows * cols * TILE * TILE)))
        scale = min(height, width)
        cells = (max(2, round(rows * TILE * BLOTCH_CELLS / scale)), max(2, round(cols * TILE * BLOTCH_CELLS / scale)))
        grid = torch.rand(count, 3, *cells, generator=torch.Generator().manual_seed(20160612)) * 2 - 1
        fields = F.interpolate(grid, size=(rows * TILE, cols * TILE), mode="bicubic", align_corners=False)
        _cache[key] = to_tiles(fields.clamp_(-1, 1)).view(count, rows * cols, 3, TILE, TILE)
    return _cache[key]


def tile_coordinates(height: int, width: int) -> dict[str, torch.Tensor]:
    """Per-pixel coordinates in tile layout (``rows * cols x TILE x TILE``), in pixels: ``x``, ``y``
    (pixel centres), and ``across``, ``along`` (``4 x ...``: distance from, and position along,
    the top, bottom, left and right border)."""
    key = ("coordinates", height, width)
    if key not in _cache:
        rows, cols = -(-height // TILE), -(-width // TILE)
        x = (torch.arange(cols * TILE) + 0.5).view(1, 1, 1, cols * TILE).expand(1, 1, rows * TILE, cols * TILE)
        y = (torch.arange(rows * TILE) + 0.5).view(1, 1, rows * TILE, 1).expand(1, 1, rows * TILE, cols * TILE)
        x, y = to_tiles(x.contiguous())[:, 0], to_tiles(y.contiguous())[:, 0]
        _cache[key] = {"x": x, "y": y, "across": torch.stack([y, height - y, x, width - x]),
                       "along": torch.stack([x, x, y, y])}
    return _cache[key]


def to_tiles(image: torch.Tensor) -> torch.Tensor:
    """``N x C x H x W`` (H, W multiples of TILE) -> ``(N * rows * cols) x C x TILE x TILE``, row-major tiles."""
    n, c, h, w = image.shape
    tiles = image.view(n, c, h // TILE, TILE, w // TILE, TILE).permute(0, 2, 4, 1, 3, 5)
    return tiles.reshape(-1, c, TILE, TILE)


def from_tiles(tiles: torch.Tensor, n: int, rows: int, cols: int, out: torch.Tensor) -> torch.Tensor:
    """Copy ``(n * rows * cols) x C x TILE x TILE`` tiles into ``out`` (``n x C x H x W``, cropping the
    padding, converting the dtype) and return ``out``."""
    c, height, width = out.shape[1:]
    if TILE == 8 and tiles.dtype == out.dtype == torch.uint8 and (height, width) == (rows * TILE, cols * TILE):
        # A tile row of 8 uint8 pixels is one 64-bit word: moving words instead of bytes makes
        # this reordering several times faster.
        words = tiles.reshape(n, rows, cols, c, TILE, TILE).view(torch.int64)  # n x rows x cols x C x TILE x 1
        out.view(n, c, rows, TILE, cols, TILE).view(torch.int64).copy_(words.permute(0, 3, 1, 4, 2, 5))
        return out
    image = tiles.view(n, rows, cols, c, TILE, TILE).permute(0, 3, 1, 4, 2, 5)
    if height == rows * TILE and width == cols * TILE:
        out.view(n, c, rows, TILE, cols, TILE).copy_(image)
    else:
        out.copy_(image.reshape(n, c, rows * TILE, cols * TILE)[..., :height, :width])
    return out


def to_uint8(values: torch.Tensor) -> torch.Tensor:
    """Float values in [0, 256) to ``uint8`` (rounding down), via int32: much faster than directly."""
    return values.to(torch.int32).to(torch.uint8)


def keep_freed_memory() -> None:
    """Let the C allocator keep freed blocks of up to 30 MB for reuse, once per process.

    Rendering allocates and frees many blocks of a few MB. By default glibc hands freed blocks
    above 128 kB back to the operating system, so that every chunk of scenes has to get fresh
    pages from it again (page faults: up to a third of the rendering time in a virtual
    machine). glibc raises that limit to the size of the largest block freed so far (at most
    32 MB): freeing one large, never used block once is enough. Elsewhere this costs nothing.
    """
    if "allocator" not in _cache:
        _cache["allocator"] = True
        block = torch.empty(30 * 2**20, dtype=torch.uint8)
        del block


def band_templates(height: int, width: int, band_width: float) -> list[tuple[torch.Tensor, ...]]:
    """For each border (top, bottom, left, right): the tiles a cue band of ``band_width`` touches
    (``B``), its coverage of their pixels (``B x 1 x T x T``), and its pattern (``2 kinds x
    BAND_PHASES x B x 1 x T x T``, in [-1, 1]): waves on water, a dashed centre line on a road."""
    key = ("band", height, width, band_width)
    if key not in _cache:
        scale, grid = min(height, width), tile_coordinates(height, width)
        edge, templates = band_width * scale, []
        for side in range(4):
            tiles = (grid["across"][side].amin((1, 2)) < edge + 0.5).nonzero()[:, 0]
            across, along = grid["across"][side, tiles] / scale, grid["along"][side, tiles] / scale  # B x T x T
            coverage = (0.5 - (across * scale - edge)).clamp_(0, 1).unsqueeze(1)
            phase = (torch.arange(BAND_PHASES) / BAND_PHASES).view(-1, 1, 1, 1)
            waves = across / WAVE_PERIOD + 0.3 * torch.sin(along * (2 * math.pi / WIGGLE_PERIOD) + 2 * math.pi * phase)
            waves = 4 * (waves - waves.round()).abs() - 1  # triangle wave in [-1, 1]
            dashes = along / DASH_PERIOD + phase
            on_line = ((across - band_width / 2).abs() < DASH_HALF_WIDTH) & (dashes - dashes.floor() < 0.5)
            dashes = torch.where(on_line, 1.0, -0.2)
            templates.append((tiles, coverage, torch.stack([waves, dashes]).unsqueeze(3)))
        _cache[key] = templates
    return _cache[key]


def tiles_of(height: int, width: int) -> tuple[int, int]:
    """Number of tile rows and columns of a ``height x width`` image (padded up to whole tiles)."""
    return -(-height // TILE), -(-width // TILE)
