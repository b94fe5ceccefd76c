"""What the face commands share: argument groups, the checks made before any work, the pipeline they build, and
the run of one video into a file. `anime`, `edit`, `live`, `bench` and `batch` are each a thin layer over this."""

from __future__ import annotations

import logging
import sys

from streamfx.errors import UsageError
from streamfx.face.track import parse_selection

# C extensions a face command uses, loaded before it starts (see streamfx/signals.py).
PRELOAD = ("numpy", "torch", "cv2", "av", "onnxruntime")

log = logging.getLogger("streamfx")


# ---- argument groups ---------------------------------------------------------------------------------------------
def add_engine_arguments(parser, weights_help: str | None = None) -> None:
    group = parser.add_argument_group("model and engine")
    group.add_argument("--weights", metavar="PATH|NAME",
                       help=weights_help or "GNR weights: our .safetensors, the official GNR_checkpoint.pt, or a "
                                            "catalog name (default: the installed default model; none installed = "
                                            "faces pasted back unchanged)")
    group.add_argument("--engine", default="auto", choices=("auto", "tensorrt", "onnxruntime", "openvino", "torch"),
                       help="inference engine (default auto: the fastest that loads and keeps 40 dB)")
    group.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    group.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                       help="default auto: fp16 on GPUs; on CPUs the fastest of fp32 and bf16 that keeps 40 dB")
    group.add_argument("--batch", type=int, default=8, metavar="B", help="faces per model call (default 8)")


def add_style_arguments(parser) -> None:
    group = parser.add_argument_group("anime style")
    group.add_argument("--style-seed", type=int, default=None, metavar="N", help="style code from seed N (default 0)")
    group.add_argument("--style-image", metavar="IMG", help="style taken from a reference anime face image")
    group.add_argument("--style-mix", metavar="A,B,T", help="style between seeds A and B (T=0 is A, T=1 is B)")
    group.add_argument("--style-anchor", metavar="NAME",
                       help="a named look stored with the model (the default model: jpface, cute)")


def add_model_arguments(parser) -> None:
    """Engine and anime style: what `live`, `bench` and `anime` take."""
    add_engine_arguments(parser)
    add_style_arguments(parser)


def add_face_arguments(parser) -> None:
    group = parser.add_argument_group("faces and blending")
    group.add_argument("--faces", default="all", metavar="all|largest|ID",
                       help="which faces to change: all, the largest, or one track id (default all)")
    group.add_argument("--detect-every", type=int, default=5, metavar="N",
                       help="full face detection every N frames, landmark refresh between (default 5)")
    group.add_argument("--no-smooth", action="store_true",
                       help="no landmark smoothing, nor averaging of photo edits over frames (more jitter)")
    group.add_argument("--mask-margin", type=float, default=None, metavar="F",
                       help="unblended border of the face crop, fraction of its side (default 0.06; edits 0.01)")
    group.add_argument("--feather", type=float, default=None, metavar="F",
                       help="width of the soft mask edge, fraction of the crop side (default 0.12; edits 0.04)")
    group.add_argument("--color-match", action="store_true", help="match the face colours to the frame")


def add_output_arguments(parser):
    """The output group (encoder, trimming, preview, stats); returns it so a command can add its own."""
    from streamfx.io.encode import DEFAULT_CRF, DEFAULT_PRESET

    group = parser.add_argument_group("output")
    group.add_argument("--codec", default=None,
                       help="video encoder (default: the output container's, libx264, or libvpx-vp9 for .webm; "
                            "h264_nvenc on NVIDIA)")
    group.add_argument("--crf", type=int, default=DEFAULT_CRF, help=f"quality, lower is better (default {DEFAULT_CRF})")
    group.add_argument("--preset", default=DEFAULT_PRESET, help=f"encoder speed preset (default {DEFAULT_PRESET})")
    group.add_argument("--start", type=float, default=None, metavar="S", help="start at S seconds")
    group.add_argument("--duration", type=float, default=None, metavar="S", help="process S seconds")
    group.add_argument("--preview", action="store_true", help="show a window while it runs")
    group.add_argument("--side-by-side", action="store_true", help="output input | output, twice as wide")
    group.add_argument("--stats", action="store_true", help="print per-stage timings at the end")
    return group


# ---- checks before any work --------------------------------------------------------------------------------------
def check_common(args) -> None:
    if args.batch < 1 or args.batch > 64:
        raise UsageError(f"--batch must be 1..64, not {args.batch}")
    if args.detect_every < 1:
        raise UsageError(f"--detect-every must be at least 1, not {args.detect_every}")
    if not 0.0 <= (args.mask_margin or 0.0) < 0.5 or (args.feather or 0.0) < 0.0:
        raise UsageError("--mask-margin must be in [0, 0.5) and --feather >= 0")
    parse_selection(args.faces, "--faces")
    check_model_options(args)


def check_model_options(args) -> None:
    """Model and engine options, refused before any work, whether or not a model is installed (the style and
    the edit are checked by `Look.from_args`)."""
    import importlib.util

    from streamfx.engines.base import Device

    if args.device != "auto":
        Device.parse(args.device)
    if args.engine == "tensorrt" and importlib.util.find_spec("tensorrt") is None:
        raise UsageError('--engine tensorrt: TensorRT is not installed (pip install ".[gpu]" on an NVIDIA machine)')


def check_output_options(args) -> None:
    if not 0 <= args.crf <= 51:
        raise UsageError(f"--crf must be 0..51, not {args.crf}")
    from streamfx.io.encode import check_preset

    check_preset(args.codec or "libx264", args.preset)  # every encoder takes x264's preset names


def check_output_plan(args, reader, output) -> None:
    """What goes into the output is settled before the model loads, so a mismatch costs nothing."""
    from streamfx.io.plan import plan_output

    log.debug("output plan: %s", plan_output(output, args.codec, reader.info.audio).describe())


# ---- the run -----------------------------------------------------------------------------------------------------
def build_pipeline(args, effect, *, live: bool, grid: int = 0, side_by_side: bool = False):
    from streamfx.face.detect import VIDEO_MAX_SIDE, MTCNNDetector
    from streamfx.face.lookahead import LookaheadSmoother
    from streamfx.face.track import FaceTracker
    from streamfx.pipeline import Pipeline, PipelineOptions
    from streamfx.stages import ComposeOptions, Composer, FaceStage

    select = "largest" if grid > 1 else parse_selection(args.faces, "--faces")  # a style grid shows one face
    detector_device = "cuda" if str(effect.device).startswith("cuda") else "cpu"
    detector = MTCNNDetector(device=detector_device, max_side=VIDEO_MAX_SIDE)
    # A file can be read ahead, so its faces are smoothed without lag (face/lookahead.py); a camera's cannot wait.
    lookahead = None if live or args.no_smooth else LookaheadSmoother()
    tracker = FaceTracker(detector, detect_every=args.detect_every, smooth=live and not args.no_smooth, select=select)
    change_only = getattr(effect, "pastes_change", False)  # photo edits add their change to the frame's own face
    margin, feather = effect.paste_mask  # the effect's own mask unless the user sets one
    margin = margin if args.mask_margin is None else args.mask_margin
    feather = feather if args.feather is None else args.feather
    composer = Composer(ComposeOptions(margin, feather, args.color_match, side_by_side, change_only), grid=grid)
    options = PipelineOptions(batch=1 if live else args.batch, live=live, finish_on_interrupt=live)
    return Pipeline(FaceStage(tracker, effect.crop_size, effect.framing, lookahead), effect, composer, options)


def expected_frames(info, start, duration) -> int | None:
    if start is None and duration is None:
        return info.frame_count or None
    if info.fps is None:
        return None
    span = info.duration - (start or 0.0) + info.start_time
    if duration is not None:
        span = min(span, duration)
    return max(0, round(span * float(info.fps)))


def process_video(args, reader, output, effect, what: str, progress=None, grid: int = 0):
    """Run one open video through the pipeline into `output` with a loaded effect; returns the run's stats.
    `what` goes into the file's comment (the command and its style or edit). `progress(n)` hears of every n frames
    written (default: a progress bar unless --quiet)."""
    from tqdm import tqdm

    from streamfx import __version__
    from streamfx.sinks.file import FileSink
    from streamfx.sinks.preview import open_preview

    pipeline = build_pipeline(args, effect, live=False, grid=grid, side_by_side=args.side_by_side)
    width, height = pipeline.composer.output_size(reader.info.width, reader.info.height)
    comment = (f"streamfx {__version__} {what}; engine {effect.engine}; device {effect.device}; "
               f"{effect.description}")
    sinks = [FileSink(output, width=width, height=height, time_base=reader.time_base, fps=reader.fps,
                      audio_from=reader.path, audio_range=reader.time_range, codec=args.codec, crf=args.crf,
                      preset=args.preset, comment=comment, overwrite=args.overwrite)]
    preview = open_preview(f"streamfx {args.command}") if args.preview else None
    sinks += [preview] if preview is not None else []
    total = expected_frames(reader.info, args.start, args.duration)
    quiet = args.quiet or progress is not None
    with tqdm(total=total, unit="frame", disable=quiet, file=sys.stderr, leave=False) as bar:
        return pipeline.run(reader, sinks, progress=progress or bar.update)


def run_video_command(args, source, output, build_effect, what) -> int:
    """One video file through a face command: the output plan checked, the effect built by `build_effect()` (after
    the input opened, before any frame), the run, `--stats`, the summary line. `what` as for `process_video`, or a
    function of the built effect that gives it."""
    from streamfx.io.decode import VideoReader
    from streamfx.signals import sigterm_as_interrupt

    with sigterm_as_interrupt(), VideoReader(source, start=args.start, duration=args.duration) as reader:
        check_output_plan(args, reader, output)
        effect = build_effect()
        try:
            text = what(effect) if callable(what) else what
            stats = process_video(args, reader, output, effect, text, grid=getattr(args, "grid", 0))
        finally:
            effect.close()
    if args.stats:
        print(stats.table(args.command))
    log.info("wrote %s (%d frames, %.1f fps)", output, stats.frames_out, stats.fps)
    return 0
