"""Upsampling by a transposed convolution, or by resizing then convolving: where checkerboards come from.

A transposed convolution with stride ``s`` pastes a copy of its ``k x k`` kernel for every input
pixel, ``s`` pixels apart, and sums where copies overlap. Along one axis its output has

    out = (in - 1) * stride - 2 * padding + kernel + output_padding

pixels. When ``kernel`` is not a multiple of ``stride`` the copies overlap unevenly: with kernel 3
and stride 2 the interior pixels receive 4, 2, 2 and 1 contributions in a repeating 2 x 2 block
(Odena et al., "Deconvolution and Checkerboard Artifacts", Distill 2016). The explorer shows

* the overlap count of every output pixel (a transposed convolution with all weights 1 on an
  all-ones input, like :func:`segedu.models.checkerboard_demo`), its interior framed;
* the output size, with the formula;
* the output on a flat (all-ones) input of a bilinear kernel (FCN's, for kernel ``2s`` or
  ``2s - 1``) or of a trained kernel: does the interior come out flat, or as a checkerboard?

"Resize, then convolve" (nearest-neighbour resizing by ``stride``, then a ``k x k`` averaging
convolution with ``padding``) has no uneven overlap: its interior is always flat.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import Explorer, Mosaic, check_int, clear, show, slider

__all__ = ["UpsamplingExplorer", "upsampling_explorer", "bilinear_taps", "problem", "UPSAMPLING_TEXT_CLASS"]

UPSAMPLING_TEXT_CLASS = "segedu-upsampling-text"
MODES = {"transposed": "transposed convolution", "resize": "resize, then convolve"}
LIMITS = {"kernel": (1, 8), "stride": (1, 4), "padding": (0, 4), "output_padding": (0, 3), "size": (2, 12)}
ANNOTATED = 20  # count maps up to this side get their numbers written in


def bilinear_taps(kernel: int) -> torch.Tensor:
    """The 1-D bilinear (triangle) kernel of FCN's ``upsample_filt`` for ``kernel`` taps.

    It interpolates by ``factor = (kernel + 1) // 2``: ``[0.25, 0.75, 0.75, 0.25]`` for kernel 4 (the
    factor-2 kernel of :func:`segedu.models.bilinear_kernel`), ``[0.5, 1, 0.5]`` for kernel 3.
    """
    factor = (kernel + 1) // 2
    centre = factor - 1 if kernel % 2 == 1 else factor - 0.5
    return 1 - (torch.arange(kernel, dtype=torch.float64) - centre).abs() / factor


def output_size(mode: str, size: int, kernel: int, stride: int, padding: int, output_padding: int) -> int:
    """Side of the output for a ``size``-pixel input (may be <= 0 for impossible settings)."""
    if mode == "transposed":
        return (size - 1) * stride - 2 * padding + kernel + output_padding
    return size * stride + 2 * padding - kernel + 1


def problem(mode: str, size: int, kernel: int, stride: int, padding: int, output_padding: int) -> str | None:
    """Why these settings cannot upsample (a sentence naming the fix), or None when they can."""
    if mode == "resize" and output_padding:
        return "output_padding belongs to transposed convolutions; resize-then-convolve has none: set it to 0"
    if mode == "transposed" and output_padding >= stride:
        return (f"output_padding ({output_padding}) must be smaller than the stride ({stride}): it adds rows at "
                f"the end that only a larger stride leaves room for; use output_padding 0 to {stride - 1}")
    out = output_size(mode, size, kernel, stride, padding, output_padding)
    if out < 1:
        if mode == "transposed":
            formula = f"({size} - 1) x {stride} - 2 x {padding} + {kernel} + {output_padding} = {out}"
        else:
            formula = f"{size} x {stride} + 2 x {padding} - {kernel} + 1 = {out}"
        return f"padding {padding} leaves no output ({formula}): use a smaller padding or a larger kernel"
    return None


def _interior(mode: str, size: int, kernel: int, stride: int, padding: int, out: int) -> tuple[int, int]:
    """First and last output index (one axis) whose value does not depend on where the input ends."""
    if mode == "transposed":  # every kernel tap lands on an input pixel: o + padding in [k - 1, (size - 1) * s]
        first, last = kernel - 1 - padding, (size - 1) * stride - padding
    else:  # the k taps all fall inside the resized map
        first, last = padding, size * stride - kernel + padding
    return max(first, 0), min(last, out - 1)


def _trained_layer(trained) -> nn.ConvTranspose2d | torch.Tensor:
    """The one ``nn.ConvTranspose2d`` in ``trained`` (itself, or inside a module), or a 4-D weight tensor."""
    if isinstance(trained, torch.Tensor):
        if trained.dim() != 4 or trained.shape[-1] != trained.shape[-2]:
            raise ValueError(f"a trained kernel tensor must be in_channels x out_channels x k x k, got shape "
                             f"{tuple(trained.shape)}")
        return trained.detach()
    if not isinstance(trained, nn.Module):
        raise ValueError(f"trained must be an nn.ConvTranspose2d (or a module holding one) or its weight tensor, "
                         f"got {type(trained).__name__}")
    found = [(name, m) for name, m in trained.named_modules() if isinstance(m, nn.ConvTranspose2d)]
    if len(found) != 1:
        names = [name or "(the module itself)" for name, _ in found]
        raise ValueError(f"trained must hold exactly one nn.ConvTranspose2d, found {len(found)} {names}: pass the "
                         f"layer itself, e.g. model.decoder[0].layers[0]")
    layer = found[0][1]
    if layer.kernel_size[0] != layer.kernel_size[1] or layer.groups != 1 or tuple(layer.dilation) != (1, 1):
        raise ValueError(f"the trained layer must have a square kernel, groups=1 and dilation 1; got kernel "
                         f"{tuple(layer.kernel_size)}, groups {layer.groups}, dilation {tuple(layer.dilation)}")
    return layer


class UpsamplingExplorer(Explorer):
    """See :func:`upsampling_explorer`."""

    def __init__(self, mode="transposed", kernel=None, stride=None, padding=None, output_padding=None, size=5,
                 trained=None, weights=None, channel=None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        self.trained, self.bias = None, None
        defaults = {"kernel": 4, "stride": 2, "padding": 1, "output_padding": 0}
        if trained is not None:
            layer = _trained_layer(trained)
            if isinstance(layer, nn.ConvTranspose2d):
                self.trained = layer.weight.detach().double().cpu()
                self.bias = None if layer.bias is None else layer.bias.detach().double().cpu()
                defaults = {"kernel": layer.kernel_size[0], "stride": layer.stride[0], "padding": layer.padding[0],
                            "output_padding": layer.output_padding[0]}
            else:
                self.trained = layer.double().cpu()
                defaults["kernel"] = layer.shape[-1]
        weights = weights or ("trained" if trained is not None else "bilinear")
        choices = ["bilinear", "trained"] if trained is not None else ["bilinear"]
        if weights not in choices:
            raise ValueError(f"weights must be one of {choices} (give trained= for 'trained'), got {weights!r}")
        settings = {**defaults, "size": size}
        given = {"kernel": kernel, "stride": stride, "padding": padding, "output_padding": output_padding}
        settings.update({name: value for name, value in given.items() if value is not None})
        values = {name: check_int(value, name, *LIMITS[name]) for name, value in settings.items()}
        if weights == "trained" and values["kernel"] != self.trained.shape[-1]:
            raise ValueError(f"the trained kernel is {self.trained.shape[-1]} x {self.trained.shape[-1]}; kernel "
                             f"{values['kernel']} needs weights='bilinear'")
        reason = problem(mode, values["size"], values["kernel"], values["stride"], values["padding"],
                         values["output_padding"])
        if reason:
            raise ValueError(reason)
        channels = 1 if self.trained is None else self.trained.shape[1]
        if channel is not None:
            check_int(channel, "channel", 0, channels - 1)
        self._busy = False
        self.state: dict = {}
        self.last_png = b""
        self.mode = widgets.Dropdown(description="upsampling", options=[(label, key) for key, label in MODES.items()],
                                     value=mode)
        self.weights = widgets.Dropdown(description="weights", options=choices, value=weights)
        self.kernel = slider("kernel", values["kernel"], *LIMITS["kernel"])
        self.stride = slider("stride", values["stride"], *LIMITS["stride"])
        self.padding = slider("padding", values["padding"], *LIMITS["padding"])
        self.output_padding = slider("output pad", values["output_padding"], *LIMITS["output_padding"])
        self.size = slider("input side", values["size"], *LIMITS["size"])
        self.channel = slider("channel", 0 if channel is None else channel, 0, max(channels - 1, 1),
                              disabled=channels == 1)
        self._strongest_channel = channel is None and channels > 1
        self.text = widgets.HTML()
        self.text.add_class(UPSAMPLING_TEXT_CLASS)
        self.view = widgets.Output()
        controls = widgets.HBox([widgets.VBox([self.mode, self.weights, self.size]),
                                 widgets.VBox([self.kernel, self.stride, self.padding]),
                                 widgets.VBox([self.output_padding, self.channel])])
        self._finish([controls, self.text, self.view], "segedu-upsampling-explorer")
        for control in (self.mode, self.weights, self.kernel, self.stride, self.padding, self.output_padding,
                        self.size, self.channel):
            control.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, change) -> None:
        if self._busy:
            return
        if change["owner"] is self.channel:
            self._strongest_channel = False  # the learner chose one
        self.update()

    def _sync_controls(self) -> None:
        """Enable what applies: the kernel is the trained one's, output padding only for transposed convolutions."""
        self._busy = True
        try:
            transposed, trained = self.mode.value == "transposed", self.weights.value == "trained"
            self.weights.disabled = not transposed
            self.output_padding.disabled = not transposed
            self.kernel.disabled = transposed and trained
            if transposed and trained:
                self.kernel.value = self.trained.shape[-1]  # the weights fix the kernel size
            self.channel.disabled = not (transposed and trained) or self.trained.shape[1] == 1
        finally:
            self._busy = False

    # -- computations ---------------------------------------------------------------------
    def _maps(self, mode, n, k, s, p, op) -> tuple[torch.Tensor, torch.Tensor | None, str]:
        """``(overlap counts, output on a flat input or None, what the second map is)``, each ``out x out``."""
        ones = torch.ones(1, 1, n, n, dtype=torch.float64)
        if mode == "resize":
            resized = F.interpolate(ones, scale_factor=s, mode="nearest")
            counts = F.conv2d(resized, torch.ones(1, 1, k, k, dtype=torch.float64), padding=p)[0, 0]
            return counts, counts / (k * k), f"nearest resize x{s}, then a {k} x {k} average"
        counts = F.conv_transpose2d(ones, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, padding=p,
                                    output_padding=op)[0, 0]
        if self.weights.value == "trained":
            flat = torch.ones(1, self.trained.shape[0], n, n, dtype=torch.float64)
            maps = F.conv_transpose2d(flat, self.trained, self.bias, stride=s, padding=p, output_padding=op)[0]
            if self._strongest_channel:  # start on the channel with the most uneven interior
                first, last = _interior(mode, n, k, s, p, counts.shape[-1])
                inside = maps[:, first : last + 1, first : last + 1].flatten(1)
                spread = inside.max(dim=1).values - inside.min(dim=1).values if inside.numel() else maps[:, 0, 0]
                self._busy = True
                self.channel.value = int(spread.argmax())
                self._busy = False
            channel = self.channel.value
            return counts, maps[channel], f"trained kernel, output channel {channel}"
        if (k + 1) // 2 != s:
            return counts, None, (f"no bilinear kernel for kernel {k} at stride {s}: bilinear upsampling by {s} "
                                  f"has kernel {2 * s} (or {2 * s - 1})")
        taps = bilinear_taps(k)
        weight = (taps[:, None] * taps[None, :])[None, None]
        return counts, F.conv_transpose2d(ones, weight, stride=s, padding=p, output_padding=op)[0, 0], \
            f"bilinear kernel ({k} taps)"

    def update(self) -> None:
        """Recompute the maps for the current controls and redraw (or say why nothing can be drawn)."""
        self._sync_controls()
        mode, n, k = self.mode.value, self.size.value, self.kernel.value
        s, p, op = self.stride.value, self.padding.value, self.output_padding.value
        self.state = {"mode": mode, "size": n, "kernel": k, "stride": s, "padding": p, "output_padding": op,
                      "weights": self.weights.value if mode == "transposed" else "average", "channel": None}
        reason = problem(mode, n, k, s, p, op)
        if reason:
            self.state.update(error=reason, output_size=None, counts=None, pattern=None, checkerboard=None,
                              output_range=None, flat=None)
            self.text.value = f"<b>cannot upsample:</b> {html.escape(reason)}"
            self.last_png = clear(self.view)
            return
        counts, output, label = self._maps(mode, n, k, s, p, op)
        if self.state["weights"] == "trained":
            self.state["channel"] = self.channel.value
        out = counts.shape[-1]
        first, last = _interior(mode, n, k, s, p, out)
        inside = counts[first : last + 1, first : last + 1]
        if inside.numel() == 0:
            inside, first, last = counts, 0, out - 1  # a tiny input has no interior: use every pixel
        period = s if mode == "transposed" else 1
        self.state.update(
            error=None, output_size=out, interior=(first, last), weights_label=label,
            counts=sorted({int(v) for v in inside.flatten().tolist()}),
            pattern=[[int(v) for v in row] for row in inside[:period, :period].tolist()],
        )
        self.state["checkerboard"] = len(self.state["counts"]) > 1
        if output is None:
            self.state.update(output_range=None, flat=None)
        else:
            values = output[first : last + 1, first : last + 1]
            low, high = float(values.min()), float(values.max())
            self.state.update(output_range=(low, high), flat=high - low <= 1e-6 * max(abs(high), abs(low), 1.0))
        self.text.value = self._describe()
        self.last_png = show(self.view, self._picture(counts, output))

    def _describe(self) -> str:
        s = self.state
        n, k, st, p, op, out = (s[key] for key in ("size", "kernel", "stride", "padding", "output_padding",
                                                   "output_size"))
        if s["mode"] == "transposed":
            size = f"output side ({n} - 1) &middot; {st} - 2 &middot; {p} + {k} + {op} = <b>{out}</b>"
        else:
            size = (f"resized side {n} &middot; {st} = {n * st}, then output side {n * st} + 2 &middot; {p} - {k} "
                    f"+ 1 = <b>{out}</b>")
        counts = "/".join(str(c) for c in sorted(sum(s["pattern"], []), reverse=True))
        overlap = (f"interior overlap counts {counts} repeat every {st} px: <b>uneven, a checkerboard</b>"
                   if s["checkerboard"] else f"every interior pixel gets {s['counts'][0]} contributions: even")
        if s["output_range"] is None:
            result = html.escape(s["weights_label"])
        else:
            low, high = s["output_range"]
            result = f"{html.escape(s['weights_label'])} on a flat input: interior " + (
                f"flat ({low:.3g})" if s["flat"] else f"from {low:.3g} to {high:.3g}: <b>a checkerboard</b>")
        return f"{size}; {overlap}.<br>{result}"

    def _picture(self, counts: torch.Tensor, output: torch.Tensor | None) -> bytes:
        """The overlap counts (numbers written in when the map is small) and the flat-input output, in grey."""
        out = counts.shape[-1]
        first, last = self.state["interior"]
        interior = (first, first, last, last)
        mosaic = Mosaic(1, 2, out, out, title_lines=1, panel_pixels=260)
        mosaic.put(0, 0, _grey(counts), f"overlap count per output pixel ({out} x {out})")
        if out <= ANNOTATED:
            light = counts > 0.6 * float(counts.max())
            for (row, col), value in np.ndenumerate(counts.numpy()):
                mosaic.label(0, 0, row, col, f"{value:.0f}", "black" if light[row, col] else "white")
        mosaic.box(0, 0, interior, colour="orange")
        if output is None:
            mosaic.put(0, 1, np.full((out, out, 3), 255, dtype=np.uint8), "no such kernel: see the text")
        else:
            mosaic.put(0, 1, _grey(output), f"output on a flat input ({out} x {out})")
            mosaic.box(0, 1, interior, colour="orange")
        return mosaic.png()


def _grey(values: torch.Tensor) -> np.ndarray:
    """``h x w`` values -> ``h x w x 3`` uint8 grey, black at the minimum and white at the maximum (grey if flat)."""
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high - low > 1e-9 * max(abs(high), 1.0) else torch.full_like(values, 0.5)
    return (scaled * 255).round().to(torch.uint8).numpy()[..., None].repeat(3, axis=2)


def upsampling_explorer(mode="transposed", kernel=None, stride=None, padding=None, output_padding=None, size=5,
                        trained=None, weights=None, channel=None) -> UpsamplingExplorer:
    """An explorer of upsampling layers on a flat input: overlap counts, output size, checkerboards.

    Args:
        mode: ``"transposed"`` (a transposed convolution) or ``"resize"`` (nearest-neighbour resizing
            by ``stride``, then a ``kernel x kernel`` averaging convolution with ``padding``).
        kernel, stride, padding, output_padding: the layer's settings (1-8, 1-4, 0-4, 0-3); default
            those of ``trained``, or kernel 4, stride 2, padding 1, output_padding 0 (FCN's 2x).
            ``output_padding`` must be smaller than ``stride`` and the output must not be empty.
        size: side of the flat input, 2 to 12 pixels.
        trained: optional trained upsampling layer: an ``nn.ConvTranspose2d``, a module holding
            exactly one (e.g. a decoder step ``Upsample2x``), or its ``in x out x k x k`` weight.
        weights: ``"bilinear"`` or ``"trained"`` (default: trained when given).
        channel: which output channel of the trained layer to show (default: the most uneven).

    Values outside the ranges, or impossible combinations, raise a ``ValueError`` saying why; the
    sliders can reach impossible combinations too, and then the text says why nothing is drawn.

    Returns:
        An :class:`UpsamplingExplorer`: controls ``.mode``, ``.weights`` (Dropdowns), ``.kernel``,
        ``.stride``, ``.padding``, ``.output_padding``, ``.size``, ``.channel`` (IntSliders);
        ``.state`` with ``output_size``, ``counts`` (distinct interior overlap counts), ``pattern``
        (one stride x stride block of them), ``checkerboard``, ``output_range`` and ``flat`` (of the
        weighted output's interior), ``interior`` (first and last interior index) and ``error``.
    """
    return UpsamplingExplorer(mode, kernel, stride, padding, output_padding, size, trained, weights, channel)
