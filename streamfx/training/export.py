"""Export the EMA generators of a training checkpoint to the streamfx weight format, with provenance."""

from __future__ import annotations

import logging
import platform
import subprocess
from pathlib import Path

import torch

from streamfx.errors import ModelError
from streamfx.models.gnr import GNRConfig, Generator
from streamfx.training import checkpoint as ckpt

log = logging.getLogger("streamfx.training")


def git_commit(repo: Path | None = None) -> str:
    """The checked-out commit (with '+dirty' when the tree has changes), or 'unknown' outside git."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def ema_generators(checkpoint_dir: Path, live: bool = False) -> tuple[dict[str, Generator], dict]:
    """({"A2B": G, "B2A": G} EMA generators in training form, checkpoint meta) from a training checkpoint.

    `live=True` takes the generators being trained instead (useful only for very short runs)."""
    tensors, meta = ckpt.read_checkpoint(checkpoint_dir)
    config = GNRConfig.from_dict(meta["config"]["model"])
    generators = {}
    for direction in ("A2B", "B2A"):
        prefix = f"model/G_{direction}/" if live else f"model/G_{direction}_ema/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state:
            raise ModelError(f"checkpoint has no {prefix.split('/')[1]}: {checkpoint_dir}")
        generator = Generator(config)
        generator.load_state_dict(state)
        generators[direction] = generator.eval()
    return generators, meta


def teacher_name(folder: Path) -> str:
    """A teacher's name from its output folder: `.../teacher_jpface/celebahq256` -> `jpface`."""
    folder = Path(folder)
    return folder.parent.name.removeprefix("teacher_") if folder.parent.name.startswith("teacher_") else folder.name


def teacher_anchors(b2a: Generator, teacher_dirs: list[str], celeba_dir: Path | None,
                    count: int = 256) -> dict[str, list[float]]:
    """{teacher: z} where z is the mean style B2A reads from `count` of the teacher's training outputs.

    Eight numbers per teacher, not images: they let a user pick the teacher's look (`--style-anchor`)."""
    from streamfx.training.data import CELEBAHQ, load_batch, teacher_pairs
    from streamfx.training.evaluate import style_anchor

    anchors = {}
    for folder in map(Path, teacher_dirs):
        if not folder.is_dir():
            log.warning("teacher folder %s not found: no anchor for it", folder)
            continue
        targets = [t for _, t in teacher_pairs(Path(celeba_dir or CELEBAHQ), [folder])][:count]
        z = style_anchor(b2a, load_batch(targets, b2a.config.size))
        anchors[teacher_name(folder)] = [round(float(v), 6) for v in z[0]]
    return anchors


def provenance(meta: dict, device: str) -> dict:
    """Metadata stored with exported weights: what data, how long, where, which code."""
    return {
        "source": "streamfx training (GANs N' Roses recipe)",
        "data": meta.get("data", {}),
        "steps": int(meta["step"]),
        "wall_seconds": round(float(meta["wall_seconds"]), 1),
        "device": device,
        "train_config": meta["config"],
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "host": platform.node(),
        "perceptual_loss": "LPIPS, shift-tolerant VGG16 (stlpips-pytorch 0.0.2 weights)",
        **({"started_from": meta["started_from"]} if meta.get("started_from") else {}),
    }


def export_weights(checkpoint_dir: Path, output: Path, device: str = "unknown",
                   dtype: torch.dtype = torch.float32) -> str:
    """Write the EMA generators of `checkpoint_dir` to `output` with `streamfx.weights.save_weights`; returns sha256."""
    try:
        from streamfx.weights import save_weights
    except ImportError as error:  # the weights module is another part of the project
        raise ModelError(f"streamfx.weights is not available: {error}") from None
    generators, meta = ema_generators(checkpoint_dir)
    metadata = provenance(meta, device)
    teachers = list(meta.get("data", {}).get("teacher_pairs", {}))
    if teachers:
        metadata["style_anchors"] = teacher_anchors(generators["B2A"], teachers, None)
    digest = save_weights(Path(output), generators, metadata, dtype=dtype)
    log.info("exported %s (step %d, sha256 %s)", output, meta["step"], digest)
    return digest
