"""`streamfx engines export|list|clear|build` end to end on a random slim generator."""

from __future__ import annotations

import json

import onnx
import pytest

from streamfx.cli import main
from streamfx.models.gnr import SLIM


def test_export_list_clear(tmp_path, capsys):
    assert main(["engines", "export", "--random", "slim", "--fp16", "--dir", str(tmp_path)]) == 0
    encoder, decoder = (tmp_path / line for line in capsys.readouterr().out.split())
    assert encoder.name.endswith("-encoder-fp16.onnx") and decoder.name.endswith("-decoder-fp16.onnx")
    model = onnx.load(str(decoder), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["streamfx.part"] == "decoder" and meta["streamfx.precision"] == "fp16"
    assert json.loads(meta["streamfx.config"])["style_dim"] == SLIM.style_dim
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim][:1] == ["batch"]  # dynamic batch
    assert {i.name for i in model.graph.input} == {"content", "w"} and model.graph.output[0].name == "image"

    assert main(["engines", "list", "--dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "2 file(s)" in listing and "onnx decoder fp16" in listing

    assert main(["engines", "clear", "--dir", str(tmp_path)]) == 0
    assert list(tmp_path.iterdir()) == []


def test_build_without_tensorrt_fails_cleanly(tmp_path, capsys):
    pytest.importorskip("torch")
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here")
    except (ImportError, OSError):
        pass
    assert main(["engines", "build", "--random", "slim", "--dir", str(tmp_path)]) == 1
    assert "pip install tensorrt" in capsys.readouterr().err


def test_weights_and_random_together_is_a_usage_error(tmp_path, capsys):
    assert main(["engines", "export", "--random", "slim", "--weights", "x.safetensors", "--dir", str(tmp_path)]) == 2
