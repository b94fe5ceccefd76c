"""Pipeline speed against the naive loop and the passthrough ceiling, measured in the same run.

    python scripts/bench_pipeline.py [CLIP ...] [--duration 2] [--engine onnxruntime] [--batch 8] [--threads 2]

Model: the default slim GNR architecture with random weights (speed does not depend on weight values),
the same runtime object for both loops. Naive = per frame: track + align, one face per model call,
paste, encode, all in one thread. Pipeline = `streamfx.pipeline` (threads, bounded queues, faces
batched across frames). Ceiling = decode + encode only. Prints a table (Markdown with --markdown).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = [REPO / "samples/astronaut.mp4",
                 REPO.parent / "shared/data/videos/EAMM/video_happy.mp4",
                 REPO.parent / "shared/data/videos/LivePortrait/d20.mp4"]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path, help="video files (default: the sample and two shared clips)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of each clip (default 2)")
    parser.add_argument("--engine", default="onnxruntime", help="engine for both loops (default onnxruntime)")
    parser.add_argument("--batch", type=int, default=8, help="pipeline faces per model call (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--preset", default="medium", help="x264 preset for every run (default medium)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return parser.parse_args()


def main() -> int:
    import torch

    from streamfx.cli import build_parser
    from streamfx.commands.bench import measure_ceiling, measure_naive, measure_pipeline, random_slim_effect

    opts = parse()
    torch.set_num_threads(opts.threads)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    clips = [c for c in (opts.clips or DEFAULT_CLIPS) if c.is_file()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("STREAMFX_ENGINES", str(folder / "engines"))
        for number, clip in enumerate(clips):
            work = folder / f"clip{number}"  # each clip's outputs in their own folder
            work.mkdir()
            args = build_parser().parse_args(["bench", str(clip), "--engine", opts.engine,
                                              "--batch", str(opts.batch), "--device", "cpu"])
            effect = random_slim_effect(args)
            try:
                ceiling = measure_ceiling(clip, work, opts.duration, opts.preset)
                naive = measure_naive(args, clip, work, effect, opts.duration, opts.preset)
                pipe, stats = measure_pipeline(args, clip, work, effect, opts.duration, opts.preset)
            finally:
                effect.close()
            rows.append((clip.name, pipe.frames, stats.faces, ceiling.fps, naive.fps, pipe.fps,
                         pipe.fps / naive.fps if naive.fps else 0.0, effect.description))
            print(stats.table(f"{clip.name} pipeline"), file=sys.stderr)
    header = ("clip", "frames", "faces", "ceiling fps", "naive fps", "pipeline fps", "speed-up", "engine")
    if opts.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.1f}x | {r[7]} |")
    else:
        print(f"{header[0]:<28} {'frames':>6} {'faces':>5} {'ceiling':>8} {'naive':>7} {'pipeline':>8} {'x':>5}  engine")
        for r in rows:
            print(f"{r[0]:<28} {r[1]:6d} {r[2]:5d} {r[3]:8.1f} {r[4]:7.2f} {r[5]:8.2f} {r[6]:5.1f}  {r[7]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
