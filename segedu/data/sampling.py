"""Draw the random parameters of a batch of scenes: which objects, where, how big, what colours.

Everything is drawn in relative units (positions as fractions of the image width and height,
lengths as fractions of the shorter side) from one ``torch.Generator``, always in the same
order, so a scene is fully determined by the generator's seed and looks the same at every
image size. Turning parameters into pixels is :mod:`segedu.data.engine.render`'s job.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from segedu.data import shapes as shape_sdfs
from segedu.data.tracks import CUE_SIDES, SHAPES, SIZE_BUCKET_EDGES, TrackSpec

PLACEMENT_TRIES = 8
"""Candidate positions drawn per object; the first one that respects ``max_overlap`` is used."""

BOX_ASPECT = (0.4, 0.55)
"""Half-width over half-length of the context objects' boxes."""

BAND_COLOURS = ((0.15, 0.35, 0.72), (0.42, 0.42, 0.42))
"""Colour of the cue band of each kind (water, road), before a small random jitter."""

BAND_PATTERN = 0.25
"""Contrast of the band's pattern (waves on water, dashes on a road) at full cue strength."""


@dataclasses.dataclass
class SceneParams:
    """Parameters of ``N`` scenes with up to ``K`` objects each (object slot ``k`` is drawn over slots < k).

    Per object (``N x K``): ``active`` (bool), ``shape`` (index into ``SHAPES``), ``label`` (class id),
    ``x``, ``y`` (centre, fractions of width and height), ``radius`` (circumscribed circle, or half
    length of a wire, fraction of the shorter side), ``angle``, ``aspect``, ``teeth``, ``depth``,
    ``amplitude`` (fraction of the shorter side), ``waves``, ``phase``, ``width_px``, ``size``
    (larger side of the bounding box, fraction of the shorter side), ``bucket`` (size bucket 0/1/2),
    ``box_u``, ``box_v`` (half-sizes of a box around the object in its own frame, fraction of the
    shorter side, not counting a wire's width), ``colour`` (``N x K x 3``).

    Per scene (``N``): ``background`` (``N x 3``), ``blotch_strength``, ``blotch`` (which blotch field,
    as a fraction of their number), ``light`` (``N x 2``: gradient of the lighting), ``cue`` (-1 without a band, else 0 = water, 1 = road),
    ``cue_side`` (index into top, bottom, left, right), ``band_width`` (fraction of the shorter side),
    ``band_colour`` (``N x 3``), ``band_pattern`` (contrast of the band's pattern), ``band_phase``,
    ``far_cue``, ``far_band_colour``, ``far_band_phase`` (the band on the opposite border, of either kind, on tracks with
    two bands; ``far_cue`` -1 elsewhere), ``noise_std`` (the same for all scenes), ``noise_offset``
    (fraction into the noise bank).
    """

    active: torch.Tensor
    shape: torch.Tensor
    label: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    radius: torch.Tensor
    angle: torch.Tensor
    aspect: torch.Tensor
    teeth: torch.Tensor
    depth: torch.Tensor
    amplitude: torch.Tensor
    waves: torch.Tensor
    phase: torch.Tensor
    width_px: torch.Tensor
    size: torch.Tensor
    bucket: torch.Tensor
    box_u: torch.Tensor
    box_v: torch.Tensor
    colour: torch.Tensor
    background: torch.Tensor
    blotch_strength: torch.Tensor
    blotch: torch.Tensor
    light: torch.Tensor
    cue: torch.Tensor
    cue_side: torch.Tensor
    band_width: torch.Tensor
    band_colour: torch.Tensor
    band_pattern: torch.Tensor
    band_phase: torch.Tensor
    far_cue: torch.Tensor
    far_band_colour: torch.Tensor
    far_band_phase: torch.Tensor
    noise_std: torch.Tensor
    noise_offset: torch.Tensor

    @property
    def num_scenes(self) -> int:
        return self.active.shape[0]

    @property
    def max_objects(self) -> int:
        return self.active.shape[1]

    def rows(self, index) -> SceneParams:
        """The parameters of the scenes ``index`` (a slice, or a tensor of scene indices)."""
        return SceneParams(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    def reorder_objects(self, order: torch.Tensor) -> SceneParams:
        """Same scenes with the object slots permuted by ``order`` (``N x K`` indices)."""
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in OBJECT_FIELDS:
                index = order.view(*order.shape, *([1] * (value.dim() - 2))).expand_as(value)
                value = value.gather(1, index)
            values[field.name] = value
        return SceneParams(**values)


OBJECT_FIELDS = (
    "active", "shape", "label", "x", "y", "radius", "angle", "aspect", "teeth", "depth", "amplitude", "waves",
    "phase", "width_px", "size", "bucket", "box_u", "box_v", "colour",
)
"""Names of the per-object (``N x K``) fields of :class:`SceneParams`; the others are per scene."""


def sample_scenes(spec: TrackSpec, generator: torch.Generator, num_scenes: int) -> SceneParams:
    """Draw the parameters of ``num_scenes`` scenes of the track described by ``spec``."""
    n, k = num_scenes, spec.max_objects

    def uniform(*shape, low=0.0, high=1.0):
        return low + (high - low) * torch.rand(*shape, generator=generator)

    # How many objects, of which kind, in which scene kind.
    count = spec.min_objects + (uniform(n) * (spec.max_objects - spec.min_objects + 1)).long()
    active = torch.arange(k) < count.clamp(max=spec.max_objects)[:, None]
    weights = torch.tensor(spec.kind_weights or [1.0] * len(spec.kinds), dtype=torch.float32)
    cumulative = weights.cumsum(0)
    kind = torch.searchsorted(cumulative, uniform(n, k) * cumulative[-1], right=True).clamp(max=len(weights) - 1)
    cue_draw, side_draw = uniform(n), uniform(n)
    if spec.has_cue:
        cue = (cue_draw < 0.5).long()
        sides = CUE_SIDES.index(spec.cue_side)
        cue_side = (side_draw * 4).long().clamp(max=3) if spec.cue_side == "any" else torch.full((n,), sides)
    else:
        cue, cue_side = torch.full((n,), -1), torch.zeros(n, dtype=torch.long)

    kind_shapes = [SHAPES.index(name) for name in spec.shapes] + [SHAPES.index(spec.context_shape)]
    shape = torch.tensor(kind_shapes)[kind]
    is_context = kind == len(spec.shapes)
    label = torch.where(is_context, len(spec.shapes) + 1 + cue[:, None].clamp(min=0), kind + 1)

    # Sizes: log-uniform in the range of each object's shape.
    low, high = torch.full((n, k), spec.size_range[0]), torch.full((n, k), spec.size_range[1])
    for name, (range_low, range_high) in (("gear", spec.gear_size_range), ("wire", spec.wire_length_range)):
        is_shape = shape == SHAPES.index(name)
        low, high = low.masked_fill(is_shape, range_low), high.masked_fill(is_shape, range_high)
    low = torch.where(is_context, spec.context_size_range[0], low)
    high = torch.where(is_context, spec.context_size_range[1], high)
    radius = torch.exp(uniform(n, k, low=0, high=1) * (high.log() - low.log()) + low.log()) / 2

    angle = uniform(n, k, high=2 * math.pi)
    aspect = uniform(n, k, low=BOX_ASPECT[0], high=BOX_ASPECT[1])
    teeth = (uniform(n, k) * (spec.gear_teeth[1] - spec.gear_teeth[0] + 1)).floor() + spec.gear_teeth[0]
    teeth = teeth.clamp(max=spec.gear_teeth[1])
    depth = uniform(n, k, low=spec.gear_tooth_depth[0], high=spec.gear_tooth_depth[1])
    amplitude = uniform(n, k, low=spec.wire_amplitude[0], high=spec.wire_amplitude[1])
    waves = uniform(n, k, low=spec.wire_waves[0], high=spec.wire_waves[1])
    phase = uniform(n, k, high=2 * math.pi)
    width_px = uniform(n, k, low=spec.wire_width_px[0], high=spec.wire_width_px[1])

    # Flat colours from the same distribution for every class, min_contrast away from the background.
    background = uniform(n, 3, low=0.15, high=0.85)
    colour = _with_contrast(uniform(n, k, 3, low=0.05, high=0.95), background[:, None], spec.min_contrast,
                            uniform(n, k, 3, low=-1, high=1))
    blotch_strength = uniform(n, low=0.5, high=1.5) * spec.texture_strength
    blotch = uniform(n)
    light_angle = uniform(n, high=2 * math.pi)
    light = torch.stack([light_angle.cos(), light_angle.sin()], -1) * uniform(n, 1, high=spec.shading)
    # The cue band: its kind's colour, pulled towards the average of the kinds as cue_strength drops.
    kind_colours = torch.tensor(BAND_COLOURS)
    band_colour = kind_colours.mean(0) + spec.cue_strength * (kind_colours[cue.clamp(min=0)] - kind_colours.mean(0))
    band_colour = band_colour + uniform(n, 3, low=-0.06, high=0.06)
    band_phase = uniform(n)
    noise_offset = uniform(n)
    candidates = uniform(n, k, PLACEMENT_TRIES, 2)
    far_cue, far_band_colour, far_band_phase = torch.full((n,), -1), torch.zeros(n, 3), torch.zeros(n)
    if spec.has_cue and spec.cue_bands == 2:  # drawn last: the one-band tracks' scenes stay as they were
        far_cue = (uniform(n) < 0.5).long()  # independent of the first band: both kinds, or twice the same
        far_band_colour = kind_colours.mean(0) + spec.cue_strength * (kind_colours[far_cue] - kind_colours.mean(0))
        far_band_colour = far_band_colour + uniform(n, 3, low=-0.06, high=0.06)
        far_band_phase = uniform(n)

    params = SceneParams(
        active=active, shape=shape, label=label, x=torch.zeros(n, k), y=torch.zeros(n, k), radius=radius,
        angle=angle, aspect=aspect, teeth=teeth, depth=depth, amplitude=amplitude, waves=waves, phase=phase,
        width_px=width_px, size=torch.zeros(n, k), bucket=torch.zeros(n, k, dtype=torch.long),
        box_u=torch.zeros(n, k), box_v=torch.zeros(n, k), colour=colour, background=background,
        blotch_strength=blotch_strength, blotch=blotch, light=light, cue=cue, cue_side=cue_side,
        band_width=torch.full((n,), spec.cue_band if spec.has_cue else 0.0),
        band_colour=band_colour, band_pattern=torch.full((n,), BAND_PATTERN * spec.cue_strength),
        band_phase=band_phase, far_cue=far_cue, far_band_colour=far_band_colour, far_band_phase=far_band_phase,
        noise_std=torch.full((n,), spec.noise_std), noise_offset=noise_offset,
    )
    params.size, params.box_u, params.box_v = object_sizes(params)
    params.bucket = torch.bucketize(params.size, torch.tensor(SIZE_BUCKET_EDGES), right=True)
    if spec.large_first:
        params, candidates = _large_first(params, candidates)
    _place(params, candidates, spec)
    if spec.has_cue and spec.cue_bands == 2:
        _label_by_farther_band(params, spec)
    return params


def _label_by_farther_band(params: SceneParams, spec: TrackSpec) -> None:
    """With two bands, each context object takes the class of the band farther from it, in place."""
    across = _across(params)  # N x K: 0 at the first band's border, 1 at the far band's
    farther_kind = torch.where(across < 0.5, params.far_cue[:, None], params.cue[:, None])
    is_context = params.shape == SHAPES.index(spec.context_shape)
    params.label = torch.where(is_context, len(spec.shapes) + 1 + farther_kind, params.label)


def _across(params: SceneParams) -> torch.Tensor:
    """Each object's position from the first band's border towards the opposite one, in [0, 1]: ``N x K``."""
    side = params.cue_side[:, None]
    return torch.where(side == 0, params.y, torch.where(side == 1, 1 - params.y,
                                                         torch.where(side == 2, params.x, 1 - params.x)))


def _with_contrast(colour, background, min_contrast, direction):
    """Move colours that are closer than ``min_contrast`` to the background away from it."""
    difference = colour - background
    distance = difference.norm(dim=-1, keepdim=True)
    away = torch.where(distance > 1e-3, difference / distance.clamp(min=1e-3), direction / direction.norm(
        dim=-1, keepdim=True).clamp(min=1e-3))
    pushed = [background + sign * min_contrast * away for sign in (1, -1)]
    outside = [(value - value.clamp(0, 1)).abs().sum(-1, keepdim=True) for value in pushed]
    pushed = torch.where(outside[0] <= outside[1], pushed[0], pushed[1]).clamp(0, 1)
    return torch.where(distance < min_contrast, pushed, colour)


def object_sizes(params: SceneParams) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each object's size (larger side of its axis-aligned bounding box) and the half-sizes of a box
    around it in its own frame (``box_u``, ``box_v``), all ``N x K`` fractions of the shorter side."""
    size, box_u, box_v = (torch.zeros_like(params.radius) for _ in range(3))
    for index, name in enumerate(SHAPES):
        chosen = params.shape == index
        if chosen.any():
            obj = {key: getattr(params, key)[chosen] for key in ("radius", "aspect", "amplitude", "waves", "phase")}
            obj["cos"], obj["sin"] = params.angle[chosen].cos(), params.angle[chosen].sin()
            obj["width"] = torch.zeros_like(obj["radius"])
            size[chosen] = shape_sdfs.bounding_size(name, obj)
            box_u[chosen], box_v[chosen] = shape_sdfs.bounding_box(name, obj)
    return size, box_u, box_v


def _large_first(params, candidates):
    """Order the objects: solid ones from large to small, then wires (on top), then inactive slots."""
    is_wire = params.shape == SHAPES.index("wire")
    key = torch.where(params.active, torch.where(is_wire, -1.0, params.size), -2.0)
    order = key.argsort(dim=1, descending=True, stable=True)
    index = order[..., None, None].expand_as(candidates)
    return params.reorder_objects(order), candidates.gather(1, index)


def _place(params: SceneParams, candidates: torch.Tensor, spec: TrackSpec) -> None:
    """Choose each object's centre among its candidates (``N x K x T x 2`` in [0, 1)), in place.

    Centres keep half a radius inside the image; with a cue band, solid objects stay
    ``cue_gap`` away from it (wires only keep their centre out). The first candidate whose
    bounding circle overlaps no earlier solid object's by more than ``max_overlap`` wins; an
    object without such a candidate is dropped (made inactive).
    """
    n, k = params.active.shape
    solid = params.shape != SHAPES.index("wire")
    margin = (params.radius / 2).clamp(max=0.3)
    low_x, high_x, low_y, high_y = margin, 1 - margin, margin.clone(), 1 - margin
    if spec.has_cue:
        keep_out = spec.cue_band + spec.cue_gap + torch.where(solid, params.radius, 0.0)
        side = params.cue_side[:, None].expand(n, k)
        vertical, horizontal = side <= 1, side >= 2  # the band's border is the top or bottom / left or right
        if spec.cue_bands == 2:  # a band on both borders of the pair
            top_or_left, bottom_or_right = vertical, horizontal
            low_y = torch.where(top_or_left, keep_out.clamp(min=low_y), low_y)
            high_y = torch.where(top_or_left, (1 - keep_out).clamp(max=high_y), high_y)
            low_x = torch.where(bottom_or_right, keep_out.clamp(min=low_x), low_x)
            high_x = torch.where(bottom_or_right, (1 - keep_out).clamp(max=high_x), high_x)
        else:
            low_y = torch.where(side == 0, keep_out.clamp(min=low_y), low_y)
            high_y = torch.where(side == 1, (1 - keep_out).clamp(max=high_y), high_y)
            low_x = torch.where(side == 2, keep_out.clamp(min=low_x), low_x)
            high_x = torch.where(side == 3, (1 - keep_out).clamp(max=high_x), high_x)
    x = _spread(candidates[..., 0], low_x, high_x)  # N x K x T
    y = _spread(candidates[..., 1], low_y, high_y)
    if spec.has_cue and spec.cue_bands == 2:  # keep cue_gap / 2 from the midline between the bands
        gap = spec.cue_gap / 2
        x = torch.where(horizontal[..., None], _spread(candidates[..., 0], low_x, high_x, gap), x)
        y = torch.where(vertical[..., None], _spread(candidates[..., 1], low_y, high_y, gap), y)
    allowed_distance = (1 - spec.max_overlap) * (params.radius[:, :, None] + params.radius[:, None, :])
    for slot in range(k):
        earlier = params.active[:, :slot] & solid[:, :slot]  # N x slot
        dx = x[:, slot, :, None] - params.x[:, None, :slot]  # N x T x slot
        dy = y[:, slot, :, None] - params.y[:, None, :slot]
        allowed = allowed_distance[:, None, slot, :slot]
        too_close = (dx * dx + dy * dy < allowed * allowed) & earlier[:, None, :]
        fits = ~too_close.any(-1) | ~solid[:, slot, None]  # N x T
        choice = fits.long().argmax(-1)  # the first candidate that fits (0 if none does)
        params.x[:, slot] = x[:, slot].gather(1, choice[:, None])[:, 0]
        params.y[:, slot] = y[:, slot].gather(1, choice[:, None])[:, 0]
        params.active[:, slot] &= fits.any(-1)


def _spread(unit: torch.Tensor, low: torch.Tensor, high: torch.Tensor, midline_gap: float = 0.0) -> torch.Tensor:
    """Map ``unit`` (``N x K x T`` in [0, 1)) onto ``[low, high]`` (``N x K``), leaving out
    ``0.5 - midline_gap .. 0.5 + midline_gap`` when ``midline_gap`` > 0."""
    low, high = low[..., None], high[..., None]
    if midline_gap <= 0:
        return low + unit * (high - low).clamp(min=0)
    first = (0.5 - midline_gap - low).clamp(min=0)  # room before the excluded middle
    second = (high - 0.5 - midline_gap).clamp(min=0)  # and after it
    position = unit * (first + second)
    return torch.where(position < first, low + position, 0.5 + midline_gap + (position - first))


def scale_objects(params: SceneParams, factor: torch.Tensor) -> None:
    """Scale every object's lengths by ``factor`` (``N x K``) about its centre, in place (sizes and
    size buckets follow; a wire keeps its width in pixels)."""
    for name in ("radius", "amplitude", "size", "box_u", "box_v"):
        setattr(params, name, getattr(params, name) * factor)
    params.bucket = torch.bucketize(params.size, torch.tensor(SIZE_BUCKET_EDGES), right=True)
