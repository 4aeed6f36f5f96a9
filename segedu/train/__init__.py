"""Train and score a segmentation model: :func:`fit`, :func:`evaluate`, :func:`predict`, :func:`save`, :func:`load`.

One import for a notebook: ``from segedu.train import fit, evaluate, predict, save, load``.

* :mod:`segedu.train.loop`: the training loop (:func:`fit`, :func:`train_one_epoch`, :class:`History`);
* :mod:`segedu.train.evaluate`: scores on a whole dataset (:func:`evaluate`) and predictions (:func:`predict`);
* :mod:`segedu.train.helpers`: optimisers, schedules, the time estimate and the checks that ``fit`` uses;
* :func:`save` and :func:`load` come from :mod:`segedu.files`.
"""

from segedu.files import load, save
from segedu.metrics import Scores
from segedu.train.evaluate import evaluate, predict
from segedu.train.loop import History, fit, pixel_cross_entropy, train_one_epoch

__all__ = ["History", "Scores", "evaluate", "fit", "load", "pixel_cross_entropy", "predict", "save",
           "train_one_epoch"]
