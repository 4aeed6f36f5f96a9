"""Benchmark of the synthetic data: scenes per second as learners consume them.

    python -m segedu.data.bench                  # every track, 64 and 128 pixels
    python -m segedu.data.bench --tracks mixed --sizes 64 --threads 1

For each track and size: a fresh dataset (empty cache) iterated by
``DataLoader(dataset, batch_size=64, num_workers=0)``: the first epoch includes drawing and
rendering the scenes; the second epoch is shuffled and served from the cache. Every number
is measured with torch's default number of threads and with one thread (rendering itself
always uses ``segedu.data.render.RENDER_THREADS``; the rest of the loop uses the setting), after a warm-up that
makes the per-process tables (about 0.1 s, once per process). The numbers depend on what else
the machine is doing: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch.utils.data import DataLoader

from segedu.data.scenes import CACHE, SyntheticScenes
from segedu.data.tracks import TRACKS

DEFAULT_LENGTH = {64: 4096, 128: 1024}


def scenes_per_second(track: str, size: int, length: int, seed: int = 12345) -> tuple[float, float]:
    """``(first epoch, shuffled second epoch)`` scenes per second through a ``DataLoader`` (batch 64)."""
    CACHE.clear()
    dataset = SyntheticScenes("train", track, size, length=length, seed=seed)
    rates = []
    for shuffle in (False, True):
        start = time.perf_counter()
        for _images, _masks in DataLoader(dataset, batch_size=64, shuffle=shuffle, num_workers=0):
            pass
        rates.append(length / (time.perf_counter() - start))
    CACHE.clear()
    return rates[0], rates[1]


def warm_up() -> None:
    """Make the per-process tables (noise bank, blotch fields, band patterns) once, outside the timings."""
    for track in TRACKS:
        for size in (64, 128):
            SyntheticScenes("train", track, size, length=1, seed=54321)[0]
    CACHE.clear()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", nargs="+", default=list(TRACKS), choices=TRACKS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--length", type=int, default=None, help="scenes per run (default 4096 at 64 px, "
                        "1024 at 128 px, scaled by area otherwise)")
    parser.add_argument("--threads", nargs="+", type=int, default=None,
                        help="torch thread counts to measure (default: torch's default, then 1)")
    args = parser.parse_args(argv)
    default_threads = torch.get_num_threads()
    thread_counts = args.threads or sorted({default_threads, 1}, reverse=True)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {load[0]:.2f} (other work on the "
          f"machine lowers these numbers)")
    warm_up()
    print(f"{'track':<8} {'size':>5} {'threads':>7} {'scenes':>7} {'first epoch/s':>14} {'second (shuffled)/s':>20}")
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for size in args.sizes:
            length = args.length or DEFAULT_LENGTH.get(size, max(256, 4096 * 64 * 64 // (size * size)))
            for track in args.tracks:
                first, second = scenes_per_second(track, size, length)
                print(f"{track:<8} {size:>5} {threads:>7} {length:>7} {first:>14.0f} {second:>20.0f}", flush=True)
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
