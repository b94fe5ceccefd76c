"""The output plan: for an output file, which video encoder in which pixel format, and for every source audio
stream whether its packets are copied or it is transcoded, to which encoder, rate and channel layout.

It is decided from the output's extension, the requested encoder and the source's audio streams before any frame
is decoded, so a combination the container cannot hold is refused up front (exit 2) or routed to a codec it does
hold, never found out when the file is being finished. docs/io.md prints the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamfx.errors import UsageError
from streamfx.io.probe import AudioInfo

# Integer and float PCM that MOV and Matroska store as is.
_PCM = ("pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_f32le", "pcm_u8")


@dataclass(frozen=True)
class Container:
    muxer: str  # FFmpeg muxer name
    video: tuple[str, ...]  # video codecs it holds (codec names: an encoder counts by the codec it makes)
    default_encoder: str  # the video encoder when none is asked for
    audio_copy: tuple[str, ...]  # audio codecs whose packets are copied unchanged
    audio_encoder: str  # every other audio stream is transcoded with this encoder


_MP4 = Container("mp4", ("h264", "hevc", "av1", "vp9", "mpeg4"), "libx264",
                 ("aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"), "aac")

# Output extension -> what goes in. Not in MP4: PCM (the muxer refuses it at the end). Not in MOV: Opus and FLAC
# (FFmpeg's mov muxer takes them in MP4 mode only). WebM holds VP8/VP9/AV1 with Opus/Vorbis, nothing else.
CONTAINERS = {
    ".mp4": _MP4,
    ".m4v": _MP4,
    ".mov": Container("mov", ("h264", "hevc", "prores", "mpeg4", "mjpeg"), "libx264",
                      ("aac", "mp3", "ac3", "eac3", "alac", *_PCM), "aac"),
    ".mkv": Container("matroska", ("h264", "hevc", "av1", "vp9", "vp8", "mpeg4", "prores", "mjpeg"), "libx264",
                      ("aac", "mp3", "ac3", "eac3", "alac", "opus", "flac", "vorbis", "dts", "truehd", *_PCM), "aac"),
    ".webm": Container("webm", ("vp9", "vp8", "av1"), "libvpx-vp9", ("opus", "vorbis"), "libopus"),
}

# Channel count -> the layout a transcode writes; AAC and Opus both take these. Other counts are downmixed to
# stereo rather than refused.
_TRANSCODE_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}

# Pixel formats in order of preference; the first the encoder takes is used (8-bit 4:2:0 plays everywhere).
_PIXEL_FORMATS = ("yuv420p", "yuvj420p", "yuv420p10le", "yuv422p", "yuv422p10le", "yuv444p", "yuv444p10le")


@dataclass(frozen=True)
class AudioRoute:
    index: int  # source stream index
    codec: str  # source codec
    encoder: str | None  # None: packets copied
    rate: int  # output sample rate
    layout: str  # output channel layout

    @property
    def copied(self) -> bool:
        return self.encoder is None

    def describe(self) -> str:
        if self.copied:
            return f"audio #{self.index} {self.codec}: copied"
        return f"audio #{self.index} {self.codec}: transcoded to {self.encoder} {self.rate} Hz {self.layout}"


@dataclass(frozen=True)
class OutputPlan:
    path: Path
    container: Container
    encoder: str  # video encoder
    pixel_format: str
    audio: tuple[AudioRoute, ...]

    def route(self, index: int) -> AudioRoute:
        return next(r for r in self.audio if r.index == index)

    def describe(self) -> str:
        parts = [f"{self.path.suffix.lower()}: video {self.encoder} {self.pixel_format}"]
        return "; ".join(parts + [r.describe() for r in self.audio])


def container_for(path: Path) -> Container:
    rule = CONTAINERS.get(Path(path).suffix.lower())
    if rule is None:
        raise UsageError(f"{path}: unsupported output extension (use one of {', '.join(CONTAINERS)})")
    return rule


def _video_encoder(name: str):
    import av

    try:
        codec = av.Codec(name, "w")
    except (av.FFmpegError, ValueError):
        raise UsageError(f"unknown video codec '{name}'") from None
    if codec.type != "video":
        raise UsageError(f"'{name}' is not a video encoder")
    return codec


def pixel_format_for(codec) -> str:
    """yuv420p when the encoder takes it, else the nearest it does take (ProRes wants 4:2:2 10-bit)."""
    offered = [f.name for f in codec.video_formats or ()]
    if not offered:
        return "yuv420p"
    for name in _PIXEL_FORMATS:
        if name in offered:
            return name
    raise UsageError(f"video codec '{codec.name}' takes none of the pixel formats streamfx writes "
                     f"({', '.join(offered[:6])})")


def _check_video(rule: Container, path: Path, codec) -> None:
    if codec.canonical_name not in rule.video:
        raise UsageError(f"{path.name}: video codec {codec.name} ({codec.canonical_name}) cannot go into "
                         f"{path.suffix.lower()}; it holds {', '.join(rule.video)} (default {rule.default_encoder})")


def _transcode_rate(encoder: str, rate: int) -> int:
    """The source rate if the encoder takes it, else the next one up (Opus: 44.1 kHz -> 48 kHz)."""
    import av

    rates = sorted(av.Codec(encoder, "w").audio_rates or ())
    if not rates or rate in rates:
        return rate
    higher = [r for r in rates if r >= rate]
    return higher[0] if higher else rates[-1]


def _audio_route(rule: Container, audio: AudioInfo) -> AudioRoute:
    if audio.codec in rule.audio_copy:
        return AudioRoute(audio.index, audio.codec, None, audio.sample_rate, audio.layout)
    return AudioRoute(audio.index, audio.codec, rule.audio_encoder,
                      _transcode_rate(rule.audio_encoder, audio.sample_rate),
                      _TRANSCODE_LAYOUTS.get(audio.channels, "stereo"))


def plan_output(path, encoder: str | None = None, audio: tuple[AudioInfo, ...] = ()) -> OutputPlan:
    """Decide what goes into `path`. UsageError for an extension or encoder the container cannot take."""
    path = Path(path)
    rule = container_for(path)
    codec = _video_encoder(encoder or rule.default_encoder)
    _check_video(rule, path, codec)
    routes = tuple(_audio_route(rule, a) for a in audio)
    return OutputPlan(path, rule, codec.name, pixel_format_for(codec), routes)
