"""Decode -> encode identity on every shared clip and on the project's sample: frames, timing, size and
audio survive. One test per clip so a failure names the clip."""

from __future__ import annotations

import av
import numpy as np
import pytest
from test_io_fixtures import leftovers

from conftest import DATA, SAMPLES, require
from streamfx.io.decode import VideoReader
from streamfx.io.encode import VideoWriter
from streamfx.io.probe import probe

VIDEOS = DATA / "videos"
CLIPS = sorted(str(p.relative_to(VIDEOS)) for p in VIDEOS.glob("*/*.mp4")) if VIDEOS.is_dir() else ["(absent)"]


def frame_times(path) -> np.ndarray:
    """Presentation times (s) of every video packet, sorted: demux only, no decoding."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        ts = [float(p.pts * p.time_base) for p in c.demux(stream) if p.size and p.pts is not None]
    return np.sort(np.array(ts))


def round_trip(src, out) -> tuple[list[np.ndarray], int]:
    """Decode `src` and encode every frame to `out` with its own pts. Returns a few frames to compare."""
    kept = []
    with VideoReader(src) as reader:
        info = reader.info
        with VideoWriter(out, width=info.width, height=info.height, time_base=reader.time_base, fps=reader.fps,
                         audio_from=src, preset="ultrafast", crf=18) as writer:
            for frame in reader:
                writer.write(frame.image, frame.pts)
                if frame.index % 25 == 0:
                    kept.append(frame.image)
    return kept, writer.frames_written


def assert_same_media(src, out, written: int) -> None:
    a, b = probe(src), probe(out)
    frame = 1.0 / float(a.fps)
    assert written == a.frame_count
    assert b.frame_count == a.frame_count
    assert abs(b.duration - a.duration) <= frame
    assert abs(b.start_time - a.start_time) < 1e-3
    assert b.width - a.width in (0, 1) and b.height - a.height in (0, 1)
    assert b.width % 2 == 0 and b.height % 2 == 0
    times_a, times_b = frame_times(src), frame_times(out)
    np.testing.assert_allclose(times_b, times_a, atol=1e-3)  # every frame where it was: VFR survives
    assert [(x.codec, x.sample_rate, x.channels) for x in b.audio] == [
        (x.codec, x.sample_rate, x.channels) for x in a.audio]
    for x, y in zip(a.audio, b.audio):
        assert abs(x.duration - y.duration) <= 0.05


def assert_pixels_close(kept, out) -> None:
    """Lossy but faithful: the same picture, not shifted, flipped or colour-swapped."""
    with VideoReader(out) as reader:
        decoded = [f.image for f in reader if f.index % 25 == 0]
    for src, dst in zip(kept, decoded):
        h, w = src.shape[:2]
        diff = np.abs(src.astype(np.int16) - dst[:h, :w].astype(np.int16))
        assert diff.mean() < 4.0


@pytest.mark.parametrize("clip", CLIPS)
def test_round_trip_shared_clip(clip, tmp_path):
    src = require(VIDEOS / clip)
    out = tmp_path / "out.mp4"
    kept, written = round_trip(src, out)
    assert_same_media(src, out, written)
    assert_pixels_close(kept, out)
    assert leftovers(tmp_path) == []


def test_round_trip_sample(tmp_path):
    src = require(SAMPLES / "astronaut.mp4")
    kept, written = round_trip(src, tmp_path / "out.mp4")
    assert written == 100
    assert_same_media(src, tmp_path / "out.mp4", written)
    assert_pixels_close(kept, tmp_path / "out.mp4")


def test_hamilton_keeps_its_start_offset(tmp_path):
    src = require(VIDEOS / "face_recognition/short_hamilton_clip.mp4")
    out = tmp_path / "out.mp4"
    round_trip(src, out)
    assert probe(src).start_time == pytest.approx(0.852, abs=0.005)
    assert frame_times(out)[0] == pytest.approx(0.852, abs=0.005)
    assert probe(out).audio[0].duration == pytest.approx(probe(src).audio[0].duration, abs=0.05)


@pytest.mark.parametrize("clip,fps", [("V-Express/short_case_tys_gt.mp4", 24.66),
                                      ("video-retalking/face_1.mp4", 22.13)])
def test_odd_rate_clips_probe(clip, fps):
    info = probe(require(VIDEOS / clip))
    assert float(info.fps) == pytest.approx(fps, abs=0.01)
