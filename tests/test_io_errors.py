"""Bad inputs and outputs: the right error type, a one-line message naming the file, nothing left behind,
the input untouched. Checked through the Python API and through `streamfx probe`."""

from __future__ import annotations

import dataclasses

from fractions import Fraction

import pytest
from test_io_fixtures import digest, leftovers, make_audio_only, make_clip, make_cut, make_empty, make_text

from conftest import DATA, require
from streamfx.cli import main
from streamfx.errors import MediaError, UsageError
from streamfx.io.decode import VideoReader
from streamfx.io.encode import VideoWriter
from streamfx.io.paths import check_input, resolve_output
from streamfx.io.probe import probe

HAMILTON = DATA / "videos/face_recognition/short_hamilton_clip.mp4"


def _truncated_index_at_end(tmp_path):
    """A real clip cut in half: its index (moov, at the end) is gone."""
    return make_cut(require(HAMILTON), tmp_path)


def _audio_only(tmp_path):
    return make_audio_only(tmp_path / "voice.mp4")


BAD_MEDIA = {
    "zero-byte": (make_empty, "empty file"),
    "text": (make_text, "not a readable media file"),
    "truncated": (_truncated_index_at_end, "not a readable media file"),
    "audio-only": (_audio_only, "no video stream"),
}


def _assert_one_line(error, path):
    text = str(error)
    assert "\n" not in text and str(path) in text


@pytest.mark.parametrize("kind", BAD_MEDIA)
def test_bad_media_raises_media_error(tmp_path, kind):
    make, words = BAD_MEDIA[kind]
    path = make(tmp_path)
    before = digest(path)
    for call in (probe, VideoReader):
        with pytest.raises(MediaError) as caught:
            call(path)
        _assert_one_line(caught.value, path)
        assert words in str(caught.value)
    assert digest(path) == before


@pytest.mark.parametrize("kind", BAD_MEDIA)
def test_probe_command_exits_1_on_bad_media(tmp_path, kind, capsys):
    path = BAD_MEDIA[kind][0](tmp_path)
    assert main(["probe", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("streamfx: error:") and str(path) in err and "\n" not in err


def test_missing_input_is_usage_error(tmp_path, capsys):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(UsageError, match="does not exist"):
        probe(missing)
    with pytest.raises(UsageError):
        VideoReader(missing)
    with pytest.raises(UsageError):
        check_input(tmp_path)  # a folder is not an input file
    assert main(["probe", str(missing)]) == 2
    assert "nope.mp4" in capsys.readouterr().err


def test_truncated_with_index_first_is_refused_on_open(tmp_path):
    """Index at the front (faststart): the header is whole, the video is not; refused before any decoding."""
    whole = make_clip(tmp_path / "whole.mp4", frames=50, options={"movflags": "faststart"})
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"truncated or damaged, the video stops at 0\.\d+ s of the 2\.00 s"):
        VideoReader(cut)


def test_decoding_that_stops_short_of_the_declared_end_fails(tmp_path):
    """Damage the open-time look at the tail misses still ends in an error, never a short output."""
    clip = make_clip(tmp_path / "c.mp4", frames=25)
    with VideoReader(clip) as reader:
        assert reader.info.video_end == pytest.approx(1.0)
        assert len(list(reader)) == 25  # complete: no error
        reader.info = dataclasses.replace(reader.info, video_end=1.2)  # as if 5 frames had not decoded
        with pytest.raises(MediaError, match="truncated or damaged, decoding stopped at 1.00 s of 1.20 s"):
            list(reader)


def test_resolve_output_rules(tmp_path, monkeypatch):
    src = make_clip(tmp_path / "in.mp4", frames=2)
    (tmp_path / "sub").mkdir()
    assert resolve_output(src) == tmp_path / "in_anime.mp4"
    assert resolve_output(src, suffix="edit") == tmp_path / "in_edit.mp4"
    with pytest.raises(UsageError, match="same file"):
        resolve_output(src, tmp_path / "sub" / ".." / "in.mp4")  # another spelling of the input
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(UsageError, match="same file"):
        resolve_output(src, "../in.mp4", overwrite=True)
    (tmp_path / "link.mp4").symlink_to(src)
    with pytest.raises(UsageError, match="same file"):
        resolve_output(src, tmp_path / "link.mp4", overwrite=True)
    with pytest.raises(UsageError, match="does not exist"):
        resolve_output(src, tmp_path / "missing" / "out.mp4")
    (tmp_path / "taken.mp4").write_bytes(b"x")
    with pytest.raises(UsageError, match="exists"):
        resolve_output(src, tmp_path / "taken.mp4")
    assert resolve_output(src, tmp_path / "taken.mp4", overwrite=True) == tmp_path / "taken.mp4"
    with pytest.raises(UsageError, match="does not exist"):
        resolve_output(tmp_path / "gone.mp4")


def _writer(path, **kw):
    return VideoWriter(path, width=64, height=48, time_base=Fraction(1, 25), fps=Fraction(25), **kw)


def test_writer_refuses_bad_targets_and_leaves_nothing(tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=2, audio_codec="aac")
    before = digest(src)
    with pytest.raises(UsageError, match="does not exist"):
        _writer(tmp_path / "missing" / "out.mp4")
    with pytest.raises(UsageError, match="same file"):
        _writer(tmp_path / "." / "in.mp4", audio_from=src, overwrite=True)
    with pytest.raises(UsageError, match="exists"):
        _writer(src)
    with pytest.raises(UsageError, match="extension"):
        _writer(tmp_path / "out.avi")
    assert digest(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_writer_with_unreadable_audio_source_leaves_nothing(tmp_path):
    bad = make_text(tmp_path)
    with pytest.raises(MediaError, match="notes.mp4"):
        _writer(tmp_path / "out.mp4", audio_from=bad)
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []
