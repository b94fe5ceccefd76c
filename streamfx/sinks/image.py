"""A still-image sink: the one output picture of an image run, written atomically when the run closes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamfx.types import VideoFrame


class ImageSink:
    def __init__(self, path):
        self.path = Path(path)
        self._image: np.ndarray | None = None
        self.frames_written = 0

    def write(self, image: np.ndarray, frame: VideoFrame) -> None:
        self._image = image
        self.frames_written += 1

    def close(self) -> None:
        from streamfx.io.image import write_image

        if self._image is not None:
            write_image(self.path, self._image)

    def abort(self) -> None:
        self._image = None  # nothing was written yet
