"""Loading and saving GNR weights: the official checkpoint and the streamfx safetensors format.

streamfx format: one `.safetensors` file; tensor names `<direction>.<our state-dict key>` (directions `A2B`, `B2A`),
values in the inference form (equal-lr gains folded), fp32 or fp16. The safetensors metadata entry `streamfx` holds
JSON: format name and version, per-direction architecture config, resolution, normalization, dtype, provenance
(whatever the caller passes: source checkpoint, training run), and `tensors_sha256`, a SHA-256 over the tensors
(name, dtype, shape and bytes, in sorted name order) that the loader checks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from pathlib import Path

import torch

from streamfx import __version__
from streamfx.catalog import CATALOG, DEFAULT_MODEL, cache_dir, entry_path, get_entry, sha256_file
from streamfx.errors import ModelError
from streamfx.models.gnr import OFFICIAL, Generator, GNRConfig
from streamfx.signals import interrupt_held

__all__ = [
    "cache_dir", "load_generators", "load_official_checkpoint", "load_official_generators", "load_weights",
    "resolve_weights", "save_weights", "tensors_sha256",
]

log = logging.getLogger("streamfx.weights")

FORMAT = "streamfx-gnr"
FORMAT_VERSION = 1
# A2B: face -> anime; B2A: anime -> face; A2A (optional): the photo edits' autoencoder (`streamfx/edit/render.py`),
# an encoder (A2B's, or one trained with it) and a decoder that redraws the photo from its content map and style code.
DIRECTIONS = ("A2B", "B2A", "A2A")
OFFICIAL_DIRECTIONS = ("A2B", "B2A")  # what GNR's own checkpoints hold
NORMALIZATION = {
    "input": "RGB NCHW float32, x/127.5 - 1 in [-1,1], size x size aligned face",
    "output": "RGB NCHW, nominally [-1,1], not clamped: clamp before (y+1)*127.5 -> uint8",
}


# -- official checkpoint ---------------------------------------------------------------------------------------------


def _read_official(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch explains every weights_only failure at length; the line naming the cause is what matters.
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        causes = (line[line.index("Unsupported"):] for line in lines if "Unsupported" in line)
        cause = next(causes, "")
        if cause.startswith("Unsupported global"):
            raise ModelError(f"{path}: refused, the pickle needs code to load (weights_only): {cause[:100]}") from None
        reason = cause or "unreadable pickle"
        raise ModelError(f"{path}: truncated, damaged or not a torch checkpoint ({reason})") from None
    except Exception as error:  # torch.load fails in many ways (and hands *.safetensors names to safetensors)
        raise ModelError(f"{path}: truncated, damaged or not a torch checkpoint ({type(error).__name__})") from None
    if not isinstance(ckpt, dict):
        raise ModelError(f"{path}: expected a dict of state dicts, got {type(ckpt).__name__}")
    return ckpt


def _official_generator(ckpt: dict, direction: str, path, config: GNRConfig = OFFICIAL) -> Generator:
    if direction not in OFFICIAL_DIRECTIONS:
        raise ModelError(f"direction must be A2B or B2A, got {direction!r}")
    key = f"G_{direction}_ema"
    if key not in ckpt:
        found = ", ".join(sorted(map(str, ckpt))[:8]) or "nothing"
        raise ModelError(f"{path}: no {key!r} in the checkpoint (found: {found})")
    if not isinstance(ckpt[key], dict):
        raise ModelError(f"{path}: {key!r} is not a state dict")
    G = Generator(config)
    try:
        G.load_official_state_dict(ckpt[key])
    except ModelError as error:
        raise ModelError(f"{path} [{key}]: {error}") from None
    return G.fold_equalized_lr().eval()


def load_official_checkpoint(path: str | Path, direction: str = "A2B", config: GNRConfig = OFFICIAL) -> Generator:
    """One generator (inference form, eval mode) from the official `GNR_checkpoint.pt`."""
    return _official_generator(_read_official(path), direction, path, config)


def load_official_generators(path: str | Path, directions=OFFICIAL_DIRECTIONS, config: GNRConfig = OFFICIAL) -> dict:
    """{direction: Generator} from one read of an official-layout checkpoint."""
    ckpt = _read_official(path)
    return {d: _official_generator(ckpt, d, path, config) for d in directions}


# -- streamfx safetensors format ---------------------------------------------------------------------------------------


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{str(t.dtype)}|{tuple(t.shape)}\n".encode())
        # flat first: a channels-last [O,I,1,1] weight counts as contiguous but keeps odd strides, which a dtype
        # view refuses (a decoder trained channels-last failed to export)
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def save_weights(path, generators: dict[str, Generator], metadata: dict, dtype=torch.float32) -> str:
    """Write generators (any form) to one safetensors file, atomically. Returns the SHA-256 of the written file."""
    from safetensors.torch import save_file

    if not generators or any(d not in DIRECTIONS for d in generators):
        raise ModelError(f"generators must be keyed by {DIRECTIONS}, got {list(generators)}")
    if dtype not in (torch.float32, torch.float16):
        raise ModelError(f"weights can be stored as float32 or float16, not {dtype}")
    tensors = {}
    for direction, G in generators.items():
        for key, value in G.folded_state_dict().items():
            tensors[f"{direction}.{key}"] = value.to("cpu", dtype).contiguous()
    header = {  # after the caller's metadata: a field the file's own layout decides is never taken from it
        **{k: v for k, v in metadata.items() if k not in ("format", "tensors_sha256", "configs")},
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "streamfx_version": __version__,
        "architecture": "gans-n-roses",
        "directions": sorted(generators),
        "configs": {d: G.config.to_dict() for d, G in generators.items()},
        "resolution": next(iter(generators.values())).config.size,
        "normalization": NORMALIZATION,
        "equalized_lr": "folded",
        "dtype": str(dtype).removeprefix("torch."),
        "tensors_sha256": tensors_sha256(tensors),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"streamfx": json.dumps(header, sort_keys=True)})
    os.replace(tmp, path)
    return sha256_file(path)


def read_metadata(path: str | Path) -> dict:
    """The JSON metadata of a streamfx weight file, without loading tensors."""
    from safetensors import safe_open

    try:
        with interrupt_held(), safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("streamfx")
    except Exception as error:  # safetensors raises its own SafetensorError and OSError variants
        raise ModelError(f"{path}: not a readable safetensors file ({str(error)[:120]})") from None
    if raw is None:
        raise ModelError(f"{path}: safetensors file without streamfx metadata")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT or int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelError(f"{path}: unsupported weight format {meta.get('format')} v{meta.get('format_version')}")
    return meta


def load_weights(path: str | Path) -> tuple[dict[str, Generator], dict]:
    """({"A2B": G, "B2A": G} for the directions present, metadata); float32, inference form, eval mode."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights not found: {path}")
    meta = read_metadata(path)
    try:
        # Held: a Ctrl-C raised inside safetensors' reader came back as a TypeError about storage shapes.
        with interrupt_held():
            tensors = load_file(str(path))
    except Exception as error:
        raise ModelError(f"{path}: cannot read tensors ({str(error)[:120]})") from None
    if tensors_sha256(tensors) != meta.get("tensors_sha256"):
        raise ModelError(f"{path}: tensor checksum does not match its metadata (corrupt or edited file)")
    generators = {}
    for direction in meta["directions"]:
        G = Generator(GNRConfig.from_dict(meta["configs"][direction])).fold_equalized_lr()
        prefix = f"{direction}."
        sd = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
        expected = G.state_dict()
        for key in expected:
            if key not in sd:
                raise ModelError(f"{path}: missing tensor {prefix}{key}")
            if sd[key].shape != expected[key].shape:
                raise ModelError(f"{path}: tensor {prefix}{key} has shape {tuple(sd[key].shape)}, "
                                 f"expected {tuple(expected[key].shape)}")
        extra = sorted(set(sd) - set(expected))
        if extra:
            raise ModelError(f"{path}: unexpected tensor {prefix}{extra[0]}")
        G.load_state_dict(sd, strict=True)
        generators[direction] = G.eval()
    return generators, meta


def weights_format(path: Path) -> str:
    """"safetensors" or "torch", read from the file's first bytes; ModelError for anything else."""
    if not path.is_file():
        raise ModelError(f"weights not found: {path}")
    with path.open("rb") as f:
        head = f.read(9)
    if head.startswith(b"PK\x03\x04") or (len(head) > 1 and head[0] == 0x80 and head[1] in (2, 3, 4, 5)):
        return "torch"  # a torch zip archive, or a legacy pickle (PROTO opcode, protocol 2-5)
    if len(head) == 9 and head[8:9] == b"{":  # safetensors: 8-byte header length, then the JSON header
        return "safetensors"
    raise ModelError(f"{path}: not a weight file (neither safetensors nor a torch checkpoint)")


def load_generators(path: str | Path) -> tuple[dict[str, Generator], dict]:
    """Either format, by file content: a safetensors file or the official torch checkpoint."""
    path = Path(path)
    if weights_format(path) == "safetensors":
        return load_weights(path)
    generators = load_official_generators(path)
    return generators, {"source": {"official_checkpoint": path.name}, "configs": {}, "directions": list(generators)}


# -- lookup ------------------------------------------------------------------------------------------------------------


def resolve_weights(spec: str | None) -> Path:
    """None -> the default model; a catalog name -> its file; otherwise a path. ModelError when absent."""
    if spec is None:
        path = entry_path(get_entry(DEFAULT_MODEL))
        if not path.is_file():
            raise ModelError(
                f"no trained default model yet ({DEFAULT_MODEL}); pass --weights PATH or --weights gnr-official "
                "after `streamfx models download gnr-official`"
            )
        return path
    candidate = Path(spec).expanduser()
    if candidate.is_file():
        return candidate
    if spec in CATALOG:
        entry = get_entry(spec)
        path = entry_path(entry)
        if not path.is_file():
            hint = f"run `streamfx models download {spec}`" if entry.drive_id else "see `streamfx models info`"
            raise ModelError(f"model {spec!r} is not in {path.parent}: {hint}")
        return path
    raise ModelError(f"weights not found: {spec} (neither a file nor a model name; see `streamfx models list`)")

