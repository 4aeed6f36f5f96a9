"""What every explorer shares: argument checks, pictures of images and masks, PNG output.

* checks -- :func:`check_int`, :func:`check_image`, :func:`check_mask`, :func:`check_class_names`,
  :func:`check_palette`: bad arguments raise a ``ValueError`` that names the problem and the fix;
  nothing is clamped, rounded or stretched to make it fit.
* pictures -- :func:`picture` (an image), :func:`painted` (a mask), :func:`heat_on_grey` (a
  heatmap over a grey image), all ``H x W x 3`` uint8 arrays ready for ``imshow``.
* output -- :func:`png` renders a matplotlib ``Figure`` (object API, no pyplot: nothing piles up
  across slider moves), :func:`show` makes it the only thing an ``ipywidgets.Output`` shows.
* :class:`Mosaic` -- equal panels drawn in screen pixels with Pillow, ten times faster than one
  matplotlib axes per panel (what keeps the many-panel explorers within 0.5 s per change).
* :class:`Explorer` -- the base class: ``.widget`` to display, ``.state``, ``.last_png``.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import numbers

import ipywidgets as widgets
import matplotlib
import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
import torch
from IPython.display import display
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from segedu.metrics import IGNORE_INDEX
from segedu.receptive.capture import as_feature_map
from segedu.viz import IGNORE_COLOUR, default_palette, to_uint8_image

__all__ = ["Explorer", "Mosaic", "check_int", "check_image", "check_mask", "check_class_names", "check_palette",
           "predict", "picture", "painted", "legend", "default_colours", "heat_on_grey", "png", "show", "clear",
           "slider"]


# -- argument checks -----------------------------------------------------------------------------


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int if it is a whole number in ``low..high`` (``high`` None: no upper bound), else raise.

    ``2.5``, ``True`` and ``"3"`` are refused, not rounded or converted.
    """
    allowed = f"from {low} to {high}" if high is not None else f"of at least {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number {allowed}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def slider(description: str, value, low: int, high: int, **options) -> widgets.IntSlider:
    """An IntSlider over ``low..high`` starting at ``value``, which must be in that range (checked, never clamped)."""
    value = check_int(value, description, low, high)
    return widgets.IntSlider(description=description, value=value, min=low, max=high, continuous_update=False,
                             **options)


def check_image(image, name: str = "image") -> torch.Tensor:
    """``image`` as a float ``C x H x W`` tensor (a ``1 x C x H x W`` batch is unwrapped), else raise."""
    ok = isinstance(image, torch.Tensor) and (image.dim() == 3 or (image.dim() == 4 and len(image) == 1))
    if not ok:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} must be one C x H x W (or 1 x C x H x W) tensor, got {shape}")
    image = image[0] if image.dim() == 4 else image
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor (as the model expects it), got {image.dtype}; "
                         f"convert with {name}.float() / 255")
    if image.shape[-1] == 0 or image.shape[-2] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(image.shape)}")
    return image.detach()


def check_mask(mask, size: tuple[int, int], num_classes: int | None = None, name: str = "mask") -> torch.Tensor:
    """``mask`` as a long ``H x W`` tensor of class indices (255 = ignored) that fits an image of ``size``.

    A mask of another size is refused (stretching it would paint classes where they are not);
    so are float masks and labels outside ``0..num_classes - 1`` (when ``num_classes`` is given).
    """
    mask = torch.as_tensor(mask)
    if mask.dim() != 2:
        raise ValueError(f"{name} must be an H x W tensor of class indices, got shape {tuple(mask.shape)}")
    if tuple(mask.shape) != tuple(size):
        raise ValueError(
            f"{name} is {mask.shape[0]} x {mask.shape[1]} but the image is {size[0]} x {size[1]}: pass the mask "
            f"of this image at its size (resize masks with nearest-neighbour interpolation, never stretch them)"
        )
    if mask.is_floating_point() or mask.is_complex():
        raise ValueError(f"{name} must hold integer class indices, got {mask.dtype}; use {name}.long()")
    mask = mask.long().cpu()
    labels = mask[mask != IGNORE_INDEX]
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"{name} holds the negative label {int(labels.min())}; labels are 0..C-1, or 255 (ignored)")
    if num_classes is not None and labels.numel() and int(labels.max()) >= num_classes:
        raise ValueError(f"{name} holds class {int(labels.max())} but there are only {num_classes} classes "
                         f"(0..{num_classes - 1}, and 255 for ignored pixels)")
    return mask


def check_class_names(class_names, count: int, why: str) -> list[str]:
    """``class_names`` as a list of at least ``count`` strings (``why`` says where ``count`` comes from), else raise."""
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise ValueError(f"class_names must be a list of strings such as dataset.classes, got {class_names!r}")
    names = list(class_names)
    if len(names) < count:
        raise ValueError(f"{why} {count} classes but class_names has only {len(names)} name(s) ({names}): pass one "
                         f"name per class, e.g. dataset.classes")
    return names


def check_palette(palette, count: int, why: str) -> np.ndarray:
    """``palette`` (``K x 3`` colours: 0-255 integers, or 0-1 floats) as ``K x 3`` uint8 with ``K >= count``."""
    example = "a list of (r, g, b) colours such as dataset.palette"
    try:
        given = np.asarray(palette.cpu() if isinstance(palette, torch.Tensor) else palette)
    except ValueError:  # ragged
        raise ValueError(f"palette must be {example}, got {palette!r}") from None
    if given.ndim != 2 or given.shape[1] != 3 or given.dtype.kind not in "iuf":
        raise ValueError(f"palette must be {example}, got {palette!r}")
    if len(given) < count:
        raise ValueError(f"{why} {count} classes but the palette has only {len(given)} colour(s): pass one "
                         f"colour per class, e.g. dataset.palette")
    colours = given.astype(float)
    if given.dtype.kind == "f" and colours.max() <= 1:
        colours = colours * 255  # 0-1 floats, as matplotlib writes colours
    if colours.min() < 0 or colours.max() > 255:
        raise ValueError("palette colours must be 0-255 integers or 0-1 floats")
    return colours.round().astype(np.uint8)


# -- models ------------------------------------------------------------------------------------


def predict(model: nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(H x W predicted classes, number of output channels)`` of ``model`` on one ``C x H x W`` image.

    Eval mode and no gradients; the model's train/eval mode is restored.
    """
    was_training = model.training
    parameter = next(model.parameters(), image)
    try:
        with torch.no_grad():
            logits = as_feature_map(model.eval()(image[None].to(parameter.device, parameter.dtype)))
    finally:
        model.train(was_training)
    return logits[0].argmax(dim=0).cpu(), int(logits.shape[1])


# -- pictures ----------------------------------------------------------------------------------


def picture(image: torch.Tensor) -> np.ndarray:
    """``C x H x W`` tensor -> ``H x W x 3`` uint8 for imshow (first three channels, or the first one)."""
    return to_uint8_image(image[:3] if image.shape[0] >= 3 else image[:1]).permute(1, 2, 0).numpy()


def painted(labels: torch.Tensor, colours: np.ndarray) -> np.ndarray:
    """``H x W`` class indices -> ``H x W x 3`` uint8 colours from ``colours`` (``K x 3``); 255 is grey."""
    labels = torch.as_tensor(labels).long().cpu().numpy()
    table = np.concatenate([colours, np.zeros((256 - len(colours), 3), dtype=np.uint8)])
    table[IGNORE_INDEX] = IGNORE_COLOUR
    return table[labels]


def legend(class_names, colours: np.ndarray) -> str:
    """HTML: a coloured square and the name of every class, for the text under an explorer's controls."""
    return " ".join(f'<span style="color: rgb{tuple(int(v) for v in colour)}">&#9632;</span> {html.escape(name)}'
                    for name, colour in zip(class_names, colours, strict=False))


def default_colours(count: int) -> np.ndarray:
    """``count x 3`` uint8 colours of :func:`segedu.viz.default_palette` (when no palette is given)."""
    return np.asarray(default_palette(count), dtype=np.uint8)


def heat_on_grey(image: torch.Tensor, heatmap: torch.Tensor) -> np.ndarray:
    """``H x W`` heatmap in hot colours over a grey copy of ``image``: ``H x W x 3`` uint8.

    The heat is transparent where it is zero and opaque near its peak.
    """
    grey = picture(image).mean(axis=2, keepdims=True) / 255
    peak = float(heatmap.max())
    scaled = (heatmap / peak).numpy() if peak > 0 else np.zeros(tuple(heatmap.shape))
    colours = matplotlib.colormaps["inferno"](scaled)[..., :3]
    alpha = (np.sqrt(scaled) * 0.9)[..., None]
    return np.round(255 * (grey * (1 - alpha) + colours * alpha)).astype(np.uint8)


class Mosaic:
    """Panels of ``height x width`` pixels in a ``rows x cols`` grid, drawn in screen pixels with Pillow.

    ``put`` copies an ``H x W x 3`` picture into a panel (enlarged ``scale`` times, nearest
    neighbour) with a title above it; ``box``, ``marker`` and ``label`` draw in a panel's pixel
    coordinates (row ``y``, column ``x``; pixel centres at integers, as in ``imshow``); ``png``
    encodes the result. Drawing this way takes a few milliseconds, where one matplotlib axes
    per panel took a few hundred: it keeps the many-panel explorers within 0.5 s per change.
    """

    GAP, LINE = 8, 14  # screen pixels between panels, per line of title

    def __init__(self, rows: int, cols: int, height: int, width: int, title_lines: int = 2, panel_pixels: int = 192):
        self.height, self.width = height, width
        self.scale = max(1, round(panel_pixels / max(height, width)))
        self.title_room = 4 + self.LINE * title_lines
        size = (cols * (width * self.scale + self.GAP) - self.GAP,
                rows * (height * self.scale + self.title_room))
        self.image = PIL.Image.new("RGB", size, "white")
        self.draw = PIL.ImageDraw.Draw(self.image)

    def _origin(self, row: int, col: int) -> tuple[int, int]:
        """Screen ``(x, y)`` of panel ``(row, col)``'s top-left corner."""
        return (col * (self.width * self.scale + self.GAP),
                row * (self.height * self.scale + self.title_room) + self.title_room)

    def _screen(self, row: int, col: int, y: float, x: float) -> tuple[float, float]:
        """Screen ``(x, y)`` of panel coordinates ``(y, x)`` (pixel centres at integers)."""
        left, top = self._origin(row, col)
        return left + (x + 0.5) * self.scale, top + (y + 0.5) * self.scale

    def put(self, row: int, col: int, rgb: np.ndarray, title: str = "") -> None:
        """Copy the ``height x width x 3`` uint8 picture ``rgb`` into panel ``(row, col)``, ``title`` above it."""
        enlarged = np.ascontiguousarray(rgb).repeat(self.scale, axis=0).repeat(self.scale, axis=1)
        left, top = self._origin(row, col)
        self.image.paste(PIL.Image.fromarray(enlarged), (left, top))
        if title:
            self.draw.multiline_text((left + self.width * self.scale / 2, top - 3), title, fill="black",
                                     font=_font(), anchor="md", align="center")

    def box(self, row: int, col: int, box, dashed: bool = True, colour="black") -> None:
        """The inclusive pixel box ``(top, left, bottom, right)``: white under ``colour`` (dashed), seen on anything."""
        top, left, bottom, right = box
        x0, y0 = self._screen(row, col, top - 0.5, left - 0.5)
        x1, y1 = self._screen(row, col, bottom + 0.5, right + 0.5)
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        self.draw.line(corners, fill="white", width=3)
        if not dashed:
            self.draw.line(corners, fill=colour, width=1)
            return
        for (ax, ay), (bx, by) in zip(corners[:-1], corners[1:], strict=True):
            length = math.dist((ax, ay), (bx, by))
            for start in range(0, int(length), 8):  # 4 pixels on, 4 off
                a, b = start / length, min(start + 4, length) / length
                self.draw.line([(ax + a * (bx - ax), ay + a * (by - ay)), (ax + b * (bx - ax), ay + b * (by - ay))],
                               fill=colour, width=1)

    def marker(self, row: int, col: int, y: float, x: float, colour="red", arm: int = 6) -> None:
        """A ``+`` at panel coordinates ``(y, x)``."""
        cx, cy = self._screen(row, col, y, x)
        self.draw.line([(cx - arm, cy), (cx + arm, cy)], fill=colour, width=2)
        self.draw.line([(cx, cy - arm), (cx, cy + arm)], fill=colour, width=2)

    def label(self, row: int, col: int, y: float, x: float, text: str, colour="black") -> None:
        """``text`` centred on panel coordinates ``(y, x)``."""
        self.draw.text(self._screen(row, col, y, x), text, fill=colour, font=_font(), anchor="mm")

    def png(self) -> bytes:
        """The mosaic as PNG bytes."""
        buffer = io.BytesIO()
        self.image.save(buffer, format="png", compress_level=1)  # fast: a bigger file matters less than time
        return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def _font():
    """DejaVu Sans at 11 px (matplotlib ships it, so it is there wherever the course runs)."""
    return PIL.ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 11)


# -- output ------------------------------------------------------------------------------------


def png(figure: Figure) -> bytes:
    """``figure`` rendered to PNG bytes (Agg canvas: no pyplot, nothing left open)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def show(output: widgets.Output, picture_png: bytes) -> bytes:
    """Make the PNG the only thing ``output`` shows; return it."""
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(picture_png).decode("ascii"), "text/plain": "<figure>"},
            "metadata": {},
        },
    )
    return picture_png


def clear(output: widgets.Output) -> bytes:
    """Show nothing in ``output`` (when the controls describe something that cannot be drawn); return b""."""
    output.outputs = ()
    return b""


class Explorer:
    """Base class of the explorers.

    Subclasses build their controls as attributes, ``self.text`` (``widgets.HTML``), ``self.view``
    (``widgets.Output``) and ``self.widget`` (the box to display); ``update()`` recomputes
    ``self.state`` (the numbers shown) and redraws; ``self.last_png`` is the picture shown.
    """

    CSS_CLASS = "segedu-explorer"

    state: dict
    last_png: bytes
    widget: widgets.Box

    def _finish(self, children, css_class: str) -> None:
        """Make ``self.widget`` from ``children`` (controls, then text and picture), tag it for the browser test."""
        self.widget = widgets.VBox(children)
        self.widget.add_class(self.CSS_CLASS)
        self.widget.add_class(css_class)

    def _draw(self, figure: Figure) -> None:
        self.last_png = show(self.view, png(figure))

    def _ipython_display_(self):
        display(self.widget)
