"""`streamfx anime IN [-o OUT]`: turn every face in a video into an anime face, one fixed style per video.

Also holds the argument groups and builders that `live` and `bench` share (model, faces, blending).
"""

from __future__ import annotations

import logging
import sys

from streamfx.errors import UsageError
from streamfx.face.track import parse_selection

# C extensions a stylizing command uses, loaded before it starts (see streamfx/signals.py).
PRELOAD = ("numpy", "torch", "cv2", "av", "onnxruntime")

log = logging.getLogger("streamfx")


# ---- shared argument groups ------------------------------------------------------------------------------------
def add_model_arguments(parser) -> None:
    group = parser.add_argument_group("model and style")
    group.add_argument("--weights", metavar="PATH|NAME",
                       help="GNR weights: our .safetensors, the official GNR_checkpoint.pt, or a catalog name "
                            "(default: the installed default model; none installed = faces pasted back unchanged)")
    group.add_argument("--style-seed", type=int, default=None, metavar="N", help="style code from seed N (default 0)")
    group.add_argument("--style-image", metavar="IMG", help="style taken from a reference anime face image")
    group.add_argument("--style-mix", metavar="A,B,T", help="style between seeds A and B (T=0 is A, T=1 is B)")
    group.add_argument("--style-anchor", metavar="NAME",
                       help="a named look stored with the model (the default model: jpface, cute)")
    group.add_argument("--engine", default="auto", choices=("auto", "tensorrt", "onnxruntime", "openvino", "torch"),
                       help="inference engine (default auto: the fastest that loads and keeps 40 dB)")
    group.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    group.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
                       help="default auto: fp16 on GPUs; on CPUs the fastest of fp32 and bf16 that keeps 40 dB")
    group.add_argument("--batch", type=int, default=8, metavar="B", help="faces per model call (default 8)")


def add_face_arguments(parser) -> None:
    group = parser.add_argument_group("faces and blending")
    group.add_argument("--faces", default="all", metavar="all|largest|ID",
                       help="which faces to stylize: all, the largest, or one track id (default all)")
    group.add_argument("--detect-every", type=int, default=5, metavar="N",
                       help="full face detection every N frames, landmark refresh between (default 5)")
    group.add_argument("--no-smooth", action="store_true", help="no landmark smoothing (more jitter)")
    group.add_argument("--mask-margin", type=float, default=0.06, metavar="F",
                       help="unblended border of the face crop, fraction of its side (default 0.06)")
    group.add_argument("--feather", type=float, default=0.12, metavar="F",
                       help="width of the soft mask edge, fraction of the crop side (default 0.12)")
    group.add_argument("--color-match", action="store_true", help="match the face colours to the frame")


def check_common(args) -> None:
    if args.batch < 1 or args.batch > 64:
        raise UsageError(f"--batch must be 1..64, not {args.batch}")
    if args.detect_every < 1:
        raise UsageError(f"--detect-every must be at least 1, not {args.detect_every}")
    if not 0.0 <= args.mask_margin < 0.5 or args.feather < 0.0:
        raise UsageError("--mask-margin must be in [0, 0.5) and --feather >= 0")
    parse_selection(args.faces, "--faces")
    styles = [x for x in (args.style_seed, args.style_image, args.style_mix, args.style_anchor) if x is not None]
    if len(styles) > 1:
        raise UsageError("choose one of --style-seed, --style-image, --style-mix, --style-anchor")
    check_model_options(args)


def check_model_options(args) -> None:
    """Model and style options, refused before any work, whether or not a model is installed."""
    import importlib.util
    from pathlib import Path

    from streamfx.backends.base import Device
    from streamfx.styles import parse_style_mix

    if args.device != "auto":
        Device.parse(args.device)
    if args.style_mix is not None:
        parse_style_mix(args.style_mix)
    if args.style_seed is not None and args.style_seed < 0:
        raise UsageError(f"--style-seed must be >= 0, not {args.style_seed}")
    if args.style_image is not None and not Path(args.style_image).is_file():
        raise UsageError(f"--style-image: file not found: {args.style_image}")
    if args.engine == "tensorrt" and importlib.util.find_spec("tensorrt") is None:
        raise UsageError('--engine tensorrt: TensorRT is not installed (pip install ".[gpu]" on an NVIDIA machine)')


def build_effect(args, grid: int = 0):
    from streamfx.effects import build_effect as build

    effect = build(args.weights, engine=args.engine, device=args.device, precision=args.precision,
                   max_batch=args.batch, seed=args.style_seed, mix=args.style_mix, style_image=args.style_image,
                   anchor=args.style_anchor, grid=grid)
    log.info("engine: %s; device: %s", effect.description, effect.device)
    return effect


def build_pipeline(args, effect, *, live: bool, grid: int = 0, side_by_side: bool = False):
    from streamfx.face.detect import MTCNNDetector
    from streamfx.face.track import FaceTracker
    from streamfx.pipeline import Pipeline, PipelineOptions
    from streamfx.stages import ComposeOptions, Composer, FaceStage

    select = "largest" if grid > 1 else parse_selection(args.faces, "--faces")  # a style grid shows one face
    detector_device = "cuda" if str(effect.device).startswith("cuda") else "cpu"
    detector = MTCNNDetector(device=detector_device, max_side=640)
    tracker = FaceTracker(detector, detect_every=args.detect_every, smooth=not args.no_smooth, select=select)
    composer = Composer(ComposeOptions(args.mask_margin, args.feather, args.color_match, side_by_side), grid=grid)
    options = PipelineOptions(batch=1 if live else args.batch, live=live, finish_on_interrupt=live)
    return Pipeline(FaceStage(tracker, effect.crop_size), effect, composer, options)


def style_label(args, grid: int = 0) -> str:
    if grid > 1:
        return f"grid of seeds {args.style_seed or 0}..{(args.style_seed or 0) + grid - 1}"
    if args.style_image:
        return f"image {args.style_image}"
    if args.style_mix:
        return f"mix {args.style_mix}"
    if args.style_anchor:
        return f"anchor {args.style_anchor}"
    return f"seed {args.style_seed or 0}"


# ---- the command -------------------------------------------------------------------------------------------------
def register(sub) -> None:
    parser = sub.add_parser("anime", help="turn the faces in a video into anime faces (GANs N' Roses)")
    parser.add_argument("input", metavar="IN", help="input video")
    parser.add_argument("-o", "--output", metavar="OUT", help="output video (default IN_anime.mp4)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_anime_options(parser)
    parser.set_defaults(run=run, preload=PRELOAD)


def add_anime_options(parser) -> None:
    """Every option of a stylizing run but the input and output names (`batch` takes the same ones)."""
    add_model_arguments(parser)
    add_face_arguments(parser)
    group = parser.add_argument_group("output")
    group.add_argument("--codec", default=None,
                       help="video encoder (default: the output container's, libx264, or libvpx-vp9 for .webm; "
                            "h264_nvenc on NVIDIA)")
    group.add_argument("--crf", type=int, default=18, help="quality, lower is better (default 18)")
    group.add_argument("--preset", default="medium", help="encoder speed preset (default medium)")
    group.add_argument("--start", type=float, default=None, metavar="S", help="start at S seconds")
    group.add_argument("--duration", type=float, default=None, metavar="S", help="process S seconds")
    group.add_argument("--preview", action="store_true", help="show a window while it runs")
    group.add_argument("--side-by-side", action="store_true", help="output input | output, twice as wide")
    group.add_argument("--grid", type=int, default=0, metavar="N",
                       help="one face in N styles (seeds --style-seed .. +N-1), tiled like the GNR demo")
    group.add_argument("--stats", action="store_true", help="print per-stage timings at the end")


def check_anime_options(args) -> None:
    check_common(args)
    if args.grid < 0 or args.grid > 16:
        raise UsageError(f"--grid must be 0..16, not {args.grid}")
    if args.grid > 1 and (args.side_by_side or args.style_image or args.style_mix):
        raise UsageError("--grid uses seeds; it cannot be combined with --side-by-side, --style-image or --style-mix")
    if not 0 <= args.crf <= 51:
        raise UsageError(f"--crf must be 0..51, not {args.crf}")
    from streamfx.io.encode import check_preset

    check_preset(args.codec or "libx264", args.preset)  # every encoder takes x264's preset names


def _expected_frames(info, start, duration) -> int | None:
    if start is None and duration is None:
        return info.frame_count or None
    if info.fps is None:
        return None
    span = info.duration - (start or 0.0) + info.start_time
    if duration is not None:
        span = min(span, duration)
    return max(0, round(span * float(info.fps)))


def run(args) -> int:
    from streamfx.io.decode import VideoReader
    from streamfx.io.image import is_image_path
    from streamfx.io.paths import check_input, resolve_output
    from streamfx.signals import sigterm_as_interrupt

    check_anime_options(args)
    source = check_input(args.input)
    if is_image_path(source):
        return _run_image(args, source)
    output = resolve_output(source, args.output, suffix="anime", overwrite=args.overwrite)
    with sigterm_as_interrupt(), VideoReader(source, start=args.start, duration=args.duration) as reader:
        check_output_plan(args, reader, output)
        effect = build_effect(args, grid=args.grid)
        try:
            stats = stylize(args, reader, output, effect)
        finally:
            effect.close()
    if args.stats:
        print(stats.table("anime"))
    log.info("wrote %s (%d frames, %.1f fps)", output, stats.frames_out, stats.fps)
    return 0


def check_output_plan(args, reader, output) -> None:
    """What goes into the output is settled before the model loads, so a mismatch costs nothing."""
    from streamfx.io.plan import plan_output

    log.debug("output plan: %s", plan_output(output, args.codec, reader.info.audio).describe())


def stylize(args, reader, output, effect, progress=None):
    """Run one open video through the pipeline into `output` with a loaded effect; returns the run's stats.
    `progress(n)` hears of every n frames written (default: a progress bar unless --quiet)."""
    from tqdm import tqdm

    from streamfx import __version__
    from streamfx.sinks.file import FileSink
    from streamfx.sinks.preview import open_preview

    pipeline = build_pipeline(args, effect, live=False, grid=args.grid, side_by_side=args.side_by_side)
    width, height = pipeline.composer.output_size(reader.info.width, reader.info.height)
    comment = (f"streamfx {__version__} anime; engine {effect.engine}; device {effect.device}; "
               f"{effect.description}; style {style_label(args, args.grid)}")
    sinks = [FileSink(output, width=width, height=height, time_base=reader.time_base, fps=reader.fps,
                      audio_from=reader.path, audio_range=reader.time_range, codec=args.codec, crf=args.crf,
                      preset=args.preset, comment=comment, overwrite=args.overwrite)]
    preview = open_preview("streamfx anime") if args.preview else None
    sinks += [preview] if preview is not None else []
    total = _expected_frames(reader.info, args.start, args.duration)
    quiet = args.quiet or progress is not None
    with tqdm(total=total, unit="frame", disable=quiet, file=sys.stderr, leave=False) as bar:
        return pipeline.run(reader, sinks, progress=progress or bar.update)


def _run_image(args, source) -> int:
    """A photo in, the stylized photo out, in the same format (`IN_anime.jpg`)."""
    from fractions import Fraction

    from streamfx.io.image import is_image_path, read_image
    from streamfx.io.paths import resolve_output
    from streamfx.sinks.image import ImageSink
    from streamfx.types import VideoFrame

    if args.start is not None or args.duration is not None:
        raise UsageError(f"{source.name} is an image: --start and --duration apply to videos only")
    output = resolve_output(source, args.output, suffix="anime", overwrite=args.overwrite, ext=source.suffix)
    if not is_image_path(output):
        raise UsageError(f"{output}: an image input gives an image output; name it .png, .jpg or like the input")
    frame = VideoFrame(index=0, image=read_image(source), pts=0, time_base=Fraction(1, 1))
    effect = build_effect(args, grid=args.grid)
    try:
        pipeline = build_pipeline(args, effect, live=False, grid=args.grid, side_by_side=args.side_by_side)
        pipeline.run([frame], [ImageSink(output)])
    finally:
        effect.close()
    log.info("wrote %s (one image; engine %s)", output, effect.engine)
    return 0
