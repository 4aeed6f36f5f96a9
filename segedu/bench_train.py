"""Training throughput of every registered model through :func:`segedu.train.fit` (images per second).

Run ``python -m segedu.bench_train`` (options: ``--help``). Unlike
``segedu.models.bench`` (a bare forward/backward on random tensors), this measures what a
learner waits for: ``fit`` on ``SyntheticScenes``, data loading included. Each model first
trains a few warm-up steps (first-call costs: allocations, lazy imports), then ``--steps``
timed steps; the table also gives the time to load the data alone. On a shared machine the
numbers move with the load, which is printed in the header.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch.utils.data import DataLoader

from segedu.train import fit


def training_throughput(model: torch.nn.Module, data, batch_size: int, steps: int, warmup: int = 2) -> float:
    """Images per second of ``fit`` over ``steps`` steps of ``batch_size`` (after ``warmup`` steps)."""
    fit(model, torch.utils.data.Subset(data, range(batch_size * warmup)), epochs=1, batch_size=batch_size,
        lr=1e-3, progress=False, device="cpu", schedule=None)
    timed = torch.utils.data.Subset(data, range(batch_size * steps))
    history = fit(model, timed, epochs=1, batch_size=batch_size, lr=1e-3, progress=False, device="cpu",
                  schedule=None)
    return len(timed) / history.total_seconds


def loading_throughput(data, batch_size: int, steps: int) -> float:
    """Images per second of the DataLoader alone (what ``fit`` iterates)."""
    subset = torch.utils.data.Subset(data, range(batch_size * steps))
    start = time.perf_counter()
    for _ in DataLoader(subset, batch_size=batch_size, shuffle=True):
        pass
    return len(subset) / (time.perf_counter() - start)


def main(argv=None) -> None:
    from segedu import models
    from segedu.data import SyntheticScenes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(models.MODEL_NAMES), choices=models.MODEL_NAMES)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per model (default 8)")
    parser.add_argument("--track", default="mixed")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = SyntheticScenes("train", args.track, size=args.size, length=args.batch_size * max(args.steps, 2))
    data.batch(range(len(data)))  # render the scenes once, outside every timing
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} "
          f"torch threads, load average {load:.2f}; {args.size}x{args.size} '{args.track}' scenes, "
          f"batch {args.batch_size}, {args.steps} timed steps")
    print(f"data loading alone: {loading_throughput(data, args.batch_size, args.steps):.0f} images/s")
    print(f"{'model':<8} {'parameters':>11} {'fit images/s':>13}")
    for name in args.models:
        torch.manual_seed(0)
        model = models.build(name, data.num_classes)
        parameters = models.count_parameters(model)
        speed = training_throughput(model, data, args.batch_size, args.steps)
        print(f"{name:<8} {parameters / 1e6:>9.3f} M {speed:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
