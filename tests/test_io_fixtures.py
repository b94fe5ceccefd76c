"""Small synthetic media for the I/O tests (written with PyAV directly, not with our writer),
plus checks that the synthetic files are what the other tests assume."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

MARK = (255, 0, 0)  # red block in the stored picture's top-left corner


def pattern(width: int, height: int, index: int) -> np.ndarray:
    """[H,W,3] uint8: a moving gradient with a red block top-left (to tell orientation)."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 3 + index * 5) % 256, (y * 3) % 256, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    image[: height // 4, : width // 4] = MARK
    return image


def make_clip(path: Path, width=64, height=48, frames=25, fps=25, rotation: int | None = None,
              audio_codec: str | None = None, sample_rate=22050, options=None) -> Path:
    """A tiny clip. `rotation` goes into the display matrix (counter-clockwise degrees)."""
    tb = Fraction(1, fps)
    with av.open(str(path), "w", options=options or {}) as c:
        video = c.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation is not None:
            video.set_display_rotation(rotation)
        audio = c.add_stream(audio_codec, rate=sample_rate, layout="mono") if audio_codec else None
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(width, height, i), format="rgb24")
            frame.pts, frame.time_base = i, tb
            c.mux(video.encode(frame))
        c.mux(video.encode(None))
        if audio is not None:
            _encode_tone(c, audio, sample_rate, frames / fps)
    return path


def _encode_tone(container, stream, sample_rate: int, seconds: float) -> None:
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = sample_rate, 0, Fraction(1, sample_rate)
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_audio_only(path: Path, seconds=1.0, sample_rate=22050) -> Path:
    with av.open(str(path), "w", format="mp4") as c:
        _encode_tone(c, c.add_stream("aac", rate=sample_rate, layout="mono"), sample_rate, seconds)
    return path


def make_empty(folder: Path) -> Path:
    path = folder / "zero.mp4"
    path.write_bytes(b"")
    return path


def make_text(folder: Path) -> Path:
    """A text file wearing a video's name."""
    path = folder / "notes.mp4"
    path.write_text("this is not a video\n")
    return path


def make_cut(source: Path, folder: Path, name: str = "cut.mp4") -> Path:
    """`source` cut in half (for a file with its index at the end, the index is gone)."""
    data = source.read_bytes()
    path = folder / name
    path.write_bytes(data[: len(data) // 2])
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Temporary files a writer may have left behind."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".part"))


def test_make_clip_has_what_it_says(tmp_path):
    path = make_clip(tmp_path / "c.mp4", frames=10, audio_codec="aac", rotation=-90)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert (v.width, v.height, v.frames) == (64, 48, 10)
        assert c.streams.audio[0].codec_context.name == "aac"
        assert next(c.decode(v)).rotation == -90


def test_make_audio_only_has_no_video(tmp_path):
    with av.open(str(make_audio_only(tmp_path / "a.mp4"))) as c:
        assert len(c.streams.video) == 0 and len(c.streams.audio) == 1
