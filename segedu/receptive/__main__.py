"""Print the receptive fields of well-known networks and of the course's models.

Usage: ``python -m segedu.receptive [--threads N] [--skip-torchvision]``. Numbers to check:
VGG-16 ``features`` 212 px, AlexNet ``features`` 195 px, ResNet-18 layers 7, 11, 43, 99,
211, 435 px (torchvision networks without weights).
"""

from __future__ import annotations

import argparse

import torch
import torchvision

from segedu.models import MODEL_NAMES, build

from . import layer_table, receptive_field


def _features(builder):
    with torch.device("meta"):  # skip initialising the classifier's weights: the probe overwrites them
        model = builder(weights=None)
    return model.features.to_empty(device="cpu")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--skip-torchvision", action="store_true", help="only the course's models")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)

    if not args.skip_torchvision:
        for name, model, side in [("VGG-16 features", _features(torchvision.models.vgg16), 224),
                                  ("AlexNet features", _features(torchvision.models.alexnet), 288)]:
            print(f"{name:18s} {side} x {side} input: {receptive_field(model, (3, side, side))}")
        table = layer_table(torchvision.models.resnet18(weights=None), (3, 448, 448),
                            layers=["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"])
        print("ResNet-18 layers, 448 x 448 input")
        print(table)

    print("\ncourse models (default options, 3 classes), 64 x 64 input: field of the centre and of the corner pixel")
    for name in MODEL_NAMES:
        torch.manual_seed(0)
        model = build(name, 3)
        centre, corner = (receptive_field(model, (3, 64, 64), position) for position in (None, (0, 0)))
        print(f"{name:8s} centre {centre.size[0]:3d} x {centre.size[1]:3d}   corner {corner.size[0]:3d} x "
              f"{corner.size[1]:3d}")


if __name__ == "__main__":
    main()
