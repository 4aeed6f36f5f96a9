"""segedu: a hands-on course on semantic segmentation.

The package holds everything the notebooks import: synthetic data, models, training,
metrics, receptive-field tools, widgets and exercise checkers. Submodules are imported
lazily by the notebooks (``from segedu import data, models``) so that ``import segedu``
stays cheap.
"""

__version__ = "0.1.0"

REPOSITORY_URL = "https://github.com/segedu/segedu"
"""Where the course lives; used by the Colab setup cell and the "Open in Colab" badges."""
