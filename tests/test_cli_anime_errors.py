"""Bad input through `streamfx anime`: one-line error naming the problem, exit 2 (usage) or 1 (processing),
no output or temp file left, input bytes unchanged."""

from __future__ import annotations

import importlib.util

import pytest
from test_io_fixtures import digest, make_audio_only, make_clip, make_cut, make_empty, make_text

from conftest import SAMPLES
from streamfx.cli import main


def _truncated(folder):
    """The project's sample cut mid-file (its index is at the end, so it is gone)."""
    return make_cut(SAMPLES / "astronaut.mp4", folder)


def _truncated_index_first(folder):
    """Index first (faststart): the file opens, the decoder runs short mid-way through the run."""
    whole = make_clip(folder / "whole.mp4", width=96, height=96, frames=60, options={"movflags": "faststart"})
    path = make_cut(whole, folder, "cut_first.mp4")
    whole.unlink()
    return path


def _audio_only(folder):
    return make_audio_only(folder / "voice.mp4")


BAD_MEDIA = {
    "zero-byte": (make_empty, "empty file"),
    "text": (make_text, "not a readable media file"),
    "truncated": (_truncated, "not a readable media file"),
    "truncated-index-first": (_truncated_index_first, "truncated"),
    "audio-only": (_audio_only, "no video stream"),
}


def _error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("streamfx: error:")]
    assert len(err) == 1, err
    return err[0]


def _only(folder, *names):
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@pytest.mark.parametrize("kind", sorted(BAD_MEDIA))
def test_bad_media_exits_1_and_leaves_nothing(tmp_path, kind, capsys):
    make, expected = BAD_MEDIA[kind]
    source = make(tmp_path)
    before = digest(source)
    out = tmp_path / "out.mp4"
    assert main(["-q", "anime", str(source), "-o", str(out)]) == 1
    line = _error_line(capsys)
    assert expected in line and source.name in line
    _only(tmp_path, source.name)  # no output, no .part temp file
    assert digest(source) == before


def test_missing_input_exits_2(tmp_path, capsys):
    assert main(["anime", str(tmp_path / "nope.mp4")]) == 2
    assert "nope.mp4" in _error_line(capsys)
    _only(tmp_path)


def test_output_in_missing_folder_exits_2(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mp4")
    assert main(["anime", str(source), "-o", str(tmp_path / "no" / "such" / "out.mp4")]) == 2
    assert "does not exist" in _error_line(capsys)
    _only(tmp_path, "in.mp4")


@pytest.mark.parametrize("spelling", ["same", "dotted"])
def test_output_equal_to_input_exits_2(tmp_path, capsys, spelling):
    source = make_clip(tmp_path / "in.mp4")
    before = digest(source)
    out = source if spelling == "same" else tmp_path / "." / "in.mp4"
    assert main(["anime", str(source), "-o", str(out), "--overwrite"]) == 2
    assert "same file as the input" in _error_line(capsys)
    assert digest(source) == before
    _only(tmp_path, "in.mp4")


def test_existing_output_needs_overwrite(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mp4")
    default_out = tmp_path / "in_anime.mp4"  # the default name, IN_anime.mp4
    default_out.write_bytes(b"keep me")
    assert main(["anime", str(source)]) == 2
    assert "--overwrite" in _error_line(capsys)
    assert default_out.read_bytes() == b"keep me"


@pytest.mark.parametrize("argv, needle", [
    (["--batch", "0"], "--batch"),
    (["--detect-every", "0"], "--detect-every"),
    (["--faces", "biggest"], "--faces"),
    (["--style-seed", "3", "--style-mix", "1,2,0.5"], "choose one"),
    (["--grid", "4", "--side-by-side"], "--grid"),
    (["--mask-margin", "0.7"], "--mask-margin"),
    (["--duration", "nan"], "duration"),
    (["--start", "nan"], "start"),
    (["--start", "-1"], "start"),
    (["--duration", "inf"], "duration"),
    (["--preset", "bogus"], "--preset"),
    (["--device", "bogus"], "device"),
    (["--style-image", "no-such-anime.png"], "--style-image"),
    (["--style-mix", "1,2"], "--style-mix"),
    (["--style-seed", "-1"], "--style-seed"),
    (["--style-seed", "1", "--style-anchor", "jpface"], "choose one"),
])
def test_bad_options_exit_2(tmp_path, capsys, argv, needle, no_default_model):
    """Refused with one line naming the option, before any work, also when no model is installed."""
    source = make_clip(tmp_path / "in.mp4")
    assert main(["anime", str(source), *argv]) == 2
    assert needle in _error_line(capsys)
    _only(tmp_path, "in.mp4")


def test_missing_weights_file_exits_1(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mp4")
    assert main(["-q", "anime", str(source), "--weights", str(tmp_path / "none.safetensors")]) == 1
    assert "none.safetensors" in _error_line(capsys)
    _only(tmp_path, "in.mp4")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_tensorrt_engine_without_tensorrt_exits_2(tmp_path, capsys, no_default_model):
    source = make_clip(tmp_path / "in.mp4")
    assert main(["anime", str(source), "--engine", "tensorrt"]) == 2
    assert "TensorRT is not installed" in _error_line(capsys)
    _only(tmp_path, "in.mp4")
