"""CPU engines on the default weights: torch channels-last fp32 and bf16, ONNX Runtime, OpenVINO fp32 and bf16.

Parity against the plain torch fp32 module (near-exact for fp32, >= 40 dB PSNR for bf16), `--precision bf16`
end to end, the OpenVINO engine and its import guard, and the measured CPU choice: it keeps only candidates
within the PSNR floor, remembers its choice per precision, and reports what ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import streamfx
from conftest import DATA, SAMPLES, require
from streamfx.engines import select
from streamfx.engines.base import Engine, Device
from streamfx.engines.select import PSNR_FLOOR_DB, EngineHooks, open_engines, probe_inputs, psnr_db
from streamfx.engines.torch_engine import cpu_has_bf16
from streamfx.errors import EngineError
from streamfx.export.onnx_export import graph_io

pytest.importorskip("onnxruntime")
DEFAULT_WEIGHTS = Path(streamfx.__file__).parent / "data" / "gnr_slim.safetensors"  # the default model


def _openvino():
    try:
        import openvino
    except ImportError:
        return None
    return openvino


OV = _openvino()
needs_openvino = pytest.mark.skipif(OV is None, reason='openvino is not installed (pip install "streamfx[openvino]")')


def _ov_has_bf16() -> bool:
    return OV is not None and "BF16" in OV.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.fixture(scope="module")
def generator():
    from streamfx.weights import load_generators

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"default weights not in this checkout: {DEFAULT_WEIGHTS}")
    return load_generators(DEFAULT_WEIGHTS)[0]["A2B"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One engine cache for the module: the ONNX files are exported once, as in real use."""
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="module", params=["probe", "celebahq"])
def inputs(request, generator):
    """(x [4,3,S,S], w [4,style_dim], torch fp32 image): the fixed probe of the CPU choice, or real faces."""
    x, w, reference = probe_inputs(generator, 4)
    if request.param == "celebahq":
        size = generator.config.size
        paths = sorted(require(DATA / "celebahq256" / "images").glob("*.jpg"))[:4]
        faces = [cv2.resize(cv2.imread(str(p))[:, :, ::-1], (size, size), interpolation=cv2.INTER_AREA) for p in paths]
        x = torch.from_numpy(np.stack(faces).astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2).contiguous()
        with torch.inference_mode():
            reference = generator.decode(generator.encode(x)[0], w)
    return x, w, reference


CASES = [("torch", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"), ("torch", "bf16"), ("openvino", "bf16")]


def _skip_unavailable(engine: str, precision: str) -> None:
    if engine == "openvino" and OV is None:
        pytest.skip('openvino is not installed (pip install "streamfx[openvino]")')
    if precision == "bf16" and not (cpu_has_bf16() if engine == "torch" else _ov_has_bf16()):
        pytest.skip("this CPU has no native bf16 (AVX-512 BF16 or AMX)")


@pytest.mark.parametrize("engine, precision", CASES)
def test_each_cpu_engine_matches_torch_fp32(generator, cache, inputs, engine, precision):
    _skip_unavailable(engine, precision)
    x, w, reference = inputs
    with open_engines(generator, engine=engine, device="cpu", precision=precision, cache_dir=cache) as engines:
        content, style = engines.encode(x)
        image = engines.decode(content, w)
        assert engines.engine == engine and engines.precision == precision and engines.device == "cpu"
        assert engines.description.startswith(f"{engine} ") and f" {precision}" in engines.description
        if engine != "torch":  # every CPU engine runs torch's thread count
            assert engines.encoder.threads == torch.get_num_threads()
    assert image.dtype == content.dtype == style.dtype == torch.float32  # bf16 paths hand back float32 too
    assert image.shape == reference.shape and image.std() > 0.05  # a picture, not a constant
    if precision == "fp32":
        with torch.inference_mode():
            ref_content, ref_style = generator.encode(x)
        for ours, theirs in ((content, ref_content), (style, ref_style), (image, reference)):
            scale = max(1.0, theirs.abs().max().item())
            assert (ours - theirs).abs().max().item() <= 1e-4 * scale
    else:
        assert psnr_db(reference, image) >= PSNR_FLOOR_DB


def test_torch_on_the_cpu_runs_channels_last(generator, cache):
    with open_engines(generator, engine="torch", device="cpu", precision="fp32", cache_dir=cache) as engines:
        assert engines.encoder.channels_last and "channels-last" in engines.description


@pytest.mark.parametrize("engine, device", [("onnxruntime", "cpu"), ("tensorrt", "cuda")])
def test_bf16_on_an_engine_without_it_names_the_engine(generator, cache, engine, device):
    with pytest.raises(EngineError, match=f"{engine} cannot run bf16"):
        open_engines(generator, engine=engine, device=device, precision="bf16", cache_dir=cache)


def test_engines_refuse_precisions_they_cannot_run(cache):
    from streamfx.engines.onnxruntime_engine import OnnxRuntimeEngine

    with pytest.raises(EngineError, match="onnxruntime cannot run bf16"):
        OnnxRuntimeEngine(cache / "x.onnx", precision="bf16")
    if OV is not None:
        from streamfx.engines.openvino_engine import OpenVinoEngine

        with pytest.raises(EngineError, match="openvino cannot run fp16"):
            OpenVinoEngine(cache / "x.onnx", precision="fp16")
        with pytest.raises(EngineError, match="CPU"):
            OpenVinoEngine(cache / "x.onnx", device=Device("cuda", 0))


def test_explicit_bf16_without_cpu_support_is_an_error(generator, cache, monkeypatch):
    import streamfx.engines.torch_engine as torch_engine

    monkeypatch.setattr(torch_engine, "cpu_has_bf16", lambda: False)
    with pytest.raises(EngineError, match="torch .*no native bf16"):
        open_engines(generator, engine="torch", device="cpu", precision="bf16", cache_dir=cache)
    if OV is not None:
        class NoBf16Core(OV.Core):
            def get_property(self, device, name):
                if name == "OPTIMIZATION_CAPABILITIES":
                    return ["FP32", "INT8"]
                return super().get_property(device, name)

        fake = type(sys)("openvino_without_bf16")
        fake.__version__, fake.Core = OV.__version__, NoBf16Core
        with pytest.raises(EngineError, match="openvino .*no native bf16"):
            open_engines(generator, engine="openvino", precision="bf16", cache_dir=cache,
                         hooks=EngineHooks(openvino=lambda: fake))


@needs_openvino
def test_engine_openvino_runs_on_the_cpu_with_torchs_threads(generator, cache):
    hooks = EngineHooks(cuda_available=lambda: True)  # even with a GPU, openvino means the CPU
    with open_engines(generator, engine="openvino", cache_dir=cache, hooks=hooks) as engines:
        assert engines.device == "cpu" and engines.precision == "fp32"  # auto on a named CPU engine: fp32
        assert engines.description.startswith("openvino ") and " CPU fp32" in engines.description
        assert engines.encoder.threads == torch.get_num_threads()
        assert engines.encoder.compiled.get_property("INFERENCE_NUM_THREADS") == torch.get_num_threads()
        assert engines.encoder.metadata["streamfx.part"] == "encoder"


def test_without_openvino_named_is_an_error_and_auto_skips_it(generator, cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now raises ImportError
    with pytest.raises(EngineError, match=r"openvino is not usable .*pip install \"streamfx\[openvino\]\""):
        open_engines(generator, engine="openvino", device="cpu", cache_dir=cache)
    (cache / "cpu-choice.json").unlink(missing_ok=True)
    with open_engines(generator, device="cpu", cache_dir=cache) as engines:
        assert engines.engine in ("torch", "onnxruntime")
        notes = [f for f in engines.fallbacks if f.startswith("openvino")]
        assert len(notes) == 1 and "openvino is not usable" in notes[0]  # one line for both openvino candidates
    (entry,) = json.loads((cache / "cpu-choice.json").read_text()).values()
    assert {f"openvino {p}" for e, p in select.cpu_candidates("auto") if e == "openvino"} <= set(entry["unavailable"])
    assert not any(label.startswith("openvino") for label in entry["seconds_per_face"])
    (cache / "cpu-choice.json").unlink()  # made without openvino under a key that names it: not for later tests


class _Garbage(Engine):
    """Answers at once with zeros of the right shapes: the fastest engine there is, and a useless one."""

    engine = "garbage"

    def __init__(self, inputs, outputs):
        super().__init__(Device("cpu"), "fp32")
        self._io = (inputs, outputs)

    def load(self):
        self.inputs, self.outputs = self._io
        self.loaded = True
        return self

    def run(self, *inputs):
        return tuple(torch.zeros(inputs[0].shape[0], *spec.shape[1:]) for spec in self.outputs)


def _garbage_pair(request, *args, **kwargs):
    io_spec = graph_io(request.generator.config)
    return tuple(_Garbage(io_spec[part].inputs, io_spec[part].outputs).load() for part in ("encoder", "decoder"))


def test_auto_rejects_a_fast_candidate_below_the_psnr_floor(generator, cache, monkeypatch):
    (cache / "cpu-choice.json").unlink(missing_ok=True)
    monkeypatch.setattr(select, "_open_onnxruntime", _garbage_pair)
    with open_engines(generator, device="cpu", precision="fp32", cache_dir=cache) as engines:
        assert engines.engine != "onnxruntime" and engines.precision == "fp32"
        x, w, reference = probe_inputs(generator, 4)
        assert psnr_db(reference, engines.decode(engines.encode(x)[0], w)) >= PSNR_FLOOR_DB
    (entry,) = json.loads((cache / "cpu-choice.json").read_text()).values()
    assert "below the 40 dB floor" in entry["rejected"]["onnxruntime fp32"]
    assert "onnxruntime fp32" not in entry["seconds_per_face"]
    assert entry["psnr_db"]["onnxruntime fp32"] < PSNR_FLOOR_DB
    fastest = min(entry["seconds_per_face"], key=entry["seconds_per_face"].get)
    assert f"{entry['engine']} {entry['precision']}" == fastest


def test_auto_fails_clearly_when_nothing_meets_the_floor(generator, cache, monkeypatch):
    (cache / "cpu-choice.json").unlink(missing_ok=True)
    for name in ("_open_onnxruntime", "_open_torch", "_open_openvino"):
        monkeypatch.setattr(select, name, _garbage_pair)
    with pytest.raises(EngineError, match="within the quality floor.*torch fp32: .* dB PSNR"):
        open_engines(generator, device="cpu", precision="fp32", cache_dir=cache)


def test_auto_choice_covers_every_candidate_is_remembered_and_says_what_ran(generator, cache, monkeypatch):
    (cache / "cpu-choice.json").unlink(missing_ok=True)
    first = open_engines(generator, device="cpu", cache_dir=cache)
    memo = json.loads((cache / "cpu-choice.json").read_text())
    (key, entry), = memo.items()
    assert "/auto/" in key and "ov" in key and "floor40dB" in key
    measured = set(entry["seconds_per_face"]) | set(entry["rejected"]) | set(entry["unavailable"])
    # bf16 only where the CPU runs it natively (`select.cpu_candidates`)
    native_bf16 = {"torch bf16", "openvino bf16"} if cpu_has_bf16() else set()
    assert measured == {"torch fp32", "onnxruntime fp32", "openvino fp32"} | native_bf16
    assert all(entry["psnr_db"][label] >= PSNR_FLOOR_DB for label in entry["seconds_per_face"])
    best = min(entry["seconds_per_face"], key=entry["seconds_per_face"].get)
    assert best == f"{first.engine} {first.precision}" == f"{entry['engine']} {entry['precision']}"
    assert first.description.startswith(f"{first.engine} ") and f" {first.precision}" in first.description
    first.close()

    def no_measuring(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(select, "_time_pair", no_measuring)
    monkeypatch.setattr(select, "probe_inputs", no_measuring)
    with open_engines(generator, device="cpu", cache_dir=cache) as second:  # opens only the remembered engine
        assert (second.engine, second.precision) == (first.engine, first.precision)
    monkeypatch.undo()
    if cpu_has_bf16() or _ov_has_bf16():  # another precision is another key: measured on its own
        with open_engines(generator, device="cpu", precision="bf16", cache_dir=cache) as third:
            assert third.precision == "bf16"
        assert len(json.loads((cache / "cpu-choice.json").read_text())) == 2


@pytest.mark.slow
def test_precision_bf16_through_streamfx_anime(tmp_path, monkeypatch, capsys):
    from streamfx.cli import main
    from streamfx.io.probe import probe

    monkeypatch.setenv("STREAMFX_ENGINES", str(tmp_path / "engines"))
    out = tmp_path / "bf16.mp4"
    argv = ["-q", "anime", str(SAMPLES / "astronaut.mp4"), "-o", str(out), "--weights", str(DEFAULT_WEIGHTS),
            "--device", "cpu", "--precision", "bf16", "--duration", "1"]
    if not (cpu_has_bf16() or _ov_has_bf16()):
        assert main(argv) == 1
        assert "bf16" in capsys.readouterr().err
        return
    assert main(argv) == 0
    comment = probe(out).comment
    assert " bf16" in comment and "device cpu" in comment
    assert any(f"engine {name}" in comment for name in ("torch", "openvino"))
