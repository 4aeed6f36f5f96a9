"""Signed distance functions: exact values where geometry gives them, signs, bounding sizes."""

import math

import pytest
import torch

from segedu.data import shapes


def obj(angle=0.0, **values):
    """Parameters of one object (``1 x 1 x 1`` tensors), with harmless defaults."""
    defaults = dict(radius=2.0, aspect=0.5, teeth=8.0, depth=0.25, amplitude=0.0, waves=0.0, phase=0.0, width=2.0)
    result = {name: torch.tensor(float(value)).view(1, 1, 1) for name, value in {**defaults, **values}.items()}
    result.update(angle=torch.tensor(angle).view(1, 1, 1), cos=torch.tensor(math.cos(angle)).view(1, 1, 1),
                  sin=torch.tensor(math.sin(angle)).view(1, 1, 1))
    return result


def sdf(shape, x, y, **values):
    point = torch.tensor(float(x)).view(1, 1, 1), torch.tensor(float(y)).view(1, 1, 1)
    return shapes.SDF[shape](*point, obj(**values)).item()


def test_disk_is_an_exact_distance():
    assert sdf("disk", 3, 4, radius=2) == pytest.approx(3.0)
    assert sdf("disk", 0, 0, radius=2) == pytest.approx(-2.0)


def test_polygons_measure_the_distance_to_their_edges():
    assert sdf("triangle", 0, 0, radius=2) == pytest.approx(-1.0)  # the apothem is half the circumradius
    assert sdf("triangle", -1.5, 0, radius=2) == pytest.approx(0.5)  # the edge opposite the corner at +x
    assert sdf("square", 0, 0, radius=math.sqrt(2)) == pytest.approx(-1.0)
    edge_direction = math.pi / 4  # corners at 0 and 90 degrees, so an edge faces 45 degrees
    assert sdf("square", 1.5 * math.cos(edge_direction), 1.5 * math.sin(edge_direction),
               radius=math.sqrt(2)) == pytest.approx(0.5)
    assert sdf("square", 0, 0, radius=math.sqrt(2), angle=0.3) == pytest.approx(-1.0)


def test_box_and_cross():
    half_length = 2 / math.sqrt(1 + 0.5**2)
    assert sdf("box", half_length + 1, 0, radius=2, aspect=0.5) == pytest.approx(1.0)
    assert sdf("box", 0, half_length * 0.5 + 0.25, radius=2, aspect=0.5) == pytest.approx(0.25)
    assert sdf("box", 0, half_length + 1, radius=2, aspect=0.5, angle=math.pi / 2) == pytest.approx(1.0)
    arm = 3 / math.sqrt(1 + 1 / 9)
    assert sdf("cross", arm + 0.5, 0, radius=3) == pytest.approx(0.5)
    assert sdf("cross", arm * 0.9, arm * 0.9, radius=3) > 0  # between the arms
    assert sdf("cross", 0, 0, radius=3) == pytest.approx(-arm / 3)


def test_gear_teeth_and_gaps():
    radius, depth, teeth = 10.0, 0.3, 8
    kwargs = dict(radius=radius, depth=depth, teeth=teeth, angle=0.2)
    tooth = (math.cos(0.2), math.sin(0.2))
    gap = (math.cos(0.2 + math.pi / teeth), math.sin(0.2 + math.pi / teeth))
    assert sdf("gear", 11 * tooth[0], 11 * tooth[1], **kwargs) == pytest.approx(1.0, abs=1e-5)
    assert sdf("gear", 9.5 * tooth[0], 9.5 * tooth[1], **kwargs) < 0  # inside a tooth
    assert sdf("gear", 9.5 * gap[0], 9.5 * gap[1], **kwargs) > 0  # between two teeth
    assert sdf("gear", 6 * gap[0], 6 * gap[1], **kwargs) == pytest.approx(-1.0, abs=1e-5)  # body radius 7
    assert sdf("gear", 0, 0, **kwargs) == pytest.approx(-7.0)  # the centre itself


def test_straight_and_wavy_wires():
    assert sdf("wire", 0, 3, radius=10, width=2) == pytest.approx(2.0)
    assert sdf("wire", 12, 0, radius=10, width=2) == pytest.approx(2.0)  # beyond the end
    assert sdf("wire", 0, 0, radius=10, width=1) == pytest.approx(-0.5)
    # A sine wire: on the curve at its crest, the distance is minus half the width.
    crest = sdf("wire", 5, 2, radius=10, width=1, amplitude=2, waves=1, phase=0)  # sin(pi * 5 / 10) = 1
    assert crest == pytest.approx(-0.5)


def test_polar_angle_agrees_with_atan2_up_to_full_turns():
    generator = torch.Generator().manual_seed(0)
    dx, dy = torch.randn(1000, generator=generator), torch.randn(1000, generator=generator)
    difference = shapes.polar_angle(dx, dy) - torch.atan2(dy, dx)
    turns = difference / (2 * math.pi)
    assert torch.allclose(turns, turns.round(), atol=1e-5)
    assert shapes.polar_angle(torch.zeros(1), torch.zeros(1)).item() == 0.0


@pytest.mark.parametrize(("shape", "angle", "expected"), [
    ("disk", 0.7, 4.0),
    ("triangle", 0.0, math.sqrt(3) * 2),  # corners at 0, 120, 240 degrees: height 2 * sqrt(3) ...
    ("triangle", math.pi / 2, math.sqrt(3) * 2),  # ... or width after a quarter turn
    ("square", 0.0, 4.0),  # corners on the axes: the diagonal is 4
    ("square", math.pi / 4, 2 * math.sqrt(2)),  # sides on the axes
])
def test_bounding_size_is_the_larger_side_of_the_axis_aligned_box(shape, angle, expected):
    parameters = {key: value.view(1) for key, value in obj(angle=angle, radius=2.0).items()}
    assert shapes.bounding_size(shape, parameters).item() == pytest.approx(expected, rel=1e-5)


def test_shapes_accept_broadcastable_offsets():
    dx, dy = torch.arange(5.0).view(1, 1, 5) - 2, torch.arange(4.0).view(1, 4, 1) - 1.5
    for name, function in shapes.SDF.items():
        assert function(dx, dy, obj()).shape == (1, 4, 5), name
