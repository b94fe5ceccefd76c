"""`streamfx anime IN [-o OUT]`: turn every face in a video into an anime face, one fixed style per video."""

from __future__ import annotations

import logging

from streamfx.commands.common import (PRELOAD, add_face_arguments, add_model_arguments, add_output_arguments,
                                      build_pipeline, check_common, check_output_options, check_output_plan,
                                      process_video, run_video_command)
from streamfx.errors import UsageError

log = logging.getLogger("streamfx")


def build_effect(args):
    """The anime effect the command line asks for (model, engine, look)."""
    from streamfx.effects import build_effect as build
    from streamfx.look import Look

    effect = build(args.weights, Look.from_args(args), engine=args.engine, device=args.device,
                   precision=args.precision, max_batch=args.batch)
    log.info("engine: %s; device: %s", effect.description, effect.device)
    return effect


# ---- the command -------------------------------------------------------------------------------------------------
def register(sub) -> None:
    parser = sub.add_parser("anime", help="turn the faces in a video into anime faces (GANs N' Roses)")
    parser.add_argument("input", metavar="IN", help="input video")
    parser.add_argument("-o", "--output", metavar="OUT", help="output video (default IN_anime.mp4)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_anime_options(parser)
    parser.set_defaults(run=run, preload=PRELOAD, thread_budget=True)


def add_anime_options(parser) -> None:
    """Every option of a stylizing run but the input and output names (`batch` takes the same ones)."""
    add_model_arguments(parser)
    group = parser.add_argument_group("attribute edits (the anime character, see `streamfx edit --list`)")
    group.add_argument("--edit", metavar="NAME=V,...", help="sliders in [-1, 1], e.g. smile=0.8,bangs=0.5")
    group.add_argument("--freeze", metavar="NAME,...",
                       help="attributes the edit must not push, e.g. eyeglasses,male (its part along their directions "
                            "is removed)")
    add_face_arguments(parser)
    group = add_output_arguments(parser)
    group.add_argument("--grid", type=int, default=0, metavar="N",
                       help="one face in N styles (seeds --style-seed .. +N-1), tiled like the GNR demo")


def check_anime_options(args) -> None:
    from streamfx.look import Look

    check_common(args)
    check_output_options(args)
    Look.from_args(args)  # styles, grid and edit sliders are refused before any work


def run(args) -> int:
    from streamfx.io.image import is_image_path
    from streamfx.io.paths import check_input, resolve_output

    check_anime_options(args)
    source = check_input(args.input)
    if is_image_path(source):
        return _run_image(args, source)
    output = resolve_output(source, args.output, suffix="anime", overwrite=args.overwrite)
    return run_video_command(args, source, output, lambda: build_effect(args), lambda effect: _what(args, effect))


def stylize(args, reader, output, effect, progress=None):
    """One open video into `output` with a loaded anime effect; returns the run's stats."""
    return process_video(args, reader, output, effect, _what(args, effect), progress=progress, grid=args.grid)


def _what(args, effect) -> str:
    """The output comment's account of the run: the style that ran (the model's default when none was asked)."""
    from streamfx.look import Look

    look = getattr(effect, "look", None) or Look.from_args(args)
    return f"anime; style {look.label()}"


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
    effect = build_effect(args)
    try:
        pipeline = build_pipeline(args, effect, live=False, grid=args.grid, side_by_side=args.side_by_side)
        pipeline.run([frame], [ImageSink(output)])
    finally:
        effect.close()
    log.info("wrote %s (one image; engine %s)", output, effect.engine)
    return 0
