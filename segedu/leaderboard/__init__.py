"""The benchmark that measures every claim of the course, and what reads its records.

* :mod:`~segedu.leaderboard.benchmark`: train and score one job (:func:`train_and_score`), plan and run them all
  (what to train is the table of :mod:`segedu.experiments.tracks`);
* :mod:`~segedu.leaderboard.records`: one record schema for the benchmark and the notebooks, and its files;
* :mod:`~segedu.leaderboard.verdicts`: the verdict on each claim of :mod:`segedu.experiments.claims`, in every seed;
* :mod:`~segedu.leaderboard.read`: what the notebooks ask: per-seed tables, a claim by its id, the best run;
* :mod:`~segedu.leaderboard.report`: medians, Markdown and pictures;
* :mod:`~segedu.leaderboard.speed`: every timing the course reports;
* :mod:`~segedu.leaderboard.reproduce`: re-run a few jobs and compare them digit for digit.

``python -m segedu.leaderboard --help`` is the command line. In a notebook (every call reads the
committed leaderboard, ``results/leaderboard.json``, unless it is given ``records=``)::

    from segedu import leaderboard
    leaderboard.per_seed("thin", ["encdec", "unet"])      # one column per seed, and the median
    leaderboard.claim("thin.unet_vs_encdec")              # a claim's verdict, with every seed's margin
    leaderboard.claims("thin")                            # every claim of a track
    leaderboard.best("context")                           # the best run, by median over shared seeds
    leaderboard.record_run(run=..., track=..., model=..., history=..., scores=..., recipe=..., notebook="01")
"""

from segedu.experiments.results import counted, medians
from segedu.leaderboard.benchmark import train_and_score
from segedu.leaderboard.read import SeedTable, Summary, best, claim, claims, per_seed, summary
from segedu.leaderboard.records import FIELDS, leaderboard_path, load, load_runs, record_run
from segedu.leaderboard.report import my_runs
from segedu.leaderboard.verdicts import Verdict

__all__ = ["FIELDS", "SeedTable", "Summary", "Verdict", "best", "claim", "claims", "counted", "leaderboard_path", "load",
           "load_runs", "medians", "my_runs", "per_seed", "record_run", "summary", "train_and_score"]
