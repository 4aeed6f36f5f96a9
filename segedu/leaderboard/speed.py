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
from torch.utils.data import DataLoader, Subset

from segedu import models
from segedu.data import CACHE, TRACKS, SyntheticScenes
from segedu.train import fit


def machine_line() -> str:
    """Torch version, CPU count, thread count and load average: the context of every timing."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"{torch.get_num_threads()} torch threads, load average {load:.2f}")


def latency_ms(model: torch.nn.Module, image_size: int | tuple[int, int], batch_size: int = 1) -> float:
    """Median milliseconds of one forward pass of ``batch_size x 3 x H x W`` on the CPU, where
    ``image_size`` is ``H = W`` or the pair ``(H, W)``.

    Eval mode, ``torch.inference_mode``; the model's train/eval mode is restored afterwards.
    """
    # Only a timing needs torch.utils.benchmark, and it is heavy: it loads torch's C++ extension tools, which on
    # some machines warn about CUDA; importing it here spares every notebook and job that imports this module.
    from torch.utils.benchmark import Timer  # heavy

    was_training = model.training
    model = model.to("cpu").eval()
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    x = torch.rand(batch_size, 3, height, width)
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
    print(f"{args.size} x {args.size} images, median of repeated forward passes (torch.utils.benchmark)")
    print(f"{'model':<14} {'batch 1 ms':>11} {'batch 32 ms':>12}")
    for name in args.models:
        torch.manual_seed(0)
        model = models.build(name, 5)
        print(f"{name:<14} {latency_ms(model, args.size):>11.2f} {latency_ms(model, args.size, 32):>12.1f}",
              flush=True)


def _data(args) -> None:
    for track in args.tracks:  # the per-process tables (noise bank, blotches, bands), outside the timings
        SyntheticScenes("train", track, args.sizes[0], length=1, seed=54321)[0]
    print(f"{'track':<8} {'size':>5} {'scenes':>7} {'first epoch/s':>14} {'second (shuffled)/s':>20}")
    for size in args.sizes:
        length = args.length or max(256, 4096 * 64 * 64 // (size * size))
        for track in args.tracks:
            first, second = data_speed(track, size, length)
            print(f"{track:<8} {size:>5} {length:>7} {first:>14.0f} {second:>20.0f}", flush=True)


WIDGET_LIMIT = 0.5  # seconds a learner may wait after moving a control (64 px scenes, the course's size)


def _widget_cases(size: int):
    """``(explorer, control, build() -> explorer, change(explorer, value), values)`` for every explorer."""
    from segedu import widgets  # ipywidgets and matplotlib: heavy, and only this command needs them

    shapes = SyntheticScenes("test", "shapes", size=size, length=1)
    context = SyntheticScenes("test", "context", size=size, length=6)
    image, mask = shapes[0]

    def built(name, num_classes, **options):
        torch.manual_seed(0)
        return models.build(name, num_classes, **options)

    five = {name: built(name, shapes.num_classes) for name in ("plain", "encdec", "unet", "pspnet", "fcn8s")}
    pyramid = {"no PPM": built("pspnet", context.num_classes, ppm=False), "PSPNet": built("pspnet", context.num_classes)}
    moves = [size // 2 + step for step in (1, 2, 3, 4, 5)]

    def setter(control):
        return lambda explorer, value: setattr(getattr(explorer, control), "value", value)

    cases = [(f"field explorer, {name}", "row", lambda name=name: widgets.receptive_field_explorer(
                 five[name], image, palette=shapes.palette), setter("row"), moves)
             for name in ("plain", "unet", "pspnet")]
    cases += [
        ("compare_fields, 5 models", "row", lambda: widgets.compare_fields(five, image, mask, shapes.classes,
                                                                          shapes.palette), setter("row"), moves),
        ("compare_fields, 5 models, deepest", "col", lambda: widgets.compare_fields(
            five, image, mask, shapes.classes, shapes.palette, layer="deepest"), setter("col"), moves),
        ("chain_explorer", "kernel", widgets.chain_explorer, setter("kernel"), [5, 7, 3, 9, 5]),
        ("rf_arithmetic_explorer", "depth", widgets.rf_arithmetic_explorer, setter("depth"), [4, 5, 6, 2, 3]),
        ("upsampling_explorer", "kernel", widgets.upsampling_explorer, setter("kernel"), [3, 5, 4, 3, 4]),
        ("upsampling_explorer", "stride", widgets.upsampling_explorer, setter("stride"), [3, 1, 2, 3, 2]),
        ("pyramid_explorer", "scene", lambda: widgets.pyramid_explorer(context, pyramid), setter("scene"),
         [1, 2, 3, 4, 5]),
        ("pyramid_explorer", "bin", lambda: widgets.pyramid_explorer(context, pyramid), setter("bin"), [1, 6, 2, 3, 1]),
        ("scale_explorer, encdec", "size", lambda: widgets.scale_explorer(five["encdec"], image=image),
         setter("size"), [8, 16, 24, 32, 40]),
        ("scale_explorer, pspnet", "size", lambda: widgets.scale_explorer(five["pspnet"], image=image),
         setter("size"), [8, 16, 24, 32, 40]),
    ]
    return cases


def _widgets(args) -> None:
    print(f"explorers on {args.size} x {args.size} scenes: build, then the median answer to a new value of one "
          f"control (limit {WIDGET_LIMIT} s)")
    print(f"{'explorer':<36} {'control':<8} {'build s':>8} {'answer s':>9}")
    slow = []
    for label, control, build, change, values in _widget_cases(args.size):
        start = time.perf_counter()
        explorer = build()
        built = time.perf_counter() - start
        answer = response_seconds(lambda value, e=explorer, change=change: change(e, value), values)
        if answer > WIDGET_LIMIT:
            slow.append(f"{label} ({control})")
        print(f"{label:<36} {control:<8} {built:>8.2f} {answer:>9.3f}", flush=True)
    print(machine_line())
    print("every explorer answers within the limit" if not slow else f"over {WIDGET_LIMIT} s: {', '.join(slow)}")


def main(argv=None) -> None:
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
