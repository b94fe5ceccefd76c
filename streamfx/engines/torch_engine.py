"""PyTorch engine: the module itself, on CPU or CUDA, fp32, fp16 or bf16, with optional speed-ups.

Speed-ups (all optional, all off by default): channels-last memory format (faster cuDNN and oneDNN
convs), `torch.compile`, and CUDA-graph replay for fixed batch sizes (removes launch overhead, which
dominates at batch 1-4 for a ~50-layer 256x256 network).

bf16 is autocast: the weights stay fp32, convolutions and matmuls run in bfloat16 (oneDNN on CPUs
with AVX-512 BF16 or AMX, tensor cores on CUDA), and the outputs come back as float32 like every
other precision. It is refused on a CPU without native bf16, where it would only be slower.
"""

from __future__ import annotations

import contextlib
import copy
import logging

import torch
from torch import nn

from streamfx.engines.base import Engine, Device, TensorSpec, gpu_name
from streamfx.errors import EngineError

log = logging.getLogger("streamfx.engines")


def cpu_has_bf16() -> bool:
    """Whether torch's oneDNN has native bf16 on this CPU (AVX-512 BF16 or AMX), so bf16 runs fast."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the probe
        return False


class _GraphReplay:
    """One captured CUDA graph per batch size: static input/output buffers, replayed per call."""

    def __init__(self, forward, example: tuple[torch.Tensor, ...]) -> None:
        self.static_in = tuple(t.clone() for t in example)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up outside capture: allocator, cuDNN autotune
                forward(*self.static_in)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_out = forward(*self.static_in)

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        for dst, src in zip(self.static_in, inputs):
            dst.copy_(src, non_blocking=True)
        self.graph.replay()
        # Outputs are overwritten by the next replay: hand out copies.
        return tuple(t.clone() for t in self.static_out)


class TorchEngine(Engine):
    """Runs `module(*inputs)`; the module returns one tensor or a tuple of tensors."""

    engine = "torch"

    def __init__(
        self,
        module: nn.Module,
        *,
        inputs: tuple[TensorSpec, ...],
        outputs: tuple[TensorSpec, ...],
        device: Device = Device("cpu"),
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        cuda_graph_batches: tuple[int, ...] = (),
    ) -> None:
        super().__init__(device, precision)
        self._source = module
        self._specs = (inputs, outputs)
        self.channels_last = channels_last
        self.compile = compile
        self.cuda_graph_batches = tuple(cuda_graph_batches) if device.kind == "cuda" else ()
        self._module: nn.Module | None = None
        self._forward = None
        self._graphs: dict[int, _GraphReplay] = {}
        self._dtype = torch.float16 if precision == "fp16" else torch.float32  # bf16: fp32 weights, autocast
        self._autocast = precision == "bf16"

    def load(self) -> "TorchEngine":
        if self.device.kind == "cuda" and not torch.cuda.is_available():
            raise EngineError(f"torch {torch.__version__} cannot use {self.device}: no CUDA device or a CPU-only build")
        if self._autocast:
            self._check_bf16()
        module = self._source
        needs_copy = self.device.kind != "cpu" or self._dtype != torch.float32 or self.channels_last
        if needs_copy:  # never change the caller's module (the mapping network lives in it too)
            module = copy.deepcopy(module)
        module = module.eval().requires_grad_(False).to(self.device.torch, self._dtype)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self._module = module
        self._forward = torch.compile(module, dynamic=False) if self.compile else module
        self.inputs, self.outputs = self._specs
        self.metadata = {"torch": torch.__version__}
        self.loaded = True
        return self

    def _check_bf16(self) -> None:
        if self.device.kind == "cpu" and not cpu_has_bf16():
            raise EngineError(f"torch {torch.__version__}: this CPU has no native bf16 (AVX-512 BF16 or AMX), "
                              "so bf16 would be slower than fp32; use --precision fp32")
        if self.device.kind == "cuda" and not torch.cuda.is_bf16_supported():
            raise EngineError(f"torch {torch.__version__}: {self.device} has no bf16; use --precision fp16")

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device.torch, self._dtype, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _call_module(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        result = self._forward(*inputs)
        return tuple(result) if isinstance(result, (tuple, list)) else (result,)

    def run(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        prepared = tuple(self._prepare(x) for x in inputs)
        batch = prepared[0].shape[0]
        autocast = (torch.autocast(self.device.kind, dtype=torch.bfloat16) if self._autocast
                    else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            if batch in self.cuda_graph_batches:
                replay = self._graphs.get(batch)
                if replay is None:
                    replay = self._graphs[batch] = _GraphReplay(self._call_module, prepared)
                outputs = replay(*prepared)
            else:
                outputs = self._call_module(*prepared)
        return tuple(y.float().contiguous() for y in outputs)

    def close(self) -> None:
        self._graphs.clear()
        self._module = self._forward = None
        if self.device.kind == "cuda":
            torch.cuda.empty_cache()
        super().close()

    def describe(self) -> str:
        text = f"torch {torch.__version__} {self.device} {self.precision}"
        if self.device.kind == "cuda":
            name, sm = gpu_name(self.device)
            text += f" on {name} ({sm})"
        extras = [n for n, on in (("channels-last", self.channels_last), ("compiled", self.compile)) if on]
        if self.cuda_graph_batches:
            extras.append("cuda-graphs b" + ",".join(map(str, self.cuda_graph_batches)))
        return text + (" " + " ".join(extras) if extras else "")
