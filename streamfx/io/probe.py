"""What a media file holds: picture size (upright), frame rate, duration, frame count, rotation, audio.

Also owns opening an input container, so every reader maps unreadable files to one MediaError shape, and refuses
a file whose video stops short of where its header says it ends (cut off, with the index intact or not).
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
    codec: str  # FFmpeg codec name ("mp3", not the decoder's "mp3float")
    sample_rate: int
    channels: int
    duration: float | None  # seconds, None when the container does not say
    layout: str = ""  # channel layout name; "2 channels" when the file names none (PCM in AVI)


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
    video_end: float | None = None  # seconds: where the header says the video ends; None when it does not say

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
            "video_end": self.video_end,
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


def _tag_seconds(text: str | None) -> float | None:
    """Matroska's per-track DURATION tag, "HH:MM:SS.nnnnnnnnn"."""
    try:
        hours, minutes, seconds = (text or "").split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def stream_duration(stream) -> float | None:
    """Seconds the container declares for one stream: its own duration field, else Matroska's DURATION tag."""
    seconds = _seconds(stream.duration, to_fraction(stream.time_base))
    return seconds if seconds is not None else _tag_seconds(stream.metadata.get("DURATION"))


def frame_slack(fps: Fraction | None) -> float:
    """How far short of its declared end a complete video may stop: one and a half frames. A declared frame
    count may include a packet that decodes to no picture (MPEG-4 Part 2 in AVI counts one more)."""
    return 1.5 / float(fps) if fps else 0.1


def _video_packets_end(container, stream, near: float) -> float | None:
    """Seconds where the last video packet the file really holds ends, demuxing from the keyframe before `near`."""
    import av

    time_base = stream.time_base
    try:
        container.seek(max(0, int(near / time_base)), stream=stream, backward=True)
    except av.FFmpegError:
        container.seek(0)
    end = None
    try:
        for packet in container.demux(stream):
            ts = packet.pts if packet.pts is not None else packet.dts
            if packet.size and ts is not None:
                end = max(end or 0.0, float((ts + (packet.duration or 0)) * time_base))
    except av.FFmpegError:
        pass  # a damaged tail: what was read so far is what the file holds
    if end is None and near > 0:  # the seek went past the data: read it all
        return _video_packets_end(container, stream, 0.0)
    return end


def _check_video_end(container, stream, path, declared_end: float, fps: Fraction | None) -> None:
    """MediaError when the video's packets stop short of the declared end: the file was cut off."""
    end = _video_packets_end(container, stream, declared_end - 2.0)
    if end is None or end < declared_end - frame_slack(fps):
        held = 0.0 if end is None else end
        raise MediaError(f"{path}: truncated or damaged, the video stops at {held:.2f} s "
                         f"of the {declared_end:.2f} s its header declares")


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
            codec=ctx.codec.canonical_name if ctx is not None else "unknown",
            sample_rate=int(s.rate or 0),
            channels=int(getattr(ctx, "channels", 0) or 0),
            duration=stream_duration(s),
            layout=ctx.layout.name if ctx is not None else "",
        ))
    return tuple(infos)


def audio_streams(path) -> tuple[AudioInfo, ...]:
    """The audio streams of a media file, without the rest of `probe`'s checks."""
    with open_input(path) as container:
        return _audio_infos(container)


def probe(path) -> MediaInfo:
    """Describe a media file. UsageError if missing, MediaError if unreadable or without video."""
    with open_input(path) as container:
        stream = container.streams.video[0]
        time_base = to_fraction(stream.time_base) or Fraction(1, 1_000_000)
        fps = to_fraction(stream.average_rate) or to_fraction(stream.guessed_rate)
        start = _seconds(stream.start_time, time_base) or 0.0
        declared = stream_duration(stream)
        duration = declared
        if duration is None and container.duration is not None:
            duration = container.duration / 1_000_000 - start  # container units are microseconds
        frame_count = int(stream.frames or 0)
        rotation = _first_frame_rotation(container, stream)
        if frame_count <= 0:
            frame_count = _count_packets(container, stream)
        if duration is None:
            duration = frame_count / float(fps) if fps else 0.0
        video_end = None if declared is None else start + declared
        if video_end is not None:
            _check_video_end(container, stream, path, video_end, fps)
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
            video_codec=stream.codec_context.codec.canonical_name,
            rotation=rotation,
            start_time=start,
            time_base=time_base,
            audio=_audio_infos(container),
            format=container.format.name,
            comment=container.metadata.get("comment"),
            video_end=video_end,
        )
