"""Train and score a segmentation model: :func:`fit`, :func:`evaluate`, :func:`predict`, :func:`save`, :func:`load`.

One import for a notebook: ``from segedu.train import fit, evaluate, predict, save, load``.

* :mod:`segedu.train.loop`: the training loop (:func:`fit`, :func:`train_one_epoch`, :func:`pixel_cross_entropy`);
* :mod:`segedu.train.history`: what ``fit`` returns (:class:`History`; ``segedu.viz.plot_history`` draws it);
* :mod:`segedu.train.evaluate`: scores on a whole dataset (:func:`evaluate`) and predictions (:func:`predict`);
* :mod:`segedu.train.helpers` and :mod:`segedu.train.batches`: what a first reading can skip (optimisers,
  schedules, the time estimate, the checks that ``fit`` uses; how a dataset is read in batches);
* :func:`save` and :func:`load` come from :mod:`segedu.files`.
"""

from segedu.files import load, save
from segedu.metrics import Scores
from segedu.train.evaluate import evaluate, predict
from segedu.train.history import History
from segedu.train.loop import fit, pixel_cross_entropy, train_one_epoch

__all__ = ["History", "Scores", "evaluate", "fit", "load", "pixel_cross_entropy", "predict", "save",
           "train_one_epoch"]
