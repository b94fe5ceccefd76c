"""Engine choice and fallback, with TensorRT and onnxruntime-gpu missing (as in CI)."""

from __future__ import annotations

import json
import types

import pytest
import torch

from streamfx.engines import select
from streamfx.engines.base import Device
from streamfx.engines.onnxruntime_engine import OnnxRuntimeEngine
from streamfx.engines.select import EngineHooks, open_engines
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
    engines = open_engines(generator, cache_dir=cache, hooks=hooks)
    tried = [f.split(":")[0] for f in engines.fallbacks]
    assert tried == ["tensorrt cuda", "onnxruntime cuda", "torch cuda"]
    assert "pip install tensorrt" in engines.fallbacks[0]
    assert "CUDAExecutionProvider" in engines.fallbacks[1]
    assert engines.device == "cpu" and engines.precision in ("fp32", "bf16")
    assert engines.engine in ("torch", "onnxruntime", "openvino") and engines.description.startswith(engines.engine)
    engines.close()


def test_auto_measures_bf16_only_where_the_cpu_runs_it_natively(monkeypatch):
    import streamfx.engines.torch_engine as torch_engine

    monkeypatch.setattr(torch_engine, "cpu_has_bf16", lambda: False)  # an AVX2-only CPU: bf16 would be emulated
    assert ("torch", "fp32") in select.cpu_candidates("auto")
    assert not any(precision == "bf16" for _, precision in select.cpu_candidates("auto"))
    assert select.cpu_candidates("bf16") == select.CPU_CANDIDATES["bf16"]  # asked for by name: still tried
    monkeypatch.setattr(torch_engine, "cpu_has_bf16", lambda: True)
    assert select.cpu_candidates("auto") == select.CPU_CANDIDATES["auto"]


def test_cpu_choice_is_measured_once_and_remembered(generator, cache, monkeypatch):
    (cache / "cpu-choice.json").unlink(missing_ok=True)
    first = open_engines(generator, device="cpu", cache_dir=cache)
    memo = json.loads((cache / "cpu-choice.json").read_text())
    (entry,) = memo.values()
    measured = set(entry["seconds_per_face"]) | set(entry["rejected"]) | set(entry["unavailable"])
    assert measured == {f"{engine} {precision}" for engine, precision in select.cpu_candidates("auto")}
    chosen = f"{entry['engine']} {entry['precision']}"
    assert chosen == f"{first.engine} {first.precision}"
    # the memo rounds to 10 us, so two engines may tie there; the chosen one is never slower than another
    assert entry["seconds_per_face"][chosen] == min(entry["seconds_per_face"].values())
    first.close()
    monkeypatch.setattr(select, "_time_pair", lambda *a, **k: pytest.fail("measured again"))
    second = open_engines(generator, device="cpu", cache_dir=cache)
    assert second.engine == first.engine
    second.close()


def test_provider_that_did_not_load_is_detected(cache, generator):
    from streamfx.export.onnx_export import export_generator

    exported = export_generator(generator, cache)
    engine = OnnxRuntimeEngine(exported.encoder, provider="cuda", device=Device("cuda", 0), ort=_fake_gpu_onnxruntime())
    with pytest.raises(EngineError, match="asked for CUDAExecutionProvider but loaded"):
        engine.load()


@pytest.mark.parametrize("engine, device, hooks", [
    ("tensorrt", "auto", EngineHooks()),
    ("onnxruntime", "cuda", EngineHooks()),
    ("onnxruntime", "cuda:0", EngineHooks(onnxruntime=_fake_gpu_onnxruntime)),
    ("torch", "cuda", EngineHooks()),
    ("auto", "cuda", EngineHooks(cuda_available=lambda: True)),  # explicit GPU: never silently the CPU
])
def test_explicit_requests_that_cannot_load_are_errors(generator, cache, engine, device, hooks):
    with pytest.raises(EngineError):
        open_engines(generator, engine=engine, device=device, cache_dir=cache, hooks=hooks)


@pytest.mark.parametrize("kwargs", [{"engine": "tvm"}, {"device": "gpu"}, {"device": "cuda:x"},
                                    {"precision": "int8"}, {"max_batch": 0}])
def test_bad_arguments_are_usage_errors(generator, cache, kwargs):
    with pytest.raises(UsageError):
        open_engines(generator, cache_dir=cache, **kwargs)


@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_engines_match_the_module_and_split_big_batches(generator, cache, engine):
    engines = open_engines(generator, engine=engine, device="cpu", max_batch=2, cache_dir=cache)
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    z = torch.randn(5, 8)
    content, style = engines.encode(x)
    image = engines.decode(content, engines.mapping(z))
    with torch.no_grad():
        ref_content, ref_style = generator.encode(x)
        ref_image = generator.decode(ref_content, generator.mapping(z))
    assert content.shape == ref_content.shape and style.shape == (5, 8) and image.shape == (5, 3, 64, 64)
    assert torch.allclose(image, ref_image, atol=1e-4) and torch.allclose(style, ref_style, atol=1e-4)
    assert engines.engine == engine and engines.device == "cpu"
    assert engines.description.startswith({"torch": "torch ", "onnxruntime": "onnxruntime "}[engine])
    engines.close()
    with pytest.raises(EngineError):
        engines.encode(x)


@pytest.mark.gpu
def test_torch_cuda_fp16_and_cuda_graphs_match_the_cpu(generator, cache):
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    w = generator.mapping(torch.randn(4, 8)).detach()
    with torch.no_grad():
        reference = generator.decode(generator.encode(x)[0], w)
    hooks = EngineHooks(torch_options={"cuda_graph_batches": (4,)})
    for precision, min_psnr in (("fp32", 60.0), ("fp16", 40.0)):
        with open_engines(generator, engine="torch", device="cuda", precision=precision, cache_dir=cache,
                          hooks=hooks) as engines:
            assert engines.device == "cuda:0" and "cuda-graphs" in engines.description
            for _ in range(2):  # first call captures, second replays
                image = engines.decode(engines.encode(x)[0], w).cpu()
                mse = torch.mean((image.clamp(-1, 1) - reference.clamp(-1, 1)) ** 2).item()
                assert 10 * torch.log10(torch.tensor(4.0 / max(mse, 1e-20))).item() >= min_psnr
