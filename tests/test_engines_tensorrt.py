"""TensorRT around the seam: build once, reuse, rebuild stale or corrupt plans; TensorRT itself is faked."""

from __future__ import annotations

import logging

import pytest

from streamfx.engines.base import Device, TensorSpec
from streamfx.engines.select import EngineHooks, open_engines
from streamfx.engines.tensorrt_engine import import_tensorrt
from streamfx.errors import EngineError
from streamfx.export.cache import Profile
from streamfx.export.tensorrt_build import PLAN_MAGIC, read_plan, write_plan
from streamfx.export.tensorrt_build import load_or_build
from streamfx.models.gnr import Generator, GNRConfig

# 64x64 faces keep these tests fast on 2 shared cores; nothing here depends on the resolution.
TINY = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)
GPU = ("NVIDIA H100 80GB HBM3", "sm90")
PROFILE = Profile.for_batch((TensorSpec("x", ("batch", 3, 256, 256)),), max_batch=8, opt_batch=4)


class FakeTensorRT:
    """Stands in for NativeTensorRT: plans are b"PLAN:" + the ONNX bytes; anything else fails to load."""

    def __init__(self, version: str = "10.13.2.6", fail_build: bool = False, load_nothing: bool = False) -> None:
        self.version = version
        self.fail_build = fail_build
        self.load_nothing = load_nothing
        self.builds: list[dict] = []

    def build(self, onnx_path, profile, *, timing_cache, workspace_bytes, optimization_level):
        if self.fail_build:
            raise EngineError("TensorRT failed to build (fake)")
        self.builds.append({"onnx": onnx_path, "profile": profile, "timing_cache": timing_cache})
        return b"PLAN:" + onnx_path.read_bytes(), timing_cache + b"T"

    def deserialize(self, plan):
        return None if self.load_nothing or not plan.startswith(b"PLAN:") else {"engine": plan}


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "gnr-test-encoder-fp16.onnx"
    path.write_bytes(b"onnx graph bytes")
    return path


def _load(onnx_file, seam, **kw):
    return load_or_build(onnx_file, seam=seam, device=Device("cuda"), precision="fp16", profile=PROFILE,
                         cache_dir=onnx_file.parent, gpu=GPU, **kw)


def test_builds_once_then_loads_from_cache(onnx_file):
    seam = FakeTensorRT()
    engine, plan_path = _load(onnx_file, seam)
    assert engine == {"engine": b"PLAN:onnx graph bytes"}
    assert len(seam.builds) == 1 and seam.builds[0]["profile"] == PROFILE
    header, plan = read_plan(plan_path)
    assert plan == b"PLAN:onnx graph bytes"
    assert header["key"]["tensorrt_version"] == "10.13.2.6" and header["key"]["compute_capability"] == "sm90"
    assert header["build_seconds"] >= 0
    again, same_path = _load(onnx_file, seam)
    assert again == engine and same_path == plan_path and len(seam.builds) == 1


def test_timing_cache_is_kept_between_builds(onnx_file):
    seam = FakeTensorRT()
    _load(onnx_file, seam)
    _load(onnx_file, seam, rebuild=True)
    assert seam.builds[0]["timing_cache"] == b"" and seam.builds[1]["timing_cache"] == b"T"


def test_new_tensorrt_version_or_model_builds_a_new_plan(onnx_file):
    _, first = _load(onnx_file, FakeTensorRT("10.13.2.6"))
    _, second = _load(onnx_file, FakeTensorRT("11.4.0.106"))
    onnx_file.write_bytes(b"another model")
    seam = FakeTensorRT("11.4.0.106")
    _, third = _load(onnx_file, seam)
    assert len({first, second, third}) == 3 and len(seam.builds) == 1


@pytest.mark.parametrize("damage", ["truncated_plan", "garbage_file", "no_header"])
def test_corrupt_plan_is_rebuilt_with_a_message(onnx_file, damage, caplog):
    seam = FakeTensorRT()
    _, plan_path = _load(onnx_file, seam)
    if damage == "truncated_plan":  # header intact, TensorRT refuses the plan
        header, plan = read_plan(plan_path)
        write_plan(plan_path, header, plan[:3])
    elif damage == "garbage_file":
        plan_path.write_bytes(b"\x00\x01garbage")
    else:
        plan_path.write_bytes(b"PLAN:onnx graph bytes")  # a bare plan without our header
    with caplog.at_level(logging.WARNING, logger="streamfx"):
        engine, path = _load(onnx_file, seam)
    assert engine == {"engine": b"PLAN:onnx graph bytes"} and path == plan_path
    assert len(seam.builds) == 2
    assert "rebuilding" in caplog.text
    assert plan_path.read_bytes().startswith(PLAN_MAGIC)


def test_stale_header_is_rebuilt(onnx_file, caplog):
    seam = FakeTensorRT()
    _, plan_path = _load(onnx_file, seam)
    header, plan = read_plan(plan_path)
    header["key"]["tensorrt_version"] = "8.6.1"  # e.g. a file copied from another machine under this name
    write_plan(plan_path, header, plan)
    with caplog.at_level(logging.WARNING, logger="streamfx"):
        _load(onnx_file, seam)
    assert len(seam.builds) == 2 and "stale" in caplog.text


def test_failed_build_and_unloadable_fresh_plan_are_engine_errors(onnx_file):
    with pytest.raises(EngineError, match="failed to build"):
        _load(onnx_file, FakeTensorRT(fail_build=True))
    with pytest.raises(EngineError, match="cannot load the plan it just built"):
        _load(onnx_file, FakeTensorRT(load_nothing=True))


def test_tensorrt_import_is_lazy_and_names_the_install():
    try:
        import tensorrt  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(EngineError, match="pip install tensorrt"):
            import_tensorrt()
    else:  # pragma: no cover - only where TensorRT is installed
        assert import_tensorrt() is not None


def test_explicit_tensorrt_without_cuda_is_an_engine_error(tmp_path):
    tiny_generator = Generator(TINY).eval()
    hooks = EngineHooks(tensorrt=FakeTensorRT, cuda_available=lambda: False)
    with pytest.raises(EngineError, match="CUDA"):
        open_engines(tiny_generator, engine="tensorrt", cache_dir=tmp_path, hooks=hooks)
    with pytest.raises(EngineError, match="only on a CUDA device"):
        open_engines(tiny_generator, engine="tensorrt", device="cpu", cache_dir=tmp_path, hooks=hooks)
