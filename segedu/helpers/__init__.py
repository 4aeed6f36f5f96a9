"""What a first reading of the library can skip: argument checks, file plumbing, figure layout.

The files a learner opens from a notebook's link (:mod:`segedu.metrics`, :mod:`segedu.files`,
:mod:`segedu.viz`) start with their idea; what keeps them safe and polite lives here, the way
:mod:`segedu.train.helpers` holds the pieces of ``fit`` that a first reading can skip.

* :mod:`~segedu.helpers.masks`: checks of masks, logits and predictions (metrics and training);
* :mod:`~segedu.helpers.writing`: plain JSON values, atomic writes, file locks, leftovers of killed
  writers, and errors that say why a folder cannot be written;
* :mod:`~segedu.helpers.checkpoints`: what an unreadable checkpoint file is, and devices it asks for;
* :mod:`~segedu.helpers.drawing`: colours, image conversion and the figure grid of the pictures.
"""
