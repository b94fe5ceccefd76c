"""Per-stage timings of a pipeline run, and the table `--stats` prints.

Each stage thread adds to its own entry, so the numbers are busy time (queue waits excluded):
the slowest stage bounds the frame rate, and the sum shows what a serial loop would cost.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageTime:
    seconds: float = 0.0
    calls: int = 0
    items: int = 0  # frames (or faces, for the model stage) that the time covers


@dataclass
class RunStats:
    """What one run did: frame counts, wall time, per-stage busy time, engine and device."""

    engine: str = "none"
    device: str = "cpu"
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0  # live mode only: oldest frames dropped to keep up
    faces: int = 0
    batches: int = 0
    wall_seconds: float = 0.0
    stages: dict[str, StageTime] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # live: seconds from capture to the sinks, per frame shown
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, stage: str, seconds: float, items: int = 1) -> None:
        with self._lock:
            entry = self.stages.setdefault(stage, StageTime())
            entry.seconds += seconds
            entry.calls += 1
            entry.items += items

    @contextmanager
    def timed(self, stage: str, items: int = 1):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started, items)

    @property
    def fps(self) -> float:
        return self.frames_out / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def latency_ms(self) -> tuple[float, float] | None:
        """(mean, 95th percentile) capture-to-sink latency in milliseconds, or None when none was recorded."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return 1000.0 * sum(ordered) / len(ordered), 1000.0 * p95

    def ms_per_frame(self, stage: str) -> float:
        """Busy milliseconds per frame that the stage handled (live mode drops frames after capture)."""
        entry = self.stages.get(stage)
        frames = self.frames_in if stage in ("decode", "capture") else self.frames_out
        if entry is None or frames == 0:
            return 0.0
        return 1000.0 * entry.seconds / frames

    def table(self, title: str = "pipeline") -> str:
        """A plain-text table: one row per stage (ms per frame, share of the busy time), then totals."""
        busy = sum(s.seconds for s in self.stages.values()) or 1e-9
        lines = [f"{title}: {self.frames_out} frames in {self.wall_seconds:.2f} s = {self.fps:.1f} fps "
                 f"(engine {self.engine}, device {self.device})",
                 f"  {'stage':<8} {'ms/frame':>9} {'share':>6}  calls"]
        for name, entry in self.stages.items():
            lines.append(f"  {name:<8} {self.ms_per_frame(name):9.2f} {100 * entry.seconds / busy:5.0f}%  "
                         f"{entry.calls}")
        extra = f"faces {self.faces}, model batches {self.batches}"
        if self.batches:
            extra += f" (mean {self.faces / self.batches:.1f} faces)"
        if self.frames_dropped:
            extra += f", dropped {self.frames_dropped} frames"
        latency = self.latency_ms()
        if latency is not None:
            extra += f", latency capture->sink mean {latency[0]:.0f} ms, p95 {latency[1]:.0f} ms"
        lines.append(f"  {extra}")
        return "\n".join(lines)
