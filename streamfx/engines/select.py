"""Choose the engine that runs the generator: the fastest that actually loads, and say which.

`auto` tries native TensorRT, ONNX Runtime (TensorRT EP when the build has it, then CUDA EP),
torch CUDA, then the fastest CPU engine: torch (channels-last fp32, bf16 autocast), ONNX Runtime
fp32 and OpenVINO (fp32, bf16) are each run once on a fixed probe, those whose image falls below
PSNR_FLOOR_DB against torch fp32 are dropped, the rest are timed and the fastest is kept. The
measurement happens once per model, precision, library versions and machine, and is remembered in
the engine cache. An engine asked for by name that cannot load is an EngineError: users complain
most about GPUs silently falling back to the CPU.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from streamfx.engines.base import Engine, Device
from streamfx.errors import EngineError, UsageError

log = logging.getLogger("streamfx.engines")

ENGINES = ("auto", "tensorrt", "onnxruntime", "openvino", "torch")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
PSNR_FLOOR_DB = 40.0  # a CPU candidate whose probe image is further than this from torch fp32 is never chosen
# (engine, precision) pairs the CPU measurement considers, by the precision asked for; torch runs channels-last.
CPU_CANDIDATES = {
    "auto": (("torch", "fp32"), ("torch", "bf16"), ("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16")),
    "fp32": (("torch", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32")),
    "bf16": (("torch", "bf16"), ("openvino", "bf16")),
    "fp16": (("torch", "fp16"), ("onnxruntime", "fp16")),
}
BF16_ENGINES = ("torch", "openvino")


def cpu_candidates(precision: str) -> tuple[tuple[str, str], ...]:
    """The CPU measurement's candidates for `precision`; `auto` leaves bf16 out where the CPU would only emulate
    it (no AVX-512 BF16 or AMX), instead of listing it as unavailable on every run."""
    from streamfx.engines.torch_engine import cpu_has_bf16

    candidates = CPU_CANDIDATES[precision]
    if precision == "auto" and not cpu_has_bf16():
        candidates = tuple(c for c in candidates if c[1] != "bf16")
    return candidates


@dataclass
class GeneratorEngines:
    """A generator's two engines, encoder and decoder (same kind, device and precision), with its mapping network
    in torch: what the pipeline calls per batch of aligned faces. Batches larger than max_batch are split."""

    encoder: Engine
    decoder: Engine
    mapping_net: nn.Module  # always torch fp32 on the CPU: runs once per video
    engine: str  # the kind both engines are (`--engine` value): torch, onnxruntime, openvino or tensorrt
    device: str
    precision: str
    description: str
    max_batch: int = 8
    fallbacks: tuple[str, ...] = ()  # "engine [precision] device: why it did not load", in the order tried

    def _chunked(self, graph: Engine, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if tensors[0].shape[0] <= self.max_batch:
            return graph(*tensors)
        parts = [graph(*(t[i:i + self.max_batch] for t in tensors)) for i in range(0, tensors[0].shape[0], self.max_batch)]
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

    def __enter__(self) -> "GeneratorEngines":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class EngineHooks:
    """Seams for tests: where TensorRT and onnxruntime come from, and whether CUDA exists."""

    tensorrt: Callable[[], object] | None = None  # returns a NativeTensorRT-like seam
    onnxruntime: Callable[[], object] | None = None  # returns an onnxruntime-like module
    openvino: Callable[[], object] | None = None  # returns an openvino-like module
    cuda_available: Callable[[], bool] = torch.cuda.is_available
    torch_options: dict = field(default_factory=dict)  # TorchEngine extras on CUDA


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
    """The precision of a named engine. On the CPU `auto` is fp32 here: only the measured CPU choice
    (engine auto) considers bf16, because only it checks the result against fp32."""
    if precision == "auto":  # fp16 halves memory traffic on GPUs; CPUs have no fast fp16 convs
        return "fp16" if device.kind == "cuda" else "fp32"
    return precision


def _refuse_bf16(engine: str, precision: str) -> None:
    """Before any export: bf16 asked of an engine that has no bf16 path."""
    if precision == "bf16" and engine not in BF16_ENGINES:
        raise EngineError(f"{engine} cannot run bf16 (bf16 runs on --engine {' or --engine '.join(BF16_ENGINES)})")


def _specs(request: _Request, part: str):
    from streamfx.export.onnx_export import graph_io

    io_spec = graph_io(request.generator.config)[part]
    return io_spec.inputs, io_spec.outputs


def _open_torch(request: _Request, device: Device, precision: str) -> tuple[Engine, Engine]:
    from streamfx.engines.torch_engine import TorchEngine

    extras = dict(request.hooks.torch_options) if device.kind == "cuda" else {}
    # channels-last: cuDNN and oneDNN (CPU, fp32 and bf16) both run this model's convs faster in NHWC.
    extras.setdefault("channels_last", True)
    engines = []
    for part in ("encoder", "decoder"):
        inputs, outputs = _specs(request, part)
        module = getattr(request.generator, part)
        engines.append(TorchEngine(module, inputs=inputs, outputs=outputs, device=device, precision=precision, **extras))
    return _load_pair(engines)


def _open_onnxruntime(request: _Request, device: Device, precision: str, provider: str) -> tuple[Engine, Engine]:
    from streamfx.engines.onnxruntime_engine import PROVIDERS, OnnxRuntimeEngine, import_onnxruntime
    from streamfx.export.onnx_export import export_generator

    _refuse_bf16("onnxruntime", precision)
    ort = request.hooks.onnxruntime() if request.hooks.onnxruntime else import_onnxruntime()
    if PROVIDERS[provider] not in ort.get_available_providers():  # before a needless export
        raise EngineError(f"onnxruntime {ort.__version__} has no {PROVIDERS[provider]} (install onnxruntime-gpu for CUDA)")
    exported = export_generator(request.generator, request.cache_dir, fp16=precision == "fp16",
                                source_hash=request.source_hash)
    threads = torch.get_num_threads() if device.kind == "cpu" else 0  # every CPU engine runs torch's count
    engines = [
        OnnxRuntimeEngine(path, provider=provider, device=device, precision=precision, ort=ort, threads=threads,
                          max_batch=request.max_batch, trt_cache_dir=request.cache_dir / "ort-trt")
        for path in (exported.encoder, exported.decoder)
    ]
    return _load_pair(engines)


def _open_tensorrt(request: _Request, device: Device, precision: str) -> tuple[Engine, Engine]:
    from streamfx.engines.tensorrt_engine import NativeTensorRT, TensorRTEngine
    from streamfx.export.cache import Profile
    from streamfx.export.onnx_export import export_generator
    from streamfx.export.tensorrt_build import load_or_build

    if device.kind != "cuda":
        raise EngineError("TensorRT runs only on a CUDA device")
    _refuse_bf16("tensorrt", precision)
    seam = request.hooks.tensorrt() if request.hooks.tensorrt else NativeTensorRT()
    if not request.hooks.cuda_available():
        raise EngineError(f"TensorRT needs CUDA, and torch {torch.__version__} sees no CUDA device")
    exported = export_generator(request.generator, request.cache_dir, fp16=precision == "fp16",
                                source_hash=request.source_hash)
    engines = []
    for part, path in (("encoder", exported.encoder), ("decoder", exported.decoder)):
        profile = Profile.for_batch(_specs(request, part)[0], request.max_batch, min(4, request.max_batch))
        cuda_engine, plan_path = load_or_build(path, seam=seam, device=device, precision=precision,
                                               profile=profile, cache_dir=request.cache_dir)
        engines.append(TensorRTEngine(cuda_engine, seam=seam, profile=profile, device=device,
                                      precision=precision, plan_path=plan_path))
    return _load_pair(engines)


def _open_openvino(request: _Request, device: Device, precision: str) -> tuple[Engine, Engine]:
    from streamfx.engines.openvino_engine import OpenVinoEngine, check_bf16, import_openvino
    from streamfx.export.onnx_export import export_generator

    if device.kind != "cpu":
        raise EngineError(f"openvino runs on the CPU in streamfx, not on {device}")
    if precision not in ("fp32", "bf16"):
        raise EngineError(f"openvino cannot run {precision} on the CPU (it runs fp32 or bf16)")
    ov = request.hooks.openvino() if request.hooks.openvino else import_openvino()
    if precision == "bf16":
        check_bf16(ov)  # before a needless export
    exported = export_generator(request.generator, request.cache_dir, fp16=False, source_hash=request.source_hash)
    threads = torch.get_num_threads()  # the count torch runs with here (and the CPU choice's cache key holds)
    engines = [OpenVinoEngine(path, device=device, precision=precision, threads=threads, ov=ov)
               for path in (exported.encoder, exported.decoder)]
    return _load_pair(engines)


def _load_pair(engines: list[Engine]) -> tuple[Engine, Engine]:
    loaded = []
    try:
        for engine in engines:
            loaded.append(engine.load())
    except BaseException:
        for engine in loaded:
            engine.close()
        raise
    return loaded[0], loaded[1]


def _time_pair(pair: tuple[Engine, Engine], request: _Request,
               inputs: tuple[torch.Tensor, torch.Tensor] | None = None, repeats: int = 3, warmup: bool = True) -> float:
    """Seconds per face for encode + decode, the fastest of `repeats` calls (a busy core slows one call,
    not the engine), at the batch the pipeline sends (up to 4): engines rank differently at batch 1,
    where per-call overhead dominates. `inputs` (x, w) default to random ones; `warmup` runs one
    untimed call first (the CPU measurement's probe call already did)."""
    if inputs is None:
        batch = min(4, request.max_batch)
        x_spec = _specs(request, "encoder")[0][0]
        w_spec = _specs(request, "decoder")[0][1]
        inputs = (torch.rand(x_spec.concrete(batch)) * 2 - 1, torch.randn(w_spec.concrete(batch)))  # x in [-1,1]
    x, w = inputs
    encoder, decoder = pair
    if warmup:
        decoder(encoder(x)[0], w)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        decoder(encoder(x)[0], w)
        best = min(best, time.perf_counter() - started)
    return best / x.shape[0]


def psnr_db(reference: torch.Tensor, image: torch.Tensor) -> float:
    """PSNR of image against reference, both nominally [-1,1] (clamped, peak-to-peak 2); -inf when the
    image is not finite or not the reference's shape."""
    if image.shape != reference.shape or not torch.isfinite(image).all():
        return -math.inf
    mse = torch.mean((reference.clamp(-1, 1) - image.float().clamp(-1, 1)) ** 2).item()
    return 10 * math.log10(4.0 / max(mse, 1e-20))


def probe_inputs(generator: nn.Module, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fixed probe (x, w) and the torch fp32 image for it (the plain module, NCHW): x is smooth seeded
    noise in (-1,1), closer to a photo than white noise; w comes from the mapping network, as in a video."""
    config = generator.config
    rng = torch.Generator().manual_seed(1009)
    coarse = torch.randn(batch, 3, 8, 8, generator=rng)
    x = torch.tanh(nn.functional.interpolate(coarse, size=(config.size, config.size), mode="bicubic",
                                             align_corners=False))
    z = torch.randn(batch, config.latent_dim, generator=rng)
    device = next(generator.parameters()).device
    with torch.inference_mode():
        w = generator.mapping_net(z.to(device))
        reference = generator.decoder(generator.encoder(x.to(device))[0], w)
    return x, w.cpu().clone(), reference.float().cpu().clone()


def _library_version(name: str) -> str:
    """An installed distribution's version without importing it ("none" when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "none"


def _cpu_choice_key(request: _Request, precision: str) -> str:
    from streamfx.export.onnx_export import model_id

    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = "none"
    candidates = "+".join(f"{e}-{p}" for e, p in cpu_candidates(precision))
    parts = (model_id(request.generator, request.source_hash), precision, f"torch{torch.__version__}",
             f"ort{ort_version}", f"ov{_library_version('openvino')}", f"threads{torch.get_num_threads()}",
             f"cpus{os.cpu_count()}", f"batch{min(4, request.max_batch)}", candidates, f"floor{PSNR_FLOOR_DB:g}dB")
    return "/".join(parts)


def _open_cpu(request: _Request, device: Device, engine: str, precision: str) -> tuple[Engine, Engine]:
    if engine == "torch":
        return _open_torch(request, device, precision)
    if engine == "onnxruntime":
        return _open_onnxruntime(request, device, precision, "cpu")
    if engine == "openvino":
        return _open_openvino(request, device, precision)
    raise EngineError(f"no CPU engine {engine!r}")


def _close_pair(pair: tuple[Engine, Engine]) -> None:
    pair[0].close()
    pair[1].close()


def _open_cpu_fastest(request: _Request, device: Device,
                      precision: str) -> tuple[tuple[Engine, Engine], str, tuple[str, ...]]:
    """The fastest CPU candidate for `precision` (auto, fp32, bf16 or fp16) whose probe image stays within
    PSNR_FLOOR_DB of torch fp32; measured once, remembered. Returns (pair, engine, why others did not load)."""
    memo_path = request.cache_dir / "cpu-choice.json"
    try:
        memo = json.loads(memo_path.read_text()) if memo_path.is_file() else {}
    except (OSError, ValueError):
        memo = {}
    candidates = cpu_candidates(precision)
    key = _cpu_choice_key(request, precision)
    remembered = memo.get(key, {})
    choice = (remembered.get("engine"), remembered.get("precision"))
    if choice in candidates:
        try:
            return _open_cpu(request, device, *choice), choice[0], ()
        except EngineError as error:
            log.info("remembered CPU engine %s %s no longer loads (%s): measuring again", *choice, error)
    x, w, reference = probe_inputs(request.generator, min(4, request.max_batch))
    notes: list[str] = []  # "engine precision cpu: why it did not load", for GeneratorEngines.fallbacks
    timings, quality, rejected, unavailable, pairs = {}, {}, {}, {}, {}
    best = None
    try:
        for engine, prec in candidates:
            label = f"{engine} {prec}"
            try:
                pair = _open_cpu(request, device, engine, prec)
            except EngineError as error:
                unavailable[label] = str(error)
                if not any(n.startswith(f"{engine} ") and n.endswith(f": {error}") for n in notes):  # once per cause
                    notes.append(f"{label} {device}: {error}")
                log.info("%s on the CPU is unavailable: %s", label, error)
                continue
            pairs[label] = pair
            try:
                quality[label] = psnr_db(reference, pair[1](pair[0](x)[0], w)[0])  # also the warm-up call
                if quality[label] >= PSNR_FLOOR_DB:
                    timings[label] = _time_pair(pair, request, (x, w), warmup=False)
            except (EngineError, RuntimeError) as error:
                _close_pair(pairs.pop(label))
                unavailable[label] = f"failed on the probe: {str(error).splitlines()[0]}"
                notes.append(f"{label} {device}: {unavailable[label]}")
                continue
            if label not in timings:
                _close_pair(pairs.pop(label))
                rejected[label] = (f"{quality[label]:.1f} dB PSNR against torch fp32, "
                                   f"below the {PSNR_FLOOR_DB:g} dB floor")
                log.info("%s on the CPU is not used: %s", label, rejected[label])
        if not timings:
            reasons = [f"{label}: {why}" for label, why in {**unavailable, **rejected}.items()]
            raise EngineError("no CPU engine could run the model within the quality floor: " + "; ".join(reasons))
        best = min(timings, key=timings.get)
    finally:  # every pair but the chosen one is closed, whatever happened
        for label, pair in pairs.items():
            if label != best:
                _close_pair(pair)
    log.info("CPU engine: %s (%s)", best, ", ".join(f"{n} {t * 1000:.1f} ms/face {quality[n]:.0f} dB"
                                                     for n, t in timings.items()))
    engine, prec = best.split(" ")
    memo[key] = {"engine": engine, "precision": prec, "seconds_per_face": {n: round(t, 5) for n, t in timings.items()},
                 "psnr_db": {n: (round(q, 1) if math.isfinite(q) else None) for n, q in quality.items()},
                 "rejected": rejected, "unavailable": unavailable}
    try:
        request.cache_dir.mkdir(parents=True, exist_ok=True)
        memo_path.write_text(json.dumps(memo, indent=1, sort_keys=True))
    except OSError:  # a read-only cache only costs a re-measure next time
        pass
    return pairs[best], engine, tuple(notes)


def _candidates(engine: str, device: Device | None, cuda: bool, ort_has_trt_ep: bool) -> list[tuple[str, Device]]:
    """(engine, device) pairs to try in order; "cpu-fastest" measures the CPU engines (CPU_CANDIDATES)."""
    gpu = device if device is not None and device.kind == "cuda" else Device("cuda", 0)
    if engine == "auto":
        if device is not None and device.kind == "cpu":
            return [("cpu-fastest", device)]
        chain = [("tensorrt", gpu)] + ([("onnxruntime-trt", gpu)] if ort_has_trt_ep else [])
        chain += [("onnxruntime", gpu), ("torch", gpu)]
        # An explicit --device cuda never silently ends on the CPU; "auto" does, when no GPU path loads.
        return chain + ([("cpu-fastest", Device("cpu"))] if device is None else [])
    if device is None:  # openvino runs on the CPU only; the others prefer a GPU when there is one
        device = Device("cuda", 0) if (cuda and engine != "openvino") or engine == "tensorrt" else Device("cpu")
    return [(engine, device)]


def _ort_has_trt_ep(hooks: EngineHooks) -> bool:
    try:
        from streamfx.engines.onnxruntime_engine import import_onnxruntime

        ort = hooks.onnxruntime() if hooks.onnxruntime else import_onnxruntime()
        return "TensorrtExecutionProvider" in ort.get_available_providers()
    except EngineError:
        return False


def open_engines(generator: nn.Module, *, engine: str = "auto", device: str = "auto", precision: str = "auto",
                 max_batch: int = 8, cache_dir: Path | None = None, source_hash: str = "",
                 hooks: EngineHooks | None = None) -> GeneratorEngines:
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
        prec = precision if name == "cpu-fastest" else _precision(precision, dev)  # the CPU choice resolves auto
        try:
            pair, chosen, notes = _open_candidate(request, name, dev, prec)
        except EngineError as error:
            failures.append(f"{name} {dev}: {error}")
            if engine != "auto":
                raise
            log.info("engine %s on %s unavailable: %s", name, dev, error)
            continue
        failures.extend(notes)
        description = pair[0].describe()
        log.info("engine: %s", description)
        return GeneratorEngines(pair[0], pair[1], generator.mapping_net, chosen, str(dev), pair[0].precision,
                                description, max_batch, tuple(failures))
    raise EngineError("no engine could load the generator: " + " | ".join(failures))


def _open_candidate(request: _Request, name: str, device: Device, precision: str):
    """(pair, engine name, notes on CPU candidates that did not load) for one entry of _candidates."""
    if name == "cpu-fastest":
        return _open_cpu_fastest(request, device, precision)
    if name == "tensorrt":
        return _open_tensorrt(request, device, precision), "tensorrt", ()
    if name == "onnxruntime-trt":
        return _open_onnxruntime(request, device, precision, "tensorrt"), "onnxruntime", ()
    if name == "onnxruntime":
        return _open_onnxruntime(request, device, precision, "cuda" if device.kind == "cuda" else "cpu"), name, ()
    if name == "openvino":
        return _open_openvino(request, device, precision), name, ()
    return _open_torch(request, device, precision), "torch", ()
