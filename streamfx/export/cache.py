"""Where engines live and what names them: the cache directory, optimization profiles, cache keys.

A TensorRT plan only runs on the TensorRT version and GPU architecture it was built for, and
only for the shapes of its profile, so every one of those goes into the key that names the file.
A plan whose key no longer matches is simply never looked up again; `streamfx engines clear`
removes the leftovers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from streamfx.engines.base import TensorSpec
from streamfx.errors import EngineError

ENV_CACHE_DIR = "STREAMFX_ENGINES"
ARTIFACT_SUFFIXES = (".onnx", ".onnx.data", ".engine", ".timing", ".json", ".profile")
_REPO_ENGINES = Path(__file__).resolve().parents[2] / "engines"


def default_cache_dir() -> Path:
    """$STREAMFX_ENGINES, else `engines/` of a source checkout, else `engines/` in the user cache
    ($STREAMFX_HOME or ~/.cache/streamfx, where the weights live too)."""
    from streamfx.catalog import cache_dir

    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    if (_REPO_ENGINES / "README.md").is_file() and os.access(_REPO_ENGINES, os.W_OK):
        return _REPO_ENGINES
    return cache_dir() / "engines"


def file_sha256(path: Path) -> str:
    """SHA-256 of an ONNX file together with its external-data file, if it has one."""
    digest = hashlib.sha256()
    for part in (Path(path), Path(f"{path}.data")):
        if part.is_file():
            with open(part, "rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Profile:
    """TensorRT optimization profile: (name, min, opt, max) shapes for every dynamic input."""

    shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]

    @classmethod
    def for_batch(cls, inputs: Sequence[TensorSpec], max_batch: int = 8, opt_batch: int = 4) -> "Profile":
        """Batch 1..max_batch (tuned for opt_batch), every other dim fixed as the graph declares it."""
        if not 1 <= opt_batch <= max_batch:
            raise EngineError(f"bad profile: need 1 <= opt batch ({opt_batch}) <= max batch ({max_batch})")
        rows = []
        for spec in inputs:
            dims = [spec.concrete(b) for b in (1, opt_batch, max_batch)]
            if None in dims:
                raise EngineError(f"input {spec.name} has an unknown non-batch dim {spec.shape}: cannot make a profile")
            rows.append((spec.name, *dims))
        return cls(tuple(rows))

    @property
    def max_batch(self) -> int:
        return min(row[3][0] for row in self.shapes)

    def check(self, shapes: dict[str, tuple[int, ...]]) -> None:
        """EngineError unless every input shape lies inside the profile (checked before binding)."""
        for name, low, _, high in self.shapes:
            shape = tuple(shapes.get(name, ()))
            if len(shape) != len(low) or any(not lo <= s <= hi for s, lo, hi in zip(shape, low, high)):
                raise EngineError(f"input {name} shape {shape} is outside the engine profile {low}..{high}")

    def to_list(self) -> list:
        return [[name, list(low), list(opt), list(high)] for name, low, opt, high in self.shapes]

    @classmethod
    def from_list(cls, rows: list) -> "Profile":
        return cls(tuple((name, tuple(low), tuple(opt), tuple(high)) for name, low, opt, high in rows))


@dataclass(frozen=True)
class EngineKey:
    """Everything a serialized TensorRT plan depends on; its digest names the plan file."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "sm90"
    precision: str  # "fp32" | "fp16": the ONNX carries it, the key keeps plans apart
    profile: Profile
    builder_optimization_level: int = 3

    def to_dict(self) -> dict:
        data = asdict(self)
        data["profile"] = self.profile.to_list()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "EngineKey":
        fields = dict(data)
        fields["profile"] = Profile.from_list(fields["profile"])
        return cls(**fields)

    def digest(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def file_name(self, stem: str) -> str:
        trt = ".".join(self.tensorrt_version.split(".")[:2])
        return f"{stem}-{self.compute_capability}-trt{trt}-{self.digest()}.engine"


def list_artifacts(cache_dir: Path) -> list[Path]:
    """Engine-cache files (ONNX, plans, timing caches), sorted by name; README and others ignored."""
    if not cache_dir.is_dir():
        return []
    return sorted(p for p in cache_dir.iterdir() if p.is_file() and p.name.endswith(ARTIFACT_SUFFIXES))


def clear_cache(cache_dir: Path, *, keep_onnx: bool = False) -> list[Path]:
    """Delete cached artifacts (plans always; ONNX too unless keep_onnx); returns what was removed."""
    removed = []
    for path in list_artifacts(cache_dir):
        if keep_onnx and path.name.endswith((".onnx", ".onnx.data")):
            continue
        path.unlink()
        removed.append(path)
    return removed
