"""Speed of every registered model on this machine: ``python -m segedu.models.bench``.

For each model (default options): parameters, output stride, forward latency at batch 1
and batch 32 (eval mode, ``torch.inference_mode``, median of several runs) and training
throughput (images/s for forward + backward + AdamW step at batch 32). Images are 64 x 64
unless ``--size`` says otherwise. Timings depend on the machine and on what else runs on
it: report them with the machine, the thread count and the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from . import MODEL_NAMES, build
from .base import main_output
from .utils import count_parameters, model_name


def measure_latency(model: nn.Module, batch_size: int = 1, image_size: int = 64, repeats: int = 10,
                    warmup: int = 2) -> float:
    """Median seconds of one forward pass on ``batch_size x in_channels x image_size x image_size`` zeros.

    Eval mode, ``torch.inference_mode``, on the model's device. Restores the model's mode.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = torch.randn(batch_size, model.in_channels, image_size, image_size, device=device)
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                start = time.perf_counter()
                model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return statistics.median(times)


def measure_training_throughput(model: nn.Module, batch_size: int = 32, image_size: int = 64, steps: int = 5,
                                warmup: int = 1) -> float:
    """Training images per second: median over ``steps`` of forward + cross-entropy + backward + AdamW step.

    Uses random images and labels; the model is trained in place (use a throwaway copy).
    """
    model.train()
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, model.in_channels, image_size, image_size, device=device)
    num_classes = model.num_classes
    target = torch.randint(0, num_classes, (batch_size, image_size, image_size), device=device)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(main_output(model(x)), target)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return batch_size / statistics.median(times)


def benchmark(names=MODEL_NAMES, num_classes: int = 5, image_size: int = 64, repeats: int = 10,
              train_steps: int = 5) -> list[dict]:
    """One dict per model name: name, model, parameters, output_stride, latency_b1_ms, latency_b32_ms, train_img_s."""
    rows = []
    for name in names:
        torch.manual_seed(0)
        model = build(name, num_classes)
        rows.append({
            "name": name,
            "model": model_name(model),
            "parameters": count_parameters(model),
            "output_stride": model.output_stride,
            "latency_b1_ms": 1000 * measure_latency(model, 1, image_size, repeats),
            "latency_b32_ms": 1000 * measure_latency(model, 32, image_size, max(repeats // 2, 3)),
            "train_img_s": measure_training_throughput(model, 32, image_size, train_steps),
        })
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=10, help="timed forward passes per batch size")
    parser.add_argument("--train-steps", type=int, default=5, help="timed training steps")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads, load average {load:.2f}, {args.size}x{args.size} images")
    header = f"{'name':<8} {'model':<15} {'params':>9} {'OS':>3} {'fwd b1 ms':>10} {'fwd b32 ms':>11} {'train img/s':>12}"
    print(header)
    print("-" * len(header))
    for row in benchmark(args.models, image_size=args.size, repeats=args.repeats, train_steps=args.train_steps):
        print(f"{row['name']:<8} {row['model']:<15} {row['parameters'] / 1e6:>7.3f} M {row['output_stride']:>3} "
              f"{row['latency_b1_ms']:>10.2f} {row['latency_b32_ms']:>11.1f} {row['train_img_s']:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
