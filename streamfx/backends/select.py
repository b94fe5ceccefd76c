"""Choose the engine that runs the generator: the fastest that actually loads, and say which.

`auto` tries native TensorRT, ONNX Runtime (TensorRT EP when the build has it, then CUDA EP),
torch CUDA, then the faster of torch and ONNX Runtime on the CPU (measured once per model and
machine, remembered in the engine cache). An engine asked for by name that cannot load is an
EngineError: users complain most about GPUs silently falling back to the CPU.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from streamfx.backends.base import Backend, Device
from streamfx.errors import EngineError, UsageError

log = logging.getLogger("streamfx.backends")

ENGINES = ("auto", "tensorrt", "onnxruntime", "torch")
PRECISIONS = ("auto", "fp32", "fp16")


@dataclass
class GeneratorRuntime:
    """What the pipeline calls per batch of aligned faces. Batches larger than max_batch are split."""

    encoder: Backend
    decoder: Backend
    mapping_net: nn.Module  # always torch fp32 on the CPU: runs once per video
    engine: str
    device: str
    precision: str
    description: str
    max_batch: int = 8
    fallbacks: tuple[str, ...] = ()  # "engine device: why it did not load", in the order tried

    def _chunked(self, backend: Backend, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if tensors[0].shape[0] <= self.max_batch:
            return backend(*tensors)
        parts = [backend(*(t[i:i + self.max_batch] for t in tensors)) for i in range(0, tensors[0].shape[0], self.max_batch)]
        return tuple(torch.cat(outs) for outs in zip(*parts))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B,3,S,S] float32 in [-1,1] -> content [B,C,16,16], style [B,latent_dim] (float32)."""
        content, style = self._chunked(self.encoder, x)
        return content, style

    def decode(self, content: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """content [B,C,16,16], w [B,style_dim] -> [B,3,S,S] float32, nominally [-1,1], not clamped."""
        (image,) = self._chunked(self.decoder, content, w)
        return image

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z [B,latent_dim] -> w [B,style_dim], torch fp32 on the CPU."""
        with torch.inference_mode():
            return self.mapping_net(z.detach().to("cpu", torch.float32))

    def close(self) -> None:
        self.encoder.close()
        self.decoder.close()

    def __enter__(self) -> "GeneratorRuntime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class EngineHooks:
    """Seams for tests: where TensorRT and onnxruntime come from, and whether CUDA exists."""

    tensorrt: Callable[[], object] | None = None  # returns a NativeTensorRT-like seam
    onnxruntime: Callable[[], object] | None = None  # returns an onnxruntime-like module
    cuda_available: Callable[[], bool] = torch.cuda.is_available
    torch_options: dict = field(default_factory=dict)  # TorchBackend extras on CUDA


@dataclass
class _Request:
    generator: nn.Module
    max_batch: int
    cache_dir: Path
    source_hash: str
    hooks: EngineHooks


def resolve_device(device: str) -> Device | None:
    """None for "auto" (decided per engine), else the parsed device."""
    return None if device == "auto" else Device.parse(device)


def _precision(precision: str, device: Device) -> str:
    if precision == "auto":  # fp16 halves memory traffic on GPUs; CPUs have no fast fp16 convs
        return "fp16" if device.kind == "cuda" else "fp32"
    return precision


def _specs(request: _Request, part: str):
    from streamfx.export.onnx_export import graph_io

    io_spec = graph_io(request.generator.config)[part]
    return io_spec.inputs, io_spec.outputs


def _open_torch(request: _Request, device: Device, precision: str) -> tuple[Backend, Backend]:
    from streamfx.backends.torch_backend import TorchBackend

    extras = dict(request.hooks.torch_options) if device.kind == "cuda" else {}
    if device.kind == "cuda":
        extras.setdefault("channels_last", True)
    backends = []
    for part in ("encoder", "decoder"):
        inputs, outputs = _specs(request, part)
        module = getattr(request.generator, part)
        backends.append(TorchBackend(module, inputs=inputs, outputs=outputs, device=device, precision=precision, **extras))
    return _load_pair(backends)


def _open_onnxruntime(request: _Request, device: Device, precision: str, provider: str) -> tuple[Backend, Backend]:
    from streamfx.backends.onnxruntime_backend import PROVIDERS, OnnxRuntimeBackend, import_onnxruntime
    from streamfx.export.onnx_export import export_generator

    ort = request.hooks.onnxruntime() if request.hooks.onnxruntime else import_onnxruntime()
    if PROVIDERS[provider] not in ort.get_available_providers():  # before a needless export
        raise EngineError(f"onnxruntime {ort.__version__} has no {PROVIDERS[provider]} (install onnxruntime-gpu for CUDA)")
    exported = export_generator(request.generator, request.cache_dir, fp16=precision == "fp16",
                                source_hash=request.source_hash)
    backends = [
        OnnxRuntimeBackend(path, provider=provider, device=device, precision=precision, ort=ort,
                           max_batch=request.max_batch, trt_cache_dir=request.cache_dir / "ort-trt")
        for path in (exported.encoder, exported.decoder)
    ]
    return _load_pair(backends)


def _open_tensorrt(request: _Request, device: Device, precision: str) -> tuple[Backend, Backend]:
    from streamfx.backends.tensorrt_backend import NativeTensorRT, TensorRTBackend
    from streamfx.export.cache import Profile
    from streamfx.export.onnx_export import export_generator
    from streamfx.export.tensorrt_build import load_or_build

    if device.kind != "cuda":
        raise EngineError("TensorRT runs only on a CUDA device")
    seam = request.hooks.tensorrt() if request.hooks.tensorrt else NativeTensorRT()
    if not request.hooks.cuda_available():
        raise EngineError(f"TensorRT needs CUDA, and torch {torch.__version__} sees no CUDA device")
    exported = export_generator(request.generator, request.cache_dir, fp16=precision == "fp16",
                                source_hash=request.source_hash)
    backends = []
    for part, path in (("encoder", exported.encoder), ("decoder", exported.decoder)):
        profile = Profile.for_batch(_specs(request, part)[0], request.max_batch, min(4, request.max_batch))
        engine, plan_path = load_or_build(path, seam=seam, device=device, precision=precision,
                                          profile=profile, cache_dir=request.cache_dir)
        backends.append(TensorRTBackend(engine, seam=seam, profile=profile, device=device,
                                        precision=precision, plan_path=plan_path))
    return _load_pair(backends)


def _load_pair(backends: list[Backend]) -> tuple[Backend, Backend]:
    loaded = []
    try:
        for backend in backends:
            loaded.append(backend.load())
    except BaseException:
        for backend in loaded:
            backend.close()
        raise
    return loaded[0], loaded[1]


def _time_pair(pair: tuple[Backend, Backend], request: _Request, repeats: int = 2) -> float:
    """Seconds per face for encode + decode (after one warm-up call), at the batch the pipeline sends
    (up to 4): engines rank differently at batch 1, where per-call overhead dominates."""
    batch = min(4, request.max_batch)
    x_spec = _specs(request, "encoder")[0][0]
    w_spec = _specs(request, "decoder")[0][1]
    x = torch.rand(x_spec.concrete(batch)) * 2 - 1  # [B,3,S,S] in [-1,1]
    w = torch.randn(w_spec.concrete(batch))
    encoder, decoder = pair
    decoder(encoder(x)[0], w)
    started = time.perf_counter()
    for _ in range(repeats):
        decoder(encoder(x)[0], w)
    return (time.perf_counter() - started) / (repeats * batch)


def _cpu_choice_key(request: _Request, precision: str) -> str:
    from streamfx.export.onnx_export import model_id

    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = "none"
    parts = (model_id(request.generator, request.source_hash), precision, f"torch{torch.__version__}",
             f"ort{ort_version}", f"threads{torch.get_num_threads()}", f"cpus{os.cpu_count()}",
             f"batch{min(4, request.max_batch)}")
    return "/".join(parts)


def _open_cpu_fastest(request: _Request, device: Device, precision: str) -> tuple[tuple[Backend, Backend], str]:
    """torch or ONNX Runtime on the CPU, whichever runs this model faster here (measured once, remembered)."""
    memo_path = request.cache_dir / "cpu-choice.json"
    try:
        memo = json.loads(memo_path.read_text()) if memo_path.is_file() else {}
    except (OSError, ValueError):
        memo = {}
    key = _cpu_choice_key(request, precision)
    openers = {"onnxruntime": lambda: _open_onnxruntime(request, device, precision, "cpu"),
               "torch": lambda: _open_torch(request, device, precision)}
    remembered = memo.get(key, {}).get("engine")
    if remembered in openers:
        try:
            return openers[remembered](), remembered
        except EngineError as error:
            log.info("remembered CPU engine %s no longer loads (%s): measuring again", remembered, error)
    timings, pairs = {}, {}
    for name, opener in openers.items():
        try:
            pairs[name] = opener()
        except EngineError as error:
            log.info("%s on the CPU is unavailable: %s", name, error)
            continue
        timings[name] = _time_pair(pairs[name], request)
    if not pairs:
        raise EngineError("neither torch nor onnxruntime could run the model on the CPU")
    best = min(timings, key=timings.get)
    for name, pair in pairs.items():
        if name != best:
            pair[0].close()
            pair[1].close()
    log.info("CPU engine: %s (%s)", best, ", ".join(f"{n} {t:.2f} s/face" for n, t in timings.items()))
    memo[key] = {"engine": best, "seconds_per_face": {n: round(t, 4) for n, t in timings.items()}}
    try:
        request.cache_dir.mkdir(parents=True, exist_ok=True)
        memo_path.write_text(json.dumps(memo, indent=1, sort_keys=True))
    except OSError:  # a read-only cache only costs a re-measure next time
        pass
    return pairs[best], best


def _candidates(engine: str, device: Device | None, cuda: bool, ort_has_trt_ep: bool) -> list[tuple[str, Device]]:
    """(engine, device) pairs to try in order; "cpu-fastest" measures torch against ONNX Runtime."""
    gpu = device if device is not None and device.kind == "cuda" else Device("cuda", 0)
    if engine == "auto":
        if device is not None and device.kind == "cpu":
            return [("cpu-fastest", device)]
        chain = [("tensorrt", gpu)] + ([("onnxruntime-trt", gpu)] if ort_has_trt_ep else [])
        chain += [("onnxruntime", gpu), ("torch", gpu)]
        # An explicit --device cuda never silently ends on the CPU; "auto" does, when no GPU path loads.
        return chain + ([("cpu-fastest", Device("cpu"))] if device is None else [])
    if device is None:
        device = Device("cuda", 0) if cuda or engine == "tensorrt" else Device("cpu")
    return [(engine, device)]


def _ort_has_trt_ep(hooks: EngineHooks) -> bool:
    try:
        from streamfx.backends.onnxruntime_backend import import_onnxruntime

        ort = hooks.onnxruntime() if hooks.onnxruntime else import_onnxruntime()
        return "TensorrtExecutionProvider" in ort.get_available_providers()
    except EngineError:
        return False


def open_runtime(generator: nn.Module, *, engine: str = "auto", device: str = "auto", precision: str = "auto",
                 max_batch: int = 8, cache_dir: Path | None = None, source_hash: str = "",
                 hooks: EngineHooks | None = None) -> GeneratorRuntime:
    """Load the generator's encoder and decoder on the best (or the named) engine and device.

    `generator` is a streamfx GNR Generator (its mapping network stays in torch fp32 on the CPU).
    Raises EngineError when a named engine/device cannot load, or when nothing can.
    """
    from streamfx.export.cache import default_cache_dir

    if engine not in ENGINES:
        raise UsageError(f"bad engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if precision not in PRECISIONS:
        raise UsageError(f"bad precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if not 1 <= max_batch <= 64:
        raise UsageError(f"bad max batch {max_batch}: expected 1..64")
    hooks = hooks or EngineHooks()
    if not getattr(generator, "folded", True):  # training form: fold equal-lr gains once, on a copy
        generator = copy.deepcopy(generator).fold_equalized_lr()
    request = _Request(generator.eval(), max_batch, Path(cache_dir or default_cache_dir()), source_hash, hooks)
    wanted = resolve_device(device)
    cuda = hooks.cuda_available()
    candidates = _candidates(engine, wanted, cuda, engine == "auto" and cuda and _ort_has_trt_ep(hooks))
    if engine == "auto" and wanted is None and not cuda:
        candidates = [c for c in candidates if c[1].kind == "cpu"]  # no GPU: skip the doomed GPU attempts
    failures: list[str] = []
    for name, dev in candidates:
        prec = _precision(precision, dev)
        try:
            pair, chosen = _open_candidate(request, name, dev, prec)
        except EngineError as error:
            failures.append(f"{name} {dev}: {error}")
            if engine != "auto":
                raise
            log.info("engine %s on %s unavailable: %s", name, dev, error)
            continue
        description = pair[0].describe()
        log.info("engine: %s", description)
        return GeneratorRuntime(pair[0], pair[1], generator.mapping_net, chosen, str(dev), prec, description,
                                max_batch, tuple(failures))
    raise EngineError("no engine could load the generator: " + " | ".join(failures))


def _open_candidate(request: _Request, name: str, device: Device, precision: str):
    if name == "cpu-fastest":
        return _open_cpu_fastest(request, device, precision)
    if name == "tensorrt":
        return _open_tensorrt(request, device, precision), "tensorrt"
    if name == "onnxruntime-trt":
        return _open_onnxruntime(request, device, precision, "tensorrt"), "onnxruntime"
    if name == "onnxruntime":
        return _open_onnxruntime(request, device, precision, "cuda" if device.kind == "cuda" else "cpu"), name
    return _open_torch(request, device, precision), "torch"
