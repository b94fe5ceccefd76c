"""Sample grids: fixed faces x fixed style seeds, written as PNG, so grids from different steps compare directly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from streamfx.models.gnr import Generator
from streamfx.pixels import to_uint8


def tile(rows: list[Tensor], pad: int = 2) -> np.ndarray:
    """Rows of [N,3,H,W] images (same N, H, W) -> one [R*(H+pad), N*(W+pad), 3] uint8 RGB canvas, white gaps."""
    count, _, height, width = rows[0].shape
    canvas = np.full((len(rows) * (height + pad), count * (width + pad), 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(to_uint8(row)):
            y, x = r * (height + pad), c * (width + pad)
            canvas[y : y + height, x : x + width] = image
    return canvas


def write_png(path: Path, canvas: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    tmp.replace(path)
    return path


def fixed_styles(count: int, latent_dim: int, seed: int = 1234) -> Tensor:
    """[count, latent_dim] style codes that depend only on the seed."""
    return torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def translation_grid(a2b: Generator, b2a: Generator, faces: Tensor, styles: Tensor) -> np.ndarray:
    """One row per face: [face, A2B with each style..., A2B2A cycle with the face's own style].

    faces [F,3,S,S] in [-1,1]; styles [K,latent] -> canvas of F rows x (K+2) columns.
    """
    device = next(a2b.parameters()).device
    faces, w = faces.to(device), a2b.mapping(styles.to(device))  # [K,style_dim]
    rows = []
    for face in faces:
        content, own_style = a2b.encode(face[None])
        anime = a2b.decode(content.expand(len(styles), -1, -1, -1), w)  # [K,3,S,S]
        back = b2a.decode(b2a.encode(anime[:1])[0], b2a.mapping(own_style))
        rows.append(torch.cat([face[None], anime, back]).cpu())
    return tile(rows)
