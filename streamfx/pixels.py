"""The one conversion between uint8 RGB pixels and the generator's value range.

The GNR generators (ours and the official ones) take and give RGB in [-1,1]: x = pixel / 127.5 - 1 on the way
in, pixel = round((clamp(y, -1, 1) + 1) * 127.5) on the way out (the network's output is not clamped). The
round trip of every uint8 value is exact. MTCNN has its own normalization (`face/mtcnn.py`), not this one.
"""

from __future__ import annotations

import numpy as np
import torch


def to_model(images: np.ndarray) -> torch.Tensor:
    """uint8 RGB [H,W,3] or [B,H,W,3] -> float32 [B,3,H,W] in [-1,1] on the CPU (a single image gets B = 1).

    The result is a permuted view of the pixels' own (channels-last) layout, not an NCHW-contiguous copy.
    """
    array = np.ascontiguousarray(images)
    if array.dtype != np.uint8 or array.ndim not in (3, 4) or array.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB [H,W,3] or [B,H,W,3], got {array.dtype} {array.shape}")
    if array.ndim == 3:
        array = array[None]
    x = torch.from_numpy(array).permute(0, 3, 1, 2).float()
    return x.div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B,3,H,W] or [3,H,W], nominally [-1,1] (clamped here) -> uint8 RGB [B,H,W,3] or [H,W,3] numpy, on the CPU."""
    if images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(f"expected [B,3,H,W] or [3,H,W], got {tuple(images.shape)}")
    x = images.detach().float().clamp(-1.0, 1.0).add(1.0).mul(127.5).round().to(torch.uint8)
    channels_last = (0, 2, 3, 1) if x.ndim == 4 else (1, 2, 0)
    return x.permute(*channels_last).contiguous().cpu().numpy()
