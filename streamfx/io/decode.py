"""Decode a video file into upright RGB frames that keep the source's presentation timestamps.

Times (`start`, `duration`) are seconds on the file's own timeline, the one players show and
`frame.time` reports: a clip whose video begins 0.85 s into the file has its first frame at 0.85.
Timestamps are carried, never regenerated, so variable frame rate survives.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from streamfx.errors import MediaError, UsageError
from streamfx.io.probe import MediaInfo, frame_slack, normalize_rotation, open_input, probe
from streamfx.threads import current_budget
from streamfx.types import VideoFrame

log = logging.getLogger("streamfx.io")

# Frames whose time is this close below `start` still count as inside (float rounding of pts).
_TIME_EPS = 1e-6


def apply_rotation(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored picture upright.

    `rotation` is the display matrix angle, counter-clockwise (PyAV `frame.rotation`, FFmpeg
    `av_display_rotation_get`); np.rot90 turns counter-clockwise for positive k. A phone's portrait
    clip reads -90 (i.e. 270): turn it 90 degrees clockwise, as FFmpeg's autorotate does.
    """
    k = normalize_rotation(rotation) // 90
    if k == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=k))


class VideoReader:
    """Iterate a file's video as `VideoFrame`s: [H,W,3] uint8 RGB, upright, with source pts.

    `start`/`duration` trim by seeking to the keyframe before `start` and skipping frames before it.
    Use as a context manager; iterating again starts over from `start`.
    """

    def __init__(self, path, start: float | None = None, duration: float | None = None,
                 threads: int | None = None):
        # written so that NaN fails too: every comparison with NaN is false
        if start is not None and not (math.isfinite(start) and start >= 0):
            raise UsageError(f"start must be a number of seconds >= 0, got {start}")
        if duration is not None and not (math.isfinite(duration) and duration > 0):
            raise UsageError(f"duration must be a number of seconds > 0, got {duration}")
        self.path = Path(path)
        self.info: MediaInfo = probe(self.path)
        video_end = self.info.start_time + self.info.duration
        if start is not None and start >= video_end:
            raise UsageError(f"{self.path}: start {start:g} s is past the end of the video ({video_end:.2f} s)")
        self.time_base: Fraction = self.info.time_base
        self.fps: Fraction | None = self.info.fps
        self.start = start
        self.duration = duration
        self.threads = threads
        self._fresh = True  # a just-opened container needs no seek for an untrimmed read
        self._container = open_input(self.path)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame threading: several frames decode at once
        if self.threads is None:
            budget = current_budget()
            self.threads = budget.decode if budget else 0
        if self.threads > 0:
            self._stream.codec_context.thread_count = self.threads

    @property
    def time_range(self) -> tuple[float, float | None] | None:
        """The trimmed span in file seconds (end exclusive), or None when the whole file is read.

        Pass it to `VideoWriter(audio_range=...)` so audio is cut and shifted the same way.
        """
        if self.start is None and self.duration is None:
            return None
        begin = self.start or 0.0
        return begin, None if self.duration is None else begin + self.duration

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __iter__(self) -> Iterator[VideoFrame]:
        import av

        if self._container is None:
            raise MediaError(f"{self.path}: reader is closed")
        span = self.time_range
        begin, end = span if span is not None else (None, None)
        self._seek(begin)
        index = 0
        last_time = None
        try:
            for frame in self._container.decode(self._stream):
                t = None if frame.pts is None else float(frame.pts * self.time_base)
                if begin is not None and t is not None and t < begin - _TIME_EPS:
                    continue  # before the range: skipped without the colour conversion
                if end is not None and t is not None and t >= end - _TIME_EPS:
                    break
                image = apply_rotation(frame.to_ndarray(format="rgb24"), frame.rotation)
                yield VideoFrame(index=index, image=image, pts=frame.pts, time_base=self.time_base)
                index += 1
                last_time = t if t is not None else last_time
        except av.FFmpegError as error:
            raise MediaError(f"{self.path}: video decoding failed at frame {index} ({error})") from None
        if span is None:
            self._check_complete(index, last_time)

    def _seek(self, begin: float | None) -> None:
        fresh, self._fresh = self._fresh, False
        if not begin:
            if not fresh:
                self._container.seek(0)
            return
        # Seek lands on the keyframe at or before `begin`; frames before it are then skipped.
        target = int(begin / self.time_base)
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)

    def _check_complete(self, decoded: int, last_time: float | None) -> None:
        """Damage that the probe's look at the file's tail missed decodes short without an error: catch it.

        Measured in time against the declared end where the header gives one (a declared frame count may include
        a packet that decodes to no picture), else in frames with the same one-frame slack.
        """
        info = self.info
        if info.video_end is not None:
            interval = 1 / float(self.fps) if self.fps else 0.0
            reached = (last_time if last_time is not None else info.start_time) + interval
            if reached < info.video_end - frame_slack(self.fps):
                raise MediaError(f"{self.path}: truncated or damaged, decoding stopped at {reached:.2f} s "
                                 f"of {info.video_end:.2f} s ({decoded} frames)")
        elif info.frame_count > 1 and decoded < info.frame_count - 1:
            raise MediaError(f"{self.path}: truncated or damaged, decoded {decoded} of {info.frame_count} frames")
