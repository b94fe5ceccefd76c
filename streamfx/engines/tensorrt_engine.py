"""Native TensorRT engine (TensorRT 10 and 11 Python API) running on torch CUDA tensors.

Every call into `tensorrt` goes through `NativeTensorRT`, a thin seam that tests replace with
a fake: TensorRT cannot be installed in CI, so the logic around it (cache keys, headers,
profiles, rebuilds, fallbacks) is what the tests cover. The calls used are the intersection of
10.x and 11.x: strongly typed networks (precision comes from the ONNX; 11 removed the FP16
flag), `build_serialized_network`, `set_tensor_address` + `execute_async_v3` on a non-default stream.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from streamfx.engines.base import TORCH_DTYPES, Engine, Device, TensorSpec, gpu_name, refuse_precision
from streamfx.errors import EngineError

log = logging.getLogger("streamfx.engines")

INSTALL_HINT = "pip install tensorrt-cu12 (or tensorrt-cu13), from NVIDIA's package index"


def import_tensorrt():
    """The tensorrt module, or an EngineError naming the install command."""
    try:
        import tensorrt
    except (ImportError, OSError) as error:  # the bindings wheel alone fails with OSError/ImportError on libnvinfer
        raise EngineError(f"TensorRT is not usable ({error}): {INSTALL_HINT}") from None
    return tensorrt


def _progress_monitor(trt):
    """An IProgressMonitor that logs build phases, so a minutes-long build shows it is alive."""

    class BuildProgress(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.started = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self.started[phase_name] = time.perf_counter()
            if parent_phase is None:
                log.info("tensorrt build: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name, step):
            return True  # keep building

        def phase_finish(self, phase_name):
            seconds = time.perf_counter() - self.started.pop(phase_name, time.perf_counter())
            log.debug("tensorrt build: %s done in %.1f s", phase_name, seconds)

    return BuildProgress()


class NativeTensorRT:
    """The seam: the only object that touches the `tensorrt` module."""

    def __init__(self) -> None:
        self.trt = import_tensorrt()
        self.logger = self.trt.Logger(self.trt.Logger.WARNING)
        self.version = self.trt.__version__

    def build(self, onnx_path: Path, profile, *, timing_cache: bytes, workspace_bytes: int,
              optimization_level: int) -> tuple[bytes, bytes]:
        """Parse the ONNX and build a plan; returns (plan bytes, updated timing cache bytes)."""
        trt = self.trt
        builder = trt.Builder(self.logger)
        # Opt-in on TensorRT 10, ignored (always on) on 11: dtypes come from the ONNX.
        network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse_from_file(str(onnx_path)):  # resolves external data next to the file
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineError(f"TensorRT could not parse {Path(onnx_path).name}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
        config.builder_optimization_level = optimization_level
        config.progress_monitor = _progress_monitor(trt)
        trt_profile = builder.create_optimization_profile()
        for name, low, opt, high in profile.shapes:
            trt_profile.set_shape(name, low, opt, high)
        config.add_optimization_profile(trt_profile)
        cache = config.create_timing_cache(timing_cache)
        config.set_timing_cache(cache, ignore_mismatch=False)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise EngineError(f"TensorRT failed to build {Path(onnx_path).name} (see the messages above)")
        return bytes(plan), bytes(config.get_timing_cache().serialize())

    def deserialize(self, plan: bytes):
        """An ICudaEngine, or None when the plan is corrupt or from another version/GPU."""
        return self.trt.Runtime(self.logger).deserialize_cuda_engine(plan)

    def io_specs(self, engine) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
        inputs, outputs = [], []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dtype = "float16" if engine.get_tensor_dtype(name) == self.trt.DataType.HALF else "float32"
            spec = TensorSpec(name, tuple(d if d >= 0 else "batch" for d in engine.get_tensor_shape(name)), dtype)
            is_input = engine.get_tensor_mode(name) == self.trt.TensorIOMode.INPUT
            (inputs if is_input else outputs).append(spec)
        return tuple(inputs), tuple(outputs)

    def create_context(self, engine):
        return engine.create_execution_context()

    def set_input_shapes(self, context, shapes: dict) -> None:
        for name, shape in shapes.items():
            if not context.set_input_shape(name, shape):
                raise EngineError(f"TensorRT rejected shape {shape} for input {name}")

    def output_shape(self, context, name: str) -> tuple[int, ...]:
        """Known once every input shape is set."""
        return tuple(context.get_tensor_shape(name))

    def execute(self, context, addresses: dict, stream_handle: int) -> bool:
        """Bind device addresses (contiguous, alive until the stream syncs) and enqueue on the stream."""
        for name, address in addresses.items():
            context.set_tensor_address(name, address)
        return context.execute_async_v3(stream_handle)


class TensorRTEngine(Engine):
    """Runs a deserialized TensorRT engine (ICudaEngine) on torch CUDA tensors on its own (non-default) CUDA stream."""

    engine = "tensorrt"

    def __init__(self, engine_handle, *, seam, profile, device: Device, precision: str, plan_path: Path) -> None:
        super().__init__(device, precision)
        refuse_precision("tensorrt", precision, ("fp32", "fp16"), "bf16 runs on --engine torch or --engine openvino")
        self._cuda_engine = engine_handle
        self._seam = seam
        self.profile = profile
        self.plan_path = Path(plan_path)
        self._context = None
        self._stream = None

    def load(self) -> "TensorRTEngine":
        if self.device.kind != "cuda":
            raise EngineError("TensorRT runs only on a CUDA device")
        self.inputs, self.outputs = self._seam.io_specs(self._cuda_engine)
        self._context = self._seam.create_context(self._cuda_engine)
        if self._context is None:
            raise EngineError(f"TensorRT could not create an execution context for {self.plan_path.name}")
        self._stream = torch.cuda.Stream(self.device.torch)
        self.metadata = {"tensorrt": self._seam.version, "plan": self.plan_path.name}
        self.loaded = True
        return self

    def run(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        device = self.device.torch
        bound = [x.detach().to(device, TORCH_DTYPES[s.dtype]).contiguous() for s, x in zip(self.inputs, inputs)]
        shapes = {s.name: tuple(x.shape) for s, x in zip(self.inputs, bound)}
        self.profile.check(shapes)
        addresses = {s.name: x.data_ptr() for s, x in zip(self.inputs, bound)}
        self._seam.set_input_shapes(self._context, shapes)  # output shapes follow from these
        outputs = [torch.empty(self._seam.output_shape(self._context, s.name), dtype=TORCH_DTYPES[s.dtype], device=device)
                   for s in self.outputs]
        addresses.update({s.name: y.data_ptr() for s, y in zip(self.outputs, outputs)})
        # The inputs were produced on torch's current stream; TensorRT works on its own.
        self._stream.wait_stream(torch.cuda.current_stream(device))
        if not self._seam.execute(self._context, addresses, self._stream.cuda_stream):
            raise EngineError(f"TensorRT execution failed for {self.plan_path.name}")
        torch.cuda.current_stream(device).wait_stream(self._stream)
        for tensor in (*bound, *outputs):  # keep memory alive until the engine is done with it
            tensor.record_stream(self._stream)
        return tuple(y.float() for y in outputs)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.synchronize()
        self._context = self._cuda_engine = self._stream = None
        super().close()

    def describe(self) -> str:
        name, sm = gpu_name(self.device)
        return f"tensorrt {self._seam.version} {self.precision} on {name} ({sm})"
