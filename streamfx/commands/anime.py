"""`streamfx anime IN [-o OUT]`: turn every face in a video into an anime face, one fixed style per video."""

from __future__ import annotations

import logging

from streamfx.commands.common import (PRELOAD, add_face_arguments, add_model_arguments, add_output_arguments,
                                      build_pipeline, check_common, check_output_options, check_output_plan,
                                      process_video)
from streamfx.errors import UsageError

log = logging.getLogger("streamfx")


def edit_request(args):
    """The attribute edit of an anime run (--edit, --freeze), or None."""
    from streamfx.edit.load import EditRequest, parse_names, parse_sliders

    if not getattr(args, "edit", None):
        return None
    return EditRequest(parse_sliders(args.edit), parse_names(args.freeze))


def build_effect(args, grid: int = 0):
    from streamfx.effects import build_effect as build

    effect = build(args.weights, engine=args.engine, device=args.device, precision=args.precision,
                   max_batch=args.batch, seed=args.style_seed, mix=args.style_mix, style_image=args.style_image,
                   anchor=args.style_anchor, grid=grid, edit=edit_request(args))
    log.info("engine: %s; device: %s", effect.description, effect.device)
    return effect


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
    parser.set_defaults(run=run, preload=PRELOAD, thread_budget=True)


def add_anime_options(parser) -> None:
    """Every option of a stylizing run but the input and output names (`batch` takes the same ones)."""
    add_model_arguments(parser)
    group = parser.add_argument_group("attribute edits (the anime character, see `streamfx edit --list`)")
    group.add_argument("--edit", metavar="NAME=V,...", help="sliders in [-1, 1], e.g. smile=0.8,bangs=0.5")
    group.add_argument("--freeze", metavar="NAME,...", help="attributes held where they are, e.g. eyeglasses,male")
    add_face_arguments(parser)
    group = add_output_arguments(parser)
    group.add_argument("--grid", type=int, default=0, metavar="N",
                       help="one face in N styles (seeds --style-seed .. +N-1), tiled like the GNR demo")


def check_anime_options(args) -> None:
    check_common(args)
    if args.grid < 0 or args.grid > 16:
        raise UsageError(f"--grid must be 0..16, not {args.grid}")
    if args.grid > 1 and (args.side_by_side or args.style_image or args.style_mix):
        raise UsageError("--grid uses seeds; it cannot be combined with --side-by-side, --style-image or --style-mix")
    check_output_options(args)
    if args.freeze and not args.edit:
        raise UsageError("--freeze holds attributes while others are edited: give --edit too")
    edit_request(args)  # malformed sliders are refused before any work


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


def stylize(args, reader, output, effect, progress=None):
    """One open video into `output` with a loaded anime effect; returns the run's stats."""
    what = f"anime; style {style_label(args, args.grid)}"
    request = edit_request(args)
    if request is not None and request.active:
        what += f"; edit {request.describe()}"
    return process_video(args, reader, output, effect, what, progress=progress, grid=args.grid)


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
