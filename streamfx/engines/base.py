"""The one interface every inference engine implements: load, call on a batch, close.

An engine wraps one graph (the GNR encoder or decoder) on one device in one precision. Inputs and
outputs are torch tensors; the caller never sees numpy, ORT values or TensorRT bindings.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch

from streamfx.errors import EngineError, UsageError

# What an engine may be asked for; each engine refuses, with an EngineError, the ones it cannot run.
ENGINE_PRECISIONS = ("fp32", "fp16", "bf16")
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "int64": torch.int64, "int32": torch.int32}


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one graph input or output. A str dim is symbolic (the batch)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"

    def concrete(self, batch: int) -> tuple[int, ...] | None:
        """The shape with every symbolic dim set to `batch`; None when a non-batch dim is unknown."""
        dims = [batch if isinstance(d, str) or (i == 0 and d < 0) else d for i, d in enumerate(self.shape)]
        return None if any(d < 0 for d in dims) else tuple(dims)


@dataclass(frozen=True)
class Device:
    """A parsed `--device` value: `cpu` or `cuda[:N]`."""

    kind: str  # "cpu" | "cuda"
    index: int = 0

    @classmethod
    def parse(cls, text: str) -> "Device":
        kind, _, index = text.strip().lower().partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
            raise UsageError(f"bad device {text!r}: expected cpu or cuda[:N]")
        return cls(kind, int(index or 0))

    def __str__(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"

    @property
    def torch(self) -> torch.device:
        return torch.device(str(self))


def gpu_name(device: Device) -> tuple[str, str]:
    """(marketing name, "smXY") of a CUDA device, as TensorRT plans depend on both."""
    try:
        major, minor = torch.cuda.get_device_capability(device.index)
        return torch.cuda.get_device_name(device.index), f"sm{major}{minor}"
    except (AssertionError, RuntimeError) as error:  # CPU-only torch build, or no such device
        raise EngineError(f"cannot query {device}: {str(error).splitlines()[0]}") from None


def refuse_precision(engine: str, precision: str, supported: tuple[str, ...], hint: str = "") -> None:
    """EngineError naming the engine when it cannot run `precision` (e.g. bf16 on ONNX Runtime)."""
    if precision not in supported:
        text = f"{engine} cannot run {precision} here (it runs {', '.join(supported)})"
        raise EngineError(text + (f"; {hint}" if hint else ""))


class Engine(abc.ABC):
    """Base class: subclasses fill `inputs`, `outputs` and `metadata` in `load()`."""

    engine = "engine"  # the engine kind (`--engine` value); each subclass names its own

    def __init__(self, device: Device, precision: str) -> None:
        if precision not in ENGINE_PRECISIONS:
            raise UsageError(f"bad precision {precision!r}: expected {', '.join(ENGINE_PRECISIONS)}")
        self.device = device
        self.precision = precision
        self.inputs: tuple[TensorSpec, ...] = ()
        self.outputs: tuple[TensorSpec, ...] = ()
        self.metadata: dict[str, str] = {}
        self.loaded = False

    @abc.abstractmethod
    def load(self) -> "Engine":
        """Resolve the artifact into a runnable session (once, before the loop); returns self."""

    @abc.abstractmethod
    def run(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One batch: float32 tensors in input order -> float32 tensors in output order."""

    def close(self) -> None:
        """Free the session and device memory; the engine cannot run afterwards."""
        self.loaded = False

    def describe(self) -> str:
        return f"{self.engine} {self.device} {self.precision}"

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.loaded:
            raise EngineError(f"{self.engine} engine used before load() or after close()")
        if len(inputs) != len(self.inputs):
            names = ", ".join(s.name for s in self.inputs)
            raise EngineError(f"{self.engine} engine takes {len(self.inputs)} inputs ({names}), got {len(inputs)}")
        return self.run(*inputs)

    def __enter__(self) -> "Engine":
        return self if self.loaded else self.load()

    def __exit__(self, *exc) -> None:
        self.close()
