"""Running the pipeline for the UI: the CLI's own argument parser, checks and stylize(), so a UI run and
`streamfx anime IN -o OUT <style options>` make the same file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PREVIEW_SECONDS = 2.0


@dataclass
class Result:
    output: Path
    frames: int
    faces: int
    fps: float
    engine: str  # the effect's description, e.g. "torch 2.13.0+cpu cpu fp32"
    device: str


def anime_args(source: Path, output: Path, flags: list[str], engine: str = "auto", seconds: float | None = None):
    """The Namespace `streamfx -q anime SOURCE -o OUTPUT ...` would run with, checked as the CLI checks it."""
    from streamfx.cli import build_parser
    from streamfx.commands.anime import check_anime_options

    argv = ["-q", "anime", str(source), "-o", str(output), "--overwrite", "--engine", engine, *flags]
    if seconds is not None:
        argv += ["--duration", f"{seconds:g}"]
    args = build_parser().parse_args(argv)
    check_anime_options(args)
    return args


def expected_frames(upload, seconds: float | None = None) -> int | None:
    """Frames a run will write: for the progress bar's total."""
    if upload.is_image:
        return 1
    info = upload.info
    if seconds is None or not info.fps:
        return info.frame_count or None
    return min(info.frame_count, round(seconds * float(info.fps))) or None


def render(upload, output: Path, flags: list[str], *, engine: str = "auto", seconds: float | None = None,
           progress=None) -> Result:
    """Stylize the upload (its first `seconds` only, if given) into `output`. progress(n): n more frames written."""
    if upload.is_image:
        return _render_image(anime_args(upload.path, output, flags, engine), upload.path, output)
    from streamfx.commands.anime import build_effect, stylize
    from streamfx.commands.common import check_output_plan
    from streamfx.io.decode import VideoReader

    args = anime_args(upload.path, output, flags, engine, seconds)
    with VideoReader(upload.path, start=args.start, duration=args.duration) as reader:
        check_output_plan(args, reader, output)
        effect = build_effect(args)
        try:
            stats = stylize(args, reader, output, effect, progress=progress or (lambda n: None))
        finally:
            effect.close()
    return Result(output, stats.frames_out, stats.faces, stats.fps, effect.description, str(effect.device))


def _render_image(args, source: Path, output: Path) -> Result:
    """A photo in, the stylized photo out, as `streamfx anime photo.jpg` does (with the effect kept in hand, so
    the engine that ran can be shown)."""
    from fractions import Fraction

    from streamfx.commands.anime import build_effect
    from streamfx.commands.common import build_pipeline
    from streamfx.io.image import read_image
    from streamfx.sinks.image import ImageSink
    from streamfx.types import VideoFrame

    frame = VideoFrame(index=0, image=read_image(source), pts=0, time_base=Fraction(1, 1))
    effect = build_effect(args)
    try:
        stats = build_pipeline(args, effect, live=False).run([frame], [ImageSink(output)])
    finally:
        effect.close()
    return Result(output, stats.frames_out, stats.faces, stats.fps, effect.description, str(effect.device))
