"""Data for the course: synthetic scenes with exact masks, real photographs, joint transforms.

* :class:`SyntheticScenes`: the default data, drawn in memory (tracks ``mixed``, ``shapes``,
  ``thin``, ``context``; :func:`describe` says what each is for).
* :class:`SyntheticClassification`: one label per image from the same generator, for pretraining.
* :class:`CamVid`: real street scenes with 11 classes (fetched from GitHub when missing; a small
  subset ships with the course); :class:`DatasetNotAvailable` when real photos cannot be had.
* :mod:`segedu.data.transforms`: ``train_transforms`` and ``eval_transforms`` for (image, mask) pairs.
* ``python -m segedu.data.bench``: scenes per second, as a ``DataLoader`` delivers them.
"""

from segedu.data.camvid import CamVid
from segedu.data.classification import SyntheticClassification
from segedu.data.engine.chunks import CACHE
from segedu.data.fetching import DatasetNotAvailable
from segedu.data.scenes import SPLITS, SyntheticScenes
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
    "CACHE", "CLASS_COLOURS", "CLASSES", "CamVid", "IGNORE_INDEX", "SIZE_BUCKET_EDGES", "SIZE_BUCKETS", "SPLITS",
    "TRACK_SPECS", "TRACKS", "DatasetNotAvailable", "SyntheticClassification", "SyntheticScenes",
    "TrackSpec", "describe", "palette", "track_spec",
]

