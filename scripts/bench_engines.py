#!/usr/bin/env python
"""Faces per second of the GNR generator (encode + decode) for each engine, precision and batch.

    python scripts/bench_engines.py                                # slim and official, every engine that loads
    python scripts/bench_engines.py --models slim --batches 1 4 --engines onnxruntime torch --device cpu

Weights are random (seeded): speed does not depend on their values. Input batches are CPU tensors, as the
pipeline hands them over, so GPU rows include the host-to-device copy; outputs are synchronized before the
clock stops. The mapping network is not timed: it runs once per video. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time

import torch

from streamfx.engines.select import EngineHooks, open_engines
from streamfx.errors import StreamfxError
from streamfx.models.gnr import OFFICIAL, SLIM, SLIM_128, Generator

MODELS = {"slim": SLIM, "slim128": SLIM_128, "official": OFFICIAL}  # slim128: the bundled default


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    parser.add_argument("--engines", nargs="+", default=["tensorrt", "onnxruntime", "torch"],
                        choices=("tensorrt", "onnxruntime", "torch"))
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "fp16"),
                        help="default: fp16 and fp32 on CUDA, fp32 on the CPU")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=5.0, help="time budget per row after warm-up (default 5)")
    parser.add_argument("--min-runs", type=int, default=2, help="timed runs per row at least (default 2)")
    parser.add_argument("--cuda-graphs", action="store_true", help="torch on CUDA: replay CUDA graphs per batch size")
    parser.add_argument("--dir", help="engine cache folder (default: engines/ or the user cache)")
    return parser.parse_args(argv)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_batch(engines, x: torch.Tensor, w: torch.Tensor, *, seconds: float, min_runs: int) -> tuple[float, int]:
    """Faces per second for encode + decode of batch x, after one warm-up call; (fps, timed runs)."""
    engines.decode(engines.encode(x)[0], w)  # warm-up: allocations, autotuning, graph capture
    _sync(engines.device)
    runs, started = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - started < seconds:
        engines.decode(engines.encode(x)[0], w)
        _sync(engines.device)
        runs += 1
    return runs * x.shape[0] / (time.perf_counter() - started), runs


def machine() -> str:
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        return f"{torch.cuda.get_device_name()} (sm{major}{minor}), {torch.get_num_threads()} CPU threads"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} CPU threads, no GPU"


def bench_model(name: str, args, hooks: EngineHooks) -> None:
    torch.manual_seed(0)
    generator = Generator(MODELS[name]).fold_equalized_lr().eval()
    config = generator.config
    precisions = args.precisions or (["fp16", "fp32"] if args.device.startswith("cuda") else ["fp32"])
    for engine in args.engines:
        for precision in precisions:
            try:
                engines = open_engines(generator, engine=engine, device=args.device, precision=precision,
                                       max_batch=max(args.batches), cache_dir=args.dir, hooks=hooks)
            except StreamfxError as error:
                print(f"| {name} | {engine} | {precision} | - | not available: {str(error)[:90]} | |", flush=True)
                continue
            with engines:
                w_one = engines.mapping(torch.randn(1, config.latent_dim))
                for batch in args.batches:
                    x = torch.rand(batch, 3, config.size, config.size) * 2 - 1  # [B,3,S,S] in [-1,1], on the CPU
                    fps, runs = time_batch(engines, x, w_one.expand(batch, -1), seconds=args.seconds,
                                           min_runs=args.min_runs)
                    print(f"| {name} | {engine} | {precision} | {batch} | {fps:.2f} | {engines.description} ({runs} runs) |",
                          flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    hooks = EngineHooks(torch_options={"cuda_graph_batches": tuple(args.batches)} if args.cuda_graphs else {})
    print(f"machine: {machine()}; torch {torch.__version__}; python {platform.python_version()}")
    print("\n| model | engine | precision | batch | faces/s | engine description |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        bench_model(name, args, hooks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
