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
    """Median seconds per iteration over `steps` timed steps (after one warm-up step), and FLOPs per step.

    Steps with the lazy R1 pass (every `d_reg_every`-th) cost more; they are excluded from the timing and the
    FLOP count, and their share is small (1 in 16).
    """
    trainer = GNRTrainer(cfg, data, device)
    trainer.step()  # warm-up, and step 0 runs R1
    flops, ops = count_step_flops(trainer)
    times = []
    for _ in range(steps):
        if trainer.step_count % cfg.d_reg_every == 0:
            trainer.step()
            continue
        tick = time.perf_counter()
        trainer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tick)
    times.sort()
    return {"size": cfg.model.size, "batch": cfg.batch, "s_per_it": times[len(times) // 2], "flops_per_it": flops, "ops_per_it": ops,
            "g_params": sum(p.numel() for p in trainer.g_a2b.parameters()),
            "d_params": sum(p.numel() for p in trainer.d_a.parameters())}


def gpu_estimate(flops_per_it: float, ops_per_it: int, minutes: float, peak_tflops: float, utilization: float,
                 launch_us: float = 8.0) -> int:
    """Iterations that `minutes` buy: the slower of compute (`utilization` of `peak_tflops`) and kernel launches
    (`launch_us` per op, eager mode), which bounds small models."""
    seconds = max(flops_per_it / (peak_tflops * 1e12 * utilization), ops_per_it * launch_us * 1e-6)
    return int(minutes * 60 / seconds)
