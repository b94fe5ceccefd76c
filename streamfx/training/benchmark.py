"""Training-speed measurement: seconds per iteration and FLOPs per iteration (for GPU budget estimates)."""

from __future__ import annotations

import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from streamfx.training.data import DomainData
from streamfx.training.trainer import GNRTrainer, TrainConfig


class _OpCounter(TorchDispatchMode):
    """Counts aten ops: roughly the kernel launches the step would make on a GPU in eager mode."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_step_flops(trainer: GNRTrainer) -> tuple[int, int]:
    """(FLOPs with multiply-add = 2, aten op count) of one full training step, forward and backward."""
    with FlopCounterMode(display=False) as counter, _OpCounter() as ops:
        trainer.step()
    return int(counter.get_total_flops()), ops.count


def measure(cfg: TrainConfig, data: DomainData, steps: int = 3, device: str = "cpu") -> dict:
    """Median seconds per full GNR step over the timed steps (after a warm-up), FLOPs of a full step, and with
    `gnr_every` > 1 the median distillation-only step and the mean over a cycle of `gnr_every` steps.

    Steps with the lazy R1 pass (every `d_reg_every`-th full step) cost more; they are excluded from the timing and
    the FLOP count, and their share is small (1 in 16).
    """
    trainer = GNRTrainer(cfg, data, device)
    trainer.step()  # warm-up, and step 0 runs R1
    while not trainer.is_full_step(trainer.step_count):
        trainer.step()
    flops, ops = count_step_flops(trainer)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(steps):
        full, r1 = trainer.is_full_step(trainer.step_count), trainer.is_r1_step(trainer.step_count)
        tick = time.perf_counter()
        trainer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        if not r1:
            times[full].append(time.perf_counter() - tick)
    full_s = _median(times[True])
    distill_s = _median(times[False]) if times[False] else None
    cycle_s = full_s if distill_s is None else (full_s + (cfg.gnr_every - 1) * distill_s) / cfg.gnr_every
    return {"size": cfg.model.size, "batch": cfg.batch, "s_per_it": full_s, "s_per_distill_it": distill_s,
            "s_per_it_mean": cycle_s, "flops_per_it": flops, "ops_per_it": ops,
            "g_params": sum(p.numel() for p in trainer.g_a2b.parameters()),
            "d_params": sum(p.numel() for p in trainer.d_a.parameters())}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def gpu_estimate(flops_per_it: float, ops_per_it: int, minutes: float, peak_tflops: float, utilization: float,
                 launch_us: float = 8.0) -> int:
    """Iterations that `minutes` buy: the slower of compute (`utilization` of `peak_tflops`) and kernel launches
    (`launch_us` per op, eager mode), which bounds small models."""
    seconds = max(flops_per_it / (peak_tflops * 1e12 * utilization), ops_per_it * launch_us * 1e-6)
    return int(minutes * 60 / seconds)
