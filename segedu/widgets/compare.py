"""The same pixel of the same scene in several trained models, side by side.

For each model: the analytic receptive field (dashed box), the effective field (heatmap of the
input gradient) and the prediction, at the pixel chosen with the shared row/col sliders. The
layer choice means the same thing in every model:

* ``"output"`` -- the model's output at the pixel (what decides its class there);
* ``"deepest"`` -- the position over that pixel on the model's deepest stage, its coarsest encoder
  map (the bottleneck of an encoder-decoder or U-Net, the last backbone stage of FCN and PSPNet,
  before their heads; the last layer of a plain CNN): see :mod:`segedu.widgets.stages`.

Probes (one forward pass per model and layer) are built once; the fields of a (layer, pixel) are
computed once (one backward pass per model) and kept, so going back to a pixel costs nothing.
"""

from __future__ import annotations

import html
import math
import warnings

import ipywidgets as widgets
from torch import nn

from segedu.receptive import EffectiveProbe

from .common import (
    Explorer,
    Mosaic,
    check_class_names,
    check_image,
    check_int,
    check_mask,
    check_palette,
    default_colours,
    heat_on_grey,
    painted,
    picture,
    predict,
    show,
)
from .stages import deepest_stage

__all__ = ["FieldComparison", "compare_fields", "LAYERS", "COMPARE_TEXT_CLASS"]

LAYERS = {"output": "output", "deepest": "deepest stage"}
COMPARE_TEXT_CLASS = "segedu-compare-text"
MAX_MODELS = 6


class FieldComparison(Explorer):
    """See :func:`compare_fields`."""

    CACHE_SIZE = 4096  # (layer, pixel) pairs whose fields are kept, for all models together
    PNG_CACHE_SIZE = 64

    def __init__(self, models, image, mask=None, class_names=None, palette=None, layer="output", pixel=None,
                 stages=None, target="logits"):
        if not isinstance(models, dict) or not 1 <= len(models) <= MAX_MODELS:
            raise ValueError(f"models must be a dict of 1 to {MAX_MODELS} name -> nn.Module, e.g. "
                             f"{{'plain CNN': plain, 'U-Net': unet}}; got {type(models).__name__} "
                             f"{list(models) if isinstance(models, dict) else ''}")
        bad = [name for name, model in models.items() if not isinstance(model, nn.Module)]
        if bad:
            raise ValueError(f"models[{bad[0]!r}] is not an nn.Module")
        if layer not in LAYERS:
            raise ValueError(f"layer must be one of {list(LAYERS)}, got {layer!r}")
        self.models, self.image, self.target = dict(models), check_image(image), target
        height, width = self.image.shape[-2:]
        self.predictions = {}
        classes = 0
        for name, model in self.models.items():
            self.predictions[name], count = predict(model, self.image)
            if tuple(self.predictions[name].shape) != (height, width):
                raise ValueError(f"model {name!r} predicts a {' x '.join(map(str, self.predictions[name].shape))} "
                                 f"map for a {height} x {width} image; compare_fields needs segmentation models "
                                 f"whose output has the image's size")
            classes = max(classes, count)
        why = "the models predict" if len(models) > 1 else "the model predicts"
        self.class_names = None if class_names is None else check_class_names(class_names, classes, why)
        self.colours = default_colours(classes) if palette is None else check_palette(palette, classes, why)
        self.mask = None if mask is None else check_mask(mask, (height, width), classes)
        self._stages = self._deepest_stages(stages or {})
        self._probes: dict[tuple, EffectiveProbe] = {}
        self._fields: dict[tuple, tuple] = {}
        self._pngs: dict[tuple, bytes] = {}
        self.state: dict = {}
        self.last_png = b""

        if pixel is None:
            pixel = (height // 2, width // 2)
        if not isinstance(pixel, (tuple, list)) or len(pixel) != 2:
            raise ValueError(f"pixel must be a (row, col) pair, got {pixel!r}")
        self.layer = widgets.Dropdown(description="layer", options=[(label, key) for key, label in LAYERS.items()],
                                      value=layer)
        self.row = widgets.IntSlider(description="row", min=0, max=height - 1, continuous_update=False,
                                     value=check_int(pixel[0], "pixel row", 0, height - 1))
        self.col = widgets.IntSlider(description="col", min=0, max=width - 1, continuous_update=False,
                                     value=check_int(pixel[1], "pixel col", 0, width - 1))
        self.text = widgets.HTML()
        self.text.add_class(COMPARE_TEXT_CLASS)
        self.view = widgets.Output()
        self._finish([widgets.HBox([self.layer, self.row, self.col]), self.text, self.view], "segedu-compare-fields")
        for control in (self.layer, self.row, self.col):
            control.observe(lambda change: self.update(), names="value")
        self.update()

    def _deepest_stages(self, stages: dict) -> dict[str, str | None]:
        """Each model's deepest stage: given in ``stages`` (checked) or found by :func:`deepest_stage`."""
        unknown = set(stages) - set(self.models)
        if unknown:
            raise ValueError(f"stages names models that are not compared: {sorted(unknown)}")
        found = {}
        for name, model in self.models.items():
            stage = stages.get(name) or deepest_stage(model, tuple(self.image.shape))
            if stage is not None and stage not in dict(model.named_modules()):
                raise ValueError(f"model {name!r} has no layer {stage!r}; see model.named_modules() for names")
            found[name] = stage
        return found

    # -- cached computations ------------------------------------------------------------
    def layer_of(self, name: str, key: str) -> str | None:
        """The layer of model ``name`` that the choice ``key`` ("output" or "deepest") means (None: its output)."""
        return None if key == "output" else self._stages[name]

    def _probe(self, name: str, key: str) -> EffectiveProbe:
        layer = self.layer_of(name, key)
        if (name, layer) not in self._probes:
            self._probes[(name, layer)] = EffectiveProbe(self.models[name], self.image, layer)
        return self._probes[(name, layer)]

    def position_of(self, name: str, key: str, pixel: tuple[int, int]) -> tuple[int, int]:
        """The position of model ``name``'s chosen map that lies over ``pixel`` (the pixel itself at full size)."""
        out_h, out_w = self._probe(name, key).output_size
        height, width = self.image.shape[-2:]
        return pixel[0] * out_h // height, pixel[1] * out_w // width

    def _field(self, name: str, key: str, pixel: tuple[int, int]):
        position = self.position_of(name, key, pixel)
        cached = (name, self.layer_of(name, key), position)
        if cached not in self._fields:
            with warnings.catch_warnings():  # a vanishing gradient is reported in the text instead
                warnings.simplefilter("ignore")
                erf = self._probe(name, key).field(position, self.target)
            if len(self._fields) >= self.CACHE_SIZE:
                self._fields.pop(next(iter(self._fields)))
            self._fields[cached] = erf
        return self._fields[cached]

    def _class(self, index: int) -> str:
        return self.class_names[index] if self.class_names is not None else f"class {index}"

    # -- callbacks ----------------------------------------------------------------------
    def update(self) -> None:
        """Compute (or fetch) every model's fields at the chosen pixel and layer, and redraw."""
        key, pixel = self.layer.value, (self.row.value, self.col.value)
        shown = {}
        for name in self.models:
            erf = self._field(name, key, pixel)
            rf = erf.field
            shown[name] = {
                "layer": self.layer_of(name, key),
                "position": rf.position,
                "output_size": rf.output_size,
                "box": rf.box,
                "size": rf.size,
                "radius90": erf.radius90,
                "mass_in_box": erf.mass_in_box,
                "predicted": int(self.predictions[name][pixel]),
            }
        self.state = {"pixel": pixel, "layer": key, "models": shown}
        self.text.value = self._table()
        if (key, pixel) not in self._pngs:
            if len(self._pngs) >= self.PNG_CACHE_SIZE:
                self._pngs.pop(next(iter(self._pngs)))
            self._pngs[(key, pixel)] = self._picture()
        self.last_png = show(self.view, self._pngs[(key, pixel)])

    def _table(self) -> str:
        header = ("<tr><th>model</th><th>map (position)</th><th>analytic field</th><th>90% of the gradient</th>"
                  "<th>predicted at the pixel</th></tr>")
        rows = []
        for name, s in self.state["models"].items():
            where = "output" if s["layer"] is None else s["layer"]
            where += f" {s['output_size'][0]} x {s['output_size'][1]} {s['position']}"
            field = "none" if s["box"] is None else f"{s['size'][0]} x {s['size'][1]} px"
            spread = "zero gradient" if math.isnan(s["radius90"]) else f"within {s['radius90']:.1f} px"
            cells = (name, where, field, spread, self._class(s["predicted"]))
            rows.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>")
        truth = ""
        if self.mask is not None:
            label = int(self.mask[self.state["pixel"]])
            truth = f"; truth: {html.escape('ignored' if label == 255 else self._class(label))}"
        return (f"pixel {self.state['pixel']} ({LAYERS[self.state['layer']]}){truth}"
                f"<table>{header}{''.join(rows)}</table>")

    def _picture(self) -> bytes:
        """Column 0: the image and the truth; then per model its effective field and its prediction."""
        height, width = self.image.shape[-2:]
        mosaic = Mosaic(2, 1 + len(self.models), height, width)
        row, col = self.state["pixel"]
        mosaic.put(0, 0, picture(self.image), f"image\npixel ({row}, {col})")
        marked = [(0, 0)]
        if self.mask is not None:
            mosaic.put(1, 0, painted(self.mask, self.colours), "ground truth")
            marked.append((1, 0))
        for index, (name, s) in enumerate(self.state["models"].items(), start=1):
            radius = "no gradient" if math.isnan(s["radius90"]) else f"90% in {s['radius90']:.1f} px"
            size = "no field, " if s["box"] is None else f"{s['size'][0]} x {s['size'][1]} px, "
            heatmap = self._field(name, self.state["layer"], self.state["pixel"]).heatmap
            mosaic.put(0, index, heat_on_grey(self.image, heatmap), f"{name}\n{size}{radius}")
            mosaic.put(1, index, painted(self.predictions[name], self.colours),
                       f"{name}\npredicted: {self._class(s['predicted'])}")
            for panel in ((0, index), (1, index)):
                if s["box"] is not None:
                    mosaic.box(*panel, s["box"])
                marked.append(panel)
        for panel in marked:
            mosaic.marker(*panel, row, col)
        return mosaic.png()


def compare_fields(models, image, mask=None, class_names=None, palette=None, layer="output", pixel=None,
                   stages=None, target="logits") -> FieldComparison:
    """The same pixel of the same scene in several models, side by side: analytic box, effective field, prediction.

    Args:
        models: dict of 1 to 6 ``name -> nn.Module`` (trained models, e.g. ``{"plain CNN": plain,
            "U-Net": unet}``), each mapping ``1 x C x H x W`` to ``1 x K x H x W`` logits.
        image: ``C x H x W`` float tensor, as the models expect it.
        mask: optional ``H x W`` class indices of this image (255 = ignored); another size is an error.
        class_names: optional names, at least one per class the models predict.
        palette: optional ``K x 3`` colours (0-255 or 0-1), at least one per class.
        layer: ``"output"`` or ``"deepest"`` (each model's deepest stage; see the module doc).
        pixel: ``(row, col)`` to start at; default the centre.
        stages: optional ``{model name: layer name}`` to choose what "deepest" means for some models.
        target: what the effective field differentiates (see :func:`segedu.receptive.effective_receptive_field`).

    Returns:
        A :class:`FieldComparison`: ``.row``, ``.col`` (IntSliders over the image's pixels), ``.layer``
        (Dropdown: "output" or "deepest"), ``.state`` with ``pixel``, ``layer`` and ``models``: per model
        ``layer`` (None for the output), ``position`` and ``output_size`` on that map, ``box``, ``size``,
        ``radius90``, ``mass_in_box`` and ``predicted`` (class index at the pixel).
    """
    return FieldComparison(models, image, mask, class_names, palette, layer, pixel, stages, target)
