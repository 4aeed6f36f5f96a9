"""The class palette and the error colour: every two colours drawn together are far apart to the eye.

Distances are CIEDE2000 colour differences (Sharma, Wu and Dalal 2005) between sRGB colours; about 2
is a just-noticeable difference, and the old palette's clashes were 10 (disk and the error colour,
both red) and 21 (gear and car, two purples). Red-green colour blindness is simulated with the
matrices of Machado, Oliveira and Fernandes (2009), severity 1.
"""

import itertools
import math

import pytest

from segedu import viz
from segedu.course.pretrain import PRETRAIN_SHAPES
from segedu.data import CLASSES, palette

SEEN_APART = 25.0
"""Least CIEDE2000 difference between two colours a learner must tell apart at a glance."""
SEEN_APART_COLOUR_BLIND = 15.0
"""The same for a learner with deuteranopia or protanopia (those simulated colours are much closer)."""

GROUPS = {**{f"track {track}": classes for track, classes in CLASSES.items()},
          "pretraining shapes": ("background", *PRETRAIN_SHAPES)}
"""Classes drawn in one picture: each track's and the pretraining shapes' (notebook 06). CamVid keeps its own
conventional colours (segedu.data.camvid.PALETTE)."""

MACHADO = {  # linear-RGB matrices, severity 1.0
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
}


def _linear(channel: float) -> float:
    channel /= 255
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def _encoded(channel: float) -> float:
    channel = min(max(channel, 0.0), 1.0)
    return 255 * (12.92 * channel if channel <= 0.0031308 else 1.055 * channel ** (1 / 2.4) - 0.055)


def lab(rgb) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour with channels 0..255."""
    r, g, b = (_linear(value) for value in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def ciede2000(lab1, lab2) -> float:
    """The CIEDE2000 difference of two L*a*b* colours (k_L = k_C = k_H = 1)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    mean_chroma = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(mean_chroma**7 / (mean_chroma**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    h1 = math.degrees(math.atan2(b1, a1)) % 360 if c1 else 0.0
    h2 = math.degrees(math.atan2(b2, a2)) % 360 if c2 else 0.0
    dh = 0.0
    if c1 * c2:
        dh = h2 - h1 - 360 if h2 - h1 > 180 else h2 - h1 + 360 if h2 - h1 < -180 else h2 - h1
    delta_h = 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh / 2))
    mean_l, mean_c = (l1 + l2) / 2, (c1 + c2) / 2
    if c1 * c2 == 0:
        mean_h = h1 + h2
    elif abs(h1 - h2) <= 180:
        mean_h = (h1 + h2) / 2
    else:
        mean_h = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(mean_h - 30)) + 0.24 * math.cos(math.radians(2 * mean_h))
         + 0.32 * math.cos(math.radians(3 * mean_h + 6)) - 0.20 * math.cos(math.radians(4 * mean_h - 63)))
    rotation = -math.sin(math.radians(60 * math.exp(-(((mean_h - 275) / 25) ** 2)))) * 2 * math.sqrt(
        mean_c**7 / (mean_c**7 + 25**7))
    s_l = 1 + 0.015 * (mean_l - 50) ** 2 / math.sqrt(20 + (mean_l - 50) ** 2)
    s_c, s_h = 1 + 0.045 * mean_c, 1 + 0.015 * mean_c * t
    dl, dc, dhh = (l2 - l1) / s_l, (c2 - c1) / s_c, delta_h / s_h
    return math.sqrt(dl**2 + dc**2 + dhh**2 + rotation * dc * dhh)


def difference(rgb1, rgb2, vision: str | None = None) -> float:
    """CIEDE2000 difference of two sRGB colours as seen with normal vision or a simulated ``vision``."""
    if vision is not None:
        rgb1, rgb2 = (tuple(_encoded(sum(m * _linear(v) for m, v in zip(row, rgb, strict=True)))
                            for row in MACHADO[vision]) for rgb in (rgb1, rgb2))
    return ciede2000(lab(rgb1), lab(rgb2))


@pytest.mark.parametrize(("lab1", "lab2", "expected"), [  # Sharma, Wu and Dalal (2005), table 1
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
    ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
])
def test_the_yardstick_is_ciede2000(lab1, lab2, expected):
    assert ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert lab((255, 255, 255)) == pytest.approx((100, 0, 0), abs=0.01)


def _drawn_together(classes):
    """Each class's colour, the error colour and the ignore colour, by name."""
    return {**dict(zip(classes, palette(classes), strict=True)),
            "the error colour": viz.WRONG_COLOUR, "the ignored colour": viz.IGNORE_COLOUR}


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("vision", [None, "deuteranopia", "protanopia"])
def test_every_two_colours_drawn_together_are_far_apart(group, vision):
    least = SEEN_APART if vision is None else SEEN_APART_COLOUR_BLIND
    colours = _drawn_together(GROUPS[group])
    close = [f"{a} {colours[a]} and {b} {colours[b]}: {difference(colours[a], colours[b], vision):.1f}"
             for a, b in itertools.combinations(colours, 2)
             if difference(colours[a], colours[b], vision) < least]
    assert not close, f"{group} ({vision or 'normal vision'}): colours closer than {least}: {close}"


def test_the_error_colour_stands_out_in_the_error_map_and_is_red():
    for other in (viz.RIGHT_COLOUR, viz.IGNORE_COLOUR):  # right pixels white, ignored ones grey
        assert difference(viz.WRONG_COLOUR, other) >= SEEN_APART
    red, green, blue = viz.WRONG_COLOUR
    assert red >= 180 and green <= 60 and blue <= 60  # the notebooks call it red
