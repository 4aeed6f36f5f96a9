"""A per-layer table of output sizes, strides and receptive fields, like the Distill article's."""

from __future__ import annotations

import html

import torch
from torch import nn

from .analytic import WindowPooling, positive_copy
from .arithmetic import NORM_TYPES, POINTWISE_TYPES, chain_layers, chain_steps
from .capture import as_feature_map, centre_of, check_input_size, trace

__all__ = ["LayerTable", "layer_table", "listed_layers", "INTERESTING_TYPES"]

# Layers that change what one position sees or where it is: they get a row of their own.
INTERESTING_TYPES = (
    nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d,
    nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d,
    nn.Upsample, nn.UpsamplingBilinear2d, nn.UpsamplingNearest2d, nn.PixelShuffle, nn.Linear,
)

COLUMNS = ("index", "name", "type", "kernel", "layer_stride", "channels", "output_size", "stride",
           "rf_size", "rf_box", "theoretical_rf")


def _number(value: float):
    """An int when the value is whole, else the value rounded to 2 decimals."""
    return int(round(value)) if abs(value - round(value)) < 1e-9 else round(value, 2)


def _pair_text(pair) -> str:
    if pair is None:
        return ""
    if isinstance(pair, (int, float)):
        return str(pair)
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]} x {pair[1]}"


class LayerTable:
    """Rows of :func:`layer_table`, shown as a table in a notebook and as aligned text elsewhere.

    Attributes:
        input_size: ``(channels, height, width)`` the table was computed for.
        rows: list of dicts with keys ``index`` (execution order), ``name`` (as in
            ``model.named_modules()``, ``"(output)"`` for a final output computed in
            ``forward``), ``type``, ``kernel`` and ``layer_stride`` (the layer's own, or
            None), ``channels``, ``output_size`` ``(h, w)``, ``stride`` (cumulative: input
            pixels per output pixel, ``(rows, cols)``), ``rf_size`` ``(h, w)`` and ``rf_box``
            at the centre position of that layer's output (clipped to the image), and
            ``theoretical_rf`` (unclipped size, plain chains only, else None).
    """

    def __init__(self, input_size: tuple[int, int, int], rows: list[dict]):
        self.input_size = input_size
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> dict:
        """The row of the layer called ``name``."""
        for row in self.rows:
            if row["name"] == name:
                return row
        raise KeyError(f"no row for layer {name!r}; rows: {[row['name'] for row in self.rows]}")

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        header = ["#", "layer", "type", "kernel", "stride", "output", "total stride", "receptive field"]
        if any(row["theoretical_rf"] is not None for row in self.rows):
            header.append("theoretical")
        body = []
        for row in self.rows:
            cells = [
                str(row["index"]),
                row["name"],
                row["type"],
                _pair_text(row["kernel"]),
                _pair_text(row["layer_stride"]),
                f"{row['channels']} x {row['output_size'][0]} x {row['output_size'][1]}",
                _pair_text(row["stride"]),
                f"{row['rf_size'][0]} x {row['rf_size'][1]}",
            ]
            if len(header) > len(cells):
                cells.append(_pair_text(row["theoretical_rf"]))
            body.append(cells)
        return header, body

    def __repr__(self) -> str:
        header, body = self._cells()
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                 for line in [header, *body]]
        channels, height, width = self.input_size
        return f"receptive fields for a {channels} x {height} x {width} input\n" + "\n".join(lines)

    def _repr_html_(self) -> str:
        header, body = self._cells()
        channels, height, width = self.input_size
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in line) + "</tr>" for line in body
        )
        return (
            f'<table class="segedu-layer-table"><caption>receptive fields at the centre of each layer, '
            f"for a {channels} x {height} x {width} input</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )


def _is_listed(name: str, module: nn.Module) -> bool:
    if isinstance(module, POINTWISE_TYPES + NORM_TYPES):
        return False
    return isinstance(module, INTERESTING_TYPES) or "." not in name


def _geometry(module: nn.Module):
    kernel = getattr(module, "kernel_size", None)
    stride = getattr(module, "stride", None)
    if kernel is None:
        return None, None
    kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
    stride = kernel if stride in (None, ()) else stride
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    return kernel, stride


def _trace_probe(model: nn.Module, x: torch.Tensor):
    """Trace the positive copy of ``model`` on ``x``, naming the original modules (not the copy's identities)."""
    with torch.set_grad_enabled(x.requires_grad), WindowPooling():  # works inside a caller's no_grad too
        traced, output = trace(positive_copy(model), x)
    originals = dict(model.named_modules())
    return [(name, originals[name], tensor) for name, _, tensor in traced], output


def listed_layers(model: nn.Module, input_size=(3, 64, 64)) -> list[str]:
    """Names of the layers :func:`layer_table` lists, in execution order, without computing fields."""
    with torch.no_grad():
        traced, _ = _trace_probe(model, torch.ones((1, *check_input_size(input_size)), dtype=torch.float64))
    return [name for name, module, tensor in traced if _is_listed(name, module) and tensor.dim() in (2, 4)]


def layer_table(model: nn.Module, input_size=(3, 64, 64), layers=None) -> LayerTable:
    """Output size, cumulative stride and receptive field of every interesting layer of ``model``.

    Rows follow execution order (a block's row comes after the layers inside it). Listed:
    convolutions, pooling, upsampling and linear layers, every top-level child of the
    model, and the model's output when ``forward`` changes it after the last listed layer.
    Receptive fields are exact (gradient method of :mod:`segedu.receptive.analytic`, one
    forward pass and one backward pass per row), at the centre of each layer's output.

    Args:
        model: any ``nn.Module`` (not modified).
        input_size: ``(channels, height, width)``.
        layers: optional list of layer names to keep (default: as described above).

    Returns:
        A :class:`LayerTable` (``rows``, ``table[name]``, a table in a notebook).
    """
    input_size = check_input_size(input_size)
    x = torch.ones((1, *input_size), dtype=torch.float64, requires_grad=True)
    traced, output = _trace_probe(model, x)
    if layers is not None:
        unknown = set(layers) - {name for name, _, _ in traced}
        if unknown:
            raise ValueError(f"no layer(s) {sorted(unknown)} ran in the model; see model.named_modules()")
        traced = [entry for entry in traced if entry[0] in set(layers)]
    else:
        traced = [entry for entry in traced if _is_listed(entry[0], entry[1]) and entry[2].dim() in (2, 4)]
        if not traced or not torch.equal(as_feature_map(traced[-1][2]), output):
            traced.append(("(output)", None, output))
    rows = []
    for index, (name, module, tensor) in enumerate(traced):
        with torch.enable_grad():
            feature_map = as_feature_map(tensor, where=f"the output of layer {name!r}")
            out_h, out_w = feature_map.shape[-2:]
            row, col = centre_of((out_h, out_w))
            (gradient,) = torch.autograd.grad(feature_map[0, :, row, col].sum(), x, retain_graph=True)
        mask = (gradient[0] > 0).any(dim=0)
        hits_r, hits_c = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
        box = (int(hits_r[0]), int(hits_c[0]), int(hits_r[-1]), int(hits_c[-1])) if len(hits_r) else None
        kernel, layer_stride = _geometry(module) if module is not None else (None, None)
        stride = (_number(input_size[1] / out_h), _number(input_size[2] / out_w))
        theoretical = None
        chain = chain_layers(model, upto=name) if module is not None else chain_layers(model)
        if chain:
            steps = [chain_steps([layer[1 + axis] for layer in chain])[-1] for axis in (0, 1)]
            theoretical = (steps[0].size, steps[1].size)
            stride = (steps[0].jump, steps[1].jump)
        rows.append(
            {
                "index": index,
                "name": name,
                "type": "output" if module is None else type(module).__name__,
                "kernel": kernel,
                "layer_stride": layer_stride,
                "channels": int(feature_map.shape[1]),
                "output_size": (int(out_h), int(out_w)),
                "stride": stride,
                "rf_size": (0, 0) if box is None else (box[2] - box[0] + 1, box[3] - box[1] + 1),
                "rf_box": box,
                "theoretical_rf": theoretical,
            }
        )
    return LayerTable(input_size, rows)
