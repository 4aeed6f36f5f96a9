"""The five tracks of synthetic scenes: what is in them, their classes, colours and difficulty knobs.

Each track exists to make one architectural idea visibly matter:

* ``shapes``: classes told apart only by their outline (objects are flat colours drawn from one
  distribution for every class); sizes from 8 pixels (at 64 px) to 60% of the image, so the inside of
  a large object is featureless and only a large receptive field can classify it.
* ``thin``: wires one or two pixels wide and gears with small teeth: details that a
  stride-16 bottleneck blurs away and skip connections bring back.
* ``context``: one outline, two classes (``boat`` and ``car``); which one is told only by a band
  of ``water`` or ``road`` at one border of the image (a different one in each scene), far from
  the objects: at 128 px the band is out of reach of a stride-8 backbone's effective receptive
  field, and a global prior (pyramid pooling) helps.
* ``harbour``: a band along each of two opposite borders; a hull takes the class of the farther
  band, a cue built for pyramid bins finer than the global one.
* ``mixed``: the shapes, wires and gears with boats and cars told apart by one band along the top
  border (not harbour's two), several in one scene: the leaderboard track.

Every difficulty choice is a field of :class:`TrackSpec`, so that experiments can change one
knob: ``dataclasses.replace(track_spec("shapes"), max_objects=2)``.
"""

from __future__ import annotations

import dataclasses

from segedu.metrics import IGNORE_INDEX  # noqa: F401  (the mask value of unlabelled pixels, re-exported)

TRACKS = ("mixed", "shapes", "thin", "context", "harbour")

SHAPES = ("disk", "triangle", "square", "cross", "box", "gear", "wire")
"""Outlines the renderer can draw (see :mod:`segedu.data.shapes`)."""

CUE_KINDS = ("water", "road")
"""The two kinds of scene-cue band; the ``i``-th context class goes with the ``i``-th kind."""

CUE_SIDES = ("top", "bottom", "left", "right", "any")

MAX_OBJECTS = 16

CLASS_COLOURS = {
    "background": (48, 48, 48),
    "disk": (100, 140, 255),
    "triangle": (250, 145, 50),
    "square": (40, 250, 250),
    "cross": (140, 250, 70),
    "box": (175, 150, 0),
    "gear": (16, 136, 96),  # lighter than background by CIEDE2000 35 (it was 28, hard to see in overlays)
    "wire": (100, 245, 175),
    "boat": (125, 50, 210),
    "car": (255, 195, 255),
}
"""Palette colour of each class name, the same in every track (background is dark grey).

Chosen so that the classes drawn together (each track's and the pretraining shapes') and the
error and ignore colours of :mod:`segedu.viz` are far apart (CIEDE2000 colour difference at least 25),
also for the two common kinds of red-green colour blindness; ``tests/test_palette.py`` checks it.
The error colour is red, so no class is red.
"""

_SPARE_COLOURS = ((128, 128, 0), (0, 128, 128), (250, 190, 212), (128, 0, 0), (170, 255, 195), (0, 0, 128))


@dataclasses.dataclass(frozen=True)
class TrackSpec:
    """The difficulty knobs of one track. Lengths are fractions of the shorter image side unless
    the name ends in ``_px``, so a scene looks the same at every image size.

    What is in a scene:
        shapes: classes told apart by their outline; each is drawn with the shape of the same
            name (one of :data:`SHAPES`), in a flat colour independent of the class.
        context_classes: ``()`` or two class names that share the outline ``context_shape``;
            an object is the first class in scenes with a ``water`` band, the second with ``road``.
        kind_weights: relative frequency of each entry of ``shapes`` and (as one more entry) of
            the context objects; ``()`` means equally often.
        min_objects, max_objects: number of objects per scene, uniform in this range.
        max_overlap: 0 keeps the bounding circles of solid objects apart, 1 allows any overlap
            (occlusion); wires may always cross other objects.
        large_first: draw large objects first so that small ones are not hidden under them;
            wires are drawn last, over everything.

    Sizes (log-uniform in each range; "size" is the diameter of the circumscribed circle):
        size_range: for outline shapes; context_size_range: for context objects;
        gear_size_range, gear_teeth, gear_tooth_depth (fraction of the outer radius);
        wire_length_range, wire_width_px, wire_amplitude, wire_waves (sine periods along a wire).

    Appearance:
        min_contrast: least RGB distance between an object's colour and its background colour.
        texture_strength: amplitude of the blotches on backgrounds (objects are flat: their
            inside carries no clue about their class or size).
        shading: strength of the light gradient across the whole image.
        noise_std: standard deviation of the pixel noise (image values are in [0, 1]).

    Scene cue (only with ``context_classes``):
        cue_band: width of the band; cue_side: which border (``"any"``: a random side per
        scene); cue_gap: least distance between the band and any object; cue_strength: 1 gives
        clearly different bands, 0 identical ones (the cue is gone).
        cue_bands: 1, one band per scene, and every context object is the class of its kind; or
        2, a band along each of two opposite borders, each water or road independently, and each
        context object is the class of the band *farther* from it (objects keep ``cue_gap / 2``
        away from the midline, so that is never a tie). The nearer band says nothing about the
        class, and a global average cannot tell a scene with water on one side and road on the
        other from its mirror image: only where each band lies tells the classes apart.

    Labels:
        ignore_width_px: pixels closer than this to a visible boundary get the mask value 255
            (0 = exact masks everywhere).
    """

    shapes: tuple[str, ...] = ("disk", "triangle")
    context_classes: tuple[str, ...] = ()
    context_shape: str = "box"
    kind_weights: tuple[float, ...] = ()
    min_objects: int = 2
    max_objects: int = 4
    max_overlap: float = 0.25
    large_first: bool = True
    size_range: tuple[float, float] = (0.0625, 0.5)
    context_size_range: tuple[float, float] = (0.18, 0.4)
    gear_size_range: tuple[float, float] = (0.3, 0.6)
    gear_teeth: tuple[int, int] = (8, 14)
    gear_tooth_depth: tuple[float, float] = (0.15, 0.3)
    wire_length_range: tuple[float, float] = (0.5, 1.2)
    wire_width_px: tuple[float, float] = (1.0, 2.0)
    wire_amplitude: tuple[float, float] = (0.0, 0.05)
    wire_waves: tuple[float, float] = (0.0, 1.5)
    min_contrast: float = 0.3
    texture_strength: float = 0.08
    shading: float = 0.25
    noise_std: float = 0.03
    cue_band: float = 0.125
    cue_side: str = "top"
    cue_gap: float = 0.1
    cue_strength: float = 1.0
    cue_bands: int = 1
    ignore_width_px: float = 0.0

    def __post_init__(self):
        _check_spec(self)

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, index == class id: background, then ``shapes``, then ``context_classes``."""
        return ("background",) + tuple(self.shapes) + tuple(self.context_classes)

    @property
    def kinds(self) -> tuple[str, ...]:
        """What an object can be: each outline class, plus ``"context"`` when the track has a cue."""
        return tuple(self.shapes) + (("context",) if self.context_classes else ())

    @property
    def has_cue(self) -> bool:
        """True when scenes carry a cue band (the track has context classes)."""
        return bool(self.context_classes)


def _check_spec(spec: TrackSpec) -> None:
    def fail(message):
        raise ValueError(f"TrackSpec: {message}")

    for name in spec.shapes:
        if name not in SHAPES:
            fail(f"unknown shape {name!r} in shapes; allowed: {', '.join(SHAPES)}")
    if spec.context_classes:
        if len(spec.context_classes) != len(CUE_KINDS):
            fail(f"context_classes needs exactly {len(CUE_KINDS)} names (one per cue kind {CUE_KINDS}), "
                 f"got {spec.context_classes!r}")
        if spec.context_shape not in SHAPES:
            fail(f"unknown context_shape {spec.context_shape!r}; allowed: {', '.join(SHAPES)}")
        if not spec.cue_band > 0:
            fail("a track with context_classes needs a cue band: set cue_band > 0")
    classes = spec.classes
    if len(set(classes)) != len(classes):
        fail(f"class names must be unique (and not 'background'), got {classes!r}")
    if not spec.kinds:
        fail("a track needs at least one shape or context class")
    if spec.kind_weights and (len(spec.kind_weights) != len(spec.kinds)
                              or min(spec.kind_weights) < 0 or sum(spec.kind_weights) <= 0):
        fail(f"kind_weights needs {len(spec.kinds)} non-negative numbers (one per {spec.kinds}), "
             f"got {spec.kind_weights!r}")
    if not 0 <= spec.min_objects <= spec.max_objects <= MAX_OBJECTS:
        fail(f"need 0 <= min_objects <= max_objects <= {MAX_OBJECTS}, got {spec.min_objects}, {spec.max_objects}")
    for name in ("size_range", "context_size_range", "gear_size_range", "gear_tooth_depth",
                 "wire_length_range", "wire_width_px", "wire_amplitude", "wire_waves", "gear_teeth"):
        low, high = getattr(spec, name)
        if not 0 <= low <= high or (name.endswith("range") and low <= 0):
            fail(f"{name} must be (low, high) with 0 < low <= high, got {(low, high)!r}")
    if spec.wire_width_px[0] < 1.0:
        fail("wire_width_px below 1 pixel would give masks with gaps; use widths >= 1.0")
    if spec.gear_teeth[0] < 3 or spec.gear_tooth_depth[1] >= 1:
        fail("a gear needs at least 3 teeth and a tooth depth below 1")
    for name in ("max_overlap", "cue_strength", "cue_band", "cue_gap"):
        if not 0 <= getattr(spec, name) <= 1:
            fail(f"{name} must be between 0 and 1, got {getattr(spec, name)!r}")
    if spec.cue_bands not in (1, 2):
        fail(f"cue_bands must be 1 or 2, got {spec.cue_bands!r}")
    if spec.cue_side not in CUE_SIDES:
        fail(f"cue_side must be one of {CUE_SIDES}, got {spec.cue_side!r}")
    for name in ("min_contrast", "texture_strength", "shading", "noise_std", "ignore_width_px"):
        if not getattr(spec, name) >= 0:
            fail(f"{name} must be >= 0, got {getattr(spec, name)!r}")
    largest = max(spec.size_range[1], spec.context_size_range[1])
    if spec.has_cue and spec.cue_bands * (spec.cue_band + spec.cue_gap) + largest / 2 * spec.cue_bands > 0.9:
        fail("the cue band(s), their gap and the largest objects leave no room for objects; shrink one of them")


TRACK_SPECS = {
    # Sizes from 1/8 to 0.6 of the image side: enough objects larger than the plain CNN's field
    # (15 px at 64 px) that the receptive-field lesson shows in the mean IoU, not only by size.
    "shapes": TrackSpec(shapes=("disk", "triangle"), min_objects=2, max_objects=4, size_range=(0.125, 0.6)),
    "thin": TrackSpec(shapes=("wire", "gear"), min_objects=2, max_objects=4),
    # The band at any border: a network must look across the whole image, in every direction.
    "context": TrackSpec(shapes=(), context_classes=("boat", "car"), min_objects=1, max_objects=3,
                         max_overlap=0.0, cue_side="any"),
    # A band along each of two opposite borders (water or road, each drawn independently); a hull is a boat
    # when the band across the image from it is water, a car when it is road. In scenes with one band of each
    # kind, the global average is the same whichever side the water is on: finer pyramid bins are needed.
    "harbour": TrackSpec(shapes=(), context_classes=("boat", "car"), min_objects=2, max_objects=4,
                         max_overlap=0.0, cue_side="any", cue_bands=2, cue_band=0.1, cue_gap=0.08,
                         context_size_range=(0.12, 0.28)),
    # Outlines from 1/8 of the side, as on the shapes track: a triangle 4 px across has no corners
    # to tell it from a disk.
    "mixed": TrackSpec(shapes=("disk", "triangle", "wire", "gear"), context_classes=("boat", "car"),
                       min_objects=3, max_objects=6, max_overlap=0.15, size_range=(0.125, 0.4)),
}
"""Default :class:`TrackSpec` of each track."""

CLASSES = {track: spec.classes for track, spec in TRACK_SPECS.items()}
"""Class names of each track, index == class id."""

_PURPOSE = {
    "shapes": "Only the outline tells the class: objects are flat colours drawn from one distribution for "
              "every class, and sizes go from 1/8 to 0.6 of the image side, so the inside of a large "
              "object can only be classified by a network whose receptive field covers its outline.",
    "thin": "Wires one or two pixels wide and gears with small teeth: a network that squeezes everything "
            "through a coarse (stride 16 or 32) map blurs them away; skip connections bring them back.",
    "context": "Boats and cars have the same outline; only the band at one border (water or road), far "
               "from the objects, tells them apart: a global prior such as pyramid pooling helps.",
    "harbour": "A band along each of two opposite borders, water or road; a hull is a boat when the band across "
               "the image from it (the farther one) is water, a car when it is road. The nearer band says "
               "nothing; where the bands differ, a single global average cannot tell which side the water is "
               "on; pooling into sub-regions (2 x 2, 3 x 3 bins) can.",
    "mixed": "Disks, triangles, wires and gears with boats and cars told apart by one band along the top border "
             "(water or road; not harbour's two bands), several objects in one scene: one model must keep the "
             "detail and see the context. The leaderboard track.",
}


def check_track(track: str) -> str:
    """Return ``track`` if it is one of :data:`TRACKS`, else raise a ``ValueError`` naming them."""
    if track not in TRACKS:
        raise ValueError(f"Unknown track {track!r}; allowed tracks: {', '.join(TRACKS)}")
    return track


def track_spec(track: str) -> TrackSpec:
    """The default :class:`TrackSpec` of ``track`` (one of :data:`TRACKS`)."""
    return TRACK_SPECS[check_track(track)]


def palette(classes: tuple[str, ...]) -> list[tuple[int, int, int]]:
    """One distinct ``(r, g, b)`` colour (ints 0..255) per class name, background dark grey."""
    colours, spare = [], iter(_SPARE_COLOURS)
    for name in classes:
        colour = CLASS_COLOURS.get(name)
        while colour is None or colour in colours:
            colour = next(spare, None) or _hashed_colour(name, len(colours))
        colours.append(colour)
    return colours


def _hashed_colour(name: str, salt: int) -> tuple[int, int, int]:
    value = sum((i + 1) * ord(c) for i, c in enumerate(name)) + 97 * salt
    return tuple(int(64 + (value * k) % 192) for k in (37, 59, 83))


def describe(track: str, spec: TrackSpec | None = None) -> str:
    """A short text for learners: what ``track`` is for, its classes and its main knobs."""
    spec = spec or track_spec(track)
    sizes = []
    if spec.shapes:
        sizes.append("outline sizes {:.3g} to {:.3g}".format(*spec.size_range))
    if spec.has_cue:
        sizes.append("{} sizes {:.3g} to {:.3g}".format("/".join(spec.context_classes), *spec.context_size_range))
    lines = [
        f"track {track!r}: {_PURPOSE[check_track(track)]}",
        f"classes ({len(spec.classes)}): {', '.join(spec.classes)}",
        f"objects per scene: {spec.min_objects} to {spec.max_objects}; {', '.join(sizes)} "
        f"of the image side (log-uniform)",
    ]
    if spec.has_cue and spec.cue_bands == 2:
        pairs = ", ".join(f"{name} when the farther band is {kind}"
                          for name, kind in zip(spec.context_classes, CUE_KINDS, strict=True))
        lines.append(f"scene cue: a band along each of two opposite borders (a random pair per scene), each "
                     f"{' or '.join(CUE_KINDS)}; {pairs}; objects at least {spec.cue_gap:.3g} of the image side "
                     f"from each band")
    elif spec.has_cue:
        pairs = ", ".join(f"{name} on {kind}" for name, kind in zip(spec.context_classes, CUE_KINDS, strict=True))
        where = "one border (a random side per scene)" if spec.cue_side == "any" else f"the {spec.cue_side} border"
        wires = " (wires may cross it)" if "wire" in spec.shapes else ""
        lines.append(f"scene cue: a band ({pairs}) at {where}, at least {spec.cue_gap:.3g} of the image side "
                     f"away from every object{wires}")
    return "\n".join(lines)


SIZE_BUCKETS = ("small", "medium", "large")
SIZE_BUCKET_EDGES = (0.1875, 0.375)
"""Object size (larger side of its full bounding box / shorter image side) where the medium and
the large bucket start: at 64 px, small < 12 px <= medium < 24 px <= large."""
