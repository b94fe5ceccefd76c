"""Training checkpoints: a directory of safetensors shards (each at most `max_shard_bytes`) plus `index.json`.

Small shards carry between machines (mail, chat, size-limited storage). A tensor bigger than a shard is split into
flat chunks and rejoined on load. Each shard's SHA-256 is in the index and checked on load. A checkpoint is written
to a temporary directory and renamed into place, and `LATEST` is replaced atomically afterwards, so a crash leaves
either the old or the new checkpoint, never half of one. Nothing is unpickled: tensors come from safetensors and
everything else from JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from streamfx.errors import StreamfxError

log = logging.getLogger("streamfx.training")

MAX_SHARD_BYTES = 15_000_000
INDEX = "index.json"
LATEST = "LATEST"
FORMAT = "streamfx-train-checkpoint/1"


class CheckpointError(StreamfxError):
    """A checkpoint directory that is missing, incomplete or corrupt."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pieces(name: str, tensor: torch.Tensor, limit: int) -> list[tuple[str, torch.Tensor]]:
    """Split one tensor into flat chunks of at most `limit` bytes (one piece when it fits)."""
    tensor = tensor.detach().cpu().contiguous()
    nbytes = tensor.numel() * tensor.element_size()
    if nbytes <= limit:
        return [(name, tensor.clone())]
    per_piece = max(1, limit // tensor.element_size())
    flat = tensor.reshape(-1)
    return [(f"{name}#{i}", flat[start : start + per_piece].clone()) for i, start in enumerate(range(0, flat.numel(), per_piece))]


def _pack(tensors: dict[str, torch.Tensor], limit: int) -> tuple[list[dict[str, torch.Tensor]], dict]:
    """Greedy first-fit of pieces into shards; returns shards and {name: {shape, pieces}}."""
    shards: list[dict[str, torch.Tensor]] = []
    sizes: list[int] = []
    layout = {}
    budget = limit - 64 * 1024  # room for the safetensors header
    for name, tensor in tensors.items():
        pieces = _pieces(name, tensor, budget)
        layout[name] = {"shape": list(tensor.shape), "pieces": [p for p, _ in pieces]}
        for piece, value in pieces:
            nbytes = value.numel() * value.element_size()
            slot = next((i for i, used in enumerate(sizes) if used + nbytes <= budget), None)
            if slot is None:
                shards.append({})
                sizes.append(0)
                slot = len(shards) - 1
            shards[slot][piece] = value
            sizes[slot] += nbytes
    return shards, layout


def write_checkpoint(directory: Path, tensors: dict[str, torch.Tensor], meta: dict,
                     max_shard_bytes: int = MAX_SHARD_BYTES) -> Path:
    """Write `tensors` (any names) and JSON-able `meta` to `directory` atomically. Returns the directory."""
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shards, layout = _pack(tensors, max_shard_bytes)
    files = {}
    for i, shard in enumerate(shards):
        name = f"shard-{i:03d}.safetensors"
        save_file(shard, str(staging / name))
        files[name] = {"sha256": _sha256(staging / name), "bytes": (staging / name).stat().st_size}
    index = {"format": FORMAT, "files": files, "tensors": layout, "meta": meta}
    (staging / INDEX).write_text(json.dumps(index, indent=1, sort_keys=True))
    _fsync_dir(staging)
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(staging, directory)
    return directory


def _fsync_dir(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def read_checkpoint(directory: Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, meta) from a directory written by `write_checkpoint`; CheckpointError when anything is off."""
    directory = Path(directory)
    index_path = directory / INDEX
    if not index_path.is_file():
        raise CheckpointError(f"not a checkpoint (no {INDEX}): {directory}")
    index = json.loads(index_path.read_text())
    if index.get("format") != FORMAT:
        raise CheckpointError(f"unknown checkpoint format {index.get('format')!r} in {directory}")
    pieces: dict[str, torch.Tensor] = {}
    for name, info in index["files"].items():
        path = directory / name
        if not path.is_file() or _sha256(path) != info["sha256"]:
            raise CheckpointError(f"checkpoint shard missing or corrupt: {path}")
        pieces.update(load_file(str(path), device=str(device)))
    tensors = {}
    for name, info in index["tensors"].items():
        parts = [pieces[p] for p in info["pieces"]]
        value = parts[0] if len(parts) == 1 else torch.cat(parts)
        tensors[name] = value.reshape(info["shape"])
    return tensors, index["meta"]


def read_meta(directory: Path) -> dict:
    """The JSON meta of a checkpoint without loading its tensors."""
    index_path = Path(directory) / INDEX
    if not index_path.is_file():
        raise CheckpointError(f"not a checkpoint (no {INDEX}): {directory}")
    return json.loads(index_path.read_text())["meta"]


def latest_checkpoint(root: Path) -> Path | None:
    """The checkpoint named by `root/LATEST`, or None when there is none yet."""
    pointer = Path(root) / LATEST
    if not pointer.is_file():
        return None
    path = Path(root) / pointer.read_text().strip()
    return path if (path / INDEX).is_file() else None


def save_step(root: Path, step: int, tensors: dict, meta: dict, keep: int = 2) -> Path:
    """Write `root/step_NNNNNNN`, point LATEST at it, and delete all but the newest `keep` checkpoints."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = write_checkpoint(root / f"step_{step:07d}", tensors, meta)
    pointer_tmp = root / (LATEST + ".tmp")
    pointer_tmp.write_text(path.name)
    os.replace(pointer_tmp, root / LATEST)
    old = sorted(p for p in root.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp"))
    for stale in old[:-keep]:
        shutil.rmtree(stale, ignore_errors=True)
    return path


# -- optimizer and RNG state, as tensors + JSON -----------------------------------------------------------------------


def optimizer_state(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}/state/{index}/{key}"] = value
            else:
                scalars[f"{index}/{key}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in state["param_groups"]]
    return tensors, {"groups": groups, "scalars": scalars}


def restore_optimizer(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict[int, dict] = {}
    head = f"{prefix}/state/"
    for name, value in tensors.items():
        if name.startswith(head):
            index, key = name[len(head) :].split("/", 1)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split("/", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_state(generators: dict[str, torch.Generator]) -> tuple[dict[str, torch.Tensor], dict]:
    """Python, numpy, torch (CPU and CUDA) and named generator states."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {"rng/torch": torch.get_rng_state(), "rng/numpy": torch.from_numpy(keys.astype(np.int64))}
    if torch.cuda.is_available():
        for i, value in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = value
    for name, generator in generators.items():
        tensors[f"rng/gen/{name}"] = generator.get_state()
    meta = {"python": [version, list(words), gauss], "numpy": [kind, int(pos), int(has_gauss), float(cached)]}
    return tensors, meta


def restore_rng(generators: dict[str, torch.Generator], tensors: dict, meta: dict) -> None:
    version, words, gauss = meta["python"]
    random.setstate((version, tuple(words), gauss))
    kind, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, tensors["rng/numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(tensors["rng/torch"].cpu())
    cuda = sorted(k for k in tensors if k.startswith("rng/cuda/"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k].cpu() for k in cuda])
    for name, generator in generators.items():
        generator.set_state(tensors[f"rng/gen/{name}"].cpu())
