#!/usr/bin/env python
"""Train GANs N' Roses (face <-> anime) on two image folders; resumes from the run directory's latest checkpoint.

    python scripts/train_gnr.py --run-dir runs/slim128 --config slim --size 128 --time-budget 35 --threads 1
    python scripts/train_gnr.py --run-dir runs/slim256 --device cuda --batch 8 --time-budget 25 --export out.safetensors
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.engines.torch_engine import cpu_has_bf16  # noqa: E402
from streamfx.errors import StreamfxError, UsageError  # noqa: E402
from streamfx.training.data import CELEBAHQ, SELFIE2ANIME, build_domains, with_teacher_pairs  # noqa: E402
from streamfx.training.loop import RunOptions, TrainingRun  # noqa: E402
from streamfx.training.trainer import TrainConfig, model_config  # noqa: E402

log = logging.getLogger("streamfx")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", type=Path, required=True, help="outputs and checkpoints (resumed when present)")
    p.add_argument("--data-a", type=Path, default=SELFIE2ANIME / "trainA", help="domain A (faces) folder")
    p.add_argument("--data-b", type=Path, default=SELFIE2ANIME / "trainB", help="domain B (anime) folder")
    p.add_argument("--celeba-count", type=int, default=0, help="mix this many CelebA-HQ faces into domain A")
    p.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    p.add_argument("--teacher", type=Path, action="append", default=[], metavar="DIR",
                   help="teacher outputs for CelebA-HQ faces, same file names (repeat for several teachers): "
                        "adds the paired distillation term")
    p.add_argument("--config", default="slim", choices=["tiny", "slim", "official"], help="generator widths")
    p.add_argument("--size", type=int, default=None, help="training resolution (default: the config's, 256)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--iters", type=int, default=300_000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:N")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="bf16 autocast (CUDA; CPUs with native bf16, e.g. AVX-512 BF16)")
    p.add_argument("--gnr-every", type=int, default=1, metavar="N",
                   help="with --teacher: the full GNR step every N steps, distillation-only steps between")
    p.add_argument("--jitter-teacher", action=argparse.BooleanOptionalAction, default=True,
                   help="colour-jitter teacher outputs, so each teacher spans a family of palettes in style space")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="NHWC activations (faster convolutions on the CPU)")
    p.add_argument("--time-budget", type=float, default=None, metavar="MINUTES", help="stop cleanly and save")
    p.add_argument("--step-time", type=float, default=None, metavar="MINUTES",
                   help="stop once the run's total step time (checkpoint wall_seconds, resumes included) reaches this: "
                        "runs compared at equal CPU time")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--init-weights", type=Path, default=None, metavar="FILE",
                   help="a new run starts from this weight file's generators (fresh discriminators and optimizers); "
                        "ignored when the run directory has a checkpoint to resume")
    p.add_argument("--fresh", action="store_true", help="refuse to resume: the run directory must have no checkpoint")
    p.add_argument("--benchmark", type=int, default=0, metavar="STEPS",
                   help="time STEPS iterations, count FLOPs, print a table and a GPU estimate; no training run")
    p.add_argument("--export", type=Path, default=None, help="write the EMA generators here (streamfx weights)")
    return p.parse_args(argv)


def resumed_model_config(run_dir: Path):
    """The architecture of the run's latest checkpoint (it wins over --config/--size when resuming), or None."""
    from streamfx.models.gnr import GNRConfig
    from streamfx.training import checkpoint as ckpt

    latest = ckpt.latest_checkpoint(run_dir / "checkpoints")
    if latest is None:
        return None
    config = GNRConfig.from_dict(ckpt.read_meta(latest)["config"]["model"])
    log.info("resuming %s: architecture from the checkpoint (%s)", latest, config.to_dict()["channels"])
    return config


def initial_model_config(weights: Path | None):
    """The architecture of --init-weights (it wins over --config/--size for a new run), or None."""
    from streamfx.models.gnr import GNRConfig
    from streamfx.weights import read_metadata

    if weights is None:
        return None
    return GNRConfig.from_dict(read_metadata(weights)["configs"]["A2B"])


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but torch sees no CUDA GPU")
    return name


def bf16_supported(device: str) -> bool:
    """bf16 autocast pays off on CUDA and on CPUs with native bf16 arithmetic (oneDNN reports it)."""
    if device.startswith("cuda"):
        return True
    return cpu_has_bf16()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.threads:
            torch.set_num_threads(args.threads)
        device = resolve_device(args.device)
        if device.startswith("cuda"):
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True
        data = build_domains(args.data_a, args.data_b, args.celeba_dir, args.celeba_count)
        if args.teacher:
            data = with_teacher_pairs(data, args.celeba_dir, args.teacher)
        log.info("data %s", data.describe())
        model = resumed_model_config(args.run_dir) or initial_model_config(args.init_weights) \
            or model_config(args.config, args.size)
        cfg = TrainConfig(model=model, batch=args.batch, lr=args.lr, seed=args.seed,
                          amp=args.amp and bf16_supported(device), channels_last=args.channels_last,
                          gnr_every=args.gnr_every, jitter_teacher=args.jitter_teacher)
        if args.benchmark:
            return benchmark(cfg, data, args.benchmark, device)
        budget = None if args.time_budget is None else args.time_budget * 60
        options = RunOptions(run_dir=args.run_dir, iterations=args.iters, time_budget_s=budget,
                             step_time_budget_s=None if args.step_time is None else args.step_time * 60,
                             log_every=args.log_every, sample_every=args.sample_every,
                             checkpoint_every=args.checkpoint_every)
        run = TrainingRun(cfg, data, options, device)
        resumed = run.resume()
        if resumed and args.fresh:
            raise UsageError(f"--fresh given but {args.run_dir} already has a checkpoint")
        if not resumed and args.init_weights:
            run.start_from_weights(args.init_weights)
        result = run.run()
        if args.export:
            from streamfx.training.export import export_weights

            result["export_sha256"] = export_weights(Path(result["checkpoint"]), args.export, device=_device_name(device))
        print(json.dumps(result, indent=1))
        return 0
    except StreamfxError as error:
        print(f"train_gnr: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("train_gnr: interrupted (the last checkpoint is kept)", file=sys.stderr)
        return 130


def benchmark(cfg: TrainConfig, data, steps: int, device: str) -> int:
    from streamfx.training.benchmark import gpu_estimate, measure

    result = measure(cfg, data, steps, device)
    tflop = result["flops_per_it"] / 1e12
    print("| config | size | batch | G params | D params | s/it | TFLOP/it | ops/it | device |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args_config_name(cfg)} | {result['size']} | {result['batch']} | {result['g_params'] / 1e6:.2f} M "
          f"| {result['d_params'] / 1e6:.2f} M | {result['s_per_it']:.3f} | {tflop:.3f} | {result['ops_per_it']} | {_device_name(device)} |")
    if result["s_per_distill_it"] is not None:
        print(f"distillation-only step {result['s_per_distill_it']:.3f} s; mean over a cycle of {cfg.gnr_every} "
              f"steps {result['s_per_it_mean']:.3f} s")
    for label, peak, util in (("H100 bf16, 10% of 989 TFLOPS", 989, 0.10), ("H100 bf16, 25% of 989 TFLOPS", 989, 0.25)):
        its = gpu_estimate(result["flops_per_it"], result["ops_per_it"], 25, peak, util)
        print(f"25 min on {label} (or 8 us per op launch, whichever is slower): ~{its:,} iterations")
    return 0


def args_config_name(cfg: TrainConfig) -> str:
    widths = ",".join(f"{r}:{c}" for r, c in cfg.model.channels)
    return f"w{cfg.model.style_dim} [{widths}]"


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({torch.get_num_threads()} threads)"


if __name__ == "__main__":
    raise SystemExit(main())
