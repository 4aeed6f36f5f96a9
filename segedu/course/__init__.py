"""What runs the course, apart from the library a learner reads: tied to particular notebooks.

* :mod:`~segedu.course.recipes`: the recipes and run names of :mod:`segedu.experiments`, under their old names;
* :mod:`~segedu.course.lessons`: a model saved by one notebook for the next, distances to an edge;
* :mod:`~segedu.course.streets`: notebook 07's street photos (CamVid, or the shipped subset offline);
* :mod:`~segedu.course.pretrain`: pretraining the small backbone on synthetic classification (notebook 06);
* :mod:`~segedu.course.colab`: the setup cell that makes a notebook run in Google Colab;
* :mod:`~segedu.course.checks`: the exercise checkers, one module per notebook.
"""
