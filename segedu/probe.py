"""Linear probes: what can a straight line through a network's features tell?

A probe freezes a network, computes its features for labelled examples and fits a logistic
regression (one weight per feature channel) on half of them; its accuracy on the other half says
how much of the label the features hold in a form a single linear layer can read. 50% on a balanced
yes/no question means nothing readable; 100% means a 1 x 1 convolution could use it.

Notebook 05 asks two questions on the ``harbour`` track, where a hull takes the class of the band
*across* the image from it:

* :func:`mirror_probe`: can the global average of the features (PSPNet's 1 x 1 bin) tell a scene
  from its mirror image (water on top or at the bottom)? The average of the *pixels* cannot: a
  scene and its mirror image have the same pixels, in another order.
* :func:`half_probe`: can the features at one position tell in which half of the image the
  position is, in images where nothing but the border could say (noise)? With zero padding a
  CNN can (Islam, Jia and Bruce, "How much position information do convolutional neural networks
  encode?", ICLR 2020); with circular padding every position looks alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Encoder = Callable[[torch.Tensor], torch.Tensor]


def global_average(feature_map: torch.Tensor) -> torch.Tensor:
    """The average of ``N x C x h x w`` features over all positions: ``N x C`` (PSPNet's 1 x 1 bin)."""
    if feature_map.dim() != 4:
        raise ValueError(f"global_average expects N x C x h x w features, got shape {tuple(feature_map.shape)}")
    return feature_map.mean(dim=(2, 3))


def linear_probe_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                          test_labels: torch.Tensor, weight_decay: float = 1e-3, iterations: int = 200) -> float:
    """Fit a logistic regression on ``train_features`` (``N x C``) and ``train_labels`` (``N``, 0 or 1);
    return its accuracy (0..1) on ``test_features`` (``M x C``) and ``test_labels`` (``M``).

    Features are standardised with the training set's mean and spread (a channel that never varies
    is left at zero); ``weight_decay`` is an L2 penalty on the weights. Deterministic: weights start at zero.
    """
    for name, features, labels in (("train", train_features, train_labels), ("test", test_features, test_labels)):
        if features.dim() != 2 or labels.shape != features.shape[:1]:
            raise ValueError(f"{name} features must be N x C and labels N, got {tuple(features.shape)} and "
                             f"{tuple(labels.shape)}")
        if not bool(((labels == 0) | (labels == 1)).all()):
            raise ValueError(f"{name} labels must be 0 or 1")
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"train and test features need the same channels, got {train_features.shape[1]} "
                         f"and {test_features.shape[1]}")
    x, x_test = train_features.double(), test_features.double()
    mean, spread = x.mean(0), x.std(0, unbiased=False)
    spread = torch.where(spread > 1e-9, spread, torch.full_like(spread, float("inf")))
    x, x_test = (x - mean) / spread, (x_test - mean) / spread
    y = train_labels.double()
    weight = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=iterations, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(x @ weight + bias, y)
        value = value + weight_decay * weight.square().sum()
        value.backward()
        return value

    optimizer.step(loss)
    with torch.no_grad():
        predicted = (x_test @ weight + bias) > 0
    return float((predicted == test_labels.bool()).double().mean())


def mirror_pairs(scenes, count: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scenes with a water band on one border and a road band on the opposite one, each next to its mirror image.

    ``scenes``: a :class:`~segedu.data.SyntheticScenes` of a track with two bands (``harbour``); the first
    ``count`` scenes (all if None) are looked at, and those with one band of each kind kept.
    Returns ``images`` ``2M x 3 x H x W`` (scene ``i`` at ``2i``, its mirror image, flipped across the line
    between the bands, at ``2i + 1``) and ``water_first`` ``2M`` int64: 1 where the water band is at the
    top or left border, 0 at the bottom or right. A scene and its mirror image hold the same pixels.
    """
    if getattr(scenes, "spec", None) is None or scenes.spec.cue_bands != 2:
        raise ValueError("mirror_pairs needs scenes of a track with two bands, e.g. SyntheticScenes('val', 'harbour')")
    count = len(scenes) if count is None else min(count, len(scenes))
    images, labels = [], []
    for index in range(count):
        params, row = scenes.params(index)
        first_kind, second_kind = int(params.cue[row]), int(params.far_cue[row])
        if first_kind == second_kind:
            continue
        side = int(params.cue_side[row])  # 0 top, 1 bottom, 2 left, 3 right: the first band's border
        water_first = int((side % 2 == 0) == (first_kind == 0))  # water (kind 0) on the top or left border
        image = scenes[index][0]
        images += [image, image.flip(-2 if side < 2 else -1)]
        labels += [water_first, 1 - water_first]
    if not images:
        raise ValueError(f"none of the first {count} scenes has one band of each kind: look at more scenes")
    return torch.stack(images), torch.tensor(labels)


@torch.no_grad()
def mirror_probe(encode: Encoder, scenes, count: int | None = 512, batch_size: int = 64) -> float:
    """How well a linear read-out of ``encode(images)`` tells on which side the water is: accuracy 0..1.

    ``encode`` maps images ``N x 3 x H x W`` to one vector per image, ``N x C`` (e.g. the global
    average of a backbone's last map: ``lambda x: global_average(backbone(x)["stage5"])``). The pairs of
    :func:`mirror_pairs` from the first ``count`` scenes are split in two halves, whole pairs in each: the
    probe is fitted on the first and scored on the second. ``encode`` of the pixels' average scores
    exactly 0.5: a scene and its mirror image have the same average, and opposite labels.
    """
    images, labels = mirror_pairs(scenes, count)
    features = torch.cat([encode(images[start:start + batch_size]) for start in range(0, len(images), batch_size)])
    half = len(images) // 4 * 2  # an even number: pairs are never split
    if half == 0:
        raise ValueError("mirror_probe needs at least two pairs: look at more scenes")
    return linear_probe_accuracy(features[:half], labels[:half], features[half:], labels[half:])


@torch.no_grad()
def half_probe(encode_map: Encoder, images: torch.Tensor, batch_size: int = 64) -> float:
    """How well the features at one position tell whether it lies in the top or the bottom half: accuracy 0..1.

    ``encode_map`` maps ``images`` (``N x 3 x H x W``, e.g. noise: nothing in them says where a position
    is) to feature maps ``N x C x h x w`` (``h`` even). Every position of the first half of the images is an
    example (its ``C`` features; label 1 in the top half); the probe is scored on the positions of the
    other half. With zero padding the border leaves its mark on the features; with circular padding, on
    noise, no position is special and the probe scores about 0.5.
    """
    if images.dim() != 4 or len(images) < 2:
        raise ValueError(f"half_probe needs a batch of at least 2 images N x 3 x H x W, got {tuple(images.shape)}")
    maps = torch.cat([encode_map(images[start:start + batch_size]) for start in range(0, len(images), batch_size)])
    if maps.dim() != 4 or maps.shape[2] % 2:
        raise ValueError(f"encode_map must return N x C x h x w maps with an even h, got {tuple(maps.shape)}")
    n, channels, height, width = maps.shape
    top = (torch.arange(height) < height // 2).long().view(1, height, 1).expand(n, height, width)
    features = maps.permute(0, 2, 3, 1).reshape(n, height * width, channels)
    labels = top.reshape(n, height * width)
    half = n // 2
    return linear_probe_accuracy(features[:half].reshape(-1, channels), labels[:half].reshape(-1),
                                 features[half:].reshape(-1, channels), labels[half:].reshape(-1))
