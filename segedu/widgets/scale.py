"""Which stage of an encoder first sees a whole object from a single tensor position.

The source text asks for an architecture in which "any object, or sufficiently informative
sub-part, regardless of its size, is captured somewhere in the model by the feature
representation at a single tensor position". For a square object of a chosen side, centred in
the image, this explorer goes through the encoder's stages (:mod:`segedu.widgets.stages`),
input side first, and asks of each: does the analytic receptive field of one of its positions
contain the whole object? It shows, per stage, the object and the field of the position over
the object's centre (or of a neighbour whose field holds the object: with strided stages the
fields sit on a grid, so a field as large as the object can still be misaligned with it).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from torch import nn

from segedu.receptive import FieldProbe
from segedu.receptive.capture import check_input_size

from .common import Explorer, Mosaic, check_image, check_int, picture, show
from .stages import stage_names

__all__ = ["ScaleExplorer", "scale_explorer", "SCALE_TEXT_CLASS"]

SCALE_TEXT_CLASS = "segedu-scale-text"
MAX_STAGES = 8


def _contains(box, inner) -> bool:
    return box is not None and box[0] <= inner[0] and box[1] <= inner[1] and box[2] >= inner[2] and box[3] >= inner[3]


class ScaleExplorer(Explorer):
    """See :func:`scale_explorer`."""

    def __init__(self, model, size=20, image=None, input_size=(3, 64, 64), stages=None):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be an nn.Module (an encoder or a whole model), got {type(model).__name__}")
        if image is not None:
            self.image = check_image(image)
            input_size = tuple(self.image.shape)
        else:
            self.image = None
            input_size = check_input_size(input_size)
        self.input_size = input_size
        height, width = input_size[1:]
        names = stage_names(model, input_size) if stages is None else stages
        if isinstance(names, dict):
            labels, names = list(names), list(names.values())
        else:
            names = list(names)
            labels = names
        if not 1 <= len(names) <= MAX_STAGES:
            raise ValueError(f"stages must name 1 to {MAX_STAGES} layers, got {len(names)}: pass stages=[...] "
                             f"with layer names from model.named_modules()")
        modules = dict(model.named_modules())
        unknown = [name for name in names if name not in modules or name == ""]
        if unknown:
            raise ValueError(f"the model has no layer(s) {unknown}; see model.named_modules() for names")
        self.labels = labels
        self._probes = {label: FieldProbe(model, input_size, name) for label, name in zip(labels, names, strict=True)}
        self._fields: dict[tuple, object] = {}
        self.state: dict = {}
        self.last_png = b""
        self.size = widgets.IntSlider(description="object (px)", min=1, max=min(height, width), continuous_update=False,
                                      value=check_int(size, "size", 1, min(height, width)),
                                      style={"description_width": "initial"})
        self.text = widgets.HTML()
        self.text.add_class(SCALE_TEXT_CLASS)
        self.view = widgets.Output()
        self._finish([self.size, self.text, self.view], "segedu-scale-explorer")
        self.size.observe(lambda change: self.update(), names="value")
        self.update()

    def object_box(self, size: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of a ``size x size`` object centred in the image."""
        height, width = self.input_size[1:]
        top, left = (height - size) // 2, (width - size) // 2
        return top, left, top + size - 1, left + size - 1

    def _field(self, label: str, position: tuple[int, int]):
        if (label, position) not in self._fields:
            self._fields[(label, position)] = self._probes[label].field(position)
        return self._fields[(label, position)]

    def _best(self, label: str, box) -> tuple[object, bool]:
        """The field of the position over the object's centre, or of a neighbour that holds the object."""
        probe = self._probes[label]
        height, width = self.input_size[1:]
        out_h, out_w = probe.output_size
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        guess = (min(int(centre[0] * out_h / height), out_h - 1), min(int(centre[1] * out_w / width), out_w - 1))
        field = self._field(label, guess)
        if _contains(field.box, box):
            return field, True
        side = box[2] - box[0] + 1
        if field.size[0] < side or field.size[1] < side:
            return field, False  # too small: no position of this stage can hold it
        for drow in (-1, 0, 1):
            for dcol in (-1, 0, 1):
                row, col = guess[0] + drow, guess[1] + dcol
                if 0 <= row < out_h and 0 <= col < out_w and _contains(self._field(label, (row, col)).box, box):
                    return self._field(label, (row, col)), True
        return field, False

    def update(self) -> None:
        """Find, for the current object size, each stage's field and whether it holds the object; redraw."""
        size = self.size.value
        box = self.object_box(size)
        stages = []
        for label in self.labels:
            field, holds = self._best(label, box)
            out_h, out_w = field.output_size
            stages.append({"layer": label, "output_size": field.output_size,
                           "stride": self.input_size[1] / out_h, "position": field.position, "box": field.box,
                           "size": field.size, "holds": holds})
        first = next((stage["layer"] for stage in stages if stage["holds"]), None)
        self.state = {"size": size, "object": box, "stages": stages, "first": first}
        self.text.value = self._describe()
        self.last_png = show(self.view, self._picture())

    def _describe(self) -> str:
        s = self.state
        if s["first"] is None:
            deepest = s["stages"][-1]
            verdict = (f"no stage holds a {s['size']} px object in one position's field: the deepest, "
                       f"{html.escape(deepest['layer'])}, sees {deepest['size'][0]} x {deepest['size'][1]} px")
        else:
            verdict = (f"a {s['size']} x {s['size']} px object is first held by one position of "
                       f"<b>{html.escape(s['first'])}</b>")
        rows = "".join(
            f"<tr><td>{html.escape(st['layer'])}</td><td>{st['stride']:g}</td>"
            f"<td>{st['output_size'][0]} x {st['output_size'][1]}</td><td>{st['size'][0]} x {st['size'][1]}</td>"
            f"<td>{'yes' if st['holds'] else 'no'}</td></tr>" for st in s["stages"])
        return (f"{verdict}<table><tr><th>stage</th><th>stride</th><th>map</th><th>field of one position (px)"
                f"</th><th>holds the object</th></tr>{rows}</table>")

    def _picture(self) -> bytes:
        height, width = self.input_size[1:]
        top, left, bottom, right = self.state["object"]
        if self.image is not None:
            background = picture(self.image)
        else:  # no image: a light canvas with the object as a darker square
            background = np.full((height, width, 3), 235, dtype=np.uint8)
            background[top : bottom + 1, left : right + 1] = (150, 170, 200)
        mosaic = Mosaic(1, len(self.state["stages"]), height, width)
        for col, stage in enumerate(self.state["stages"]):
            verdict = "holds it" if stage["holds"] else "too small" if stage["size"][0] < self.state["size"] \
                else "misaligned"
            field = f"{stage['size'][0]} x {stage['size'][1]} px"
            title = f"{stage['layer']} (stride {stage['stride']:g})\nfield {field}: {verdict}"
            mosaic.put(0, col, background, title)
            mosaic.box(0, col, self.state["object"], dashed=False, colour="red")
            if stage["box"] is not None:
                mosaic.box(0, col, stage["box"], dashed=not stage["holds"], colour="green" if stage["holds"]
                           else "black")
        return mosaic.png()


def scale_explorer(model, size=20, image=None, input_size=(3, 64, 64), stages=None) -> ScaleExplorer:
    """Which stage of an encoder first holds a whole object of a chosen size in one position's receptive field.

    Args:
        model: an encoder or a whole model (``nn.Module``); only its architecture matters (analytic
            fields: the weights are not used and not changed).
        size: side in pixels of the square object, centred in the image (1 to the image's side).
        image: optional ``C x H x W`` image to draw on (its size is the input size).
        input_size: ``(channels, height, width)`` when no image is given.
        stages: optional list of layer names (or dict ``label -> layer name``) to use as the stages,
            input side first; default :func:`segedu.widgets.stages.stage_names`.

    Returns:
        A :class:`ScaleExplorer`: ``.size`` (IntSlider); ``.state`` with ``size``, ``object`` (its box),
        ``first`` (the first stage that holds the object, or None) and ``stages``: per stage ``layer``,
        ``stride``, ``output_size``, ``position`` and ``box``/``size`` of the field shown, and ``holds``.
    """
    return ScaleExplorer(model, size, image, input_size, stages)
