"""Live mode, measured: fps, capture-to-sink latency (mean, p95) and dropped frames for a 30 fps camera.

    python scripts/bench_live.py [CAMERA_CLIP ...] [--busy 0 1] [--weights PATH] [--markdown]

A video file stands in for the camera and is played in real time at its own rate (`streamfx live --camera FILE`),
so frames arrive as a webcam's would and are dropped, oldest first, when the pipeline falls behind. The sink takes
each frame and throws it away (what a preview or virtual camera costs is not in these numbers). Default cameras:
640x480 and 1280x720 at 30 fps (scripts/make_bench_clips.py); model: the installed default (slim) on the engine
`auto` picks; the same thread budget as `streamfx live`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cameras", nargs="*", type=Path, help="video files standing in for cameras")
    parser.add_argument("--busy", type=int, nargs="+", default=[0], help="busy processes beside (default 0)")
    parser.add_argument("--weights", default=None, help="model (default: the installed default)")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--markdown", action="store_true")
    return parser.parse_args()


def measure(camera_path: Path, opts) -> dict:
    from streamfx.cli import build_parser
    from streamfx.commands.anime import build_effect
    from streamfx.commands.common import build_pipeline
    from streamfx.io.camera import open_camera
    from streamfx.sinks.base import CallbackSink

    argv = ["live", "--camera", str(camera_path), "--no-preview", "--engine", opts.engine]
    args = build_parser().parse_args(argv + (["--weights", opts.weights] if opts.weights else []))
    camera = open_camera(args.camera)
    effect = build_effect(args)
    try:
        pipeline = build_pipeline(args, effect, live=True)
        stats = pipeline.run(camera, [CallbackSink(lambda image, frame: None)])
    finally:
        effect.close()
        camera.close()
    mean, p95 = stats.latency_ms() or (0.0, 0.0)
    return {"camera": f"{camera.width}x{camera.height} @ {float(camera.fps):.0f} fps", "frames": stats.frames_in,
            "shown": stats.frames_out, "dropped": stats.frames_dropped, "fps": stats.fps, "mean": mean, "p95": p95,
            "faces": stats.faces, "engine": effect.description}


def main() -> int:
    from bench_pipeline import Busy, print_rows

    import make_bench_clips
    from streamfx.threads import apply_budget

    opts = parse()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    cameras = opts.cameras or make_bench_clips.make_cameras(REPO / "runs/bench_clips")
    budget = apply_budget()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        os.environ.setdefault("STREAMFX_ENGINES", str(Path(tmp) / "engines"))
        for busy in opts.busy:
            with Busy(busy):
                rows += [{"busy": busy, **measure(path, opts)} for path in cameras]
    print(f"thread budget: {budget.describe()}")
    head = ("busy", "camera", "frames", "shown", "dropped", "fps", "latency mean ms", "latency p95 ms", "engine")
    cells = [(str(r["busy"]), r["camera"], str(r["frames"]), str(r["shown"]), str(r["dropped"]), f"{r['fps']:.1f}",
              f"{r['mean']:.0f}", f"{r['p95']:.0f}", r["engine"]) for r in rows]
    print_rows(head, cells, opts.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
