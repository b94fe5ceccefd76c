"""Benchmark the GNR generator on CPU: parameters, GFLOP and time per 256x256 face (encode, decode).

    python scripts/bench_model.py                    # official and slim widths, 2 threads
    python scripts/bench_model.py --configs slim --threads 2 --repeat 10
    python scripts/bench_model.py --channels 4:96,8:96,16:96,32:64,64:32,128:16,256:16 --style-dim 256

Prints a markdown table. Times are medians over --repeat runs after a warm-up, batch 1, inference form, fp32.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from streamfx.models.gnr import OFFICIAL, SLIM, Generator, GNRConfig


def parse_channels(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((int(r), int(c)) for r, c in (p.split(":") for p in text.split(","))))


def gflops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def median_seconds(fn, repeat: int) -> tuple[float, float]:
    """(median wall seconds, median process CPU seconds). On a shared machine wall time grows with the load;
    CPU time barely does, so with --threads 1 it estimates the uncontended time."""
    fn()  # warm-up: allocator and oneDNN primitive caches
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


@torch.inference_mode()
def bench(name: str, cfg: GNRConfig, repeat: int) -> dict:
    G = Generator(cfg).eval().fold_equalized_lr()
    x = torch.rand(1, 3, cfg.size, cfg.size) * 2 - 1
    w = G.mapping(torch.randn(1, cfg.latent_dim))
    content, _ = G.encode(x)
    params = sum(p.numel() for p in G.parameters())
    return {
        "name": name,
        "params_m": params / 1e6,
        "enc_gflop": gflops(lambda: G.encode(x)),
        "dec_gflop": gflops(lambda: G.decode(content, w)),
        "enc": median_seconds(lambda: G.encode(x), repeat),
        "dec": median_seconds(lambda: G.decode(content, w), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="official,slim", help="comma list of official, slim")
    parser.add_argument("--channels", help="extra config: res:width,... (e.g. 4:128,...,256:16)")
    parser.add_argument("--style-dim", type=int, default=256, help="w width of the --channels config")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    known = {"official": OFFICIAL, "slim": SLIM}
    configs = [(n, known[n]) for n in args.configs.split(",") if n]
    if args.channels:
        configs.append(("custom", GNRConfig(channels=parse_channels(args.channels), style_dim=args.style_dim)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s) of {os.cpu_count()}, load {load:.1f}, "
          f"batch 1, 256x256, fp32, median of {args.repeat}")
    print("| model | params (M) | encode GFLOP | decode GFLOP | encode s | decode s | total s/face | CPU s/face |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cfg in configs:
        r = bench(name, cfg, args.repeat)
        print(
            f"| {r['name']} | {r['params_m']:.2f} | {r['enc_gflop']:.2f} | {r['dec_gflop']:.2f} | "
            f"{r['enc'][0]:.3f} | {r['dec'][0]:.3f} | {r['enc'][0] + r['dec'][0]:.3f} | "
            f"{r['enc'][1] + r['dec'][1]:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
