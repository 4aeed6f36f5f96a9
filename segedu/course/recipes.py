"""The recipes and run names the notebooks use: kept here so that code written against ``segedu.course.recipes``
keeps working. They are defined in :mod:`segedu.experiments` (the table of tracks and their recipes,
the run names), which the leaderboard reads too (notebook 07's street photos are its ``camvid`` track).
"""

from segedu.experiments.recipes import FAST, Recipe
from segedu.experiments.runs import RUNS, TRACK_OPTIONS, build_run, model_spec
from segedu.experiments.tracks import (
    PRETRAIN_LABELLED,
    PRETRAIN_MODEL,
    PRETRAIN_TRACK,
    TRACKS,
    all_recipes,
    recipe,
)

RECIPES: dict[str, Recipe] = {name: track.recipe for name, track in TRACKS.items()}
"""Every track's learner-mode recipe."""

TRACK_RUNS: dict[str, tuple[str, ...]] = {name: track.runs for name, track in TRACKS.items()}
"""The runs the leaderboard trains on each track (the pretraining comparison is separate)."""

__all__ = ["FAST", "PRETRAIN_LABELLED", "PRETRAIN_MODEL", "PRETRAIN_TRACK", "RECIPES", "RUNS",
           "TRACK_OPTIONS", "TRACK_RUNS", "Recipe", "all_recipes", "build_run", "model_spec", "recipe"]
