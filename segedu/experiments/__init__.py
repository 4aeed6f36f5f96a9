"""What the course trains and what it claims, as data: below the course and the leaderboard, which both read it.

* :mod:`~segedu.experiments.recipes`: a :class:`Recipe` (how many steps of what; where the data comes
  from, crops, class weights), and how fast mode shrinks it;
* :mod:`~segedu.experiments.runs`: run names (``"fcn8s"``, ``"pspnet_noppm"``...) and the models they build;
* :mod:`~segedu.experiments.tracks`: the table of tracks (:data:`TRACKS`: each track's recipe, runs and
  seeds), :func:`recipe` and :func:`datasets` for a track;
* :mod:`~segedu.experiments.claims`: the table of the course's claims (:data:`CLAIMS`), each with an id;
* :mod:`~segedu.experiments.results`: which records count, a run's records by seed, medians, metrics.

The layers of ``segedu``: the library (``data``, ``models``, ``train``, ...) <- ``experiments`` <-
``course`` and ``leaderboard`` (which never import each other); the notebooks import all of them.
In a notebook::

    from segedu import experiments
    plan = experiments.recipe("thin")                     # this mode's recipe for the thin track
    train, val, test = experiments.datasets("thin", seed=0)
    model = experiments.build_run("unet", train.num_classes, "thin")
"""

from segedu.experiments.claims import CLAIMS, Claim
from segedu.experiments.recipes import FAST, Recipe
from segedu.experiments.runs import RUNS, TRACK_OPTIONS, build_run, model_spec
from segedu.experiments.tracks import (
    FEW_SEEDS,
    PRETRAIN_LABELLED,
    PRETRAIN_MODEL,
    PRETRAIN_TRACK,
    SEEDS,
    TRACKS,
    Track,
    all_recipes,
    datasets,
    recipe,
)

__all__ = ["CLAIMS", "FAST", "FEW_SEEDS", "PRETRAIN_LABELLED", "PRETRAIN_MODEL", "PRETRAIN_TRACK", "RUNS", "SEEDS",
           "TRACKS", "TRACK_OPTIONS", "Claim", "Recipe", "Track", "all_recipes", "build_run", "datasets",
           "model_spec", "recipe"]
