"""VideoWriter behaviour (atomic write, padding, pts, codecs, audio) and upright decoding of rotated clips."""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np
import pytest
from test_io_fixtures import MARK, leftovers, make_clip, pattern

from streamfx.errors import MediaError, UsageError
from streamfx.io.decode import VideoReader, apply_rotation
from streamfx.io.encode import VideoWriter, _encoder_opens, pad_to_even
from streamfx.io.probe import probe

TB = Fraction(1, 25)


def _writer(path, width=64, height=48, **kw):
    return VideoWriter(path, width=width, height=height, time_base=TB, fps=Fraction(25), preset="ultrafast", **kw)


def _corner_is_red(image, rows: slice, cols: slice) -> bool:
    block = image[rows, cols].reshape(-1, 3).astype(int).mean(axis=0)
    return block[0] > 200 and block[1] < 60 and block[2] < 60


# Stored 64x48 with a red block top-left. FFmpeg's display-matrix convention: the angle turns the
# stored picture counter-clockwise for display; a phone's portrait clip reads -90 (turn clockwise).
@pytest.mark.parametrize("angle,probe_rotation,corner", [
    (-90, 270, "top-right"),   # clockwise: top-left goes to top-right
    (90, 90, "bottom-left"),   # counter-clockwise: top-left goes to bottom-left
    (180, 180, "bottom-right"),
])
def test_rotated_clip_decodes_upright(tmp_path, angle, probe_rotation, corner):
    src = make_clip(tmp_path / "rot.mp4", frames=3, rotation=angle)
    info = probe(src)
    assert info.rotation == probe_rotation
    upright = (64, 48) if angle == 180 else (48, 64)  # (width, height) as displayed
    assert (info.width, info.height) == upright
    with VideoReader(src) as reader:
        image = next(iter(reader)).image
    assert image.shape == (upright[1], upright[0], 3)
    h, w = image.shape[:2]
    rows = slice(0, h // 5) if corner.startswith("top") else slice(h - h // 5, h)
    cols = slice(w - w // 5, w) if corner.endswith("right") else slice(0, w // 5)
    assert _corner_is_red(image, rows, cols)
    assert not _corner_is_red(image, slice(0, h // 5), slice(0, w // 5))


def test_rotated_clip_is_written_upright_without_matrix(tmp_path):
    src = make_clip(tmp_path / "rot.mp4", frames=5, rotation=-90)
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader, _writer(out, width=48, height=64) as writer:
        for f in reader:
            writer.write(f.image, f.pts)
    info = probe(out)
    assert (info.rotation, info.width, info.height) == (0, 48, 64)
    with VideoReader(out) as reader:
        assert _corner_is_red(next(iter(reader)).image, slice(0, 12), slice(36, 48))


def test_apply_rotation_matches_numpy_turns():
    image = pattern(8, 6, 0)
    assert apply_rotation(image, 0) is image
    np.testing.assert_array_equal(apply_rotation(image, -90), np.rot90(image, -1))
    np.testing.assert_array_equal(apply_rotation(image, 270), np.rot90(image, -1))
    np.testing.assert_array_equal(apply_rotation(image, 90), np.rot90(image, 1))


def test_odd_size_is_padded_by_edge_replication(tmp_path):
    image = pattern(65, 49, 0)
    padded = pad_to_even(image)
    assert padded.shape == (50, 66, 3)
    np.testing.assert_array_equal(padded[49], padded[48])
    np.testing.assert_array_equal(padded[:, 65], padded[:, 64])
    out = tmp_path / "odd.mp4"
    with _writer(out, width=65, height=49) as writer:
        for i in range(5):
            writer.write(pattern(65, 49, i), i)
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (66, 50, 5)


def test_failure_inside_the_block_leaves_no_file(tmp_path):
    out = tmp_path / "out.mp4"
    for error in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with _writer(out) as writer:
                for i in range(30):  # enough for the encoder to emit packets, so the file exists
                    writer.write(pattern(64, 48, i), i)
                assert writer.temp_path.exists() and writer.temp_path.parent == tmp_path
                assert writer.temp_path.name.startswith(".out.mp4.") and writer.temp_path.name.endswith(".part")
                raise error
        assert not out.exists() and leftovers(tmp_path) == []


def test_abort_drops_the_temp_file_and_keeps_an_existing_output(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    writer = _writer(out, overwrite=True)
    writer.write(pattern(64, 48, 0), 0)
    writer.abort()
    writer.abort()  # twice is harmless
    assert out.read_bytes() == b"previous result" and leftovers(tmp_path) == []


def test_overwrite_replaces_only_on_success(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    with _writer(out, overwrite=True) as writer:
        writer.write(pattern(64, 48, 0), 0)
        assert out.read_bytes() == b"old"  # still the old file while writing
    assert probe(out).frame_count == 1


def test_pts_none_follows_the_frame_rate_and_comment_is_kept(tmp_path):
    out = tmp_path / "out.mp4"
    with _writer(out, comment="engine=onnxruntime-cpu") as writer:
        for i in range(10):
            writer.write(pattern(64, 48, i), None)
    info = probe(out)
    assert info.frame_count == 10 and info.duration == pytest.approx(0.4, abs=0.001)
    assert info.comment == "engine=onnxruntime-cpu"


def test_bad_frames_are_refused(tmp_path):
    with pytest.raises(MediaError, match="expects"), _writer(tmp_path / "a.mp4") as writer:
        writer.write(pattern(32, 48, 0), 0)
    with pytest.raises(MediaError, match="does not increase"), _writer(tmp_path / "b.mp4") as writer:
        writer.write(pattern(64, 48, 0), 5)
        writer.write(pattern(64, 48, 1), 5)
    assert leftovers(tmp_path) == [] and not (tmp_path / "a.mp4").exists()


def test_hardware_codec_falls_back_to_libx264(tmp_path, caplog, monkeypatch):
    if _encoder_opens("h264_nvenc", 64, 48):
        pytest.skip("NVENC opens on this machine")
    monkeypatch.setattr(logging.getLogger("streamfx"), "propagate", True)  # the CLI may have turned it off
    with caplog.at_level(logging.WARNING, logger="streamfx.io"):
        with _writer(tmp_path / "out.mp4", codec="h264_nvenc") as writer:
            writer.write(pattern(64, 48, 0), 0)
    assert writer.codec == "libx264"
    assert any("h264_nvenc" in r.getMessage() for r in caplog.records)
    assert probe(tmp_path / "out.mp4").video_codec == "h264"


def test_unknown_codec_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unknown video codec"):
        _writer(tmp_path / "out.mp4", codec="no-such-codec")
    assert leftovers(tmp_path) == []


def test_audio_the_container_cannot_hold_is_transcoded_to_aac(tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=25, audio_codec="pcm_u8", sample_rate=22050)
    assert probe(src).audio[0].codec == "pcm_u8"
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader, _writer(out, audio_from=src) as writer:
        for f in reader:
            writer.write(f.image, f.pts)
    (audio,) = probe(out).audio
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 22050, 1)
    assert audio.duration == pytest.approx(1.0, abs=0.05)


def test_source_without_audio_gives_output_without_audio(tmp_path):
    src = make_clip(tmp_path / "silent.mp4", frames=5)
    out = tmp_path / "out.mp4"
    with VideoReader(src) as reader, _writer(out, audio_from=src) as writer:
        for f in reader:
            writer.write(f.image, f.pts)
    assert probe(out).audio == ()


def test_a_stale_temp_file_from_a_killed_run_is_removed_a_live_one_kept(tmp_path):
    import os

    gone = _finished_pid()
    stale = tmp_path / f".out.mp4.{gone}.0badc0de.part"
    running = tmp_path / f".out.mp4.{os.getpid()}.0badc0de.part"  # this process: still writing
    other = tmp_path / f".other.mp4.{gone}.0badc0de.part"  # another target's: not ours to judge
    for path in (stale, running, other):
        path.write_bytes(b"half a video")
    with _writer(tmp_path / "out.mp4") as w:
        w.write(pattern(64, 48, 0), 0)
    assert not stale.exists() and running.exists() and other.exists()
    assert (tmp_path / "out.mp4").exists()


def _finished_pid() -> int:
    """The id of a process that has exited (and been reaped), so nothing runs under it."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("codec, ext, pixel_format", [("prores_ks", ".mov", "yuv422p10le"),  # takes no 4:2:0
                                                      ("libsvtav1", ".mp4", "yuv420p")])
def test_an_encoder_gets_a_pixel_format_it_takes(tmp_path, codec, ext, pixel_format):
    import av

    out = tmp_path / f"out{ext}"
    with _writer(out, codec=codec) as w:
        assert w.plan.pixel_format == pixel_format
        for i in range(3):
            w.write(pattern(64, 48, i), i)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == pixel_format
    assert probe(out).frame_count == 3
