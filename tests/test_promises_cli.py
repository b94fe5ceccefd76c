"""README promises checked through the command line on real files: audio packets copied untouched, `probe --json`,
rotated input stylized upright, an existing recording kept without `--overwrite`, and the output naming the engine
that really ran when the first choice could not load."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import torch
from test_io_fixtures import MARK, digest, leftovers, make_clip, pattern

import streamfx.engines.onnxruntime_engine
import streamfx.engines.openvino_engine
import streamfx.engines.select
from conftest import SAMPLES
from streamfx.cli import main
from streamfx.errors import EngineError
from streamfx.io.decode import VideoReader
from streamfx.io.probe import probe

SAMPLE = SAMPLES / "astronaut.mp4"


def _audio_packets(path) -> tuple[str, bytes, list[tuple[float, bytes]]]:
    """(codec, extradata, [(seconds, payload)]) of the first audio stream, demuxed without decoding."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [(float(p.pts * p.time_base), bytes(p)) for p in container.demux(stream) if p.size]
        return stream.codec_context.name, bytes(stream.codec_context.extradata or b""), packets


def test_audio_packets_are_copied_byte_for_byte(tmp_path, no_default_model):
    out = tmp_path / "out.mp4"
    assert main(["-q", "anime", str(SAMPLE), "-o", str(out), "--duration", "2", "--preset", "ultrafast"]) == 0
    codec, extradata, source = _audio_packets(SAMPLE)
    out_codec, out_extradata, copied = _audio_packets(out)
    assert (out_codec, out_extradata) == (codec, extradata)  # same codec and decoder set-up, no re-encode
    in_range = [(t, data) for t, data in source if t < 2.0]
    assert len(copied) == len(in_range) > 80  # every packet of the first 2 s, nothing else
    assert copied == in_range, "audio packets must be copied untouched (same bytes at the same times)"


def test_probe_json_describes_the_sample(capsys):
    assert main(["probe", "--json", str(SAMPLE)]) == 0
    info = json.loads(capsys.readouterr().out)  # the whole of stdout is one JSON document
    assert (info["width"], info["height"], info["frame_count"], info["rotation"]) == (480, 480, 100, 0)
    assert info["fps"] == "25" and info["fps_float"] == 25.0
    assert info["duration"] == pytest.approx(4.0, abs=0.001) and info["start_time"] == 0.0
    assert info["video_codec"] == "h264" and info["comment"].startswith("streamfx sample")
    (audio,) = info["audio"]
    assert (audio["codec"], audio["sample_rate"], audio["channels"]) == ("aac", 44100, 2)
    assert audio["duration"] == pytest.approx(4.0, abs=0.05)


def test_rotated_input_comes_out_upright(tmp_path, no_default_model):
    """A phone-style clip (stored 64x48, display matrix -90: turn clockwise) through `anime`: the output is 48x64
    with no rotation left, and its pictures are the stored ones turned clockwise (red block top-right)."""
    clip = make_clip(tmp_path / "phone.mp4", frames=10, rotation=-90, audio_codec="aac")
    out = tmp_path / "out.mp4"
    assert main(["-q", "anime", str(clip), "-o", str(out), "--preset", "ultrafast", "--crf", "0"]) == 0
    info = probe(out)
    assert (info.rotation, info.width, info.height, info.frame_count) == (0, 48, 64, 10)
    with VideoReader(out) as reader:
        pictures = [f.image for f in reader]
    assert len(pictures) == 10
    for i, picture in enumerate(pictures):
        upright = np.rot90(pattern(64, 48, i), -1)  # [64,48,3]: what the phone showed
        assert np.abs(picture.astype(np.int16) - upright.astype(np.int16)).mean() < 6  # the input's x264 noise
    corner = pictures[0][:12, 36:].reshape(-1, 3).mean(axis=0)  # top-right 12x12
    assert np.abs(corner - np.array(MARK)).max() < 40
    assert np.abs(pictures[0][:12, :12].reshape(-1, 3).mean(axis=0) - np.array(MARK)).max() > 100


def test_live_keeps_an_existing_recording_without_overwrite(tmp_path, capsys, no_default_model):
    clip = make_clip(tmp_path / "clip.mp4", frames=10)
    rec = tmp_path / "rec.mp4"
    rec.write_bytes(b"an earlier recording")
    before, clip_before = digest(rec), digest(clip)
    assert main(["-q", "live", "--no-preview", "--camera", str(clip), "-o", str(rec)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert digest(rec) == before and leftovers(tmp_path) == []
    # The input standing in for the camera is never the recording, even with --overwrite.
    assert main(["-q", "live", "--no-preview", "--camera", str(clip), "-o", str(clip), "--overwrite"]) == 2
    assert digest(clip) == clip_before
    # With --overwrite the same recording is replaced (so the refusal above was about the existing file).
    assert main(["-q", "live", "--no-preview", "--camera", str(clip), "-o", str(rec), "--overwrite"]) == 0
    assert probe(rec).frame_count == 10 and leftovers(tmp_path) == []


@pytest.fixture
def small_weights(tmp_path, monkeypatch):
    """A tiny random 64x64 GNR (fast to export and run) and a private engine cache."""
    from streamfx.models.gnr import Generator, GNRConfig
    from streamfx.weights import save_weights

    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STREAMFX_ENGINES", str(tmp_path / "engines"))
    torch.manual_seed(0)
    config = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)
    path = tmp_path / "small.safetensors"
    save_weights(path, {"A2B": Generator(config)}, {"name": "small-random-test"})
    return path


def _onnxruntime_missing():
    raise EngineError("onnxruntime is not usable (removed for this test)")


def _openvino_missing():
    raise EngineError("openvino is not usable (removed for this test)")


def _torch_missing(*args, **kwargs):
    raise EngineError("torch cannot run it (broken for this test)")


@pytest.mark.parametrize("broken, ran", [("onnxruntime", "torch"), ("torch", "onnxruntime")])
def test_output_names_the_engine_that_really_ran(tmp_path, monkeypatch, capsys, small_weights, broken, ran):
    """`--engine auto` on the CPU measures the CPU engines; with all but one unable to load, the run falls back to
    the one left, says so, and the output's comment tag names the one that ran."""
    pytest.importorskip("onnxruntime")
    # OpenVINO, the third CPU candidate, is made unavailable too, so exactly one engine is left to run.
    monkeypatch.setattr(streamfx.engines.openvino_engine, "import_openvino", _openvino_missing)
    if broken == "onnxruntime":
        monkeypatch.setattr(streamfx.engines.onnxruntime_engine, "import_onnxruntime", _onnxruntime_missing)
    else:
        monkeypatch.setattr(streamfx.engines.select, "_open_torch", _torch_missing)
    calls = []  # the description of the decoder behind every model call
    original = streamfx.engines.select.GeneratorEngines.decode

    def decode(self, content, w):
        calls.append(self.decoder.describe())
        return original(self, content, w)

    monkeypatch.setattr(streamfx.engines.select.GeneratorEngines, "decode", decode)
    out = tmp_path / "out.mp4"
    assert main(["anime", str(SAMPLE), "-o", str(out), "--weights", str(small_weights), "--engine", "auto",
                 "--duration", "0.2", "--preset", "ultrafast"]) == 0
    err = capsys.readouterr().err
    assert len(calls) >= 2 and all(d.startswith(ran) for d in calls), calls  # warm-up and the faces: `ran` ran
    comment = probe(out).comment
    assert f"engine {ran};" in comment and "device cpu" in comment, comment
    assert f"engine {broken}" not in comment and "engine auto" not in comment
    assert f"engine: {ran}" in err and f"{broken} fp32 on the CPU is unavailable" in err, err
