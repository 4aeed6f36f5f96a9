"""Print the receptive fields of well-known networks and of the course's models, with timings.

Usage: ``python -m segedu.receptive [--threads N] [--skip-torchvision] [--explorer]``. Numbers to check:
VGG-16 ``features`` 212 px, AlexNet ``features`` 195 px, ResNet-18 layers 7, 11, 43, 99,
211, 435 px (torchvision networks without weights).
"""

from __future__ import annotations

import argparse
import time

import torch
import torchvision

from . import layer_table, receptive_field


def _features(builder):
    with torch.device("meta"):  # skip initialising the classifier's weights: the probe overwrites them
        model = builder(weights=None)
    return model.features.to_empty(device="cpu")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--skip-torchvision", action="store_true", help="only the course's models")
    parser.add_argument("--explorer", action="store_true", help="also time the explorer widget's callbacks")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if not args.skip_torchvision:
        for name, model, side in [("VGG-16 features", _features(torchvision.models.vgg16), 224),
                                  ("AlexNet features", _features(torchvision.models.alexnet), 288)]:
            start = time.perf_counter()
            rf = receptive_field(model, (3, side, side))
            print(f"{name:18s} {side} x {side} input: {rf}  [{time.perf_counter() - start:.1f} s]")
        start = time.perf_counter()
        table = layer_table(torchvision.models.resnet18(weights=None), (3, 448, 448),
                            layers=["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"])
        print(f"ResNet-18 layers, 448 x 448 input  [{time.perf_counter() - start:.1f} s]")
        print(table)

    from segedu.models import MODEL_NAMES, build

    print("\ncourse models (default options, 3 classes), 64 x 64 input: field of the centre and of the corner pixel")
    for name in MODEL_NAMES:
        torch.manual_seed(0)
        model = build(name, 3)
        start = time.perf_counter()
        centre, corner = (receptive_field(model, (3, 64, 64), position) for position in (None, (0, 0)))
        print(f"{name:8s} centre {centre.size[0]:3d} x {centre.size[1]:3d}   corner {corner.size[0]:3d} x "
              f"{corner.size[1]:3d}   [{time.perf_counter() - start:.2f} s]")

    if args.explorer:
        _time_explorer(build)


def _time_explorer(build) -> None:
    """Seconds to build the explorer and to answer a new slider position (fields + figure), per model."""
    from segedu.widgets import receptive_field_explorer

    image = torch.rand(3, 64, 64)
    print("\nexplorer on a 64 x 64 image: build, then a new position (median of 5), a cached one")
    for name in ("plain", "unet", "pspnet"):
        torch.manual_seed(0)
        start = time.perf_counter()
        explorer = receptive_field_explorer(build(name, 3), image, palette=[(0, 0, 0), (255, 0, 0), (0, 0, 255)])
        built = time.perf_counter() - start
        moves = []
        for row in range(5):
            start = time.perf_counter()
            explorer.row.value = row
            moves.append(time.perf_counter() - start)
        start = time.perf_counter()
        explorer.row.value = 2
        cached = time.perf_counter() - start
        print(f"{name:8s} build {built:.2f} s   new position {sorted(moves)[2]:.2f} s   cached {cached:.2f} s")


if __name__ == "__main__":
    main()
