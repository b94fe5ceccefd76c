"""Where on the face an edit draws: the cells of the 16x16 content map where its direction is strong.

The photo decoder redraws the whole face for any change of the code, so even an edit of the mouth comes back with
the skin a shade lighter and the eyes darker (docs/editing-log.md, session 45). An attribute fitted with a region
keeps its change only there: the pixels' change is scaled by the region's mask, upsampled from the content map, and
the rest of the face stays exactly as it was. The same mask, in the content map, shapes a localised direction
(`fit.localise`).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def cell_mask(magnitude: Tensor, low: float, width: float) -> Tensor:
    """[H,W] in [0,1] from per-cell `magnitude` [H,W]: cells under `low` times the median cell 0, over `low + width`
    times it 1, a ramp between; then widened by one cell and smoothed over 3x3 cells, so that the place itself stays
    whole and the mask fades out around it. All zero for a magnitude that is zero everywhere."""
    ratio = magnitude / magnitude.median().clamp_min(1e-12)
    mask = ((ratio - low) / width).clamp(0, 1)[None, None]
    mask = F.max_pool2d(mask, 3, stride=1, padding=1)
    return F.avg_pool2d(F.pad(mask, (1, 1, 1, 1), mode="replicate"), 3, stride=1)[0, 0]


def region(direction: Tensor, low: float) -> Tensor:
    """[H,W] the region of a content change [C,H,W] (or of many multiples of it, [B,C,H,W]): the cells where it is
    at least `low` times its median cell, ramping up to twice that."""
    magnitude = direction.norm(dim=-3)
    if magnitude.dim() == 3:  # faces edited by shares of one direction: the same cells, summed
        magnitude = magnitude.sum(0)
    return cell_mask(magnitude, low, low)
