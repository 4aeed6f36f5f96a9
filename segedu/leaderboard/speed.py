"""Every speed the course reports, measured in one place.

* :func:`latency_ms`: one forward pass of one image (the leaderboard's latency column);
* :func:`training_speed`: images per second through :func:`segedu.train.fit`, data loading included
  (what a learner waits for);
* :func:`data_speed`: synthetic scenes per second through a ``DataLoader``;
* :func:`response_seconds`: how long a widget takes to answer a change of one of its controls.

Forward passes are timed with ``torch.utils.benchmark``, which warms up, repeats and reports the
median; whole training runs with the wall clock. Timings move with what else the machine is
doing, so every table printed here starts with the thread count and the load average::

    python -m segedu.leaderboard.speed training --size 64 --batch-size 16
    python -m segedu.leaderboard.speed latency
    python -m segedu.leaderboard.speed data --tracks mixed
    python -m segedu.leaderboard.speed widgets
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable

import torch
from torch.utils.benchmark import Timer
from torch.utils.data import DataLoader, Subset


def machine_line() -> str:
    """Torch version, CPU count, thread count and load average: the context of every timing."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"{torch.get_num_threads()} torch threads, load average {load:.2f}")


def latency_ms(model: torch.nn.Module, image_size: int, batch_size: int = 1) -> float:
    """Median milliseconds of one forward pass of ``batch_size x 3 x image_size x image_size`` on the CPU.

    Eval mode, ``torch.inference_mode``; the model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model = model.to("cpu").eval()
    x = torch.rand(batch_size, 3, image_size, image_size)
    try:
        with torch.inference_mode():
            model(x)  # warm-up: first-call allocations
            measured = Timer("model(x)", globals={"model": model, "x": x},
                             num_threads=torch.get_num_threads()).blocked_autorange(min_run_time=0.3)
    finally:
        model.train(was_training)
    return 1000 * measured.median


def training_speed(model: torch.nn.Module, data, batch_size: int, steps: int, warmup: int = 2) -> float:
    """Images per second of :func:`segedu.train.fit` over ``steps`` steps of ``batch_size`` (after
    ``warmup`` steps that pay the first-call costs). The model is trained: use a fresh one."""
    from segedu.train import fit

    settings = {"epochs": 1, "batch_size": batch_size, "lr": 1e-3, "progress": False, "device": "cpu",
                "schedule": None}
    fit(model, Subset(data, range(batch_size * warmup)), **settings)
    timed = Subset(data, range(batch_size * steps))
    history = fit(model, timed, **settings)
    return len(timed) / history.total_seconds


def data_speed(track: str, size: int, length: int, batch_size: int = 64) -> tuple[float, float]:
    """``(first epoch, shuffled second epoch)`` scenes per second of a fresh dataset through a ``DataLoader``.

    The first epoch includes drawing and rendering the scenes; the second is served from the cache.
    """
    from segedu.data import CACHE, SyntheticScenes

    CACHE.clear()
    dataset = SyntheticScenes("train", track, size, length=length, seed=12345)
    rates = []
    for shuffle in (False, True):
        start = time.perf_counter()
        for _ in DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=0):
            pass
        rates.append(length / (time.perf_counter() - start))
    CACHE.clear()
    return rates[0], rates[1]


def response_seconds(change: Callable[[object], None], values: Iterable) -> float:
    """Median seconds that ``change(value)`` takes over ``values`` (e.g. setting a widget's slider,
    which runs its callback): how long a learner waits after moving a control."""
    times = []
    for value in values:
        start = time.perf_counter()
        change(value)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- the command line ------------------------------------------------------------------------------------


def _training(args) -> None:
    from segedu import models
    from segedu.data import SyntheticScenes

    data = SyntheticScenes("train", args.track, size=args.size, length=args.batch_size * max(args.steps, 2))
    data.batch(range(len(data)))  # render the scenes once, outside every timing
    print(f"{args.size} x {args.size} '{args.track}' scenes, batch {args.batch_size}, {args.steps} timed steps")
    print(f"{'model':<14} {'parameters':>11} {'fit images/s':>13}")
    for name in args.models:
        torch.manual_seed(0)
        model = models.build(name, data.num_classes)
        speed = training_speed(model, data, args.batch_size, args.steps)
        print(f"{name:<14} {models.count_parameters(model) / 1e6:>9.3f} M {speed:>13.1f}", flush=True)


def _latency(args) -> None:
    from segedu import models

    print(f"{args.size} x {args.size} images, median of repeated forward passes (torch.utils.benchmark)")
    print(f"{'model':<14} {'batch 1 ms':>11} {'batch 32 ms':>12}")
    for name in args.models:
        torch.manual_seed(0)
        model = models.build(name, 5)
        print(f"{name:<14} {latency_ms(model, args.size):>11.2f} {latency_ms(model, args.size, 32):>12.1f}",
              flush=True)


def _data(args) -> None:
    from segedu.data import SyntheticScenes

    for track in args.tracks:  # the per-process tables (noise bank, blotches, bands), outside the timings
        SyntheticScenes("train", track, args.sizes[0], length=1, seed=54321)[0]
    print(f"{'track':<8} {'size':>5} {'scenes':>7} {'first epoch/s':>14} {'second (shuffled)/s':>20}")
    for size in args.sizes:
        length = args.length or max(256, 4096 * 64 * 64 // (size * size))
        for track in args.tracks:
            first, second = data_speed(track, size, length)
            print(f"{track:<8} {size:>5} {length:>7} {first:>14.0f} {second:>20.0f}", flush=True)


def _widgets(args) -> None:
    from segedu import models
    from segedu.widgets import receptive_field_explorer

    image = torch.rand(3, args.size, args.size)
    print(f"explorer on a {args.size} x {args.size} image: build, then the median answer to a new position")
    for name in ("plain", "unet", "pspnet"):
        torch.manual_seed(0)
        start = time.perf_counter()
        explorer = receptive_field_explorer(models.build(name, 3), image, palette=[(0, 0, 0), (255, 0, 0), (0, 0, 255)])
        built = time.perf_counter() - start
        answer = response_seconds(lambda row, e=explorer: setattr(e.row, "value", row), range(1, 6))
        print(f"{name:<8} build {built:.2f} s   new position {answer:.2f} s", flush=True)


def main(argv=None) -> None:
    from segedu import models
    from segedu.data import TRACKS

    parser = argparse.ArgumentParser(prog="python -m segedu.leaderboard.speed", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    commands = parser.add_subparsers(dest="command", required=True)
    training = commands.add_parser("training", help="images/s through fit, per model")
    training.add_argument("--models", nargs="*", default=list(models.MODEL_NAMES), choices=models.MODEL_NAMES)
    training.add_argument("--size", type=int, default=64)
    training.add_argument("--batch-size", type=int, default=16)
    training.add_argument("--steps", type=int, default=8)
    training.add_argument("--track", default="mixed", choices=TRACKS)
    latency = commands.add_parser("latency", help="forward time of one image and of 32, per model")
    latency.add_argument("--models", nargs="*", default=list(models.MODEL_NAMES), choices=models.MODEL_NAMES)
    latency.add_argument("--size", type=int, default=64)
    data = commands.add_parser("data", help="synthetic scenes/s through a DataLoader")
    data.add_argument("--tracks", nargs="+", default=list(TRACKS), choices=TRACKS)
    data.add_argument("--sizes", nargs="+", type=int, default=[64, 128])
    data.add_argument("--length", type=int, default=None)
    widgets = commands.add_parser("widgets", help="how fast the explorers answer")
    widgets.add_argument("--size", type=int, default=64)
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    print(machine_line())
    {"training": _training, "latency": _latency, "data": _data, "widgets": _widgets}[args.command](args)


if __name__ == "__main__":
    main()
