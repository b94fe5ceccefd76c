#!/usr/bin/env python
"""Faces per second of every CPU engine on the default weights, with its PSNR against torch fp32.

    python scripts/bench_engines_cpu.py                      # every CPU engine and precision, batches 1 4 8
    python scripts/bench_engines_cpu.py --threads 2 --batches 1 4 --candidates "openvino bf16" "torch bf16"

Rows: torch fp32 (channels-last), torch bf16 (autocast, channels-last), onnxruntime fp32, openvino fp32 and
openvino bf16 -- the candidates `--engine auto` measures on the CPU. Each row times encode + decode of a batch
(one warm-up call, then at least --min-runs calls and --seconds of them) and prints faces per second; the PSNR
column compares the engine's image with the plain torch fp32 module on the fixed probe that `auto` uses
(batch 4), so it shows what `auto`'s 40 dB floor sees. All engines run --threads threads (default: torch's).
Speed numbers only mean something on an idle machine: the load average is printed, with a warning when the
machine is busy. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time

import torch

from streamfx.engines.select import CPU_CANDIDATES, PSNR_FLOOR_DB, open_engines, probe_inputs, psnr_db
from streamfx.errors import StreamfxError

CANDIDATES = tuple(f"{engine} {precision}" for engine, precision in CPU_CANDIDATES["auto"])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="weights file or catalog name (default: the default model)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for every engine (default: torch's)")
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES), metavar="ENGINE_PREC",
                        help=f"rows to run, from: {', '.join(repr(c) for c in CANDIDATES)} (default: all)")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per cell after warm-up (default 3)")
    parser.add_argument("--min-runs", type=int, default=3, help="timed calls per cell at least (default 3)")
    parser.add_argument("--dir", help="engine cache folder (default: engines/ or the user cache)")
    return parser.parse_args(argv)


def faces_per_second(engines, x: torch.Tensor, w: torch.Tensor, *, seconds: float, min_runs: int) -> float:
    engines.decode(engines.encode(x)[0], w)  # warm-up: allocations, shape-specific kernels
    runs, started = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - started < seconds:
        engines.decode(engines.encode(x)[0], w)
        runs += 1
    return runs * x.shape[0] / (time.perf_counter() - started)


def machine() -> str:
    from streamfx.engines.torch_engine import cpu_has_bf16

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            name = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), name)
    except OSError:
        pass
    versions = [f"torch {torch.__version__}"]
    for module in ("onnxruntime", "openvino"):
        try:
            versions.append(f"{module} {__import__(module).__version__.split('-')[0]}")
        except ImportError:
            versions.append(f"{module} not installed")
    return (f"{name}, {os.cpu_count()} logical CPUs, {torch.get_num_threads()} threads, "
            f"native bf16 {'yes' if cpu_has_bf16() else 'no'}; {', '.join(versions)}; "
            f"python {platform.python_version()}")


def load_note() -> str:
    try:
        load = os.getloadavg()[0]
    except OSError:
        return "load average unknown"
    note = f"load average {load:.2f}"
    if load > 0.25 * (os.cpu_count() or 1):
        note += " -- WARNING: the machine is busy, these speeds are not valid benchmark numbers"
    return note


def main(argv=None) -> int:
    from streamfx.weights import load_generators, resolve_weights

    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)  # ONNX Runtime and OpenVINO follow torch's count
    path = resolve_weights(args.weights)
    generator = load_generators(path)[0]["A2B"]
    config = generator.config
    probe_x, probe_w, reference = probe_inputs(generator, 4)
    z = torch.randn(1, config.latent_dim, generator=torch.Generator().manual_seed(0))
    w_one = generator.mapping_net(z).detach()
    print(f"machine: {machine()}")
    print(f"weights: {path.name} ({config.size}x{config.size}); {load_note()}")
    header = " | ".join(f"batch {b} faces/s" for b in args.batches)
    print(f"\n| engine | precision | {header} | PSNR vs fp32 (dB) | engine description |")
    print("|---|---|" + "---|" * len(args.batches) + "---|---|")
    for label in args.candidates:
        engine, precision = label.split()
        try:
            engines = open_engines(generator, engine=engine, device="cpu", precision=precision,
                                   max_batch=max(args.batches), cache_dir=args.dir)
        except StreamfxError as error:
            dashes = " - |" * len(args.batches)
            print(f"| {engine} | {precision} |{dashes} - | not available: {str(error)[:90]} |", flush=True)
            continue
        with engines:
            with torch.inference_mode():
                quality = psnr_db(reference, engines.decode(engines.encode(probe_x)[0], probe_w))
                cells = []
                for batch in args.batches:
                    x = torch.rand(batch, 3, config.size, config.size, generator=torch.Generator().manual_seed(batch))
                    fps = faces_per_second(engines, x * 2 - 1, w_one.expand(batch, -1), seconds=args.seconds,
                                           min_runs=args.min_runs)
                    cells.append(f"{fps:.1f}")
            flag = "" if quality >= PSNR_FLOOR_DB else f" (below the {PSNR_FLOOR_DB:g} dB floor)"
            print(f"| {engine} | {precision} | {' | '.join(cells)} | {quality:.1f}{flag} | {engines.description} |",
                  flush=True)
    print(f"\n{load_note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
