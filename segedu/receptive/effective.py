"""The effective receptive field (Luo et al., 2016): how much each input pixel really matters.

The analytic receptive field says which pixels *can* change an output; the effective one
weighs them by how much they *do*, for this model with its weights, on this image. Luo,
Li, Urtasun and Zemel ("Understanding the Effective Receptive Field in Deep Convolutional
Neural Networks", NeurIPS 2016) backpropagate a gradient of 1 from every channel of one
output pixel, i.e. take the gradient of the **sum over channels** of that pixel, and look at
its magnitude on the input. That is ``target="logits"`` here (the default); ``"predicted"``
takes only the logit of the class predicted at that pixel, and an int takes that channel.

The heatmap is ``|d target / d input|`` summed over input channels (and averaged over the
images of a batch), normalised to sum 1. Its mass is typically concentrated in a small,
roughly Gaussian blob at the centre of the analytic field: the effective field is much
smaller than the theoretical one. Summaries: ``radius50`` / ``radius90``, the radius
(Euclidean, in input pixels, around the output pixel's centre) of the smallest disc
holding 50% / 90% of the mass, and ``mass_in_box``, the share of the mass inside the
analytic box (1 up to rounding, unless the model mixes positions in ways the analytic
method ignores, such as group or instance normalisation).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import torch
from torch import nn

from .analytic import FieldProbe, ReceptiveField
from .capture import capture, check_position

__all__ = ["EffectiveField", "EffectiveProbe", "effective_receptive_field", "radius_of_mass"]


@dataclasses.dataclass(frozen=True, repr=False)
class EffectiveField:
    """Effective receptive field of one output position.

    Attributes:
        heatmap: ``H x W`` float tensor on the CPU, >= 0, summing to 1 (all zeros if the
            gradient vanished, e.g. a dead pixel; the summaries are then NaN).
        position: ``(row, col)`` in output coordinates.
        centre: ``(row, col)`` of the output pixel's centre in input coordinates (the
            resolution ratio maps output to input pixels).
        target: ``"logits"``, ``"predicted"`` or the channel index used.
        radius50, radius90: radius in input pixels around ``centre`` holding 50% / 90% of the mass.
        mass_in_box: share of the mass inside the analytic box ``field.box``.
        field: the analytic :class:`ReceptiveField` of the same position.
        gradient_mass: the sum of the gradient magnitudes before normalisation.
    """

    heatmap: torch.Tensor
    position: tuple[int, int]
    centre: tuple[float, float]
    target: str | int
    radius50: float
    radius90: float
    mass_in_box: float
    field: ReceptiveField
    gradient_mass: float

    def radius(self, share: float) -> float:
        """Radius around ``centre`` holding ``share`` (0 to 1) of the mass."""
        return radius_of_mass(self.heatmap, self.centre, share)

    def __repr__(self) -> str:
        return (
            f"EffectiveField(position {self.position}, target {self.target!r}: 50% of the gradient within "
            f"{self.radius50:.1f} px, 90% within {self.radius90:.1f} px, {100 * self.mass_in_box:.1f}% inside "
            f"the {self.field.size[0]} x {self.field.size[1]} analytic box)"
        )


def radius_of_mass(heatmap: torch.Tensor, centre: tuple[float, float], share: float) -> float:
    """Smallest distance ``r`` from ``centre`` such that pixels within ``r`` hold ``share`` of the mass.

    ``heatmap`` is ``H x W`` with non-negative values summing to 1. Distances are between
    pixel centres, so the answers are values like 0, 1, 1.41, 2, ...
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    total = float(heatmap.sum())
    if total <= 0 or not math.isfinite(total):
        return math.nan
    height, width = heatmap.shape
    rows = torch.arange(height, dtype=torch.float64)[:, None] - centre[0]
    cols = torch.arange(width, dtype=torch.float64)[None, :] - centre[1]
    distance = (rows**2 + cols**2).sqrt().flatten()
    order = distance.argsort()
    cumulative = heatmap.flatten().double()[order].cumsum(0) / total
    index = int(torch.searchsorted(cumulative, torch.tensor([share - 1e-9], dtype=torch.float64)))
    return float(distance[order[min(index, len(order) - 1)]])


def _image_batch(image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor (C x H x W or N x C x H x W), got {type(image).__name__}")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4:
        raise ValueError(
            f"image must be C x H x W or N x C x H x W, got shape {tuple(image.shape)}; "
            f"for a single grey image use image[None] to add the channel axis"
        )
    if not image.is_floating_point():
        raise TypeError(f"image must be a float tensor (the model's input), got {image.dtype}")
    return image


class EffectiveProbe:
    """A model run once on an image, ready to give the effective field of any position.

    The model's weights are untouched, its parameters get no ``.grad``, and its train/eval
    mode is restored. It runs in eval mode (so batch norm uses its running statistics).

    Args:
        model: a (trained) ``nn.Module``.
        image: ``C x H x W`` or ``N x C x H x W`` float tensor, as the model expects it.
        layer: optional sub-module name whose output to use instead of the model's.
    """

    def __init__(self, model: nn.Module, image: torch.Tensor, layer: str | None = None):
        image = _image_batch(image)
        parameter = next(model.parameters(), None)
        device, dtype = (parameter.device, parameter.dtype) if parameter is not None else (image.device, image.dtype)
        self.layer = layer
        self.input_size = tuple(image.shape[1:])
        self._input = image.detach().to(device=device, dtype=dtype).requires_grad_(True)
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():
                self._output = capture(model, self._input, layer)
        finally:
            model.train(was_training)
        self.output_size = tuple(self._output.shape[-2:])
        self._analytic: FieldProbe | None = None
        self._model = model

    def analytic(self) -> FieldProbe:
        """The analytic :class:`FieldProbe` for the same model, input size and layer (built once)."""
        if self._analytic is None:
            self._analytic = FieldProbe(self._model, self.input_size, self.layer)
        return self._analytic

    def _gradient(self, row: int, col: int, target) -> torch.Tensor:
        """``d target / d input`` at output ``(row, col)``: ``N x C x H x W``."""
        pixel = self._output[:, :, row, col]  # N x C
        if target == "logits":
            chosen = pixel.sum()
        elif target == "predicted":
            chosen = pixel.gather(1, pixel.argmax(dim=1, keepdim=True)).sum()
        elif isinstance(target, int) and not isinstance(target, bool) and 0 <= target < pixel.shape[1]:
            chosen = pixel[:, target].sum()
        else:
            raise ValueError(
                f"target must be 'logits' (sum over channels), 'predicted' or a channel index "
                f"0..{pixel.shape[1] - 1}; got {target!r}"
            )
        (gradient,) = torch.autograd.grad(chosen, self._input, retain_graph=True)
        return gradient

    def field(self, position=None, target="logits") -> EffectiveField:
        """Effective field of ``position`` (``(row, col)``, None: the centre) for ``target``."""
        row, col = check_position(position, self.output_size)
        with torch.enable_grad():
            gradient = self._gradient(row, col, target)
        heatmap = gradient.detach().abs().sum(dim=1).mean(dim=0).double().cpu()
        gradient_mass = float(heatmap.sum())
        analytic = self.analytic().field((row, col))
        height, width = heatmap.shape
        centre = ((row + 0.5) * height / self.output_size[0] - 0.5, (col + 0.5) * width / self.output_size[1] - 0.5)
        if gradient_mass > 0 and math.isfinite(gradient_mass):
            heatmap = heatmap / gradient_mass
            inside = 0.0
            if analytic.box is not None:
                top, left, bottom, right = analytic.box
                inside = float(heatmap[top : bottom + 1, left : right + 1].sum())
            radius50, radius90 = (radius_of_mass(heatmap, centre, share) for share in (0.5, 0.9))
        else:
            warnings.warn(
                f"the gradient at position {(row, col)} is zero everywhere (the output does not depend on the "
                f"input here, e.g. every ReLU on the way is off): the effective field is empty",
                stacklevel=2,
            )
            heatmap = torch.zeros_like(heatmap)
            inside = radius50 = radius90 = math.nan
        return EffectiveField(
            heatmap=heatmap.float(),
            position=(row, col),
            centre=centre,
            target=target,
            radius50=radius50,
            radius90=radius90,
            mass_in_box=inside,
            field=analytic,
            gradient_mass=gradient_mass,
        )


def effective_receptive_field(model: nn.Module, image: torch.Tensor, position=None, target="logits",
                              layer: str | None = None) -> EffectiveField:
    """The effective receptive field (Luo et al. 2016) of one output pixel of ``model`` on ``image``.

    Args:
        model: a (trained) ``nn.Module``; weights untouched, train/eval mode restored.
        image: ``C x H x W`` or ``N x C x H x W`` float tensor (a batch gives the average
            over its images, as in the paper).
        position: ``(row, col)`` in output coordinates; None for the centre.
        target: ``"logits"`` (sum over class channels, the paper's choice), ``"predicted"``
            (the logit of the class predicted at that pixel) or a channel index.
        layer: optional sub-module name: the field of that layer's output.

    Returns:
        An :class:`EffectiveField` with ``.heatmap`` (H x W, sums to 1), ``.radius50``,
        ``.radius90``, ``.mass_in_box`` and the analytic ``.field``.
    """
    return EffectiveProbe(model, image, layer).field(position, target)
