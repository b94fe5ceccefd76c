"""`streamfx bench` prints the ceiling and pipeline rows and the stage breakdown; `-q` silences the progress bar."""

from __future__ import annotations

import re

from conftest import SAMPLES
from streamfx.cli import main


def test_bench_prints_ceiling_pipeline_and_stages(capsys):
    assert main(["-q", "bench", str(SAMPLES / "astronaut.mp4"), "--engine", "torch", "--duration", "0.4",
                 "--preset", "ultrafast"]) == 0
    out = capsys.readouterr().out
    ceiling = re.search(r"passthrough ceiling \(decode\+encode\)\s+(\d+)\s+([\d.]+)\s+([\d.]+)", out)
    pipeline = re.search(r"pipeline \(threads, batch 8\)\s+(\d+)\s+([\d.]+)\s+([\d.]+)", out)
    assert ceiling and pipeline, out
    assert int(ceiling.group(1)) == int(pipeline.group(1)) == 10
    assert float(ceiling.group(3)) > 0 and float(pipeline.group(3)) > 0
    for stage in ("decode", "faces", "model", "paste", "encode"):
        assert re.search(rf"^\s+{stage}\s+[\d.]+", out, re.M), stage
    assert "engine torch" in out


def test_progress_bar_shown_unless_quiet(tmp_path, capsys, monkeypatch, no_default_model):
    source = SAMPLES / "astronaut.mp4"
    assert main(["anime", str(source), "-o", str(tmp_path / "a.mp4"), "--duration", "0.4"]) == 0
    assert re.search(r"\d+/10 \[", capsys.readouterr().err)  # tqdm: frames done of 10
    assert main(["-q", "anime", str(source), "-o", str(tmp_path / "b.mp4"), "--duration", "0.4"]) == 0
    err = capsys.readouterr().err
    assert not re.search(r"\d+/10 \[", err) and "no anime model installed" in err  # -q keeps warnings only
