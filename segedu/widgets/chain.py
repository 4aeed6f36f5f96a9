"""Receptive-field arithmetic of a chain of layers, one unit at a time, like the Distill article's figures.

* :func:`chain_explorer` -- any chain: a list of convolutions and pooling layers, each with its own
  kernel, stride and dilation (or an ``nn.Sequential`` chain). Pick a layer, change it, add or
  remove layers; a table gives the jump and the field after each layer.
* :func:`rf_arithmetic_explorer` -- the special case of one layer repeated: kernel, stride,
  dilation and depth sliders.

Both draw the units of every layer (input at the bottom) and light the ones the single top unit
depends on; along one axis, with ``r_l = r_{l-1} + (k - 1) d j_{l-1}`` and ``j_l = j_{l-1} s``
(:mod:`segedu.receptive.arithmetic`). Padding moves a field but does not change its size or jump,
so it is left out.
"""

from __future__ import annotations

import dataclasses
import html

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from torch import nn

from segedu.receptive import chain_steps
from segedu.receptive.arithmetic import chain_layers

from .common import Explorer, check_int, slider

__all__ = ["ChainLayer", "ChainExplorer", "ArithmeticExplorer", "chain_explorer", "rf_arithmetic_explorer",
           "ARITHMETIC_TEXT_CLASS", "CHAIN_TEXT_CLASS"]

ARITHMETIC_TEXT_CLASS = "segedu-rf-arithmetic-text"
CHAIN_TEXT_CLASS = "segedu-chain-text"
KINDS = ("conv", "pool")
MAX_DRAWN = 160  # wider fields are drawn as bars, not unit by unit


@dataclasses.dataclass(frozen=True)
class ChainLayer:
    """One layer of a chain along one axis: ``kind`` ("conv" or "pool"), ``kernel``, ``stride``, ``dilation``."""

    kind: str
    kernel: int
    stride: int
    dilation: int = 1

    def __str__(self) -> str:
        text = f"{self.kind} {self.kernel}x{self.kernel}, stride {self.stride}"
        return text + (f", dilation {self.dilation}" if self.dilation != 1 else "")


def _from_module(name: str, module: nn.Module, rows, cols) -> ChainLayer:
    if rows[:3] != cols[:3]:
        raise ValueError(f"layer {name!r} is not square (rows {rows[:3]}, cols {cols[:3]} as kernel, stride, "
                         f"dilation): the chain explorer follows one axis; give the layers as tuples instead")
    return ChainLayer("conv" if isinstance(module, nn.Conv2d) else "pool", *rows[:3])


def _from_spec(spec, index: int, limits: dict) -> ChainLayer:
    """One layer from ``(kernel, stride[, dilation])``, ``(kind, kernel, stride[, dilation])``, a dict or a ChainLayer."""
    if isinstance(spec, ChainLayer):
        spec = dataclasses.asdict(spec)
    if isinstance(spec, dict):
        unknown = set(spec) - {"kind", "kernel", "stride", "dilation"}
        if unknown or not {"kernel", "stride"} <= set(spec):
            raise ValueError(f"layer {index}: a dict needs 'kernel' and 'stride' (and optionally 'kind', "
                             f"'dilation'), got {spec!r}")
        kind, numbers = spec.get("kind", "conv"), (spec["kernel"], spec["stride"], spec.get("dilation", 1))
    elif isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], str):
        kind, numbers = spec[0], tuple(spec[1:])
    elif isinstance(spec, (tuple, list)):
        kind, numbers = "conv", tuple(spec)
    else:
        raise ValueError(f"layer {index}: expected (kernel, stride[, dilation]), (kind, kernel, stride[, dilation]) "
                         f"or a dict, got {spec!r}")
    if kind not in KINDS:
        raise ValueError(f"layer {index}: kind must be one of {KINDS}, got {kind!r}")
    if not 2 <= len(numbers) <= 3:
        raise ValueError(f"layer {index}: expected kernel, stride and optionally dilation, got {numbers!r}")
    names = ("kernel", "stride", "dilation")
    values = [check_int(v, f"layer {index}: {n}", 1, limits[n]) for n, v in zip(names, numbers, strict=False)]
    return ChainLayer(kind, *values)


def as_chain(layers, limits: dict) -> list[ChainLayer]:
    """The layers of a chain (see :func:`chain_explorer`) as :class:`ChainLayer` objects, checked against ``limits``."""
    if isinstance(layers, nn.Module):
        found = chain_layers(layers)
        if found is None:
            raise ValueError("the module is not a plain chain (convolutions, pooling and pointwise layers in "
                             "nn.Sequential containers); give its layers as (kernel, stride, dilation) tuples")
        modules = dict(layers.named_modules())
        chain = [_from_module(name, modules[name], rows, cols) for name, rows, cols in found
                 if isinstance(modules[name], (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
        specs = [dataclasses.asdict(layer) for layer in chain]
    else:
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise ValueError(f"layers must be a list of layers or an nn.Sequential chain, got {layers!r}")
        specs = list(layers)
    if not 1 <= len(specs) <= limits["layers"]:
        raise ValueError(f"a chain needs 1 to {limits['layers']} layers, got {len(specs)}")
    return [_from_spec(spec, index, limits) for index, spec in enumerate(specs)]


def chain_state(chain: list[ChainLayer]) -> dict:
    """The numbers an explorer shows for ``chain``: per-layer ``sizes`` and ``jumps`` (input first), the
    top unit's ``size`` and ``jump``, and ``supports``: the units of each layer (input first) that the
    single top unit depends on, exactly (holes included)."""
    steps = chain_steps([(layer.kernel, layer.stride, layer.dilation) for layer in chain])
    supports = [[0]]
    for layer in reversed(chain):
        below = sorted({layer.stride * unit + layer.dilation * tap for unit in supports[0]
                        for tap in range(layer.kernel)})
        supports.insert(0, below)
    return {"layers": [dataclasses.astuple(layer) for layer in chain], "sizes": [s.size for s in steps],
            "jumps": [s.jump for s in steps], "size": steps[-1].size, "jump": steps[-1].jump, "supports": supports}


def chain_figure(chain: list[ChainLayer], state: dict) -> Figure:
    """Units of every layer (input at the bottom) at their field centres; the top unit's support lit."""
    sizes, jumps, supports, top = state["sizes"], state["jumps"], state["supports"], state["size"]
    figure = Figure(figsize=(9, 0.6 * len(sizes) + 1))
    axes = figure.add_subplot(1, 1, 1)
    for level, (size, jump, support) in enumerate(zip(sizes, jumps, supports, strict=True)):
        centres = (size - 1) / 2 + np.arange((top - size) // jump + 1) * jump
        lit = np.zeros(len(centres), dtype=bool)
        lit[support] = True
        if top <= MAX_DRAWN:
            axes.scatter(centres, np.full(len(centres), level), marker="s", s=max(6.0, 2500 / top),
                         c=np.where(lit, "tab:orange", "lightgray"), zorder=2)
            if level > 0:  # lines from every lit unit to the units of the layer below that it reads
                layer = chain[level - 1]
                below = (sizes[level - 1] - 1) / 2 + jumps[level - 1] * (
                    layer.stride * np.asarray(support)[:, None] + layer.dilation * np.arange(layer.kernel)[None, :])
                segments = [[(centres[unit], level), (x, level - 1)]
                            for unit, xs in zip(support, below, strict=True) for x in xs]
                axes.add_collection(LineCollection(segments, colors="tab:orange", linewidths=0.6, alpha=0.5))
        else:
            axes.scatter(centres[lit], np.full(int(lit.sum()), level), marker="|", s=30, c="tab:orange")
    axes.set_yticks(range(len(sizes)))
    axes.set_yticklabels(["input"] + [f"{i}: {layer.kind} (r={sizes[i]})" for i, layer in enumerate(chain, 1)])
    axes.set_xlabel("input pixel")
    axes.set_xlim(-1, top)
    axes.set_title(f"the top unit sees {top} input pixels", fontsize=10)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    return figure


class ChainExplorer(Explorer):
    """See :func:`chain_explorer`."""

    LIMITS = {"kernel": 11, "stride": 4, "dilation": 8, "layers": 10}

    def __init__(self, layers):
        self.chain = as_chain(layers, self.LIMITS)
        self.state: dict = {}
        self.last_png = b""
        self._busy = False
        self.layer = widgets.Dropdown(description="layer", options=self._options(), value=0)
        self.kind = widgets.Dropdown(description="kind", options=list(KINDS), value=self.chain[0].kind)
        first = self.chain[0]
        self.kernel = slider("kernel", first.kernel, 1, self.LIMITS["kernel"])
        self.stride = slider("stride", first.stride, 1, self.LIMITS["stride"])
        self.dilation = slider("dilation", first.dilation, 1, self.LIMITS["dilation"])
        self.add = widgets.Button(description="add a layer")
        self.remove = widgets.Button(description="remove this layer")
        self.text = widgets.HTML()
        self.text.add_class(CHAIN_TEXT_CLASS)
        self.view = widgets.Output()
        controls = widgets.HBox([widgets.VBox([self.layer, self.kind, widgets.HBox([self.add, self.remove])]),
                                 widgets.VBox([self.kernel, self.stride, self.dilation])])
        self._finish([controls, self.text, self.view], "segedu-chain-explorer")
        self.layer.observe(self._on_select, names="value")
        for control in (self.kind, self.kernel, self.stride, self.dilation):
            control.observe(self._on_edit, names="value")
        self.add.on_click(self._on_add)
        self.remove.on_click(self._on_remove)
        self._select(0)
        self.update()

    def _options(self) -> list[tuple[str, int]]:
        return [(f"{index + 1}: {layer}", index) for index, layer in enumerate(self.chain)]

    def _select(self, index: int) -> None:
        """Show layer ``index`` in the controls (no callbacks while they move)."""
        self._busy = True
        try:
            self.layer.options = self._options()
            self.layer.value = index
            layer = self.chain[index]
            self.kind.value, self.kernel.value = layer.kind, layer.kernel
            self.stride.value, self.dilation.value = layer.stride, layer.dilation
            self.remove.disabled = len(self.chain) == 1
            self.add.disabled = len(self.chain) == self.LIMITS["layers"]
        finally:
            self._busy = False

    def _on_select(self, change) -> None:
        if not self._busy:
            self._select(self.layer.value)

    def _on_edit(self, change) -> None:
        if self._busy:
            return
        index = self.layer.value
        self.chain[index] = ChainLayer(self.kind.value, self.kernel.value, self.stride.value, self.dilation.value)
        self._select(index)
        self.update()

    def _on_add(self, button=None) -> None:
        """Insert a copy of the selected layer after it, and select the copy."""
        if len(self.chain) < self.LIMITS["layers"]:
            index = self.layer.value + 1
            self.chain.insert(index, self.chain[index - 1])
            self._select(index)
            self.update()

    def _on_remove(self, button=None) -> None:
        if len(self.chain) > 1:
            self.chain.pop(self.layer.value)
            self._select(min(self.layer.value, len(self.chain) - 1))
            self.update()

    def update(self) -> None:
        """Recompute the arithmetic of the current chain and redraw."""
        self.state = {**chain_state(self.chain), "selected": self.layer.value}
        rows = "".join(
            f"<tr><td>{i}</td><td>{html.escape(str(layer))}</td><td>{jump}</td><td><b>{size}</b></td></tr>"
            for i, (layer, jump, size) in enumerate(zip(self.chain, self.state["jumps"][1:],
                                                        self.state["sizes"][1:], strict=True), 1))
        self.text.value = (
            "r<sub>l</sub> = r<sub>l-1</sub> + (k - 1) &middot; d &middot; j<sub>l-1</sub>, "
            "j<sub>l</sub> = j<sub>l-1</sub> &middot; s"
            "<table><tr><th>#</th><th>layer</th><th>jump after (px)</th><th>field after (px)</th></tr>"
            f"{rows}</table>one unit of the last layer sees <b>{self.state['size']}</b> input pixels; "
            f"neighbours are {self.state['jump']} px apart"
        )
        self._draw(chain_figure(self.chain, self.state))


def chain_explorer(layers=((3, 1), (3, 1), ("pool", 2, 2), (3, 1), (3, 1), ("pool", 2, 2))) -> ChainExplorer:
    """An explorer of the receptive field of any chain of convolutions and pooling layers.

    Args:
        layers: the chain, input side first, as a list of ``(kernel, stride)``,
            ``(kernel, stride, dilation)``, ``(kind, kernel, stride[, dilation])`` with kind
            ``"conv"`` or ``"pool"``, or dicts with those keys; or an ``nn.Sequential`` plain chain
            (its convolutions and pooling layers; activations and normalisations are skipped).
            Kernels 1 to 11, strides 1 to 4, dilations 1 to 8, 1 to 10 layers: anything else is an
            error, never clamped. Default: the first two blocks of VGG (two 3x3 convolutions and a
            2x2 pooling, twice).

    Returns:
        A :class:`ChainExplorer`: ``.layer`` (Dropdown: which layer the controls edit), ``.kind``,
        ``.kernel``, ``.stride``, ``.dilation``, buttons ``.add`` (a copy of the selected layer after
        it) and ``.remove``; ``.chain`` (the current layers); ``.state`` with ``layers`` (tuples
        ``(kind, kernel, stride, dilation)``), per-layer ``sizes`` and ``jumps`` (input first), ``size``
        and ``jump`` of the last layer, ``supports`` (the units the top unit depends on) and ``selected``.
    """
    return ChainExplorer(layers)


class ArithmeticExplorer(Explorer):
    """See :func:`rf_arithmetic_explorer`."""

    LIMITS = {"kernel": 7, "stride": 3, "dilation": 3, "depth": 6}

    def __init__(self, kernel=3, stride=1, dilation=1, depth=3):
        self.kernel = slider("kernel", kernel, 1, self.LIMITS["kernel"])
        self.stride = slider("stride", stride, 1, self.LIMITS["stride"])
        self.dilation = slider("dilation", dilation, 1, self.LIMITS["dilation"])
        self.depth = slider("depth", depth, 1, self.LIMITS["depth"])
        self.text = widgets.HTML()
        self.text.add_class(ARITHMETIC_TEXT_CLASS)
        self.view = widgets.Output()
        controls = widgets.HBox([widgets.VBox([self.kernel, self.stride]), widgets.VBox([self.dilation, self.depth])])
        self._finish([controls, self.text, self.view], "segedu-arithmetic-explorer")
        self.state: dict = {}
        self.last_png = b""
        for control in (self.kernel, self.stride, self.dilation, self.depth):
            control.observe(lambda change: self.update(), names="value")
        self.update()

    def update(self) -> None:
        """Recompute the arithmetic for the current sliders and redraw."""
        layer = ChainLayer("conv", self.kernel.value, self.stride.value, self.dilation.value)
        chain = [layer] * self.depth.value
        self.state = chain_state(chain)
        sizes = " &rarr; ".join(str(size) for size in self.state["sizes"])
        self.text.value = (
            f"r<sub>l</sub> = r<sub>l-1</sub> + (k - 1) &middot; d &middot; j<sub>l-1</sub>, "
            f"j<sub>l</sub> = j<sub>l-1</sub> &middot; s: sizes {sizes}; after {self.depth.value} layer(s) one unit "
            f"sees <b>{self.state['size']}</b> input pixels, neighbours are {self.state['jump']} px apart"
        )
        self._draw(chain_figure(chain, self.state))


def rf_arithmetic_explorer(kernel=3, stride=1, dilation=1, depth=3) -> ArithmeticExplorer:
    """Sliders for kernel (1-7), stride (1-3), dilation (1-3) and depth (1-6) of a stack of identical layers.

    The special case of :func:`chain_explorer` where one layer is repeated. Values outside those
    ranges, or not whole numbers, are an error (never clamped or rounded).

    Returns:
        An :class:`ArithmeticExplorer` with sliders ``.kernel``, ``.stride``, ``.dilation``,
        ``.depth``, the ``.widget`` to display, and ``.state``: ``size`` and ``jump`` of the
        top unit, per-layer ``sizes`` and ``jumps`` (input first), and ``supports``, the
        units of each layer the top unit depends on (the orange squares of the picture).
    """
    return ArithmeticExplorer(kernel, stride, dilation, depth)
