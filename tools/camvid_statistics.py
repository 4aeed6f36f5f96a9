"""Print the CamVid training photos' channel means and standard deviations and SegNet's class frequencies.

These are the constants TRAIN_MEAN, TRAIN_STD and TRAIN_FREQUENCY of segedu/data/camvid.py. Needs the
full data (fetched on first use); only the training split is read.

    python tools/camvid_statistics.py [--root DIR] [--source GIT_URL_OR_PATH]
"""

import argparse

from segedu.data import CamVid
from segedu.data.camvid import class_frequencies, median_frequency_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="the folder that holds CamVid/ (default: data/)")
    parser.add_argument("--source", help="where to fetch CamVid/ from when it is missing")
    args = parser.parse_args()
    train = CamVid("train", subset=False, root=args.root, source=args.source)
    images = train._images.float() / 255
    print("photos:", len(train), "of", tuple(images.shape[-2:]))
    print("TRAIN_MEAN =", tuple(round(v, 4) for v in images.mean(dim=(0, 2, 3)).tolist()))
    print("TRAIN_STD =", tuple(round(v, 4) for v in images.std(dim=(0, 2, 3)).tolist()))
    frequencies = tuple(round(v, 4) for v in class_frequencies(train._masks).tolist())
    print("TRAIN_FREQUENCY =", frequencies)
    print("median_frequency_weights(TRAIN_FREQUENCY) =", median_frequency_weights(frequencies))


if __name__ == "__main__":
    main()
