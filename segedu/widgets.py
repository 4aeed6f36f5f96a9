"""Interactive explorers for receptive fields (ipywidgets 7.7 and 8).

* :func:`receptive_field_explorer` -- pick an output pixel and a layer (or a model): see the
  analytic box and the effective-field heatmap over the image, the prediction, the numbers.
* :func:`rf_arithmetic_explorer` -- kernel, stride, dilation and depth sliders: watch the
  field of one unit grow layer by layer, like the figures of the Distill article.

Each explorer keeps its controls as attributes (``.row``, ``.kernel``, ...), the box to
display as ``.widget``, and the numbers it currently shows as ``.state``; the callbacks
are plain methods, so a test sets ``explorer.row.value = 3`` and reads ``explorer.state``,
no browser needed. Figures are drawn with matplotlib's object API (no pyplot, so nothing
piles up across slider moves) and shown as PNG in an ``ipywidgets.Output``.
"""

from __future__ import annotations

import base64
import html
import io
import math
import warnings

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from .receptive import EffectiveProbe, FieldProbe, chain_steps
from .receptive.capture import as_feature_map
from .receptive.table import listed_layers
from .viz import default_palette, overlay, to_uint8_image

__all__ = ["ReceptiveFieldExplorer", "ArithmeticExplorer", "receptive_field_explorer", "rf_arithmetic_explorer"]

OUTPUT = "(output)"
TEXT_CLASS = "segedu-rf-text"
ARITHMETIC_TEXT_CLASS = "segedu-rf-arithmetic-text"


def _png(figure: Figure) -> bytes:
    """``figure`` rendered to PNG bytes (Agg canvas: no pyplot, nothing left open)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _show(output: widgets.Output, png: bytes) -> bytes:
    """Make the PNG the only thing ``output`` shows; return it."""
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<figure>"},
            "metadata": {},
        },
    )
    return png


def _picture(image: torch.Tensor) -> np.ndarray:
    """``C x H x W`` tensor -> ``H x W x 3`` uint8 for imshow (first three channels, or the first one)."""
    return to_uint8_image(image[:3] if image.shape[0] >= 3 else image[:1]).permute(1, 2, 0).numpy()


def _painted(labels: torch.Tensor, palette) -> np.ndarray:
    """``H x W`` class indices -> ``H x W x 3`` uint8 colours (255 = ignored, grey), as :mod:`segedu.viz` does."""
    labels = torch.as_tensor(labels).long().cpu()
    blank = torch.zeros(3, *labels.shape, dtype=torch.uint8)
    return overlay(blank, labels, [tuple(int(v) for v in c) for c in palette], alpha=1.0).permute(1, 2, 0).numpy()


def _heat_overlay(heatmap: torch.Tensor) -> np.ndarray:
    """``H x W`` heatmap -> ``H x W x 4`` RGBA: hot colours, transparent where the gradient is zero."""
    peak = float(heatmap.max())
    scaled = (heatmap / peak).numpy() if peak > 0 else np.zeros(tuple(heatmap.shape))
    rgba = matplotlib.colormaps["inferno"](scaled)
    rgba[..., 3] = np.sqrt(scaled) * 0.9
    return rgba


class ReceptiveFieldExplorer:
    """See :func:`receptive_field_explorer`.

    ``state`` holds what is shown: ``layer`` (the dropdown's value), ``position``,
    ``output_size``, analytic ``box``, ``size``, ``theoretical_size`` (chains), ``pixels``,
    effective ``centre``, ``radius50``, ``radius90``, ``mass_in_box``, ``predicted`` (class
    index at the pixel, when class names are given and the output is chosen) and ``text``.
    """

    CACHE_SIZE = 1024  # positions whose fields are kept; the probes (one per layer) are always kept
    PNG_CACHE_SIZE = 64  # positions whose pictures are kept (about 60 kB each)

    def __init__(self, model, image, mask=None, layers=None, class_names=None, palette=None, target="logits"):
        if not isinstance(image, torch.Tensor) or image.dim() not in (3, 4) or (image.dim() == 4 and len(image) != 1):
            raise ValueError("image must be one C x H x W (or 1 x C x H x W) tensor")
        self.image = image[0] if image.dim() == 4 else image
        self.mask, self.class_names, self.palette, self.target = mask, class_names, palette, target
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
        self._analytic: dict[str, FieldProbe] = {}
        self._effective: dict[str, EffectiveProbe] = {}
        self._results: dict[tuple, tuple] = {}
        self._pngs: dict[tuple, bytes] = {}
        self._predictions: dict[int, torch.Tensor] = {}
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
        self.widget = widgets.VBox([self.layer, widgets.HBox([self.row, self.col]), self.text, self.view])
        self._configure_sliders(keep_location=False)
        self.layer.observe(self._on_layer, names="value")
        self.row.observe(self._on_position, names="value")
        self.col.observe(self._on_position, names="value")
        self.update()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # -- cached computations ------------------------------------------------------------
    def _probes(self, key: str) -> tuple[FieldProbe, EffectiveProbe]:
        if key not in self._effective:
            model, layer = self._choices[key]
            self._effective[key] = EffectiveProbe(model, self.image, layer)
            self._analytic[key] = self._effective[key].analytic()
        return self._analytic[key], self._effective[key]

    def _prediction(self, model: nn.Module) -> torch.Tensor:
        """``h x w`` predicted classes of ``model`` on the image (eval mode, mode restored)."""
        if id(model) not in self._predictions:
            was_training = model.training
            parameter = next(model.parameters(), self.image)
            try:
                with torch.no_grad():
                    logits = as_feature_map(model.eval()(self.image[None].to(parameter.device, parameter.dtype)))
            finally:
                model.train(was_training)
            self._predictions[id(model)] = logits[0].argmax(dim=0).cpu()
        return self._predictions[id(model)]

    def _mask_palette(self):
        if self.palette is not None:
            return self.palette
        labels = torch.as_tensor(self.mask)[torch.as_tensor(self.mask) != 255]
        count = max(len(self.class_names or ()), int(labels.max()) + 1 if labels.numel() else 1)
        return default_palette(count)

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
            self._pngs[(key, position)] = _png(self._draw(rf, erf, model if layer is None else None))
        self.last_png = _show(self.view, self._pngs[(key, position)])

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
    def _draw(self, rf, erf, model) -> Figure:
        height, width = self.image.shape[-2:]
        panels = ["image", "effective"]
        if self.mask is not None:
            panels.append("truth")
        if model is not None and self.palette is not None:
            panels.append("prediction")
        figure = Figure(figsize=(3.2 * len(panels), 3.4))
        extent = (-0.5, width - 0.5, height - 0.5, -0.5)
        for index, panel in enumerate(panels):
            axes = figure.add_subplot(1, len(panels), index + 1)
            axes.set_axis_off()
            if panel == "image":
                axes.imshow(_picture(self.image), extent=extent)
                axes.set_title("analytic receptive field", fontsize=9)
            elif panel == "effective":
                axes.imshow(_picture(self.image).mean(axis=2), cmap="gray", extent=extent, vmin=0, vmax=255)
                axes.imshow(_heat_overlay(erf.heatmap), extent=extent)
                axes.set_title(f"effective field (90% within {erf.radius90:.1f} px)", fontsize=9)
            elif panel == "truth":
                axes.imshow(_painted(self.mask, self._mask_palette()), extent=extent, interpolation="nearest")
                axes.set_title("ground truth", fontsize=9)
            else:
                prediction = self._prediction(model)
                axes.imshow(_painted(prediction, self.palette), extent=extent, interpolation="nearest")
                axes.set_title("prediction", fontsize=9)
            if rf.box is not None:  # a white line under a black dashed one shows on any background
                top, left, bottom, right = rf.box
                for colour, style, line_width in (("white", "-", 3.0), ("black", "--", 1.5)):
                    axes.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                                             fill=False, edgecolor=colour, linestyle=style, linewidth=line_width))
            axes.plot([erf.centre[1]], [erf.centre[0]], marker="+", color="red", markersize=12, mew=2.5)
            axes.set_xlim(extent[0], extent[1])
            axes.set_ylim(extent[2], extent[3])
        figure.tight_layout()
        return figure


def receptive_field_explorer(model, image, mask=None, layers=None, class_names=None, palette=None,
                             target="logits") -> ReceptiveFieldExplorer:
    """An explorer of the receptive field of one output pixel, for one model's layers or several models.

    Args:
        model: an ``nn.Module``, or a dict ``{"plain CNN": m1, "U-Net": m2}`` to compare models.
        image: ``C x H x W`` float tensor, as the model expects it.
        mask: optional ``H x W`` ground-truth class indices, shown next to the image.
        layers: layer names for the ``.layer`` dropdown (one model only); default: the rows
            of :func:`segedu.receptive.layer_table`, after the model's output ``"(output)"``.
        class_names: optional names of the classes, to say what is predicted at the pixel.
        palette: optional ``K x 3`` colours (0-255 or 0-1); when given, the prediction is shown.
        target: what the effective field differentiates (see :func:`effective_receptive_field`).

    Returns:
        A :class:`ReceptiveFieldExplorer`: display it (or its ``.widget``); move ``.row``,
        ``.col`` (IntSliders over output positions) and ``.layer`` (Dropdown); read
        ``.state`` (position, box, size, radius50, radius90, mass_in_box, ...).
    """
    return ReceptiveFieldExplorer(model, image, mask, layers, class_names, palette, target)


class ArithmeticExplorer:
    """See :func:`rf_arithmetic_explorer`."""

    MAX_DRAWN = 160  # wider fields are drawn as bars, not unit by unit

    def __init__(self, kernel=3, stride=1, dilation=1, depth=3):
        def slider(name, value, low, high):
            return widgets.IntSlider(description=name, value=value, min=low, max=high, continuous_update=False)

        self.kernel = slider("kernel", kernel, 1, 7)
        self.stride = slider("stride", stride, 1, 3)
        self.dilation = slider("dilation", dilation, 1, 3)
        self.depth = slider("depth", depth, 1, 6)
        self.text = widgets.HTML()
        self.text.add_class(ARITHMETIC_TEXT_CLASS)
        self.view = widgets.Output()
        controls = widgets.HBox([widgets.VBox([self.kernel, self.stride]), widgets.VBox([self.dilation, self.depth])])
        self.widget = widgets.VBox([controls, self.text, self.view])
        self.state: dict = {}
        self.last_png = b""
        for control in (self.kernel, self.stride, self.dilation, self.depth):
            control.observe(lambda change: self.update(), names="value")
        self.update()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def update(self) -> None:
        """Recompute the arithmetic for the current sliders and redraw."""
        k, s, d, depth = self.kernel.value, self.stride.value, self.dilation.value, self.depth.value
        steps = chain_steps([(k, s, d)] * depth)
        self.state = {"size": steps[-1].size, "jump": steps[-1].jump, "sizes": [step.size for step in steps],
                      "jumps": [step.jump for step in steps], "supports": self._supports(k, s, d, depth)}
        sizes = " &rarr; ".join(str(size) for size in self.state["sizes"])
        self.text.value = (
            f"r<sub>l</sub> = r<sub>l-1</sub> + (k - 1) &middot; d &middot; j<sub>l-1</sub>, "
            f"j<sub>l</sub> = j<sub>l-1</sub> &middot; s: sizes {sizes}; after {depth} layer(s) one unit "
            f"sees <b>{self.state['size']}</b> input pixels, neighbours are {self.state['jump']} px apart"
        )
        self.last_png = _show(self.view, _png(self._draw(steps)))

    @staticmethod
    def _supports(k, s, d, depth) -> list[list[int]]:
        """Units of each layer (input first) that the single top unit depends on, exactly (holes included)."""
        supports = [[0]]
        for _ in range(depth):
            below = sorted({s * unit + d * tap for unit in supports[0] for tap in range(k)})
            supports.insert(0, below)
        return supports

    def _draw(self, steps) -> Figure:
        supports, top = self.state["supports"], steps[-1].size
        figure = Figure(figsize=(9, 0.6 * len(steps) + 1))
        axes = figure.add_subplot(1, 1, 1)
        for level, (step, support) in enumerate(zip(steps, supports, strict=True)):
            centres = (step.size - 1) / 2 + np.arange((top - step.size) // step.jump + 1) * step.jump
            lit = np.zeros(len(centres), dtype=bool)
            lit[support] = True
            if top <= self.MAX_DRAWN:
                axes.scatter(centres, np.full(len(centres), level), marker="s", s=max(6.0, 2500 / top),
                             c=np.where(lit, "tab:orange", "lightgray"), zorder=2)
                if level > 0:  # lines from every lit unit to the units of the layer below it reads
                    below = (steps[level - 1].size - 1) / 2 + steps[level - 1].jump * (
                        self.stride.value * np.asarray(support)[:, None]
                        + self.dilation.value * np.arange(self.kernel.value)[None, :])
                    segments = [[(centres[unit], level), (x, level - 1)]
                                for unit, xs in zip(support, below, strict=True) for x in xs]
                    axes.add_collection(LineCollection(segments, colors="tab:orange", linewidths=0.6, alpha=0.5))
            else:
                lit_centres = centres[lit]
                axes.scatter(lit_centres, np.full(len(lit_centres), level), marker="|", s=30, c="tab:orange")
        axes.set_yticks(range(len(steps)))
        axes.set_yticklabels(["input"] + [f"layer {i} (r={s.size})" for i, s in enumerate(steps[1:], 1)])
        axes.set_xlabel("input pixel")
        axes.set_xlim(-1, top)
        axes.set_title(f"the top unit sees {top} input pixels", fontsize=10)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        return figure


def rf_arithmetic_explorer(kernel=3, stride=1, dilation=1, depth=3) -> ArithmeticExplorer:
    """Sliders for kernel, stride, dilation and depth of a stack of identical layers; shows the field.

    Returns:
        An :class:`ArithmeticExplorer` with sliders ``.kernel``, ``.stride``, ``.dilation``,
        ``.depth``, the ``.widget`` to display, and ``.state``: ``size`` and ``jump`` of the
        top unit, per-layer ``sizes`` and ``jumps`` (input first), and ``supports``, the
        units of each layer the top unit depends on (the orange squares of the picture).
    """
    return ArithmeticExplorer(kernel, stride, dilation, depth)
