"""A video file sink: frames keep their source pts; audio is copied from the source file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from streamfx.io.encode import DEFAULT_CRF, DEFAULT_PRESET
from streamfx.types import VideoFrame


class FileSink:
    """Writes through `streamfx.io.encode.VideoWriter` (atomic: temp name, renamed on close).

    Frames without pts (a camera that gives none) are spaced one frame interval apart.
    """

    def __init__(self, path, *, width: int, height: int, time_base: Fraction, fps: Fraction | None,
                 audio_from: Path | None = None, audio_range=None, codec: str | None = None, crf: int = DEFAULT_CRF,
                 preset: str = DEFAULT_PRESET, comment: str | None = None, overwrite: bool = False):
        from streamfx.io.encode import VideoWriter

        self.path = Path(path)
        self._writer = VideoWriter(self.path, width=width, height=height, time_base=time_base, fps=fps,
                                   audio_from=audio_from, audio_range=audio_range, codec=codec, crf=crf,
                                   preset=preset, comment=comment, overwrite=overwrite)
        self.codec = self._writer.codec

    @property
    def frames_written(self) -> int:
        return self._writer.frames_written

    def write(self, image: np.ndarray, frame: VideoFrame) -> None:
        self._writer.write(image, frame.pts)

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        self._writer.abort()
