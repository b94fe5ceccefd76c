"""Encode RGB frames to a video file with the source's timestamps and audio, atomically.

The file is written under a hidden temporary name in the target folder and renamed into place
only when `close()` finishes; an exception (KeyboardInterrupt included) or `abort()` deletes it.
What goes in follows the output plan (`streamfx.io.plan`): audio packets are copied from
`audio_from` unchanged, and transcoded only when the output container cannot hold their codec.
With `audio_range=(begin, end)` (file seconds, as `VideoReader.time_range` gives) audio outside
the span is dropped and video and audio are both shifted by `begin`, so a trimmed output starts
at 0 and stays in sync.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from streamfx.errors import MediaError, UsageError
from streamfx.io.paths import temp_path_for
from streamfx.io.plan import OutputPlan, plan_output
from streamfx.io.probe import audio_streams
from streamfx.threads import current_budget

log = logging.getLogger("streamfx.io")

# The encoder settings a run uses unless told otherwise. Measured on stylized output (scripts/bench_encode.py,
# docs/benchmarks.md): x264 veryfast at CRF 16 matches medium at CRF 18 in PSNR and SSIM and encodes 1.7-2.4x as fast,
# for about 20 % more bytes (superfast/18 is faster still but 1.4-1.8x the size).
DEFAULT_CRF = 16
DEFAULT_PRESET = "veryfast"

# libx264 preset names -> NVENC presets (p1 fastest .. p7 best).
_NVENC_PRESETS = {
    "ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p4",
    "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7",
}

# libx264 preset names -> libvpx `cpu-used` (0 best .. 5 fastest at the "good" deadline) and SVT-AV1 presets
# (0 best .. 13 fastest), so --preset means the same trade for every encoder.
_VPX_SPEED = {"ultrafast": 5, "superfast": 5, "veryfast": 5, "faster": 4, "fast": 4, "medium": 3, "slow": 2,
              "slower": 1, "veryslow": 0, "placebo": 0}
_SVT_PRESET = {"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8, "medium": 7, "slow": 5,
               "slower": 4, "veryslow": 2, "placebo": 1}


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p stores chroma at half resolution, so libx264 needs even sides."""
    return width + width % 2, height + height % 2


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """[H,W,3] -> [H',W',3] with H', W' even, by repeating the last row/column (no black line)."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")


def check_preset(codec: str, preset: str) -> None:
    """UsageError unless the encoder takes `preset`: x264's names (mapped for x265, libvpx and SVT-AV1), NVENC
    also p1..p7. Encoders without speed presets (mpeg4, prores) ignore it."""
    known = X264_PRESETS
    if codec.endswith("_nvenc"):
        known = tuple(_NVENC_PRESETS) + tuple(f"p{i}" for i in range(1, 8))
    elif codec not in ("libx264", "libx265", "libvpx", "libvpx-vp9", "libsvtav1"):
        return
    if preset not in known:
        raise UsageError(f"--preset {preset!r} is not a {codec} preset (one of: {', '.join(known)})")


def _crf_63(crf: int) -> str:
    """x264's 0..51 quality scale on the 0..63 scale of libvpx and SVT-AV1."""
    return str(round(crf * 63 / 51))


def _codec_options(codec: str, crf: int, preset: str) -> dict[str, str]:
    check_preset(codec, preset)
    if codec.endswith("_nvenc"):
        # NVENC has no CRF; constant-quality VBR with cq is its nearest equivalent.
        return {"rc": "vbr", "cq": str(crf), "preset": _NVENC_PRESETS.get(preset, preset)}
    if codec in ("libx264", "libx265"):
        return {"crf": str(crf), "preset": preset}
    if codec in ("libvpx", "libvpx-vp9"):
        # Constant quality needs a bitrate: 0 (no cap) for VP9, a ceiling for VP8.
        bitrate = "0" if codec == "libvpx-vp9" else "20M"
        return {"crf": _crf_63(crf), "b": bitrate, "deadline": "good", "cpu-used": str(_VPX_SPEED.get(preset, 3)),
                "row-mt": "1"}
    if codec == "libsvtav1":
        return {"crf": _crf_63(crf), "preset": str(_SVT_PRESET.get(preset, 7))}
    return {}


def _encoder_opens(codec: str, width: int, height: int) -> bool:
    """Open a throwaway encoder: NVENC is in the wheels but needs an NVIDIA driver to open."""
    import av

    try:
        ctx = av.CodecContext.create(codec, "w")
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = Fraction(1, 25)
        ctx.open()
        return True
    except (av.FFmpegError, ValueError) as error:
        log.debug("encoder %s does not open: %s", codec, error)
        return False


def choose_video_codec(codec: str, width: int, height: int, fallback: str = "libx264") -> str:
    """The requested encoder, or `fallback` with a warning when a hardware encoder cannot open."""
    import av

    if codec not in av.codecs_available:
        raise UsageError(f"unknown video codec '{codec}'")
    if codec.endswith(("_nvenc", "_qsv", "_amf", "_vaapi")) and not _encoder_opens(codec, width, height):
        log.warning("video codec %s is not usable on this machine; using %s", codec, fallback)
        return fallback
    return codec


def _container_options(fmt: str) -> dict[str, str]:
    # MP4/MOV edit lists (a stream's start offset) are stored in the movie timescale, 1/1000 s
    # by default: too coarse, a copied audio track would drift up to 1 ms against the video.
    return {"movie_timescale": "90000"} if fmt in ("mp4", "mov") else {}


def _check_target(path: Path, overwrite: bool, audio_from: Path | None) -> None:
    if path.is_dir():
        raise UsageError(f"{path}: output is a folder, give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{path}: output folder {path.parent} does not exist")
    if audio_from is not None and path.exists() and os.path.samefile(path, audio_from):
        raise UsageError(f"{path}: output is the same file as the input")
    if path.exists() and not overwrite:
        raise UsageError(f"{path}: output exists (use --overwrite to replace it)")


class AudioCopier:
    """Moves every audio stream of `source` into `output`: packets copied, or transcoded if needed.

    Times are source-file seconds. `pump(t)` muxes everything that starts before `t`, so the
    muxer interleaves audio with video instead of buffering a whole track.
    """

    def __init__(self, source: Path, output, plan: OutputPlan, audio_range: tuple[float, float | None] | None):
        import av

        try:
            self._input = av.open(str(source), "r")
        except (av.FFmpegError, OSError) as error:
            raise MediaError(f"{source}: cannot read audio ({error})") from None
        self.source = source
        self._begin, self._end = audio_range if audio_range else (None, None)
        self._shift = self._begin or 0.0
        self._routes = {}  # source stream index -> (output stream, decoder or None for packet copy)
        self._stream_end = {}  # source stream index -> end in its time base (container edit lists trim)
        for stream in self._input.streams.audio:
            self._routes[stream.index] = self._route(stream, output, plan)
            if stream.duration is not None:
                self._stream_end[stream.index] = (stream.start_time or 0) + stream.duration
        self._output = output
        streams = list(self._input.streams.audio)
        self._packets = self._input.demux(*streams) if streams else iter(())
        self._pending = None

    @staticmethod
    def _route(stream, output, plan: OutputPlan):
        route = plan.route(stream.index)
        if route.copied:
            return output.add_stream_from_template(stream), None
        log.info("%s", route.describe())
        # The encoder resamples each decoded frame to the planned rate and layout.
        return output.add_stream(route.encoder, rate=route.rate, layout=route.layout), stream.codec_context

    def _inside(self, t: float) -> bool:
        if self._end is not None and t >= self._end - 1e-6:
            return False
        return not (self._begin and t < self._begin - 1e-6)

    def pump(self, until: float | None) -> None:
        """Mux audio that starts before `until` seconds (None: everything left)."""
        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            if packet.size == 0:
                continue  # the demuxer's end-of-stream flush packet carries nothing
            ts = packet.pts if packet.pts is not None else packet.dts
            t = float(ts * packet.time_base) if ts is not None else None
            if until is not None and t is not None and t > until:
                self._pending = packet
                return
            out, decoder = self._routes[packet.stream.index]
            if decoder is None:
                self._copy(packet, out, t)
            else:
                self._transcode(packet, out, decoder)

    def _copy(self, packet, out, t: float | None) -> None:
        if t is not None and not self._inside(t):
            return
        self._clip_duration(packet)
        shift = round(self._shift / packet.time_base)
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = out
        self._output.mux(packet)

    def _clip_duration(self, packet) -> None:
        """Shorten the last packet to where the source track (or the range) ends.

        A copied AAC frame always holds 1024 samples; the source's edit list may cut the last one
        short. The muxer takes the track length from the packet durations, so clip the duration.
        """
        if packet.pts is None or not packet.duration:
            return
        ends = [self._stream_end.get(packet.stream.index)]
        if self._end is not None:
            ends.append(round(self._end / packet.time_base))
        end = min((e for e in ends if e is not None), default=None)
        if end is not None and packet.pts + packet.duration > end > packet.pts:
            packet.duration = end - packet.pts

    def _transcode(self, packet, out, decoder) -> None:
        for frame in decoder.decode(packet):
            if frame.pts is None or not self._inside(float(frame.pts * frame.time_base)):
                continue
            t = float(frame.pts * frame.time_base) - self._shift
            frame.pts = round(t * frame.sample_rate)
            frame.time_base = Fraction(1, frame.sample_rate)
            self._output.mux(out.encode(frame))

    def finish(self) -> None:
        """Mux the rest of the audio and flush the transcoding encoders."""
        self.pump(None)
        for out, decoder in self._routes.values():
            if decoder is not None:
                self._output.mux(out.encode(None))

    def close(self) -> None:
        self._input.close()


class VideoWriter:
    """Write [H,W,3] uint8 RGB frames with explicit pts (in `time_base` units) to `path`.

    Frames of odd width/height are padded to even by edge replication. Use as a context manager:
    a clean exit finalizes and renames the file, an exception removes the temporary file.
    """

    def __init__(self, path, *, width: int, height: int, time_base: Fraction, fps: Fraction | None,
                 audio_from: Path | None = None, audio_range: tuple[float, float | None] | None = None,
                 codec: str | None = None, crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET,
                 comment: str | None = None, overwrite: bool = False, threads: int | None = None):
        import av

        self.path = Path(path).expanduser()
        budget = current_budget()
        self.threads = threads if threads is not None else budget.encode if budget else 0
        _check_target(self.path, overwrite, None if audio_from is None else Path(audio_from))
        self.width, self.height = int(width), int(height)
        self.time_base = Fraction(time_base)
        self.fps = None if fps is None else Fraction(fps)
        self._shift_seconds = audio_range[0] if audio_range else 0.0
        self._shift_pts = round(self._shift_seconds / self.time_base)
        self._step = max(1, round(1 / (self.fps * self.time_base))) if self.fps else 1
        self._last_pts: int | None = None
        self.frames_written = 0
        self.plan = plan_output(self.path, codec, () if audio_from is None else audio_streams(audio_from))
        self.temp_path = temp_path_for(self.path)
        self._container = None
        self._audio = None
        try:
            fmt = self.plan.container.muxer  # the temporary name hides the extension from FFmpeg
            self._container = av.open(str(self.temp_path), "w", format=fmt, options=_container_options(fmt))
            if comment:
                self._container.metadata["comment"] = comment
            self.codec = self._add_video_stream(crf, preset)
            if audio_from is not None:
                self._audio = AudioCopier(Path(audio_from), self._container, self.plan, audio_range)
        except BaseException as error:
            self.abort()
            if isinstance(error, av.FFmpegError):
                raise MediaError(f"{self.path}: cannot open output ({error})") from None
            raise

    def _add_video_stream(self, crf: int, preset: str) -> str:
        out_w, out_h = even_size(self.width, self.height)
        codec = choose_video_codec(self.plan.encoder, out_w, out_h, fallback=self.plan.container.default_encoder)
        pixel_format = self.plan.pixel_format if codec == self.plan.encoder else "yuv420p"
        stream = self._container.add_stream(codec, rate=self.fps, options=_codec_options(codec, crf, preset))
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, pixel_format
        if self.threads > 0:
            stream.codec_context.thread_count = self.threads
        # Encode in the source time base so pts pass through without rounding.
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        self._stream = stream
        return codec

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, image: np.ndarray, pts: int | None) -> None:
        """Encode one frame. `pts` in `time_base` units (None: previous + one frame interval)."""
        import av

        if self._container is None:
            raise MediaError(f"{self.path}: writer is closed")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise MediaError(f"{self.path}: frame is {image.shape} {image.dtype}, "
                             f"writer expects ({self.height}, {self.width}, 3) uint8")
        if pts is None:
            pts = self._shift_pts if self._last_pts is None else self._last_pts + self._step
        if self._last_pts is not None and pts <= self._last_pts:
            raise MediaError(f"{self.path}: frame pts {pts} does not increase (previous {self._last_pts})")
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pad_to_even(image)), format="rgb24")
        frame.pts = pts - self._shift_pts
        frame.time_base = self.time_base
        try:
            if self._audio is not None:
                # Keep audio interleaved: mux what plays up to this frame before the frame itself.
                self._audio.pump(float(frame.pts * self.time_base) + self._shift_seconds)
            self._container.mux(self._stream.encode(frame))
        except av.FFmpegError as error:
            raise MediaError(f"{self.path}: encoding failed at frame {self.frames_written} ({error})") from None
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio, finalize and rename into place."""
        import av

        if self._container is None:
            return
        try:
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.finish()
            self._container.close()
            self._container = None
            if self._audio is not None:
                self._audio.close()
                self._audio = None
            os.replace(self.temp_path, self.path)
        except BaseException as error:
            self.abort()
            if isinstance(error, av.FFmpegError):
                raise MediaError(f"{self.path}: finishing the file failed ({error})") from None
            raise
        log.debug("wrote %s (%d frames, %s)", self.path, self.frames_written, self.codec)

    def abort(self) -> None:
        """Stop without output: close everything, delete the temporary file. Safe to call twice."""
        for closer in (self._audio, self._container):
            if closer is not None:
                try:
                    closer.close()
                except Exception as error:  # already failing; cleanup must go on
                    log.debug("ignored while aborting %s: %s", self.path, error)
        self._audio = self._container = None
        self.temp_path.unlink(missing_ok=True)
