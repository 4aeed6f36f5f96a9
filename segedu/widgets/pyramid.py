"""Pyramid pooling (PSPNet): which part of the scene each pooled cell summarises, and what it changes.

The pyramid pooling module averages the backbone's ``h x w`` feature map over ``bin x bin`` cells
(adaptive pooling: cell ``i`` of ``b`` spans positions ``floor(i h / b)`` to ``ceil((i + 1) h / b) - 1``,
so neighbouring cells overlap when ``b`` does not divide ``h``). Pick a scene and a bin size to see

* the chosen level's cells drawn over the image and over the predictions (each feature position
  mapped to the ``stride x stride`` pixels it sits over; its receptive field reaches further);
* one small map per level: every cell painted with the average colour of the pixels it covers,
  what that level of the pyramid can tell about the scene (the module averages features, not
  colours, but over exactly these cells);
* the predictions of the models with and without the module, with their pixel accuracy.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from segedu.metrics import IGNORE_INDEX

from .common import (
    Explorer,
    Mosaic,
    check_class_names,
    check_image,
    check_int,
    check_mask,
    check_palette,
    default_colours,
    legend,
    painted,
    picture,
    predict,
    show,
)

__all__ = ["PyramidExplorer", "pyramid_explorer", "adaptive_cells", "PYRAMID_TEXT_CLASS"]

PYRAMID_TEXT_CLASS = "segedu-pyramid-text"
MAX_MODELS = 4
MAX_BIN = 16


def adaptive_cells(size: int, bins: int) -> list[tuple[int, int]]:
    """``(first, last)`` inclusive indices of the ``bins`` cells of adaptive pooling over ``size`` positions."""
    return [(i * size // bins, -(-(i + 1) * size // bins) - 1) for i in range(bins)]


def _scene_list(scenes):
    """``(get(i) -> (image, mask or None), count)`` for a dataset, a list, a dict batch or an image tensor."""
    if isinstance(scenes, dict):
        if "image" not in scenes:
            raise ValueError(f"a dict of scenes needs an 'image' entry (N x C x H x W), got keys {sorted(scenes)}")
        images, masks = scenes["image"], scenes.get("mask")
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            raise ValueError("scenes['image'] must be an N x C x H x W tensor")
        if masks is not None and len(masks) != len(images):
            raise ValueError(f"scenes has {len(images)} images but {len(masks)} masks")
        return (lambda i: (images[i], None if masks is None else masks[i])), len(images)
    if isinstance(scenes, torch.Tensor):
        if scenes.dim() == 3:
            scenes = scenes[None]
        if scenes.dim() != 4:
            raise ValueError(f"a tensor of scenes must be N x C x H x W, got shape {tuple(scenes.shape)}")
        return (lambda i: (scenes[i], None)), len(scenes)
    if not hasattr(scenes, "__getitem__") or not hasattr(scenes, "__len__"):
        raise ValueError(f"scenes must be a dataset of (image, mask) pairs, a dict with 'image' (and 'mask') "
                         f"batches, or an N x C x H x W tensor; got {type(scenes).__name__}")

    def get(i):
        item = scenes[i]
        return (item[0], item[1]) if isinstance(item, (tuple, list)) else (item, None)

    return get, len(scenes)


def _predict_and_grid(model: nn.Module, image: torch.Tensor):
    """``(H x W predicted classes, number of classes, grid)``: ``grid`` is ``(h, w, stride)`` of the map the
    model's pyramid pooling module pools (caught on its way in), or None for a model without one."""
    module = getattr(model, "ppm", None)
    if not isinstance(module, nn.Module) or not getattr(model, "use_ppm", True):
        return (*predict(model, image), None)
    seen = []
    handle = module.register_forward_pre_hook(lambda m, inputs: seen.append(tuple(inputs[0].shape[-2:])))
    try:
        labels, count = predict(model, image)
    finally:
        handle.remove()
    height, width = seen[0]
    return labels, count, (height, width, getattr(model, "output_stride", image.shape[-1] / width))


class PyramidExplorer(Explorer):
    """See :func:`pyramid_explorer`."""

    def __init__(self, scenes, models, bins=(1, 2, 3, 6), class_names=None, palette=None, scene=0, bin=None):
        self._get, self.count = _scene_list(scenes)
        if self.count < 1:
            raise ValueError("scenes is empty: pass at least one scene")
        if not isinstance(models, dict) or not 1 <= len(models) <= MAX_MODELS:
            raise ValueError(f"models must be a dict of 1 to {MAX_MODELS} name -> nn.Module, e.g. "
                             f"{{'no PPM': baseline, 'PSPNet': pspnet}}")
        bad = [name for name, model in models.items() if not isinstance(model, nn.Module)]
        if bad:
            raise ValueError(f"models[{bad[0]!r}] is not an nn.Module")
        if isinstance(bins, int) or not bins:
            raise ValueError(f"bins must be a non-empty tuple of bin sizes such as (1, 2, 3, 6), got {bins!r}")
        self.bins = tuple(check_int(b, "every bin", 1, MAX_BIN) for b in bins)
        self.models = dict(models)
        class_names = getattr(scenes, "classes", None) if class_names is None else class_names
        palette = getattr(scenes, "palette", None) if palette is None else palette
        self._cache: dict[int, dict] = {}
        scene = check_int(scene, "scene", 0, self.count - 1)
        bin = self.bins[len(self.bins) // 2] if bin is None else bin
        if bin not in self.bins:
            raise ValueError(f"bin must be one of bins {self.bins}, got {bin!r}")
        self.classes = self._scene(scene)["classes"]  # the first scene shown is checked here, not in a callback
        why = "the models predict" if len(models) > 1 else "the model predicts"
        self.class_names = None if class_names is None else check_class_names(class_names, self.classes, why)
        self.colours = default_colours(self.classes) if palette is None else check_palette(palette, self.classes, why)
        self.state: dict = {}
        self.last_png = b""
        self.scene = widgets.IntSlider(description="scene", min=0, max=max(self.count - 1, 1), value=scene,
                                       continuous_update=False, disabled=self.count == 1)
        self.bin = widgets.Dropdown(description="bin", options=list(self.bins), value=bin)
        self.text = widgets.HTML()
        self.text.add_class(PYRAMID_TEXT_CLASS)
        self.view = widgets.Output()
        self._finish([widgets.HBox([self.scene, self.bin]), self.text, self.view], "segedu-pyramid-explorer")
        self.scene.observe(lambda change: self.update(), names="value")
        self.bin.observe(lambda change: self.update(), names="value")
        self.update()

    def _scene(self, index: int) -> dict:
        """Image, mask, predictions, pooling geometry and level averages of scene ``index`` (computed once)."""
        if index not in self._cache:
            image, mask = self._get(index)
            image = check_image(image, f"scene {index}'s image")
            height, width = image.shape[-2:]
            predictions, classes, grids = {}, 0, []
            for name, model in self.models.items():
                predictions[name], count, grid = _predict_and_grid(model, image)
                if tuple(predictions[name].shape) != (height, width):
                    raise ValueError(f"model {name!r} predicts a {tuple(predictions[name].shape)} map for a "
                                     f"{height} x {width} image; it must predict every pixel")
                classes = max(classes, count)
                grids.append(grid)
            mask = None if mask is None else check_mask(mask, (height, width), classes, f"scene {index}'s mask")
            geometry = next(filter(None, grids), None)
            if geometry is None:  # no pyramid pooling module: cells over the model's coarsest grid
                stride = getattr(next(iter(self.models.values())), "output_stride", 1)
                geometry = (-(-height // stride), -(-width // stride), stride)
            cells = {b: self._cells(geometry, b, height, width) for b in self.bins}
            self._cache[index] = {"image": image, "mask": mask, "predictions": predictions, "classes": classes,
                                  "geometry": geometry, "cells": cells,
                                  "averages": {b: self._averages(image, cells[b]) for b in self.bins}}
        return self._cache[index]

    @staticmethod
    def _cells(geometry, bins: int, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """Image boxes ``(top, left, bottom, right)`` of the ``bins x bins`` cells, row by row, clipped to the image."""
        rows, cols, stride = geometry
        boxes = []
        for first_row, last_row in adaptive_cells(rows, bins):
            for first_col, last_col in adaptive_cells(cols, bins):
                top, left = int(first_row * stride), int(first_col * stride)
                bottom = min(int((last_row + 1) * stride) - 1, height - 1)
                right = min(int((last_col + 1) * stride) - 1, width - 1)
                boxes.append((min(top, height - 1), min(left, width - 1), bottom, right))
        return boxes

    @staticmethod
    def _averages(image: torch.Tensor, cells) -> list[list[float]]:
        """Mean colour (0-1, first three channels) of the pixels each cell covers."""
        rgb = picture(image).astype(float) / 255
        return [rgb[top : bottom + 1, left : right + 1].reshape(-1, 3).mean(axis=0).tolist()
                for top, left, bottom, right in cells]

    def update(self) -> None:
        """Show the current scene and bin: cells, per-level averages, predictions and their accuracy."""
        index, chosen = self.scene.value, self.bin.value
        scene = self._scene(index)
        accuracy = {}
        for name, prediction in scene["predictions"].items():
            if scene["mask"] is None:
                accuracy[name] = None
                continue
            counted = scene["mask"] != IGNORE_INDEX
            accuracy[name] = float((prediction == scene["mask"])[counted].float().mean()) if counted.any() else None
        rows, cols, stride = scene["geometry"]
        self.state = {"scene": index, "bin": chosen, "feature_size": (rows, cols), "stride": stride,
                      "cells": scene["cells"][chosen], "averages": scene["averages"], "accuracy": accuracy}
        self.text.value = self._describe()
        self.last_png = show(self.view, self._picture(scene))

    def _describe(self) -> str:
        s = self.state
        rows, cols = s["feature_size"]
        b = s["bin"]
        top, left, bottom, right = s["cells"][0]
        line = (f"scene {s['scene']} of {self.count}: the {rows} x {cols} feature map (stride {s['stride']:g}) "
                f"pooled into <b>{b} x {b}</b> cells; the first covers pixels rows {top}-{bottom}, cols "
                f"{left}-{right}")
        if b > min(rows, cols):
            line += " (more bins than positions: cells of one position, repeated)"
        elif rows % b or cols % b:
            line += f" ({rows} positions do not split into {b} equal parts: neighbouring cells overlap)"
        scores = [f"{html.escape(name)}: {value:.1%} of pixels right" for name, value in s["accuracy"].items()
                  if value is not None]
        if scores:
            line += f"<br>{'; '.join(scores)}"
        return line + (f"<br>{legend(self.class_names, self.colours)}" if self.class_names is not None else "")

    def _picture(self, scene: dict) -> bytes:
        image, mask, chosen = scene["image"], scene["mask"], self.state["bin"]
        height, width = image.shape[-2:]
        top_row = [("image", picture(image), True)]
        if mask is not None:
            top_row.append(("ground truth", painted(mask, self.colours), False))
        for name, prediction in scene["predictions"].items():
            score = self.state["accuracy"][name]
            top_row.append((name + ("" if score is None else f" ({score:.0%})"), painted(prediction, self.colours),
                            True))
        mosaic = Mosaic(2, max(len(top_row), len(self.bins)), height, width)
        for col, (title, rgb, with_cells) in enumerate(top_row):
            mosaic.put(0, col, rgb, title)
            if with_cells:
                for cell in scene["cells"][chosen]:
                    mosaic.box(0, col, cell, dashed=False, colour="orange")
        for col, b in enumerate(self.bins):
            level = np.zeros((height, width, 3))
            for (top, left, bottom, right), colour in zip(scene["cells"][b], scene["averages"][b], strict=True):
                level[top : bottom + 1, left : right + 1] = colour
            title = f"bin {b}: {b * b} cell average{'s' if b > 1 else ''}"
            mosaic.put(1, col, np.round(level * 255).astype(np.uint8), f"[ {title} ]" if b == chosen else title)
        return mosaic.png()


def pyramid_explorer(scenes, models, bins=(1, 2, 3, 6), class_names=None, palette=None, scene=0,
                     bin=None) -> PyramidExplorer:
    """An explorer of pyramid pooling: the cells of each level over a scene, and predictions with and without it.

    Args:
        scenes: a dataset whose items are ``(image C x H x W, mask H x W)`` (e.g. a ``SyntheticScenes``;
            its ``classes`` and ``palette`` are used when none are given), a dict ``{"image": N x C x H x W,
            "mask": N x H x W}`` (what ``dataset.batch(...)`` returns), or an ``N x C x H x W`` tensor.
        models: dict of 1 to 4 ``name -> nn.Module``, e.g. ``{"no PPM": baseline, "PSPNet": pspnet}``.
            The cells are those of the first model with a pyramid pooling module (``.ppm``); without one,
            of the grid of the first model's ``output_stride``.
        bins: the levels to show (the PSPNet paper's 1, 2, 3, 6 by default), each 1 to 16.
        class_names, palette: at least one per class the models predict.
        scene, bin: what to show first (default the first scene and the middle bin).

    Returns:
        A :class:`PyramidExplorer`: ``.scene`` (IntSlider), ``.bin`` (Dropdown); ``.state`` with ``scene``,
        ``bin``, ``feature_size`` and ``stride`` of the pooled map, ``cells`` (image boxes ``(top, left,
        bottom, right)`` of the chosen level), ``averages`` (per bin, the mean colour of each cell) and
        ``accuracy`` (per model, the share of the scene's labelled pixels predicted right, or None).
    """
    return PyramidExplorer(scenes, models, bins, class_names, palette, scene, bin)
