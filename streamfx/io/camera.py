"""Live sources: a webcam (OpenCV VideoCapture, MJPG when offered) or a video file played in real time.

Both iterate `VideoFrame`s ([H,W,3] uint8 RGB). A webcam stamps frames with the capture clock in
milliseconds; a file keeps its own pts and is paced to its own frame rate, so it behaves like a
camera (a slow consumer makes the live pipeline drop frames, as it would with real hardware).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from streamfx.errors import MediaError, UsageError
from streamfx.types import VideoFrame

log = logging.getLogger("streamfx.io")

_CAMERA_TIME_BASE = Fraction(1, 1000)  # webcam frames are stamped in milliseconds
_RECONNECT_WAIT = 1.0  # seconds between attempts to reopen a lost camera


class FileCamera:
    """A video file standing in for a camera: frames are released at their presentation times."""

    def __init__(self, path, realtime: bool = True):
        from streamfx.io.decode import VideoReader

        self.path = Path(path)
        self._reader = VideoReader(self.path)
        info = self._reader.info
        self.width, self.height = info.width, info.height
        self.fps: Fraction = info.fps or Fraction(25)
        self.time_base = self._reader.time_base
        self.realtime = realtime
        self.label = str(self.path)
        self.stop_event = threading.Event()
        self.disconnected = False

    def __iter__(self) -> Iterator[VideoFrame]:
        try:
            yield from self._paced()
        except MediaError as error:  # like a camera unplugged mid-stream: stop cleanly, keep what was shown
            log.warning("%s: input ended early, stopping (%s)", self.label, error)
            self.disconnected = True
            return
        log.info("%s: end of input", self.label)

    def _paced(self) -> Iterator[VideoFrame]:
        first_time, started = None, time.monotonic()
        for index, frame in enumerate(self._reader):
            if self.stop_event.is_set():
                return
            t = frame.time if frame.time is not None else index / float(self.fps)
            if first_time is None:
                first_time, started = t, time.monotonic()
            if self.realtime:
                delay = started + (t - first_time) - time.monotonic()
                if delay > 0:
                    self.stop_event.wait(delay)
            yield frame

    def close(self) -> None:
        self.stop_event.set()
        self._reader.close()


class WebCamera:
    """An OpenCV camera. A camera that stops delivering frames ends the stream with a warning, or,
    with `reconnect`, is reopened once a second until it comes back or the stream is stopped."""

    def __init__(self, index: int, width: int | None = None, height: int | None = None, fps: float | None = None,
                 reconnect: bool = False):
        self.index, self.reconnect = int(index), reconnect
        self._wanted = (width, height, fps)
        self.label = f"camera {self.index}"
        self.time_base = _CAMERA_TIME_BASE
        self.stop_event = threading.Event()
        self.disconnected = False
        self._capture = self._open()
        if self._capture is None:
            raise MediaError(f"{self.label}: cannot be opened (no such camera, or it is in use)")
        self.width, self.height, self.fps = self._actual_format()
        log.info("%s: %dx%d @ %g fps", self.label, self.width, self.height, float(self.fps))

    def _open(self):
        import cv2

        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            return None
        width, height, fps = self._wanted
        # MJPG lets USB cameras deliver full frame rates at HD sizes; cameras without it ignore the request.
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                            (cv2.CAP_PROP_FPS, fps)):
            if value:
                capture.set(prop, float(value))
        return capture

    def _actual_format(self) -> tuple[int, int, Fraction]:
        import cv2

        width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = self._capture.get(cv2.CAP_PROP_FPS) or self._wanted[2] or 30.0
        return width, height, Fraction(fps).limit_denominator(1001)

    def _read(self):
        import cv2

        ok, bgr = self._capture.read()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok and bgr is not None else None

    def _reopen(self) -> bool:
        log.warning("%s stopped delivering frames; trying to reconnect", self.label)
        self._capture.release()
        while not self.stop_event.is_set():
            capture = self._open()
            if capture is not None:
                self._capture = capture
                log.warning("%s reconnected", self.label)
                return True
            self.stop_event.wait(_RECONNECT_WAIT)
        return False

    def __iter__(self) -> Iterator[VideoFrame]:
        started, last_pts, index = time.monotonic(), -1, 0
        while not self.stop_event.is_set():
            image = self._read()
            if image is None:
                if self.reconnect and self._reopen():
                    continue
                self.disconnected = not self.stop_event.is_set()
                if self.disconnected:
                    log.warning("%s stopped delivering frames (disconnected?): stopping; "
                                "pass --reconnect to wait for it instead", self.label)
                return
            pts = max(last_pts + 1, round((time.monotonic() - started) / self.time_base))
            last_pts = pts
            yield VideoFrame(index=index, image=image, pts=pts, time_base=self.time_base)
            index += 1

    def close(self) -> None:
        self.stop_event.set()
        self._capture.release()


def open_camera(spec: str, *, width: int | None = None, height: int | None = None, fps: float | None = None,
                reconnect: bool = False):
    """`spec` is a camera index ("0") or a video file path standing in for a camera."""
    if spec.isdigit():
        return WebCamera(int(spec), width, height, fps, reconnect)
    path = Path(spec).expanduser()
    if not path.exists():
        raise UsageError(f"{spec}: neither a camera index nor an existing video file")
    if width or height or fps:
        log.warning("--width/--height/--fps apply to cameras; %s plays at its own size and rate", path.name)
    return FileCamera(path)
