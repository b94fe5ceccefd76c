"""`start`/`duration` trimming in the reader, and the writer cutting and shifting audio to match."""

from __future__ import annotations

import av
import numpy as np
import pytest

from conftest import DATA, require
from streamfx.errors import UsageError
from streamfx.io.decode import VideoReader
from streamfx.io.encode import VideoWriter
from streamfx.io.probe import probe

HAMILTON = DATA / "videos/face_recognition/short_hamilton_clip.mp4"  # video from 0.852 s, 29.97 fps


def packet_times(path, kind: str) -> list[float]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0] if kind == "video" else c.streams.audio[0]
        return sorted(float(p.pts * p.time_base) for p in c.demux(stream) if p.size)


def test_trim_matches_the_same_frames_of_a_full_decode():
    src = require(HAMILTON)
    with VideoReader(src) as reader:
        full = {f.pts: f.image for f in reader}
    with VideoReader(src, start=2.0, duration=3.0) as reader:
        trimmed = list(reader)
    expected = sorted(p for p in full if 2.0 <= p * reader.time_base < 5.0)
    assert [f.pts for f in trimmed] == expected  # 90 frames at 29.97 fps
    assert len(trimmed) == 90 and [f.index for f in trimmed] == list(range(90))
    for f in (trimmed[0], trimmed[-1]):  # seek + skip decodes the same pixels as reading from the top
        np.testing.assert_array_equal(f.image, full[f.pts])


def test_duration_without_start_counts_from_the_file_start():
    with VideoReader(require(HAMILTON), duration=2.0) as reader:
        times = [f.time for f in reader]
        assert reader.time_range == (0.0, 2.0)
    assert times[0] == pytest.approx(0.852, abs=0.001) and times[-1] < 2.0
    assert len(times) == 35


def _trimmed_copy(src, out, start, duration):
    with VideoReader(src, start=start, duration=duration) as reader:
        with VideoWriter(out, width=reader.info.width, height=reader.info.height, time_base=reader.time_base,
                         fps=reader.fps, audio_from=src, audio_range=reader.time_range, preset="ultrafast") as w:
            first = None
            for frame in reader:
                first = frame.time if first is None else first
                w.write(frame.image, frame.pts)
    return first


def test_trimmed_output_keeps_only_the_range_and_stays_in_sync(tmp_path):
    src = require(HAMILTON)
    out = tmp_path / "cut.mp4"
    first = _trimmed_copy(src, out, 2.0, 3.0)
    info = probe(out)
    assert info.frame_count == 90
    assert info.duration == pytest.approx(3.0, abs=1 / 29.97)
    assert info.audio[0].duration == pytest.approx(3.0, abs=0.05)
    video, audio = packet_times(out, "video"), packet_times(out, "audio")
    # Both streams moved by the same 2.0 s: each item sits where it was, minus the range start.
    assert video[0] == pytest.approx(first - 2.0, abs=1e-3)
    assert 0.0 <= audio[0] < 1024 / 44100  # the first audio packet starting inside the range
    source_audio = [t for t in packet_times(src, "audio") if 2.0 <= t < 5.0]
    np.testing.assert_allclose(audio, np.array(source_audio) - 2.0, atol=1e-4)


def test_untrimmed_range_keeps_offset(tmp_path):
    """duration only: range starts at 0, so nothing shifts and the 0.85 s offset stays."""
    out = tmp_path / "head.mp4"
    _trimmed_copy(require(HAMILTON), out, None, 2.0)
    assert packet_times(out, "video")[0] == pytest.approx(0.852, abs=1e-3)
    assert max(packet_times(out, "audio")) < 2.0


def test_bad_ranges_are_usage_errors():
    src = require(HAMILTON)
    with pytest.raises(UsageError, match="past the end"):
        VideoReader(src, start=60.0)
    with pytest.raises(UsageError):
        VideoReader(src, start=-1.0)
    with pytest.raises(UsageError):
        VideoReader(src, duration=0.0)
