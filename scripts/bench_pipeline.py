"""Pipeline speed against the naive loop and the passthrough ceiling, measured in the same run, idle or loaded.

    python scripts/bench_pipeline.py [CLIP ...] [--duration 4] [--busy 0 1] [--runs 2] [--budget compute=1] [--markdown]
    python scripts/bench_pipeline.py CLIP ... --budgets plan compute=2 encode=1 --repeat 3   # compare budgets

Model: what `streamfx anime` runs, the installed default model (the default architecture with random weights when
none is installed: speed does not depend on weight values), on `--engine` (default auto: the CPU engine streamfx
would pick). Ceiling = decode + encode only, every library on its
own thread sizing. Naive = per frame: track + align, one face per model call, paste, encode, all in one thread,
every library on its own sizing (what a plain script gets). Pipeline = `streamfx.pipeline` (stage threads, faces
batched across frames) under the thread budget (`streamfx/threads.py`; `--budget` overrides shares).
Each of the three is the fastest of `--runs` runs (default 2), taken in turn: a first run pays for cold caches,
and runs on this shared machine vary by 10-20 %, so one unlucky run would move the ratio either way.
`--busy N` runs N busy-loop processes beside every measurement, as a streamer's OBS or browser would.
`--budgets` compares thread budgets ("plan" = the planned one): each clip's pipeline runs once per budget, in turn,
`--repeat` times, and the table gives the median fps per budget (runs on a shared 2-core machine vary by 10-20 %).
Default clips: the sample, two shared clips and the composed 720p and 1080p clips (scripts/make_bench_clips.py).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

SHARED_CLIPS = [REPO / "samples/astronaut.mp4", REPO.parent / "shared/data/videos/LivePortrait/d20.mp4",
                REPO.parent / "shared/data/videos/LivePortrait/d13.mp4"]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path, help="video files (default: see above)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds of each clip (default 4)")
    parser.add_argument("--engine", default="auto", help="engine for both loops (default auto)")
    parser.add_argument("--batch", type=int, default=8, help="pipeline faces per model call (default 8)")
    parser.add_argument("--preset", default=None, help="x264 preset for every run (default: streamfx's default)")
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1], help="busy processes beside (default 0 1)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each loop; the fastest counts (default 2)")
    parser.add_argument("--detect-every", type=int, default=None, metavar="N",
                        help="as `streamfx anime --detect-every` for both loops (default: streamfx's)")
    parser.add_argument("--budget", default="", help="override the pipeline's thread shares, e.g. compute=1")
    parser.add_argument("--budgets", nargs="+", default=None, help="compare these budgets (plan, or overrides)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of --budgets (default 3)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return parser.parse_args()


def _spin() -> None:
    while True:
        pass


class Busy:
    """`count` processes that each keep one core busy while the block runs."""

    def __init__(self, count: int):
        self.count, self.procs = count, []

    def __enter__(self):
        context = multiprocessing.get_context("spawn")
        self.procs = [context.Process(target=_spin, daemon=True) for _ in range(self.count)]
        for proc in self.procs:
            proc.start()
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.join()


def default_clips() -> list[Path]:
    import make_bench_clips

    composed = make_bench_clips.make(REPO / "runs/bench_clips") if make_bench_clips.VIDEOS.is_dir() else []
    return [c for c in SHARED_CLIPS if c.is_file()] + composed


def bench_args(clip: Path, opts):
    """The `streamfx bench` arguments every measurement of `clip` runs with."""
    from streamfx.cli import build_parser

    argv = ["bench", str(clip), "--engine", opts.engine, "--batch", str(opts.batch), "--device", "cpu"]
    if opts.preset:
        argv += ["--preset", opts.preset]
    if opts.detect_every:
        argv += ["--detect-every", str(opts.detect_every)]
    return build_parser().parse_args(argv)


def under_budget(measure, budget, args, clip: Path, folder: Path, opts):
    """(what `measure` returns, the engine that ran): the naive loop or the pipeline, with `budget` applied and a
    fresh effect loaded under it (engines size their pools when they load, so each budget gets its own)."""
    from streamfx.commands.bench import bench_effect
    from streamfx.threads import apply_budget

    apply_budget(budget)
    effect = bench_effect(args)
    try:
        return measure(args, clip, folder, effect, opts.duration, args.preset), effect.description
    finally:
        effect.close()


def measure_clip(clip: Path, folder: Path, opts, budget, naive_budget) -> dict:
    """The fastest of `opts.runs` runs of each loop, the three loops taking turns."""
    from streamfx.commands.bench import measure_ceiling, measure_naive, measure_pipeline
    from streamfx.threads import apply_budget

    args = bench_args(clip, opts)
    ceilings, naives, pipes = [], [], []
    for run in range(max(1, opts.runs)):
        outputs = folder / f"run{run}"  # each run writes its own files
        outputs.mkdir()
        apply_budget(naive_budget)
        ceilings.append(measure_ceiling(clip, outputs, opts.duration, args.preset))
        naives.append(under_budget(measure_naive, naive_budget, args, clip, outputs, opts)[0])
        (pipe, stats), engine = under_budget(measure_pipeline, budget, args, clip, outputs, opts)
        pipes.append((pipe, stats))
    ceiling, naive = max(ceilings, key=lambda m: m.fps), max(naives, key=lambda m: m.fps)
    pipe, stats = max(pipes, key=lambda run: run[0].fps)
    print(stats.table(f"{clip.name} pipeline ({budget.describe()}, fastest of {len(pipes)})"), file=sys.stderr)
    return {"clip": clip.name, "frames": pipe.frames, "faces": stats.faces, "ceiling": ceiling.fps,
            "naive": naive.fps, "pipeline": pipe.fps, "engine": engine}


def compare_budgets(clips: list[Path], opts, tmp: Path) -> None:
    """Median pipeline fps per budget, the budgets run in turn so slow spells of the machine hit them alike."""
    import statistics

    from streamfx.commands.bench import measure_pipeline
    from streamfx.threads import parse_overrides, plan_budget

    budgets = {name: parse_overrides("" if name == "plan" else name, plan_budget()) for name in opts.budgets}
    fps: dict[tuple, list[float]] = {}
    runs = 0
    for busy in opts.busy:
        with Busy(busy):
            for round_ in range(opts.repeat):
                for number, clip in enumerate(clips):
                    args = bench_args(clip, opts)
                    for name, budget in budgets.items():
                        runs += 1
                        folder = tmp / f"run{runs}"
                        folder.mkdir()
                        (pipe, _stats), _engine = under_budget(measure_pipeline, budget, args, clip, folder, opts)
                        fps.setdefault((busy, clip.name, name), []).append(pipe.fps)
    header = ("busy", "clip", *budgets)
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for busy in opts.busy:
        for clip in clips:
            cells = [f"{statistics.median(fps[(busy, clip.name, n)]):.2f} ({min(fps[(busy, clip.name, n)]):.1f}-"
                     f"{max(fps[(busy, clip.name, n)]):.1f})" for n in budgets]
            print(f"| {busy} | {clip.name} | " + " | ".join(cells) + " |")


def print_rows(header, cells, markdown: bool) -> None:
    """A Markdown table, or aligned plain columns (bench_live.py prints with it too)."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in cells:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(h), *(len(line[i]) for line in cells)) for i, h in enumerate(header)]
    for line in [header, *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))


def print_table(rows: list[dict], markdown: bool) -> None:
    header = ("busy", "clip", "frames", "faces", "ceiling fps", "naive fps", "pipeline fps", "vs naive",
              "of ceiling", "engine")
    cells = [(str(r["busy"]), r["clip"], str(r["frames"]), str(r["faces"]), f"{r['ceiling']:.1f}",
              f"{r['naive']:.2f}", f"{r['pipeline']:.2f}", f"{r['pipeline'] / r['naive']:.2f}x",
              f"{r['pipeline'] / r['ceiling']:.2f}", r["engine"]) for r in rows]
    print_rows(header, cells, markdown)


def main() -> int:
    from streamfx.threads import library_defaults, parse_overrides, plan_budget

    opts = parse()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the streamfx command sets it
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    budget = parse_overrides(opts.budget, plan_budget())
    clips = [c for c in opts.clips if c.is_file()] if opts.clips else default_clips()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        os.environ.setdefault("STREAMFX_ENGINES", str(Path(tmp) / "engines"))
        if opts.budgets:
            compare_budgets(clips, opts, Path(tmp))
            return 0
        for busy in opts.busy:
            with Busy(busy):
                for number, clip in enumerate(clips):
                    folder = Path(tmp) / f"busy{busy}-clip{number}"  # each run's outputs in their own folder
                    folder.mkdir()
                    rows.append({"busy": busy, **measure_clip(clip, folder, opts, budget, library_defaults())})
    print(f"pipeline thread budget: {budget.describe()}; naive and ceiling: every library on its own sizing")
    print_table(rows, opts.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
