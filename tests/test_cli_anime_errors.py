"""Bad input through `streamfx anime` beyond the table in test_bad_input.py: the input under two spellings, the
default output name, TensorRT. One-line error naming the problem, exit 2, nothing left, input bytes unchanged."""

from __future__ import annotations

import importlib.util

import pytest
from test_io_fixtures import digest, make_clip

from streamfx.cli import main


def _error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("streamfx: error:")]
    assert len(err) == 1, err
    return err[0]


def _only(folder, *names):
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


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


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_tensorrt_engine_without_tensorrt_exits_2(tmp_path, capsys, no_default_model):
    source = make_clip(tmp_path / "in.mp4")
    assert main(["anime", str(source), "--engine", "tensorrt"]) == 2
    assert "TensorRT is not installed" in _error_line(capsys)
    _only(tmp_path, "in.mp4")
