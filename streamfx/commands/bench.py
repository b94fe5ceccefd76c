"""`streamfx bench IN`: pipeline fps and stage breakdown beside the passthrough ceiling (decode + encode).

Also holds the measurements `scripts/bench_pipeline.py` reuses: the ceiling, the threaded pipeline,
and the naive loop (per frame, one face at a time, decode/infer/encode in one thread).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from streamfx.commands.common import PRELOAD, add_face_arguments, add_model_arguments, build_pipeline, check_common
from streamfx.io.encode import DEFAULT_PRESET

log = logging.getLogger("streamfx")


@dataclass
class Measurement:
    name: str
    frames: int
    seconds: float
    detail: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def register(sub) -> None:
    parser = sub.add_parser("bench", help="measure pipeline fps and the time of each stage on a clip")
    parser.add_argument("input", metavar="IN", help="input video")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="use the first S seconds")
    parser.add_argument("--naive", action="store_true",
                        help="also time the naive loop (per frame, one face at a time, no threads)")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help=f"encoder preset for every measurement (default {DEFAULT_PRESET}, as a run uses)")
    add_model_arguments(parser)
    add_face_arguments(parser)
    parser.set_defaults(run=run, preload=PRELOAD, thread_budget=True)


def _writer(reader, path: Path, preset: str):
    from streamfx.io.encode import VideoWriter

    return VideoWriter(path, width=reader.info.width, height=reader.info.height, time_base=reader.time_base,
                       fps=reader.fps, audio_from=reader.path, audio_range=reader.time_range, preset=preset)


def measure_ceiling(source: Path, folder: Path, duration=None, preset: str = DEFAULT_PRESET) -> Measurement:
    """Decode + encode with no face work: the fastest any effect can run on this clip."""
    from streamfx.io.decode import VideoReader

    started = time.perf_counter()
    with VideoReader(source, duration=duration) as reader, _writer(reader, folder / "ceiling.mp4", preset) as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)
        frames = writer.frames_written
    return Measurement("passthrough ceiling (decode+encode)", frames, time.perf_counter() - started)


def measure_pipeline(args, source: Path, folder: Path, effect, duration=None, preset: str = DEFAULT_PRESET):
    """The threaded pipeline into a file; returns (Measurement, RunStats)."""
    from streamfx.io.decode import VideoReader
    from streamfx.sinks.file import FileSink

    pipeline = build_pipeline(args, effect, live=False)
    with VideoReader(source, duration=duration) as reader:
        sink = FileSink(folder / "pipeline.mp4", width=reader.info.width, height=reader.info.height,
                        time_base=reader.time_base, fps=reader.fps, audio_from=source,
                        audio_range=reader.time_range, preset=preset)
        stats = pipeline.run(reader, [sink])
    return Measurement(f"pipeline (threads, batch {args.batch})", stats.frames_out, stats.wall_seconds), stats


def measure_naive(args, source: Path, folder: Path, effect, duration=None, preset: str = DEFAULT_PRESET) -> Measurement:
    """Same stages and model, run one after another per frame, each face its own model call."""
    import numpy as np

    from streamfx.io.decode import VideoReader

    pipeline = build_pipeline(args, effect, live=False)  # for its face stage and composer only
    face_stage, composer = pipeline.face_stage, pipeline.composer
    effect(np.zeros((1, face_stage.crop_size, face_stage.crop_size, 3), np.uint8))  # same warm-up
    started = time.perf_counter()
    with VideoReader(source, duration=duration) as reader, _writer(reader, folder / "naive.mp4", preset) as writer:
        for frame in reader:
            for work in face_stage.push(frame):
                writer.write(composer(_generated(effect, work)), work.frame.pts)
        for work in face_stage.flush():
            writer.write(composer(_generated(effect, work)), work.frame.pts)
        frames = writer.frames_written
    return Measurement("naive (serial, 1 face per call)", frames, time.perf_counter() - started)


def _generated(effect, work):
    """`work` with its faces run through `effect`, each face its own call."""
    import numpy as np

    generated = [effect(crop.image[None], [crop.face.track_id])[0] for crop in work.crops]  # [V,S,S,3] each
    return type(work)(work.frame, work.crops, np.stack(generated)) if generated else work


def bench_effect(args):
    """What `anime` would run: the --weights model, else the installed default model; with no model installed,
    the default model's architecture with random weights (speed does not depend on weight values)."""
    from streamfx.commands.anime import build_effect
    from streamfx.errors import ModelError
    from streamfx.weights import resolve_weights

    if args.weights is None:
        try:
            resolve_weights(None)
        except ModelError:
            log.warning("no model installed: benchmarking the default model's architecture with random weights")
            return random_default_effect(args)
    return build_effect(args)


def random_default_effect(args):
    """The bundled default's architecture (slim, 128x128) with random weights."""
    import torch

    from streamfx.effects import effect_from_generator
    from streamfx.look import Look
    from streamfx.models.gnr import SLIM_128, Generator
    from streamfx.styles import style_from_seed

    torch.manual_seed(0)
    generator = Generator(SLIM_128).fold_equalized_lr().eval()
    with torch.inference_mode():
        w = generator.mapping(style_from_seed(Look.from_args(args).first_seed, SLIM_128.latent_dim))
    return effect_from_generator(generator, w, engine=args.engine, device=args.device, precision=args.precision,
                                 max_batch=args.batch, source_hash="random-slim128-seed0")


def format_table(rows: list[Measurement], ceiling: Measurement) -> str:
    lines = [f"  {'run':<40} {'frames':>6} {'seconds':>8} {'fps':>7} {'x ceiling':>9}"]
    for row in rows:
        share = row.fps / ceiling.fps if ceiling.fps else 0.0
        lines.append(f"  {row.name:<40} {row.frames:6d} {row.seconds:8.2f} {row.fps:7.1f} {share:9.2f}")
    return "\n".join(lines)


def run(args) -> int:
    from streamfx.io.paths import check_input

    check_common(args)
    source = check_input(args.input)
    effect = bench_effect(args)
    try:
        with tempfile.TemporaryDirectory(prefix="streamfx-bench-") as tmp:
            folder = Path(tmp)
            ceiling = measure_ceiling(source, folder, args.duration, args.preset)
            pipe, stats = measure_pipeline(args, source, folder, effect, args.duration, args.preset)
            rows = [ceiling, pipe]
            if args.naive:
                rows.append(measure_naive(args, source, folder, effect, args.duration, args.preset))
    finally:
        effect.close()
    print(f"{source.name}: engine {effect.description}, device {effect.device}")
    print(format_table(rows, ceiling))
    print(stats.table("pipeline stages"))
    return 0
