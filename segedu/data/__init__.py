"""Data for the course: synthetic scenes with exact masks, real photographs, joint transforms.

* :class:`SyntheticScenes`: the default data, drawn in memory (tracks ``mixed``, ``shapes``,
  ``thin``, ``context``; see :func:`describe`).
* :class:`SyntheticClassification`: image-level labels from the same generator, for pretraining.
* :class:`OxfordPets`: real photos with pet / background / border trimaps (needs the dataset).
* :mod:`segedu.data.transforms`: ``train_transforms`` and ``eval_transforms`` for (image, mask) pairs.
"""

from segedu.data.scenes import CACHE, SPLITS, SyntheticScenes
from segedu.data.tracks import (
    CLASS_COLOURS,
    CLASSES,
    IGNORE_INDEX,
    SIZE_BUCKET_EDGES,
    SIZE_BUCKETS,
    TRACK_SPECS,
    TRACKS,
    TrackSpec,
    describe,
    palette,
    track_spec,
)

__all__ = [
    "CACHE", "CLASS_COLOURS", "CLASSES", "IGNORE_INDEX", "SIZE_BUCKET_EDGES", "SIZE_BUCKETS", "SPLITS",
    "TRACK_SPECS", "TRACKS", "SyntheticScenes", "TrackSpec", "describe", "palette", "track_spec",
]
