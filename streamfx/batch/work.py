"""One batch job, the same in every process that runs it (this one, a pool worker, a Ray worker): the `anime`
command's own steps on one file, with the effect loaded once per process and reused for every later job."""

from __future__ import annotations

import argparse
import copy
import logging
import time

from streamfx.batch.jobs import Job, JobResult, source_stamp
from streamfx.errors import StreamfxError

log = logging.getLogger("streamfx")

# Options that shape the effect; a job whose values match the loaded effect's reuses it.
_EFFECT_OPTIONS = ("weights", "engine", "device", "precision", "batch", "style_seed", "style_mix", "style_image",
                   "style_anchor", "grid", "edit", "freeze")
_loaded: tuple[tuple, object] | None = None  # (effect options, effect) of this process


def _effect_for(args: argparse.Namespace):
    global _loaded
    from streamfx.commands.anime import build_effect

    key = tuple(getattr(args, name) for name in _EFFECT_OPTIONS)
    if _loaded is None or _loaded[0] != key:
        if _loaded is not None:
            _loaded[1].close()
        _loaded = (key, build_effect(args))
    return _loaded[1]


def job_args(options: argparse.Namespace, job: Job) -> argparse.Namespace:
    """The anime options for one job: its input and output, always replacing (the batch owns its outputs)."""
    args = copy.copy(options)
    args.input, args.output = str(job.source), str(job.output)
    args.overwrite, args.preview, args.stats = True, False, False
    return args


def run_job(options: argparse.Namespace, job: Job) -> JobResult:
    """Stylize one file. Its failure is a result (with the CLI's one-line message), never an exception."""
    from streamfx.commands.anime import stylize
    from streamfx.commands.common import check_output_plan
    from streamfx.io.decode import VideoReader

    args = job_args(options, job)
    size, mtime = source_stamp(job.source)
    started = time.perf_counter()
    try:
        job.output.parent.mkdir(parents=True, exist_ok=True)
        with VideoReader(job.source, start=args.start, duration=args.duration) as reader:
            check_output_plan(args, reader, job.output)
            stats = stylize(args, reader, job.output, _effect_for(args), progress=lambda n: None)
    except StreamfxError as error:
        return JobResult(job.key, "failed", error=str(error), exit_code=error.exit_code, source_size=size,
                         source_mtime_ns=mtime, seconds=time.perf_counter() - started)
    return JobResult(job.key, "done", frames=stats.frames_out, faces=stats.faces, seconds=stats.wall_seconds,
                     engine=stats.engine, source_size=size, source_mtime_ns=mtime)
