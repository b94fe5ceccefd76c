"""The thread budget: how many threads each library's pool may run, decided once per process.

The pipeline runs decode, face detection, the model, paste-back and encode at the same time in its stage threads,
and every library behind them also starts a pool of its own (torch or ONNX Runtime or OpenVINO intra-op, OpenCV,
FFmpeg's frame threads, x264). Left alone each pool sizes itself to every core, so on a two-core machine a dozen
runnable threads fight over two cores: measured, the threaded pipeline then ran slower than a one-thread loop as soon
as one other busy program shared the machine. The budget gives each pool a share of the cores the process may use.
Which share is best was measured with `scripts/bench_pipeline.py` (docs/benchmarks.md).

Users override any share with `STREAMFX_THREADS`, e.g. `STREAMFX_THREADS=compute=2,encode=1`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields, replace

from streamfx.errors import UsageError

log = logging.getLogger("streamfx.threads")

ENV = "STREAMFX_THREADS"


@dataclass(frozen=True)
class ThreadBudget:
    compute: int  # intra-op threads of torch and of the ONNX Runtime / OpenVINO engines (face detection and model)
    opencv: int  # OpenCV's pool (paste-back warps and blends)
    decode: int  # FFmpeg decoder threads (0: FFmpeg's own choice)
    encode: int  # encoder threads, x264's frame threads and lookahead (0: the encoder's own choice)

    def describe(self) -> str:
        return ", ".join(f"{f.name} {getattr(self, f.name)}" for f in fields(self))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which container limits narrow), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def plan_budget(cores: int | None = None) -> ThreadBudget:
    """The budget for a pipeline run on `cores` cores (default: the usable ones).

    The stages already overlap, so each pool gets a share rather than every core: compute all cores but one (the
    other serves decode, paste and encode beside it), OpenCV one (paste is small warps and blends), the decoder and
    encoder two each, the encoder more on big machines. On 2 cores this measured level with a one-thread encoder and
    with every library on its own sizing (within the machine's 10-20 % spread, docs/benchmarks.md); it exists so a
    many-core machine does not start a machine-wide pool per library for every stage at once.
    """
    cores = usable_cores() if cores is None else max(1, cores)
    encode = min(cores, 2) if cores <= 4 else cores // 2
    return ThreadBudget(compute=max(1, cores - 1), opencv=1, decode=min(2, cores), encode=encode)


def library_defaults(cores: int | None = None) -> ThreadBudget:
    """What the libraries choose when nobody sizes them: every core for each pool (the naive loop's setting)."""
    cores = usable_cores() if cores is None else max(1, cores)
    return ThreadBudget(compute=cores, opencv=cores, decode=0, encode=0)


def parse_overrides(text: str, budget: ThreadBudget) -> ThreadBudget:
    """`budget` with the shares named in `text` ("compute=2,encode=1") replaced; UsageError when malformed."""
    names = {f.name for f in fields(ThreadBudget)}
    changes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name.strip() not in names or not value.strip().isdigit():
            raise UsageError(f"{ENV}: {item!r} is not NAME=N with NAME one of {', '.join(sorted(names))}")
        changes[name.strip()] = int(value)
    return replace(budget, **changes)


_applied: ThreadBudget | None = None


def apply_budget(budget: ThreadBudget | None = None) -> ThreadBudget:
    """Size torch's and OpenCV's pools by `budget` (default: planned, then STREAMFX_THREADS) and remember it for
    the readers and writers opened afterwards. Returns what was applied."""
    global _applied
    import cv2
    import torch

    if budget is None:
        budget = parse_overrides(os.environ.get(ENV, ""), plan_budget())
    torch.set_num_threads(max(1, budget.compute))
    cv2.setNumThreads(max(1, budget.opencv))
    _applied = budget
    log.debug("thread budget: %s", budget.describe())
    return budget


def current_budget() -> ThreadBudget | None:
    """The budget last applied in this process, or None (libraries keep their own sizing)."""
    return _applied
