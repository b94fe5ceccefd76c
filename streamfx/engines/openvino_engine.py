"""OpenVINO engine: the exported ONNX graph compiled for the CPU, in fp32 or bf16.

OpenVINO reads the same ONNX files that ONNX Runtime and TensorRT use (no IR conversion step) and
compiles them with `Core().compile_model(path, "CPU", config)`. Its CPU plugin picks bf16 by itself on
CPUs that have it (AVX-512 BF16, AMX), so the precision is always set explicitly with
`INFERENCE_PRECISION_HINT` and read back from the compiled model: fp32 asks for f32, bf16 asks for bf16
and is refused, before compiling, on a CPU whose `OPTIMIZATION_CAPABILITIES` lack BF16. Inputs and
outputs stay float32 in either precision.

Threads: `threads` (the count torch uses, passed by the engine choice) becomes `INFERENCE_NUM_THREADS`;
threads are not pinned to cores by default, since the pipeline runs face detection and video coding
beside the model on the same few cores.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from streamfx.engines.base import Engine, Device, TensorSpec, refuse_precision
from streamfx.errors import EngineError
from streamfx.signals import interrupt_held, thread_signal_stack_kept

log = logging.getLogger("streamfx.engines")

INSTALL_HINT = 'pip install "streamfx[openvino]" (or pip install openvino)'
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}  # our precision -> INFERENCE_PRECISION_HINT


def import_openvino():
    """The openvino module, or an EngineError that names the install command."""
    try:
        with interrupt_held():  # a Ctrl-C landing while its extension loads can abort the process (signals.py)
            import openvino
    except (ImportError, OSError) as error:
        raise EngineError(f"openvino is not usable ({error}): {INSTALL_HINT}") from None
    return openvino


def short_version(ov) -> str:
    """'2026.4.1' from '2026.4.1-22982-e213a147257-releases/2026/4'."""
    return str(getattr(ov, "__version__", "unknown")).split("-")[0]


def cpu_capabilities(core) -> tuple[str, ...]:
    """The CPU plugin's OPTIMIZATION_CAPABILITIES (e.g. FP32, BF16, INT8), upper case."""
    try:
        return tuple(str(c).upper() for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception as error:  # openvino raises plain RuntimeError for a missing plugin
        raise EngineError(f"openvino has no usable CPU plugin: {str(error).splitlines()[0]}") from None


def check_bf16(ov, core=None) -> None:
    """EngineError unless the CPU plugin reports native bf16 (AVX-512 BF16 or AMX)."""
    if "BF16" not in cpu_capabilities(core or ov.Core()):
        raise EngineError(f"openvino {short_version(ov)}: this CPU has no native bf16 "
                          "(OPTIMIZATION_CAPABILITIES lacks BF16); use --precision fp32")


def _spec(port) -> TensorSpec:
    dims = tuple(d.get_length() if d.is_static else "batch" for d in port.get_partial_shape())
    return TensorSpec(port.get_any_name(), dims, np.dtype(port.get_element_type().to_dtype()).name)


class OpenVinoEngine(Engine):
    """One compiled model and one infer request on one ONNX file, on the CPU."""

    engine = "openvino"

    def __init__(self, onnx_path: Path, *, device: Device = Device("cpu"), precision: str = "fp32",
                 threads: int = 0, pin_threads: bool = False, ov=None) -> None:
        super().__init__(device, precision)
        refuse_precision("openvino", precision, tuple(PRECISION_HINTS), "fp16 runs on a GPU engine; use fp32 or bf16")
        if device.kind != "cpu":
            raise EngineError(f"openvino runs on the CPU in streamfx, not on {device}")
        self.onnx_path = Path(onnx_path)
        self.threads = threads
        self.pin_threads = pin_threads
        self._ov = ov  # a stand-in module for tests; None = import the real one at load()
        self.compiled = None
        self._request = None
        self.precision_loaded = ""  # what the compiled model reports, "f32" or "bf16"

    def config(self) -> dict:
        """The properties handed to compile_model."""
        config = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[self.precision], "PERFORMANCE_HINT": "LATENCY",
                  "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": bool(self.pin_threads)}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = int(self.threads)
        return config

    def load(self) -> "OpenVinoEngine":
        with thread_signal_stack_kept():  # see signals.py: Ctrl-C must not crash once the engine is gone
            return self._load()

    def _load(self) -> "OpenVinoEngine":
        ov = self._ov or import_openvino()
        if not self.onnx_path.is_file():
            raise EngineError(f"ONNX file not found: {self.onnx_path}")
        core = ov.Core()
        if self.precision == "bf16":
            check_bf16(ov, core)
        try:
            compiled = core.compile_model(str(self.onnx_path), "CPU", self.config())
        except Exception as error:  # openvino raises RuntimeError subclasses of its own
            reason = str(error).splitlines()[0]
            raise EngineError(f"openvino could not compile {self.onnx_path.name}: {reason}") from None
        loaded = compiled.get_property("INFERENCE_PRECISION_HINT")
        loaded = loaded.get_type_name() if hasattr(loaded, "get_type_name") else str(loaded)
        if loaded != PRECISION_HINTS[self.precision]:  # as with ORT providers: what ran, not what was asked
            raise EngineError(f"openvino asked for {PRECISION_HINTS[self.precision]} inference but compiled {loaded}")
        self.compiled, self.precision_loaded = compiled, loaded
        self._request = compiled.create_infer_request()
        self.inputs = tuple(_spec(p) for p in compiled.inputs)
        self.outputs = tuple(_spec(p) for p in compiled.outputs)
        self.metadata = _onnx_metadata(self.onnx_path)
        self.loaded = True
        return self

    def run(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feed = {spec.name: x.detach().to("cpu", torch.float32).contiguous().numpy()
                for spec, x in zip(self.inputs, inputs)}
        try:
            results = self._request.infer(feed)  # copies the outputs out of the request's buffers
        except Exception as error:
            raise EngineError(f"openvino inference failed: {str(error).splitlines()[0]}") from None
        return tuple(torch.from_numpy(np.ascontiguousarray(r)).float() for r in results.to_tuple())

    def close(self) -> None:
        self._request = self.compiled = None
        super().close()

    def describe(self) -> str:
        ov = self._ov or import_openvino()
        text = f"openvino {short_version(ov)} CPU {self.precision}"
        return text + (f" {self.threads} threads" if self.threads else "")


def _onnx_metadata(path: Path) -> dict[str, str]:
    """The streamfx metadata_props of the ONNX file, as ONNX Runtime's custom metadata map gives them."""
    from streamfx.export.onnx_export import onnx_module

    try:
        model = onnx_module().load(str(path), load_external_data=False)
    except Exception:  # metadata is informative only
        return {}
    return {p.key: p.value for p in model.metadata_props}
