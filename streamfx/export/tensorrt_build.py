"""ONNX -> TensorRT plan: build with a timing cache, store with a JSON header, load or rebuild.

Plan file layout (`.engine`):  b"SFXPLAN1" | uint32 little-endian header length | header JSON | plan.
The header repeats the cache key, so a plan can be checked before TensorRT ever reads it,
and `streamfx engines list` can say what each file is without TensorRT installed.
A plan that is stale (key differs) or that TensorRT refuses to load is rebuilt, with a message.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import time
from pathlib import Path

from streamfx import __version__
from streamfx.engines.base import Device, gpu_name
from streamfx.errors import EngineError
from streamfx.export.cache import EngineKey, Profile, file_sha256

log = logging.getLogger("streamfx.export")

PLAN_MAGIC = b"SFXPLAN1"
_LENGTH = struct.Struct("<I")
WORKSPACE_BYTES = 2 << 30


def write_plan(path: Path, header: dict, plan: bytes) -> None:
    """Header + plan, written to a temporary file and renamed, so a crash never leaves half a plan."""
    meta = json.dumps(header, sort_keys=True).encode()
    tmp = Path(f"{path}.tmp")
    with open(tmp, "wb") as stream:
        stream.write(PLAN_MAGIC + _LENGTH.pack(len(meta)) + meta)
        stream.write(plan)
    os.replace(tmp, path)


def read_header(path: Path) -> tuple[dict, int]:
    """(header, byte offset of the plan); EngineError when the file is not a streamfx plan."""
    with open(path, "rb") as stream:
        start = stream.read(len(PLAN_MAGIC) + _LENGTH.size)
        if len(start) != len(PLAN_MAGIC) + _LENGTH.size or not start.startswith(PLAN_MAGIC):
            raise EngineError(f"{Path(path).name} is not a streamfx TensorRT plan (bad magic)")
        (length,) = _LENGTH.unpack(start[len(PLAN_MAGIC):])
        meta = stream.read(length)
    try:
        header = json.loads(meta) if len(meta) == length else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict):
        raise EngineError(f"{Path(path).name} has a damaged header")
    return header, len(start) + length


def read_plan(path: Path) -> tuple[dict, bytes]:
    header, offset = read_header(path)
    with open(path, "rb") as stream:
        stream.seek(offset)
        return header, stream.read()


def engine_key(onnx_path: Path, *, tensorrt_version: str, gpu: tuple[str, str], precision: str,
               profile: Profile, optimization_level: int = 3) -> EngineKey:
    return EngineKey(file_sha256(onnx_path), tensorrt_version, gpu[0], gpu[1], precision, profile, optimization_level)


def build_plan(onnx_path: Path, key: EngineKey, seam, plan_path: Path, *, cache_dir: Path,
               workspace_bytes: int = WORKSPACE_BYTES) -> bytes:
    """Build, write plan and timing cache, log how long it took; returns the plan bytes."""
    timing_path = cache_dir / f"timing-trt{key.tensorrt_version}-{key.compute_capability}.timing"
    timing = timing_path.read_bytes() if timing_path.is_file() else b""
    log.info("building TensorRT %s plan for %s on %s (%s), batch %d..%d; this takes minutes the first time",
             key.precision, Path(onnx_path).name, key.gpu_name, key.compute_capability,
             key.profile.shapes[0][1][0], key.profile.max_batch)
    started = time.perf_counter()
    plan, timing = seam.build(onnx_path, key.profile, timing_cache=timing, workspace_bytes=workspace_bytes,
                              optimization_level=key.builder_optimization_level)
    seconds = time.perf_counter() - started
    header = {"streamfx": __version__, "key": key.to_dict(), "digest": key.digest(), "onnx": Path(onnx_path).name,
              "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "build_seconds": round(seconds, 1)}
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_plan(plan_path, header, plan)
    if timing:
        timing_path.write_bytes(timing)
    log.info("built %s in %.1f s (%.1f MB)", plan_path.name, seconds, len(plan) / 1e6)
    return plan


def _cached_engine(plan_path: Path, key: EngineKey, seam):
    """The deserialized engine from a valid cached plan, or None (with the reason logged)."""
    if not plan_path.is_file():
        return None
    try:
        header, plan = read_plan(plan_path)
    except (EngineError, OSError) as error:
        log.warning("TensorRT plan %s is unreadable (%s): rebuilding", plan_path.name, error)
        return None
    if header.get("digest") != key.digest() or header.get("key") != key.to_dict():
        log.warning("TensorRT plan %s is stale (built for another model, version or GPU): rebuilding", plan_path.name)
        return None
    try:
        engine = seam.deserialize(plan)
    except Exception as error:  # TensorRT raises RuntimeError/TypeError on some corruptions
        log.debug("deserialize raised %r", error)
        engine = None
    if engine is None:
        log.warning("TensorRT could not load plan %s: rebuilding", plan_path.name)
    return engine


def load_or_build(onnx_path: Path, *, seam, device: Device, precision: str, profile: Profile, cache_dir: Path,
                  gpu: tuple[str, str] | None = None, optimization_level: int = 3, rebuild: bool = False):
    """A ready engine for `onnx_path`: from the cache when its plan is valid, else freshly built.

    Returns (engine handle, plan path). Only a build that fails, or a fresh plan that TensorRT
    itself cannot load, raises EngineError.
    """
    gpu = gpu or gpu_name(device)
    key = engine_key(onnx_path, tensorrt_version=seam.version, gpu=gpu, precision=precision,
                     profile=profile, optimization_level=optimization_level)
    plan_path = Path(cache_dir) / key.file_name(Path(onnx_path).stem)
    engine = None if rebuild else _cached_engine(plan_path, key, seam)
    if engine is not None:
        log.debug("using cached TensorRT plan %s", plan_path.name)
        return engine, plan_path
    plan = build_plan(onnx_path, key, seam, plan_path, cache_dir=Path(cache_dir))
    engine = seam.deserialize(plan)
    if engine is None:
        raise EngineError(f"TensorRT cannot load the plan it just built ({plan_path.name})")
    return engine, plan_path
