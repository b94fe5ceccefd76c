"""Engine cache: keys, plan headers, optimization profiles, listing and clearing."""

from __future__ import annotations

import dataclasses

import pytest

from streamfx.engines.base import TensorSpec
from streamfx.errors import EngineError
from streamfx.export.cache import EngineKey, Profile, clear_cache, file_sha256, list_artifacts
from streamfx.export.tensorrt_build import PLAN_MAGIC, engine_key, read_header, read_plan, write_plan

DECODER_INPUTS = (TensorSpec("content", ("batch", 512, 16, 16)), TensorSpec("w", ("batch", 512)))


def _key(**changes) -> EngineKey:
    base = EngineKey("ab" * 32, "10.13.2", "NVIDIA H100 80GB HBM3", "sm90", "fp16", Profile.for_batch(DECODER_INPUTS))
    return dataclasses.replace(base, **changes)


def test_profile_for_batch_spans_one_to_max():
    profile = Profile.for_batch(DECODER_INPUTS, max_batch=8, opt_batch=4)
    assert profile.shapes[0] == ("content", (1, 512, 16, 16), (4, 512, 16, 16), (8, 512, 16, 16))
    assert profile.shapes[1] == ("w", (1, 512), (4, 512), (8, 512))
    assert profile.max_batch == 8
    assert Profile.from_list(profile.to_list()) == profile


def test_profile_check_rejects_shapes_outside_it():
    profile = Profile.for_batch(DECODER_INPUTS, max_batch=8, opt_batch=4)
    profile.check({"content": (8, 512, 16, 16), "w": (8, 512)})
    profile.check({"content": (1, 512, 16, 16), "w": (1, 512)})
    for bad in ({"content": (9, 512, 16, 16), "w": (9, 512)},  # batch above max
                {"content": (2, 256, 16, 16), "w": (2, 512)},  # wrong width
                {"content": (2, 512, 16), "w": (2, 512)},  # wrong rank
                {"content": (2, 512, 16, 16)}):  # missing input
        with pytest.raises(EngineError):
            profile.check(bad)


def test_profile_needs_known_dims_and_a_sane_opt_batch():
    with pytest.raises(EngineError):
        Profile.for_batch((TensorSpec("x", ("batch", 3, -1, -1)),))
    with pytest.raises(EngineError):
        Profile.for_batch(DECODER_INPUTS, max_batch=4, opt_batch=8)


@pytest.mark.parametrize("change", [
    {"onnx_sha256": "cd" * 32},
    {"tensorrt_version": "11.4.0"},
    {"gpu_name": "NVIDIA H200"},
    {"compute_capability": "sm89"},
    {"precision": "fp32"},
    {"profile": Profile.for_batch(DECODER_INPUTS, max_batch=16, opt_batch=4)},
    {"builder_optimization_level": 5},
])
def test_key_changes_when_any_input_changes(change):
    assert _key(**change).digest() != _key().digest()
    assert _key(**change).file_name("gnr-decoder") != _key().file_name("gnr-decoder")


def test_key_is_stable_and_round_trips():
    assert _key().digest() == _key().digest()
    assert EngineKey.from_dict(_key().to_dict()) == _key()


def test_onnx_hash_covers_external_data(tmp_path):
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(b"graph")
    alone = file_sha256(onnx_path)
    (tmp_path / "m.onnx.data").write_bytes(b"weights")
    assert file_sha256(onnx_path) != alone
    key = engine_key(onnx_path, tensorrt_version="10.13.2", gpu=("GPU", "sm90"), precision="fp32",
                     profile=Profile.for_batch(DECODER_INPUTS))
    assert key.onnx_sha256 == file_sha256(onnx_path)


def test_plan_header_round_trip(tmp_path):
    path = tmp_path / "p.engine"
    header = {"key": _key().to_dict(), "digest": _key().digest()}
    plan = bytes(range(256)) * 10
    write_plan(path, header, plan)
    assert path.read_bytes().startswith(PLAN_MAGIC)
    read, body = read_plan(path)
    assert read == header and body == plan
    assert not (tmp_path / "p.engine.tmp").exists()


@pytest.mark.parametrize("content", [b"", b"SFXPLAN", b"\x00" * 64, PLAN_MAGIC + b"\xff\x00\x00\x00{", PLAN_MAGIC + b"\x02\x00\x00\x00[]"])
def test_damaged_plan_header_is_an_engine_error(tmp_path, content):
    path = tmp_path / "bad.engine"
    path.write_bytes(content)
    with pytest.raises(EngineError):
        read_header(path)


def test_list_and_clear(tmp_path):
    for name in ("a-encoder-fp32.onnx", "a-encoder-fp32-sm90-fp32-0123.engine", "timing-trt10-sm90.timing", "README.md"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_artifacts(tmp_path)] == sorted(
        ["a-encoder-fp32.onnx", "a-encoder-fp32-sm90-fp32-0123.engine", "timing-trt10-sm90.timing"])
    removed = clear_cache(tmp_path, keep_onnx=True)
    assert sorted(p.name for p in removed) == ["a-encoder-fp32-sm90-fp32-0123.engine", "timing-trt10-sm90.timing"]
    assert (tmp_path / "a-encoder-fp32.onnx").exists()
    clear_cache(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    assert list_artifacts(tmp_path / "missing") == []
