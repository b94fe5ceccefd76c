"""Reading an upload: is it a video or a photo, what is in it, and where are the faces (in its first frame)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_detector = None
_detector_lock = threading.Lock()  # one MTCNN for the whole server; Gradio runs events on several threads


@dataclass
class Upload:
    path: Path
    is_image: bool
    info: object | None  # io.probe.MediaInfo of a video, None for a photo
    frame: np.ndarray  # the first frame (or the photo), RGB uint8
    faces: list  # face.detect Faces in `frame`, largest first


def read_upload(path: Path) -> Upload:
    """Raises the same StreamfxError, with the same message, as `streamfx anime` on this file."""
    from streamfx.io.decode import VideoReader
    from streamfx.io.image import is_image_path, read_image
    from streamfx.io.paths import check_input

    check_input(path)
    if is_image_path(path):
        frame, info = read_image(path), None
    else:
        with VideoReader(path) as reader:
            info = reader.info
            frame = next(iter(reader)).image
    return Upload(path, info is None, info, frame, detect_faces(frame))


def detect_faces(image: np.ndarray) -> list:
    global _detector
    with _detector_lock:
        if _detector is None:
            from streamfx.face.detect import VIDEO_MAX_SIDE, MTCNNDetector

            _detector = MTCNNDetector(max_side=VIDEO_MAX_SIDE)  # as the pipeline's tracker: the same faces are found
        return _detector.detect([image])[0]


def faces_picture(upload: Upload) -> np.ndarray:
    from streamfx.face.draw import draw_faces

    return draw_faces(upload.frame, upload.faces)


def describe(upload: Upload) -> str:
    """One line: what the file is and how many faces its first frame shows."""
    height, width = upload.frame.shape[:2]
    faces = len(upload.faces)
    found = f"{faces} face{'s' if faces != 1 else ''} found" + ("" if upload.is_image else " in the first frame")
    if upload.is_image:
        return f"{upload.path.name}: photo {width}x{height}; {found}"
    info = upload.info
    fps = f"{float(info.fps):.3g} fps, " if info.fps else ""
    sound = "with sound" if info.audio else "no sound"
    return (f"{upload.path.name}: video {width}x{height}, {fps}{info.frame_count} frames, {info.duration:.1f} s, "
            f"{sound}; {found}")
