"""The media matrix: inputs of every common container, video and audio codec, through the reader and the writer
into each output container, checked for frame count, per-frame time, audio presence, codec and duration."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from test_io_fixtures import leftovers, pattern

from streamfx.io.decode import VideoReader
from streamfx.io.encode import VideoWriter
from streamfx.io.plan import CONTAINERS
from streamfx.io.probe import probe

SIZE = (64, 48)
FRAMES = 25


def _tone(rate: int, seconds: float, channels: int) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.repeat((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], channels, axis=0)


def _write(path: Path, video: str, audio: list[tuple[str, int, str]], times: list[int] | None = None,
           time_base=Fraction(1, 25), options=None) -> Path:
    """A clip of FRAMES pictures at the pts `times` (default 0..N-1) with one audio track per (codec, rate,
    layout), each as long as the video."""
    times = times or list(range(FRAMES))
    seconds = float((times[-1] + 1) * time_base)
    with av.open(str(path), "w") as c:
        stream = c.add_stream(video, rate=25, options=options or {})
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        tracks = [(c.add_stream(codec, rate=rate, layout=layout), rate, layout) for codec, rate, layout in audio]
        for i, pts in enumerate(times):
            frame = av.VideoFrame.from_ndarray(pattern(*SIZE, i), format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
        for track, rate, layout in tracks:
            channels = 1 if layout == "mono" else 2
            frame = av.AudioFrame.from_ndarray(_tone(rate, seconds, channels), format="fltp", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
            c.mux(track.encode(frame))
            c.mux(track.encode(None))
    return path


# name -> (file name, video encoder, audio tracks, pts times)
INPUTS = {
    "h264-aac.mp4": ("libx264", [("aac", 44100, "stereo")], None),
    "mpeg4-pcm.avi": ("mpeg4", [("pcm_s16le", 44100, "stereo")], None),  # PCM in AVI names no channel layout
    "h264-opus.mkv": ("libx264", [("libopus", 48000, "stereo")], None),
    "vp9-opus.webm": ("libvpx-vp9", [("libopus", 48000, "mono")], None),
    "h264-mp3.mov": ("libx264", [("libmp3lame", 44100, "stereo")], None),
    "hevc-flac.mkv": ("libx265", [("flac", 22050, "mono")], None),
    "two-tracks.mkv": ("libx264", [("aac", 48000, "stereo"), ("libopus", 48000, "mono")], None),
    # variable frame rate: gaps of 1, 2 and 3 frame intervals
    "vfr-aac.mkv": ("libx264", [("aac", 44100, "mono")], [i + (i // 5) * 2 for i in range(FRAMES)]),
    "silent.mp4": ("libx264", [], None),
}

# The audio codec each source codec has in each output: None = copied unchanged.
TRANSCODED = {".mp4": {"pcm_s16le": "aac"}, ".mov": {"opus": "aac", "flac": "aac"},
              ".webm": {"aac": "opus", "pcm_s16le": "opus", "mp3": "opus", "flac": "opus"}, ".mkv": {}}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("matrix-in")
    made = {}
    for name, (video, audio, times) in INPUTS.items():
        options = {"x265-params": "log-level=none"} if video == "libx265" else None
        made[name] = _write(folder / name, video, audio, times, options=options)
    return made


def _frame_times(path: Path) -> list[float]:
    with VideoReader(path) as reader:
        return [frame.time for frame in reader]


def _audio_starts(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float((s.start_time or 0) * s.time_base) for s in c.streams.audio]


def _passthrough(source: Path, out: Path) -> VideoWriter:
    with VideoReader(source) as reader:
        info = reader.info
        with VideoWriter(out, width=info.width, height=info.height, time_base=reader.time_base, fps=reader.fps,
                         audio_from=source, preset="ultrafast") as writer:
            for frame in reader:
                writer.write(frame.image, frame.pts)
    return writer


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mov", ".webm"])
@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_input_into_every_container(inputs, tmp_path, name, ext):
    source = inputs[name]
    out = tmp_path / f"out{ext}"
    writer = _passthrough(source, out)
    assert leftovers(tmp_path) == []
    before, after = probe(source), probe(out)
    assert after.frame_count == before.frame_count == FRAMES
    times_in, times_out = _frame_times(source), _frame_times(out)
    # Matroska and WebM hold no negative times: a copied AAC track's encoder priming (starting at -23 ms) moves
    # both streams later by as much. MP4 and MOV keep it in an edit list.
    shift = times_out[0] - times_in[0]
    assert shift == pytest.approx(0.0, abs=1e-9) if ext in (".mp4", ".mov") else 0 <= shift < 0.05
    assert [t - shift for t in times_out] == pytest.approx(times_in, abs=1.01e-3)  # Matroska keeps milliseconds
    assert [t - shift for t in _audio_starts(out)] == pytest.approx(_audio_starts(source), abs=0.03)  # in sync
    assert after.video_codec == {".webm": "vp9"}.get(ext, "h264")
    assert writer.plan.container is CONTAINERS[ext]
    assert len(after.audio) == len(before.audio)
    for source_track, out_track in zip(before.audio, after.audio):
        expected = TRANSCODED[ext].get(source_track.codec, source_track.codec)
        assert out_track.codec == expected, (source_track, out_track)
        assert out_track.channels == source_track.channels
        if expected == "opus":
            assert out_track.sample_rate == 48000  # Opus takes 8/12/16/24/48 kHz only
        else:
            assert out_track.sample_rate == source_track.sample_rate
        if source_track.duration is not None and out_track.duration is not None:
            # encoder priming and the last partial frame: at most one 1024/2048-sample frame
            assert out_track.duration == pytest.approx(source_track.duration, abs=0.05)


def test_copied_audio_keeps_its_packet_bytes(inputs, tmp_path):
    source = inputs["two-tracks.mkv"]
    out = tmp_path / "out.mkv"
    _passthrough(source, out)

    def packets(path: Path) -> list[list[bytes]]:
        with av.open(str(path)) as c:
            tracks = {s.index: [] for s in c.streams.audio}
            for packet in c.demux(*c.streams.audio):
                if packet.size:
                    tracks[packet.stream.index].append(bytes(packet))
            return list(tracks.values())

    assert packets(out) == packets(source)


def test_pcm_into_mp4_is_planned_as_aac_before_any_frame(inputs, tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", width=64, height=48, time_base=Fraction(1, 25), fps=Fraction(25),
                         audio_from=inputs["mpeg4-pcm.avi"])
    try:
        assert [(r.codec, r.encoder, r.layout) for r in writer.plan.audio] == [("pcm_s16le", "aac", "stereo")]
    finally:
        writer.abort()
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command line tool")
def test_ffmpeg_default_avi_reads_completely(tmp_path):
    """What `ffmpeg -i x out.avi` writes: MPEG-4 Part 2 with MP3; its header counts one frame more than decode."""
    avi = tmp_path / "cli.avi"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "2", str(avi)], check=True)
    info = probe(avi)
    assert (info.video_codec, info.audio[0].codec) == ("mpeg4", "mp3")
    assert len(_frame_times(avi)) == 50
    writer = _passthrough(avi, tmp_path / "out.mp4")
    assert writer.frames_written == 50
    assert probe(tmp_path / "out.mp4").audio[0].duration == pytest.approx(info.audio[0].duration, abs=0.05)
