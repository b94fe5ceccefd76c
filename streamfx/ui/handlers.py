"""What each UI event does, in plain functions the tests can call without a browser.

Every failure the user can act on arrives as a StreamfxError and is shown as the CLI shows it:
`streamfx: error: <message>`, with paths named as the user named the file.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import gradio as gr

from streamfx.errors import StreamfxError
from streamfx.ui import gallery, media, render
from streamfx.ui.gallery import Style
from streamfx.ui.session import Session, Workspace

GALLERY_SIZE = 8  # seeds per gallery page
log = logging.getLogger("streamfx")


def error_line(error: StreamfxError, session: Session | None) -> str:
    message = session.display_path(str(error)) if session is not None else str(error)
    return f"streamfx: error: {message}"


class UploadView(NamedTuple):
    session: Session | None
    info: str
    faces: object  # the first frame with the faces drawn, or None
    tiles: list
    style_tile: object
    status: str


def upload(workspace: Workspace, path: str | None, previous: Session | None, style: Style) -> UploadView:
    """A new file replaces the previous one (whose folder goes at once); None means the file was removed."""
    if previous is not None:
        previous.close()
    if not path:
        return UploadView(None, "", None, [], None, "")
    session = workspace.new_session()
    try:
        source = session.add_source(path)
        session.upload = media.read_upload(source)
        session.face = gallery.face_tile(session.upload.frame, session.upload.faces, gallery.tile_size())
    except StreamfxError as error:
        line = error_line(error, session)
        session.close()
        return UploadView(None, "", None, [], None, line)
    info = media.describe(session.upload)
    return UploadView(session, info, media.faces_picture(session.upload), seed_page(session, 0),
                      _style_tile(session, style), "Pick a style, then preview or run.")


def seed_page(session: Session | None, first: int) -> list:
    if session is None or session.face is None:
        return []
    return gallery.seed_tiles(session.face, max(0, int(first)), GALLERY_SIZE)


def _style_tile(session: Session, style: Style):
    try:
        return gallery.style_tile(session.face, style)
    except StreamfxError:
        return None  # an unfinished choice (no reference image yet): nothing to show


def style_changed(session: Session | None, style: Style) -> tuple[object, str]:
    """The chosen-style tile, and a status line saying which style a run will use."""
    if session is None or session.face is None:
        return None, ""
    try:
        return gallery.style_tile(session.face, style), f"Style: {style.label()}."
    except StreamfxError as error:
        return None, error_line(error, session)


class RunView(NamedTuple):
    video: object  # gr.update for the video player
    image: object  # gr.update for the picture (photo uploads)
    download: object  # gr.update for the download button (whole runs only)
    status: str
    engine: str


def _no_progress(*_args, **_kwargs) -> None:
    pass


def run(session: Session | None, style: Style, engine: str = "auto", preview: bool = False,
        progress=_no_progress) -> RunView:
    """Stylize the first few seconds (preview) or the whole upload; progress is a gr.Progress."""
    unchanged = gr.update()
    if session is None or session.upload is None:
        return RunView(unchanged, unchanged, unchanged, "Upload a video or a photo first.", "")
    upload_ = session.upload
    seconds = render.PREVIEW_SECONDS if preview and not upload_.is_image else None
    total = render.expected_frames(upload_, seconds)
    written = 0

    def advance(frames: int) -> None:
        nonlocal written
        written += frames
        progress((written, total), desc="Stylizing", unit="frames")

    progress(0.0, desc="Loading the model")
    try:
        output = session.output_path("preview" if preview else "result")
        result = render.render(upload_, output, style.flags(), engine=engine, seconds=seconds, progress=advance)
    except StreamfxError as error:
        return RunView(unchanged, unchanged, unchanged, error_line(error, session), "")
    what = "Preview" if preview else "Done"
    status = (f"{what}: {result.output.name}, {result.frames} frame{'s' if result.frames != 1 else ''}, "
              f"{style.label()}, {result.fps:.1f} frames/s.")
    engine_line = f"Engine: {result.engine} (device {result.device})"
    shown = str(result.output)
    video = gr.update(value=None if upload_.is_image else shown, visible=not upload_.is_image)
    image = gr.update(value=shown if upload_.is_image else None, visible=upload_.is_image)
    download = unchanged if preview else gr.update(value=shown, interactive=True)
    log.info("ui: %s %s (%s)", what.lower(), result.output.name, result.engine)
    return RunView(video, image, download, status, engine_line)
