"""Engine choice and fallback, with TensorRT and onnxruntime-gpu missing (as in CI)."""

from __future__ import annotations

import json
import types

import pytest
import torch

from streamfx.backends import select
from streamfx.backends.base import Device
from streamfx.backends.onnxruntime_backend import OnnxRuntimeBackend
from streamfx.backends.select import EngineHooks, open_runtime
from streamfx.errors import EngineError, UsageError
from streamfx.models.gnr import Generator, GNRConfig

ort = pytest.importorskip("onnxruntime")
# 64x64 faces keep these tests fast on 2 shared cores; nothing here depends on the resolution.
TINY = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return Generator(TINY).eval()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One engine cache for the module: ONNX files are exported once and reused, as in real use."""
    return tmp_path_factory.mktemp("engines")


def _fake_gpu_onnxruntime():
    """An onnxruntime that lists CUDA but, like a build whose CUDA libraries fail to load, runs on the CPU."""

    def session(path, sess_options=None, providers=None):
        return ort.InferenceSession(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    return types.SimpleNamespace(
        __version__=ort.__version__, SessionOptions=ort.SessionOptions, InferenceSession=session,
        get_available_providers=lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_auto_walks_the_gpu_chain_then_lands_on_the_cpu(generator, cache):
    hooks = EngineHooks(cuda_available=lambda: True)  # pretend a GPU exists; nothing GPU-side can load
    runtime = open_runtime(generator, cache_dir=cache, hooks=hooks)
    tried = [f.split(":")[0] for f in runtime.fallbacks]
    assert tried == ["tensorrt cuda", "onnxruntime cuda", "torch cuda"]
    assert "pip install tensorrt" in runtime.fallbacks[0]
    assert "CUDAExecutionProvider" in runtime.fallbacks[1]
    assert runtime.device == "cpu" and runtime.precision in ("fp32", "bf16")
    assert runtime.engine in ("torch", "onnxruntime", "openvino") and runtime.description.startswith(runtime.engine)
    runtime.close()


def test_cpu_choice_is_measured_once_and_remembered(generator, cache, monkeypatch):
    (cache / "cpu-choice.json").unlink(missing_ok=True)
    first = open_runtime(generator, device="cpu", cache_dir=cache)
    memo = json.loads((cache / "cpu-choice.json").read_text())
    (entry,) = memo.values()
    measured = set(entry["seconds_per_face"]) | set(entry["rejected"]) | set(entry["unavailable"])
    assert measured == {f"{engine} {precision}" for engine, precision in select.CPU_CANDIDATES["auto"]}
    fastest = min(entry["seconds_per_face"], key=entry["seconds_per_face"].get)
    assert fastest == f"{entry['engine']} {entry['precision']}" == f"{first.engine} {first.precision}"
    first.close()
    monkeypatch.setattr(select, "_time_pair", lambda *a, **k: pytest.fail("measured again"))
    second = open_runtime(generator, device="cpu", cache_dir=cache)
    assert second.engine == first.engine
    second.close()


def test_provider_that_did_not_load_is_detected(cache, generator):
    from streamfx.export.onnx_export import export_generator

    exported = export_generator(generator, cache)
    backend = OnnxRuntimeBackend(exported.encoder, provider="cuda", device=Device("cuda", 0), ort=_fake_gpu_onnxruntime())
    with pytest.raises(EngineError, match="asked for CUDAExecutionProvider but loaded"):
        backend.load()


@pytest.mark.parametrize("engine, device, hooks", [
    ("tensorrt", "auto", EngineHooks()),
    ("onnxruntime", "cuda", EngineHooks()),
    ("onnxruntime", "cuda:0", EngineHooks(onnxruntime=_fake_gpu_onnxruntime)),
    ("torch", "cuda", EngineHooks()),
    ("auto", "cuda", EngineHooks(cuda_available=lambda: True)),  # explicit GPU: never silently the CPU
])
def test_explicit_requests_that_cannot_load_are_errors(generator, cache, engine, device, hooks):
    with pytest.raises(EngineError):
        open_runtime(generator, engine=engine, device=device, cache_dir=cache, hooks=hooks)


@pytest.mark.parametrize("kwargs", [{"engine": "tvm"}, {"device": "gpu"}, {"device": "cuda:x"},
                                    {"precision": "int8"}, {"max_batch": 0}])
def test_bad_arguments_are_usage_errors(generator, cache, kwargs):
    with pytest.raises(UsageError):
        open_runtime(generator, cache_dir=cache, **kwargs)


@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_runtime_matches_the_module_and_splits_big_batches(generator, cache, engine):
    runtime = open_runtime(generator, engine=engine, device="cpu", max_batch=2, cache_dir=cache)
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    z = torch.randn(5, 8)
    content, style = runtime.encode(x)
    image = runtime.decode(content, runtime.mapping(z))
    with torch.no_grad():
        ref_content, ref_style = generator.encode(x)
        ref_image = generator.decode(ref_content, generator.mapping(z))
    assert content.shape == ref_content.shape and style.shape == (5, 8) and image.shape == (5, 3, 64, 64)
    assert torch.allclose(image, ref_image, atol=1e-4) and torch.allclose(style, ref_style, atol=1e-4)
    assert runtime.engine == engine and runtime.device == "cpu"
    assert runtime.description.startswith({"torch": "torch ", "onnxruntime": "onnxruntime "}[engine])
    runtime.close()
    with pytest.raises(EngineError):
        runtime.encode(x)


@pytest.mark.gpu
def test_torch_cuda_fp16_and_cuda_graphs_match_the_cpu(generator, cache):
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    w = generator.mapping(torch.randn(4, 8)).detach()
    with torch.no_grad():
        reference = generator.decode(generator.encode(x)[0], w)
    hooks = EngineHooks(torch_options={"cuda_graph_batches": (4,)})
    for precision, min_psnr in (("fp32", 60.0), ("fp16", 40.0)):
        with open_runtime(generator, engine="torch", device="cuda", precision=precision, cache_dir=cache,
                          hooks=hooks) as runtime:
            assert runtime.device == "cuda:0" and "cuda-graphs" in runtime.description
            for _ in range(2):  # first call captures, second replays
                image = runtime.decode(runtime.encode(x)[0], w).cpu()
                mse = torch.mean((image.clamp(-1, 1) - reference.clamp(-1, 1)) ** 2).item()
                assert 10 * torch.log10(torch.tensor(4.0 / max(mse, 1e-20))).item() >= min_psnr
