"""The training run around `GNRTrainer.step`: resume, time budget, loss log, sample grids, checkpoints.

Run directory layout (`runs/<name>/`): `checkpoints/step_NNNNNNN/` (sharded, see `checkpoint.py`) with a
`LATEST` pointer, `log.jsonl` (one line of losses per logged step), `samples/step_NNNNNNN.png`, `run.json`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from streamfx.training import checkpoint as ckpt
from streamfx.training.data import DomainData, load_batch
from streamfx.training.samples import fixed_styles, translation_grid, write_png
from streamfx.training.trainer import GNRTrainer, TrainConfig

log = logging.getLogger("streamfx.training")


@dataclass(frozen=True)
class RunOptions:
    run_dir: Path
    iterations: int = 300_000
    time_budget_s: float | None = None  # stop cleanly (and save) before this much wall time
    step_time_budget_s: float | None = None  # stop once the run's total step time reaches this (equal-CPU comparisons)
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 1000
    sample_faces: int = 4
    sample_seeds: int = 6
    keep_checkpoints: int = 2


class TrainingRun:
    """A resumable training run in one directory."""

    def __init__(self, cfg: TrainConfig, data: DomainData, options: RunOptions, device: str = "cpu"):
        self.options = options
        self.root = Path(options.run_dir)
        self.trainer = GNRTrainer(cfg, data, device)
        self.sample_faces = load_batch(data.held_a[: options.sample_faces], cfg.model.size)  # held out: never trained
        self.sample_styles = fixed_styles(options.sample_seeds, cfg.model.latent_dim)

    def resume(self) -> bool:
        """Load the latest checkpoint in the run directory, if any. True when one was loaded."""
        path = ckpt.latest_checkpoint(self.root / "checkpoints")
        if path is None:
            return False
        tensors, meta = ckpt.read_checkpoint(path, device=self.trainer.device)
        self.trainer.load_state(tensors, meta)
        log.info("resumed from %s (step %d)", path, self.trainer.step_count)
        return True

    def start_from_weights(self, path: Path) -> None:
        """Begin a new run from an exported weight file's generators, at the step count and step time it records."""
        from streamfx.weights import load_weights

        generators, meta = load_weights(path)
        source = {"file": Path(path).name, "tensors_sha256": meta.get("tensors_sha256"), "steps": meta.get("steps")}
        self.trainer.warm_start(generators, meta.get("steps", 0), meta.get("wall_seconds", 0.0), source)
        log.info("started from %s (step %d)", path, self.trainer.step_count)

    def save(self) -> Path:
        tensors, meta = self.trainer.state()
        path = ckpt.save_step(self.root / "checkpoints", self.trainer.step_count, tensors, meta,
                              keep=self.options.keep_checkpoints)
        log.info("checkpoint %s", path)
        return path

    def write_samples(self) -> Path:
        t = self.trainer
        grid = translation_grid(t.ema_a2b, t.ema_b2a, self.sample_faces, self.sample_styles)
        return write_png(self.root / "samples" / f"step_{t.step_count:07d}.png", grid)

    def _log(self, logs: dict, seconds_per_step: float) -> None:
        row = {"step": self.trainer.step_count, "wall_s": round(self.trainer.wall_seconds, 2),
               "s_per_it": round(seconds_per_step, 4)}
        row.update({k: round(float(v), 6) for k, v in logs.items()})
        with open(self.root / "log.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
        d = f"  d {row['d_adv']:.3f}" if "d_adv" in row else "  (distillation step)"
        log.info("step %d  %.2f s/it  g %.3f%s", row["step"], seconds_per_step, row["g_total"], d)

    def run(self) -> dict:
        """Train until `iterations` or the time budget; always ends with a checkpoint and a sample grid."""
        opts, t = self.options, self.trainer
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "run.json").write_text(json.dumps({"config": t.cfg.to_dict(), "data": t.data.sources,
                                                        "options": {k: str(v) for k, v in vars(opts).items()}}, indent=1))
        started, slowest, stop = time.monotonic(), 0.0, "iterations"
        while t.step_count < opts.iterations:
            if opts.time_budget_s is not None and time.monotonic() - started + 2 * slowest > opts.time_budget_s:
                stop = "time budget"
                break
            if opts.step_time_budget_s is not None and t.wall_seconds >= opts.step_time_budget_s:
                stop = "step-time budget"
                break
            tick = time.monotonic()
            logs = t.step()
            if t.device.type == "cuda" and t.step_count % opts.log_every == 0:
                torch.cuda.synchronize()
            elapsed = time.monotonic() - tick
            slowest = max(slowest * 0.9, elapsed)  # a recent worst case, to keep a safety margin
            t.wall_seconds += elapsed
            if t.step_count % opts.log_every == 0 or t.step_count == 1:
                self._log(logs, elapsed)
            if t.step_count % opts.sample_every == 0:
                self.write_samples()
            if t.step_count % opts.checkpoint_every == 0:
                self.save()
        checkpoint = self.save()
        samples = self.write_samples()
        log.info("stopped at step %d (%s)", t.step_count, stop)
        return {"step": t.step_count, "stop": stop, "checkpoint": str(checkpoint), "samples": str(samples)}
