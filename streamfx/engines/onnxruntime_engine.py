"""ONNX Runtime engine: CPU, CUDA and TensorRT execution providers, IO binding on the GPU.

ORT drops a provider whose libraries fail to load and silently runs on the next one, so the
provider that actually loaded is read back from `session.get_providers()` and compared with
the one asked for: a mismatch is an EngineError, and the caller decides whether to fall back.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from streamfx.engines.base import TORCH_DTYPES, Engine, Device, TensorSpec, gpu_name, refuse_precision
from streamfx.errors import EngineError

log = logging.getLogger("streamfx.engines")

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
BF16_HINT = "bf16 runs on --engine torch or --engine openvino"
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64"}


def import_onnxruntime():
    """The onnxruntime module, or an EngineError that names the install command."""
    try:
        import onnxruntime
    except (ImportError, OSError) as error:
        raise EngineError(
            f"onnxruntime is not usable ({error}): pip install onnxruntime (CPU) or onnxruntime-gpu (CUDA)"
        ) from None
    return onnxruntime


def provider_chain(provider: str, device: Device, *, trt_cache_dir: Path | None = None,
                   fp16: bool = False, profile: dict | None = None) -> list:
    """The provider list for ORT, best first, each GPU provider with its options.

    `provider` is "tensorrt", "cuda" or "cpu"; GPU chains end with CPU so nodes a GPU provider
    cannot take still run, and the session's first provider tells what really loaded.
    """
    chain: list = []
    if provider == "tensorrt":
        options = {"device_id": device.index, "trt_fp16_enable": fp16, "trt_builder_optimization_level": 3}
        if trt_cache_dir is not None:
            trt_cache_dir.mkdir(parents=True, exist_ok=True)
            options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(trt_cache_dir),
                           trt_timing_cache_enable=True, trt_timing_cache_path=str(trt_cache_dir))
        if profile:  # {"x": ("1x3x256x256", "4x3x256x256", "8x3x256x256"), ...}
            for i, key in enumerate(("min", "opt", "max")):
                options[f"trt_profile_{key}_shapes"] = ",".join(f"{n}:{s[i]}" for n, s in profile.items())
        chain.append((PROVIDERS["tensorrt"], options))
    if provider in ("tensorrt", "cuda"):
        chain.append((PROVIDERS["cuda"], {"device_id": device.index, "cudnn_conv_algo_search": "EXHAUSTIVE"}))
    chain.append(PROVIDERS["cpu"])
    return chain


def _specs(nodes) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(n.name, tuple(d if isinstance(d, int) else str(d) for d in n.shape), _ORT_DTYPES.get(n.type, n.type))
        for n in nodes
    )


def onnx_inputs(path: Path) -> tuple[TensorSpec, ...]:
    """Graph input specs read from the ONNX file itself (weights not loaded)."""
    from streamfx.export.onnx_export import onnx_module

    graph = onnx_module().load(str(path), load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    specs = []
    for value in graph.input:
        if value.name in initializers:
            continue
        dims = tuple(d.dim_param or d.dim_value or -1 for d in value.type.tensor_type.shape.dim)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
        specs.append(TensorSpec(value.name, dims, dtype))
    return tuple(specs)


class OnnxRuntimeEngine(Engine):
    """One `InferenceSession` on one ONNX file with the providers for `provider`."""

    engine = "onnxruntime"

    def __init__(self, onnx_path: Path, *, provider: str = "cpu", device: Device = Device("cpu"),
                 precision: str = "fp32", threads: int = 0, trt_cache_dir: Path | None = None,
                 max_batch: int = 8, ort=None) -> None:
        super().__init__(device, precision)
        refuse_precision("onnxruntime", precision, ("fp32", "fp16"), BF16_HINT)
        if provider not in PROVIDERS:
            raise EngineError(f"unknown onnxruntime provider {provider!r}: expected {', '.join(PROVIDERS)}")
        if (provider == "cpu") != (device.kind == "cpu"):
            raise EngineError(f"onnxruntime provider {provider} does not run on {device}")
        self.onnx_path = Path(onnx_path)
        self.provider = provider
        self.threads = threads
        self.trt_cache_dir = trt_cache_dir
        self.max_batch = max_batch
        self._ort = ort  # a stand-in module for tests; None = import the real one at load()
        self.session = None
        self.providers_loaded: list[str] = []

    def _profile(self, inputs) -> dict:
        """TensorRT-EP optimization profile: batch 1 / opt / max_batch for each input."""
        opt = min(4, self.max_batch)
        shapes = {}
        for spec in inputs:
            dims = [spec.concrete(b) for b in (1, opt, self.max_batch)]
            if None not in dims:
                shapes[spec.name] = tuple("x".join(map(str, d)) for d in dims)
        return shapes

    def load(self) -> "OnnxRuntimeEngine":
        ort = self._ort or import_onnxruntime()
        if not self.onnx_path.is_file():
            raise EngineError(f"ONNX file not found: {self.onnx_path}")
        wanted = PROVIDERS[self.provider]
        if wanted not in ort.get_available_providers():
            raise EngineError(f"onnxruntime {ort.__version__} has no {wanted} (install onnxruntime-gpu for CUDA)")
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        # Idle pool threads sleep instead of spinning: the pipeline runs face detection and encoding
        # beside the model, and spinning threads starve them on small CPUs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # provider load failures are reported by us, once
        profile = self._profile(onnx_inputs(self.onnx_path)) if self.provider == "tensorrt" else None
        chain = provider_chain(self.provider, self.device, trt_cache_dir=self.trt_cache_dir,
                               fp16=self.precision == "fp16", profile=profile)
        try:
            session = ort.InferenceSession(str(self.onnx_path), sess_options=options, providers=chain)
        except Exception as error:  # ORT raises its own exception types (Fail, InvalidGraph, ...)
            raise EngineError(f"onnxruntime could not open {self.onnx_path.name}: {str(error).splitlines()[0]}") from None
        self.providers_loaded = list(session.get_providers())
        if not self.providers_loaded or self.providers_loaded[0] != wanted:
            raise EngineError(f"onnxruntime asked for {wanted} but loaded {self.providers_loaded}")
        self.session = session
        self.inputs, self.outputs = _specs(session.get_inputs()), _specs(session.get_outputs())
        self.metadata = dict(session.get_modelmeta().custom_metadata_map)
        self.loaded = True
        return self

    def run(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.device.kind == "cuda":
            return self._run_bound(inputs)
        feed = {spec.name: x.detach().to("cpu", TORCH_DTYPES[spec.dtype]).contiguous().numpy()
                for spec, x in zip(self.inputs, inputs)}
        results = self.session.run([s.name for s in self.outputs], feed)
        return tuple(torch.from_numpy(np.ascontiguousarray(r)).float() for r in results)

    def _run_bound(self, inputs) -> tuple[torch.Tensor, ...]:
        """IO binding: ORT reads and writes torch's CUDA memory directly, no host round trip."""
        binding = self.session.io_binding()
        device = self.device.torch
        keep = []  # inputs must stay alive until the run ends
        for spec, x in zip(self.inputs, inputs):
            x = x.detach().to(device, TORCH_DTYPES[spec.dtype]).contiguous()
            keep.append(x)
            binding.bind_input(spec.name, "cuda", self.device.index, np.dtype(spec.dtype), tuple(x.shape), x.data_ptr())
        # ORT runs on its own stream: what torch queued for the inputs must be finished first.
        torch.cuda.current_stream(device).synchronize()
        batch = keep[0].shape[0]
        outputs = []
        for spec in self.outputs:
            shape = spec.concrete(batch)
            if shape is None:
                binding.bind_output(spec.name, "cuda", self.device.index)
                outputs.append(None)
                continue
            y = torch.empty(shape, dtype=TORCH_DTYPES[spec.dtype], device=device)
            binding.bind_output(spec.name, "cuda", self.device.index, np.dtype(spec.dtype), shape, y.data_ptr())
            outputs.append(y)
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        # An output ORT allocated itself (unknown shape, rare) comes back through the host.
        results = [y if y is not None else torch.from_numpy(value.numpy()).to(device)
                   for y, value in zip(outputs, binding.get_outputs())]
        return tuple(y.float() for y in results)

    def close(self) -> None:
        self.session = None
        super().close()

    def describe(self) -> str:
        ort = self._ort or import_onnxruntime()
        text = f"onnxruntime {ort.__version__} {self.providers_loaded[0] if self.providers_loaded else PROVIDERS[self.provider]}"
        text += f" {self.precision}"
        if self.device.kind == "cuda":
            name, sm = gpu_name(self.device)
            text += f" on {name} ({sm})"
        return text
