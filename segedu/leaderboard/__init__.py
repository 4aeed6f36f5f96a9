"""The benchmark that measures every claim of the course, and what reads its records.

* :mod:`~segedu.leaderboard.benchmark`: train and score one job (:func:`train_and_score`), plan and run them all;
* :mod:`~segedu.leaderboard.records`: one record schema for the benchmark and the notebooks, and its files;
* :mod:`~segedu.leaderboard.claims`: the course's claims, each checked in every seed;
* :mod:`~segedu.leaderboard.report`: medians, Markdown and pictures;
* :mod:`~segedu.leaderboard.speed`: every timing the course reports;
* :mod:`~segedu.leaderboard.reproduce`: re-run a few jobs and compare them digit for digit.

``python -m segedu.leaderboard --help`` is the command line. In a notebook::

    from segedu import leaderboard
    records = leaderboard.load()              # the committed leaderboard
    leaderboard.medians(records)              # {(run, track, labelled): medians over seeds}
    leaderboard.check_claims(records)         # [Claim, ...]
"""

from segedu.leaderboard.benchmark import train_and_score
from segedu.leaderboard.claims import Claim, check_claims
from segedu.leaderboard.records import FIELDS, counted, leaderboard_path, load, load_runs, record_run
from segedu.leaderboard.report import medians, my_runs

__all__ = ["FIELDS", "Claim", "check_claims", "counted", "leaderboard_path", "load", "load_runs", "medians",
           "my_runs", "record_run", "train_and_score"]
