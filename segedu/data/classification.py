"""``SyntheticClassification``: image-level labels from the scene generator, for pretraining a backbone.

Each image holds one to three objects on the same backgrounds as the segmentation track; the
label is the class of the **largest** object (largest bounding box). The other objects are
shrunk to at most ``OTHERS_AT_MOST`` of its size and objects do not overlap, so the rule is
never ambiguous. Same renderer, same cache, so examples are as cheap as segmentation scenes.
"""

from __future__ import annotations

import dataclasses

import torch

from segedu.data.engine import render
from segedu.data.engine.chunks import Chunk
from segedu.data.sampling import SceneParams, scale_objects
from segedu.data.scenes import SyntheticScenes
from segedu.data.tracks import TrackSpec, track_spec

OTHERS_AT_MOST = 0.6
"""Objects other than the largest are shrunk to at most this fraction of the largest one's size."""

MAX_OBJECTS = 3


def largest_object(params: SceneParams) -> torch.Tensor:
    """Slot of each scene's largest active object (by bounding-box size): ``int64 N``."""
    return params.size.masked_fill(~params.active, -1.0).argmax(1)


class SyntheticClassification(SyntheticScenes):
    """Synthetic images with one label each: ``dataset[i] -> (image, label)``.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: image side in pixels, or ``(height, width)``; 32 to 512.
        length: number of images; ``None`` takes the split's default length.
        seed: another seed gives other images (never the segmentation scenes of the same seed).
        track: whose objects and backgrounds to draw (default ``"shapes"``).
        transform: optional callable ``image -> image``.
        spec: optional :class:`~segedu.data.tracks.TrackSpec` of the track to start from.

    Items: ``image`` float32 ``3 x H x W`` in [0, 1]; ``label`` int64 scalar, the class of the
    largest object as an index into ``classes`` (the track's object classes, no background).
    """

    purpose = "classification"

    def __init__(self, split: str = "train", size=64, length: int | None = None, seed: int = 0,
                 track: str = "shapes", transform=None, spec=None):
        base = spec if isinstance(spec, TrackSpec) else track_spec(track)
        spec = dataclasses.replace(base, min_objects=1, max_objects=min(MAX_OBJECTS, max(1, base.max_objects)),
                                   max_overlap=0.0)
        super().__init__(split=split, track=track, size=size, length=length, seed=seed, transform=transform,
                         spec=spec)
        self.segmentation_classes = self.classes
        self.classes = self.classes[1:]
        self.num_classes = len(self.classes)
        self.palette = self.palette[1:]

    def __getitem__(self, index):
        chunk, row = self.chunks.locate(index)
        image = chunk.images[row].float().mul_(1 / 255)
        if self.transform is not None:
            image = self.transform(image)
        return image, chunk.labels[row]

    def __getitems__(self, indices) -> list:
        """The items ``indices``, as ``DataLoader`` asks for a batch."""
        return [self[index] for index in indices]

    def batch(self, indices) -> dict[str, torch.Tensor]:
        """``{"image": N x 3 x H x W, "label": N}`` for ``indices``, without the transform."""
        located = [self.chunks.locate(index) for index in indices]
        if not located:
            raise ValueError("batch() needs at least one index")
        return {"image": torch.stack([chunk.images[row] for chunk, row in located]).float().mul_(1 / 255),
                "label": torch.stack([chunk.labels[row] for chunk, row in located])}

    @staticmethod
    def _make_chunk(params: SceneParams, height: int, width: int, spec: TrackSpec) -> Chunk:
        largest = largest_object(params)
        largest_size = params.size.gather(1, largest[:, None])
        factor = (OTHERS_AT_MOST * largest_size / params.size.clamp(min=1e-6)).clamp(max=1.0)
        factor.scatter_(1, largest[:, None], 1.0)
        scale_objects(params, factor)
        images, masks = render.render_scenes(params, height, width)
        labels = params.label.gather(1, largest[:, None])[:, 0] - 1
        return Chunk(params, images, masks, labels=labels)
