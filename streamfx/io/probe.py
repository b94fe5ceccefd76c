"""What a media file holds: picture size (upright), frame rate, duration, frame count, rotation, audio.

Also owns opening an input container, so every reader maps unreadable files to one MediaError shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from streamfx.errors import MediaError
from streamfx.io.paths import check_input

log = logging.getLogger("streamfx.io")


@dataclass(frozen=True)
class AudioInfo:
    index: int  # stream index in the container
    codec: str
    sample_rate: int
    channels: int
    duration: float | None  # seconds, None when the container does not say


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    width: int  # upright, after rotation
    height: int
    fps: Fraction | None  # average rate; None when unknown
    duration: float  # seconds covered by the video stream
    frame_count: int
    video_codec: str
    rotation: int  # degrees counter-clockwise that the display matrix asks for: 0, 90, 180, 270
    start_time: float  # seconds: presentation time of the first video frame
    time_base: Fraction  # of the video stream
    audio: tuple[AudioInfo, ...]
    format: str = ""  # container format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    comment: str | None = None  # container 'comment' tag (streamfx writes which engine ran)

    def to_dict(self) -> dict:
        """JSON-ready form (Fractions as strings, path as text)."""
        return {
            "path": str(self.path),
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "fps": None if self.fps is None else str(self.fps),
            "fps_float": None if self.fps is None else float(self.fps),
            "duration": self.duration,
            "frame_count": self.frame_count,
            "video_codec": self.video_codec,
            "rotation": self.rotation,
            "start_time": self.start_time,
            "time_base": str(self.time_base),
            "comment": self.comment,
            "audio": [a.__dict__.copy() for a in self.audio],
        }


def to_fraction(value) -> Fraction | None:
    """PyAV 18 gives Fraction, 19 gives AVRational (never None, 0/1 for unknown): normalize both."""
    if value is None or value.numerator == 0 or value.denominator == 0:
        return None
    return Fraction(value.numerator, value.denominator)


def open_input(path):
    """Open a media file for reading; UsageError when missing, MediaError when not media."""
    import av

    p = check_input(path)
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: empty file (0 bytes)")
    try:
        container = av.open(str(p), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise MediaError(f"{p}: not a readable media file ({_reason(error)})") from None
    if not container.streams.video:
        container.close()
        raise MediaError(f"{p}: no video stream")
    return container


def _reason(error: Exception) -> str:
    """The FFmpeg error text without errno and filename noise."""
    text = getattr(error, "strerror", None) or str(error)
    return text.splitlines()[0] if text else type(error).__name__


def normalize_rotation(degrees: float) -> int:
    """Snap a display-matrix angle to 0/90/180/270 (counter-clockwise)."""
    return int(round(degrees / 90.0)) % 4 * 90


def _first_frame_rotation(container, stream) -> int:
    """PyAV exposes the display matrix on decoded frames only, so decode one."""
    import av

    try:
        for frame in container.decode(stream):
            return normalize_rotation(frame.rotation)
    except av.FFmpegError as error:
        raise MediaError(f"{container.name}: cannot decode video ({_reason(error)})") from None
    raise MediaError(f"{container.name}: video stream has no decodable frames")


def _seconds(value, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _count_packets(container, stream) -> int:
    """Frame count for containers that do not store one (e.g. Matroska): demux, no decoding."""
    container.seek(0)
    return sum(1 for packet in container.demux(stream) if packet.size > 0)


def _audio_infos(container) -> tuple[AudioInfo, ...]:
    infos = []
    for s in container.streams.audio:
        ctx = s.codec_context
        infos.append(AudioInfo(
            index=s.index,
            codec=ctx.name if ctx is not None else "unknown",
            sample_rate=int(s.rate or 0),
            channels=int(getattr(ctx, "channels", 0) or 0),
            duration=_seconds(s.duration, to_fraction(s.time_base)),
        ))
    return tuple(infos)


def probe(path) -> MediaInfo:
    """Describe a media file. UsageError if missing, MediaError if unreadable or without video."""
    with open_input(path) as container:
        stream = container.streams.video[0]
        time_base = to_fraction(stream.time_base) or Fraction(1, 1_000_000)
        fps = to_fraction(stream.average_rate) or to_fraction(stream.guessed_rate)
        start = _seconds(stream.start_time, time_base) or 0.0
        duration = _seconds(stream.duration, time_base)
        if duration is None and container.duration is not None:
            duration = container.duration / 1_000_000 - start  # container units are microseconds
        frame_count = int(stream.frames or 0)
        rotation = _first_frame_rotation(container, stream)
        if frame_count <= 0:
            frame_count = _count_packets(container, stream)
        if duration is None:
            duration = frame_count / float(fps) if fps else 0.0
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        return MediaInfo(
            path=Path(path),
            width=width,
            height=height,
            fps=fps,
            duration=float(duration),
            frame_count=frame_count,
            video_codec=stream.codec_context.name,
            rotation=rotation,
            start_time=start,
            time_base=time_base,
            audio=_audio_infos(container),
            format=container.format.name,
            comment=container.metadata.get("comment"),
        )
