"""A live preview window (OpenCV highgui) with the frame rate drawn in, and key presses passed on."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Callable

import numpy as np

from streamfx.types import VideoFrame

log = logging.getLogger("streamfx.sinks")


# Qt (OpenCV's window toolkit) ships no fonts and warns at the first window unless pointed at some.
_SYSTEM_FONTS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts")


def preview_unavailable_reason() -> str | None:
    """Why no window can be shown here, or None when one can."""
    import cv2

    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    if gui and gui[0].split(":", 1)[1].strip().upper() == "NONE":
        return ("the installed OpenCV has no window support (opencv-python-headless); "
                "pip install opencv-python for a preview window")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display available (DISPLAY is not set)"
    return None


class PreviewSink:
    """Shows each frame; `on_key(char)` gets every key pressed while the window has focus."""

    def __init__(self, title: str = "streamfx", on_key: Callable[[str], object] | None = None,
                 show_fps: bool = True):
        import cv2

        self.title, self.on_key, self.show_fps = title, on_key, show_fps
        self._last: float | None = None
        self._fps = 0.0
        fonts = next((f for f in _SYSTEM_FONTS if os.path.isdir(f)), None)
        if fonts is not None:
            os.environ.setdefault("QT_QPA_FONTDIR", fonts)
        # The picture only: no toolbar or status bar, which would show pixel values under the mouse.
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)

    def _update_fps(self) -> None:
        now = time.perf_counter()
        if self._last is not None and now > self._last:
            rate = 1.0 / (now - self._last)
            self._fps = rate if self._fps == 0 else 0.9 * self._fps + 0.1 * rate  # smoothed for reading
        self._last = now

    def write(self, image: np.ndarray, frame: VideoFrame) -> None:
        import cv2

        self._update_fps()
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        if self.show_fps:
            cv2.putText(bgr, f"{self._fps:5.1f} fps", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2,
                        cv2.LINE_AA)
        cv2.imshow(self.title, bgr)
        key = cv2.waitKey(1) & 0xFF
        if key != 0xFF and self.on_key is not None:
            self.on_key(chr(key))

    def close(self) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.title)
        except cv2.error:  # the user closed it already
            pass

    def abort(self) -> None:
        self.close()


def open_preview(title: str = "streamfx", on_key=None) -> PreviewSink | None:
    """A preview sink, or None (with a warning saying why) when no window can open here."""
    reason = preview_unavailable_reason()
    if reason is not None:
        log.warning("preview window off: %s", reason)
        return None
    return PreviewSink(title, on_key)
