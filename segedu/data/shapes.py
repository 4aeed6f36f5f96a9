"""Signed distance functions (SDFs) of the outlines the scenes are made of.

An SDF gives, at every pixel centre, the distance in pixels to the object's outline: negative
inside, positive outside. The renderer turns it into

* the mask: a pixel belongs to an object when its centre is inside (``sdf < 0``), exactly;
* anti-aliased image edges: the object covers about ``clamp(0.5 - sdf, 0, 1)`` of the pixel.

Every SDF function takes

* ``dx, dy``: offsets of pixel centres from the object's centre, in pixels, ``M x H x W`` (one
  row per object; any broadcastable shapes work, but equal shapes are much faster on a CPU);
* ``obj``: a mapping of per-object parameters, each ``M x 1 x 1``, lengths in pixels: ``angle``,
  ``cos``, ``sin`` (of the angle), ``radius`` (of the circumscribed circle; half the length of
  a wire), ``aspect`` (box), ``teeth``, ``depth`` (gear), ``amplitude``, ``waves``, ``phase``,
  ``width`` (wire);

and returns the SDF, ``M x H x W``. Some are exact distances, others only near the outline
(they say so); the sign, hence the mask, is always exact.

Only operations that give bit-identical results in torch's vectorised and scalar code paths
are used (not ``atan2``, ``pow`` or ``sigmoid``), so a scene renders to the same bytes
whatever the tensor sizes and the number of threads.
"""

from __future__ import annotations

import math

import torch

CROSS_THICKNESS = 1 / 3
"""Half-thickness of a cross's arm as a fraction of the arm's half-length."""

BOX_CORNER = 0.3
"""Corner radius of a box as a fraction of its half-width."""

GEAR_TOOTH_HALF_WIDTH = 0.25
"""Half-width of a gear tooth as a fraction of the tooth period (teeth and gaps equally wide)."""


def rotate(dx: torch.Tensor, dy: torch.Tensor, obj: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel offsets in the object's frame: ``u`` along the object's angle, ``v`` across it."""
    return dx * obj["cos"] + dy * obj["sin"], dy * obj["cos"] - dx * obj["sin"]


def length(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Euclidean length of (x, y), elementwise (``sqrt(x * x + y * y)``; faster than ``torch.hypot`` on CPU)."""
    return (x * x + y * y).sqrt_()


def disk(dx, dy, obj):
    """Disk of radius ``radius`` (exact distance)."""
    return length(dx, dy).sub_(obj["radius"])


def _regular_polygon(dx, dy, obj, sides):
    # The largest signed distance to the lines through the edges: exact inside and along the
    # edges, a little short of the true distance outside the corners.
    apothem = obj["radius"] * math.cos(math.pi / sides)
    distance = None
    for edge in range(sides):
        normal = math.pi * (2 * edge + 1) / sides  # direction of the edge's outward normal
        normal_x = obj["cos"] * math.cos(normal) - obj["sin"] * math.sin(normal)
        normal_y = obj["sin"] * math.cos(normal) + obj["cos"] * math.sin(normal)
        to_edge = dx * normal_x + dy * normal_y
        distance = to_edge if distance is None else torch.maximum(distance, to_edge, out=distance)
    return distance.sub_(apothem)


def triangle(dx, dy, obj):
    """Equilateral triangle with circumradius ``radius``, a corner pointing along ``angle``."""
    return _regular_polygon(dx, dy, obj, 3)


def square(dx, dy, obj):
    """Square with circumradius ``radius`` (half-diagonal), a corner pointing along ``angle``."""
    return _regular_polygon(dx, dy, obj, 4)


def _cross_arm(radius):
    half_length = radius / math.sqrt(1 + CROSS_THICKNESS**2)
    return half_length, half_length * CROSS_THICKNESS


def cross(dx, dy, obj):
    """Plus sign whose arm corners lie on the circle of radius ``radius`` (exact inside)."""
    u, v = rotate(dx, dy, obj)
    u, v = u.abs(), v.abs()
    half_length, half_thickness = _cross_arm(obj["radius"])
    along_u = torch.maximum(u - half_length, v - half_thickness)
    along_v = torch.maximum(u - half_thickness, v - half_length)
    return torch.minimum(along_u, along_v)


def _box_sides(radius, aspect):
    half_length = radius / torch.sqrt(1 + aspect * aspect)
    half_width = half_length * aspect
    return half_length, half_width, half_width * BOX_CORNER


def box(dx, dy, obj):
    """Rectangle with rounded corners, half-width ``aspect`` times its half-length (exact)."""
    u, v = rotate(dx, dy, obj)
    half_length, half_width, corner = _box_sides(obj["radius"], obj["aspect"])
    qu = u.abs() - (half_length - corner)
    qv = v.abs() - (half_width - corner)
    outside = length(qu.clamp(min=0), qv.clamp(min=0))
    inside = torch.maximum(qu, qv).clamp_(max=0)
    return outside.add_(inside).sub_(corner)


def polar_angle(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Angle of (dx, dy) in radians, in (-pi/2, 3pi/2); 0 at the centre itself.

    Same angles as ``atan2`` up to a multiple of 2 pi, built from ``atan``, whose vectorised
    and scalar code paths agree bit for bit (``atan2``'s do not).
    """
    angle = torch.atan(dy / dx) + math.pi * (dx < 0)
    return torch.nan_to_num(angle, nan=0.0)


def gear(dx, dy, obj):
    """Gear: a disk with ``teeth`` rectangular teeth; ``depth`` is the teeth's length over ``radius``.

    A tooth is the set of points within ``radius`` whose angle is within a quarter tooth period
    of the tooth's centre; the distance to its flanks is measured along the circle (accurate
    near the outline).
    """
    rho = length(dx, dy)
    period = 2 * math.pi / obj["teeth"]
    position = (polar_angle(dx, dy) - obj["angle"]) / period  # in tooth periods, tooth centres at integers
    offset = (position - position.round()).abs()
    to_flank = rho * ((offset - GEAR_TOOTH_HALF_WIDTH) * period)
    tooth = torch.maximum(rho - obj["radius"], to_flank)
    body = rho - obj["radius"] * (1 - obj["depth"])
    return torch.minimum(body, tooth)


def wire(dx, dy, obj):
    """A wire of ``width`` pixels along a sine curve of length 2 ``radius`` (square ends).

    The curve is ``v = amplitude * sin(u * omega + phase)`` with ``waves`` periods along the
    wire. The distance across it is the first-order estimate ``|v - curve| / sqrt(1 + slope^2)``,
    accurate when the curve bends gently compared with the width.
    """
    u, v = rotate(dx, dy, obj)
    omega = math.pi * obj["waves"] / obj["radius"]
    angle = u * omega + obj["phase"]
    centre = obj["amplitude"] * torch.sin(angle)
    slope = (obj["amplitude"] * omega) * torch.cos(angle)
    across = (v - centre).abs() * torch.rsqrt(1 + slope * slope) - obj["width"] / 2
    along = u.abs() - obj["radius"]
    return torch.maximum(across, along)


SDF = {
    "disk": disk,
    "triangle": triangle,
    "square": square,
    "cross": cross,
    "box": box,
    "gear": gear,
    "wire": wire,
}
"""SDF function of each shape name (see :data:`segedu.data.tracks.SHAPES`)."""


def bounding_box(shape: str, obj: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Half-sizes ``(along u, across v)`` in pixels of a box, in the object's frame, that holds the shape.

    Used to skip the tiles of the image an object cannot touch.
    """
    radius = obj["radius"]
    if shape == "square":
        return radius * math.sqrt(0.5), radius * math.sqrt(0.5)
    if shape == "box":
        half_length, half_width, _ = _box_sides(radius, obj["aspect"])
        return half_length, half_width
    if shape == "cross":
        half_length, _ = _cross_arm(radius)
        return half_length, half_length
    if shape == "wire":
        return radius + obj["width"] / 2, obj["amplitude"] + obj["width"] / 2
    return radius, radius  # disk, triangle, gear


def box_distance(dx, dy, obj, half_u, half_v):
    """Exact signed distance to the rotated box of half-sizes ``half_u, half_v`` (see :func:`bounding_box`)."""
    u, v = rotate(dx, dy, obj)
    qu, qv = u.abs() - half_u, v.abs() - half_v
    return length(qu.clamp(min=0), qv.clamp(min=0)) + torch.maximum(qu, qv).clamp(max=0)


def outline_points(shape: str, obj: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Points ``(..., P, 2)`` in the object's frame and a margin ``(...)``: the shape is within
    ``margin`` of the points' hull. Used for the object's axis-aligned bounding box."""
    radius = obj["radius"]
    zero = torch.zeros_like(radius)
    if shape in ("disk", "gear"):
        return torch.stack([zero, zero], -1).unsqueeze(-2), radius
    if shape in ("triangle", "square"):
        sides = 3 if shape == "triangle" else 4
        corners = torch.arange(sides) * (2 * math.pi / sides)
        points = torch.stack([torch.cos(corners), torch.sin(corners)], -1) * radius[..., None, None]
        return points, zero
    if shape == "cross":
        half_length, half_thickness = _cross_arm(radius)
        a, b = half_length[..., None], half_thickness[..., None]
        return torch.stack([torch.cat([a, -a, a, -a, b, -b, b, -b], -1),
                            torch.cat([b, b, -b, -b, a, a, -a, -a], -1)], -1), zero
    if shape == "box":
        half_length, half_width, corner = _box_sides(radius, obj["aspect"])
        a, b = (half_length - corner)[..., None], (half_width - corner)[..., None]
        return torch.stack([torch.cat([a, -a, a, -a], -1), torch.cat([b, b, -b, -b], -1)], -1), corner
    if shape == "wire":
        u = torch.linspace(-1, 1, 33) * radius[..., None]
        omega = (math.pi * obj["waves"] / radius)[..., None]
        v = obj["amplitude"][..., None] * torch.sin(u * omega + obj["phase"][..., None])
        return torch.stack([u, v], -1), zero
    raise ValueError(f"Unknown shape {shape!r}; allowed: {', '.join(SDF)}")


def bounding_size(shape: str, obj: dict) -> torch.Tensor:
    """Larger side of the object's axis-aligned bounding box (same unit as ``radius``).

    Exact for polygons, crosses, boxes, disks and wires (up to their width); the circumscribed
    circle's diameter for a gear.
    """
    points, margin = outline_points(shape, obj)
    cos, sin = obj["cos"][..., None], obj["sin"][..., None]
    x = points[..., 0] * cos - points[..., 1] * sin
    y = points[..., 0] * sin + points[..., 1] * cos
    width = x.amax(-1) - x.amin(-1)
    height = y.amax(-1) - y.amin(-1)
    return torch.maximum(width, height) + 2 * margin
