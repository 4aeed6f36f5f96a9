"""The receptive field of one output pixel, for one model's layers (or a few models, one at a time).

Pick an output position with the row/col sliders and a layer (or a model) with the dropdown:
see the analytic box and the effective-field heatmap over the image, the prediction and the
numbers. Fields are computed once per (layer, position) and kept; pictures of the last 64
positions too.
"""

from __future__ import annotations

import html
import math
import warnings

import ipywidgets as widgets
from torch import nn

from segedu.receptive import EffectiveProbe, FieldProbe
from segedu.receptive.table import listed_layers

from .common import (
    Explorer,
    Mosaic,
    check_class_names,
    check_image,
    check_mask,
    check_palette,
    default_colours,
    heat_on_grey,
    painted,
    picture,
    predict,
    show,
)

__all__ = ["ReceptiveFieldExplorer", "receptive_field_explorer", "OUTPUT", "TEXT_CLASS"]

OUTPUT = "(output)"
TEXT_CLASS = "segedu-rf-text"


class ReceptiveFieldExplorer(Explorer):
    """See :func:`receptive_field_explorer`.

    ``state`` holds what is shown: ``layer`` (the dropdown's value), ``position``,
    ``output_size``, analytic ``box``, ``size``, ``theoretical_size`` (chains), ``pixels``,
    effective ``centre``, ``radius50``, ``radius90``, ``mass_in_box``, ``predicted`` (class
    index at the pixel, when class names are given and the output is chosen) and ``text``.
    """

    CACHE_SIZE = 1024  # positions whose fields are kept; the probes (one per layer) are always kept
    PNG_CACHE_SIZE = 64  # positions whose pictures are kept (about 60 kB each)

    def __init__(self, model, image, mask=None, layers=None, class_names=None, palette=None, target="logits"):
        self.image = check_image(image)
        self.target = target
        models = model if isinstance(model, dict) else {"model": model}
        if not models or not all(isinstance(m, nn.Module) for m in models.values()):
            raise TypeError("model must be an nn.Module or a non-empty dict of name -> nn.Module")
        if isinstance(model, dict):
            if layers is not None:
                raise ValueError("layers= chooses layers of one model; with a dict of models leave it out")
            self._choices = {name: (m, None) for name, m in models.items()}
        else:
            names = listed_layers(model, tuple(self.image.shape)) if layers is None else list(layers)
            unknown = [name for name in names if name not in dict(model.named_modules()) or name == ""]
            if unknown:
                raise ValueError(f"the model has no layer(s) {unknown}; see model.named_modules() for names")
            self._choices = {OUTPUT: (model, None), **{name: (model, name) for name in names}}
        self._predictions = {}
        if class_names is not None or palette is not None:
            classes = max(self._prediction(m, counted=True) for m in models.values())
            why = "the model predicts" if len(models) == 1 else "the models predict"
            self.class_names = None if class_names is None else check_class_names(class_names, classes, why)
            self.palette = None if palette is None else check_palette(palette, classes, why)
        else:
            self.class_names = self.palette = None
        known = len(self.class_names) if self.class_names is not None else None
        self.mask = None if mask is None else check_mask(mask, tuple(self.image.shape[-2:]), known)
        self._analytic: dict[str, FieldProbe] = {}
        self._effective: dict[str, EffectiveProbe] = {}
        self._results: dict[tuple, tuple] = {}
        self._pngs: dict[tuple, bytes] = {}
        self._busy = False
        self.state: dict = {}
        self.last_png = b""

        self.layer = widgets.Dropdown(options=list(self._choices), description="layer" if
                                      not isinstance(model, dict) else "model")
        self.row = widgets.IntSlider(description="row", min=0, max=1, continuous_update=False)
        self.col = widgets.IntSlider(description="col", min=0, max=1, continuous_update=False)
        self.text = widgets.HTML()
        self.text.add_class(TEXT_CLASS)
        self.view = widgets.Output()
        self._finish([self.layer, widgets.HBox([self.row, self.col]), self.text, self.view], "segedu-field-explorer")
        self._configure_sliders(keep_location=False)
        self.layer.observe(self._on_layer, names="value")
        self.row.observe(self._on_position, names="value")
        self.col.observe(self._on_position, names="value")
        self.update()

    # -- cached computations ------------------------------------------------------------
    def _probes(self, key: str) -> tuple[FieldProbe, EffectiveProbe]:
        if key not in self._effective:
            model, layer = self._choices[key]
            self._effective[key] = EffectiveProbe(model, self.image, layer)
            self._analytic[key] = self._effective[key].analytic()
        return self._analytic[key], self._effective[key]

    def _prediction(self, model: nn.Module, counted: bool = False):
        """``h x w`` predicted classes of ``model`` on the image (or, ``counted``, its number of classes)."""
        if id(model) not in self._predictions:
            self._predictions[id(model)] = predict(model, self.image)
        labels, count = self._predictions[id(model)]
        return count if counted else labels

    def _mask_colours(self):
        if self.palette is not None:
            return self.palette
        labels = self.mask[self.mask != 255]
        return default_colours(max(len(self.class_names or ()), int(labels.max()) + 1 if labels.numel() else 1))

    # -- callbacks ----------------------------------------------------------------------
    def _configure_sliders(self, keep_location: bool) -> None:
        """Set the slider ranges to the chosen output's size (keeping the image location if asked)."""
        _, effective = self._probes(self.layer.value)
        height, width = effective.output_size
        old = (self.row.value / (self.row.max + 1), self.col.value / (self.col.max + 1))
        self._busy = True
        try:
            self.row.max, self.col.max = max(height - 1, 0), max(width - 1, 0)
            self.row.disabled, self.col.disabled = height == 1, width == 1
            if keep_location:
                self.row.value, self.col.value = int(old[0] * height), int(old[1] * width)
            else:
                self.row.value, self.col.value = height // 2, width // 2
        finally:
            self._busy = False

    def _on_layer(self, change) -> None:
        self._configure_sliders(keep_location=True)
        self.update()

    def _on_position(self, change) -> None:
        if not self._busy:
            self.update()

    def update(self) -> None:
        """Recompute (or fetch from the cache) the fields at the current position and redraw."""
        key, position = self.layer.value, (self.row.value, self.col.value)
        if (key, position) not in self._results:
            analytic, effective = self._probes(key)
            with warnings.catch_warnings():  # a vanishing gradient is reported in the text instead
                warnings.simplefilter("ignore")
                erf = effective.field(position, self.target)
            if len(self._results) >= self.CACHE_SIZE:  # forget the oldest position
                self._results.pop(next(iter(self._results)))
            self._results[(key, position)] = (erf.field, erf)
        rf, erf = self._results[(key, position)]
        model, layer = self._choices[key]
        predicted = None
        if layer is None and self.class_names is not None:
            predicted = int(self._prediction(model)[position])
        self.state = {
            "layer": key,
            "position": position,
            "output_size": rf.output_size,
            "box": rf.box,
            "size": rf.size,
            "theoretical_size": rf.theoretical_size,
            "pixels": rf.pixels,
            "centre": erf.centre,
            "radius50": erf.radius50,
            "radius90": erf.radius90,
            "mass_in_box": erf.mass_in_box,
            "predicted": predicted,
        }
        self.text.value = html.escape(self.describe())
        self.state["text"] = self.describe()
        if (key, position) not in self._pngs:
            if len(self._pngs) >= self.PNG_CACHE_SIZE:
                self._pngs.pop(next(iter(self._pngs)))
            self._pngs[(key, position)] = self._picture(rf, erf, model if layer is None else None)
        self.last_png = show(self.view, self._pngs[(key, position)])

    def describe(self) -> str:
        """The line of numbers shown under the sliders."""
        s = self.state
        where = "pixel" if s["output_size"] == tuple(self.image.shape[-2:]) else "position"
        text = f"{where} {s['position']}"
        if self._choices[s["layer"]][1] is not None:
            text += f" of layer {s['layer']}"
        elif s["layer"] != OUTPUT:  # one of several models
            text = f"{s['layer']}, {text}"
        if s["box"] is None:
            return text + ": no input pixel can change it"
        top, left, bottom, right = s["box"]
        text += f": receptive field {s['size'][0]} x {s['size'][1]} px, box rows {top}-{bottom} cols {left}-{right}; "
        if math.isnan(s["radius90"]):
            text += "the gradient is zero here (every unit on the way is off): no effective field"
        else:
            text += f"90% of the gradient within {s['radius90']:.1f} px"
        if s["theoretical_size"] not in (None, s["size"]):
            text += f"; theoretical field {s['theoretical_size'][0]} x {s['theoretical_size'][1]} px"
        if s["predicted"] is not None:
            text += f"; predicted: {self.class_names[s['predicted']]}"
        return text

    # -- drawing ------------------------------------------------------------------------
    def _picture(self, rf, erf, model) -> bytes:
        """Image, effective field, truth and prediction side by side, the analytic box and the centre on each."""
        height, width = self.image.shape[-2:]
        panels = [(picture(self.image), "analytic receptive field"),
                  (heat_on_grey(self.image, erf.heatmap), f"effective field (90% within {erf.radius90:.1f} px)")]
        if self.mask is not None:
            panels.append((painted(self.mask, self._mask_colours()), "ground truth"))
        if model is not None and self.palette is not None:
            panels.append((painted(self._prediction(model), self.palette), "prediction"))
        mosaic = Mosaic(1, len(panels), height, width, title_lines=1, panel_pixels=256)
        for col, (rgb, title) in enumerate(panels):
            mosaic.put(0, col, rgb, title)
            if rf.box is not None:
                mosaic.box(0, col, rf.box)
            mosaic.marker(0, col, *erf.centre)
        return mosaic.png()


def receptive_field_explorer(model, image, mask=None, layers=None, class_names=None, palette=None,
                             target="logits") -> ReceptiveFieldExplorer:
    """An explorer of the receptive field of one output pixel, for one model's layers or several models.

    Args:
        model: an ``nn.Module``, or a dict ``{"plain CNN": m1, "U-Net": m2}`` to compare models
            one at a time (:func:`compare_fields` shows them side by side).
        image: ``C x H x W`` float tensor, as the model expects it.
        mask: optional ``H x W`` ground-truth class indices (255 = ignored) of this image, shown
            next to it; another size is an error (never stretched).
        layers: layer names for the ``.layer`` dropdown (one model only); default: the rows
            of :func:`segedu.receptive.layer_table`, after the model's output ``"(output)"``.
        class_names: optional names of the classes (at least one per output channel), to say
            what is predicted at the pixel.
        palette: optional ``K x 3`` colours (0-255 or 0-1, one per class); when given, the
            prediction is shown.
        target: what the effective field differentiates (see :func:`effective_receptive_field`).

    Returns:
        A :class:`ReceptiveFieldExplorer`: display it (or its ``.widget``); move ``.row``,
        ``.col`` (IntSliders over output positions) and ``.layer`` (Dropdown); read
        ``.state`` (position, box, size, radius50, radius90, mass_in_box, ...).
    """
    return ReceptiveFieldExplorer(model, image, mask, layers, class_names, palette, target)
