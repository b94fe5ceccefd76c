"""How an edit's redrawing is put back onto the sharp face: the face moved as the drawing moved, plus the rest.

The photo decoder draws faces softer than they are, so an edited face is never the decoder's drawing itself: it is
the input with what the edit changed. Adding the difference of the two drawings (`edited - plain`) carries colour
well but moves nothing: a smile drawn as lips shifting upwards arrives as a blurred light-dark pair over lips that
stay where they were. So the motion between the two drawings is measured (dense optical flow), the sharp face is
carried along it, and only what the motion does not explain is added: `warp(face) - warp(plain) + edited`. Lips,
mouth corners, rims and fringes then keep the face's own sharpness where they move (docs/editing-log.md, session 20).
A face whose drawing did not change comes back exactly as it was.

Some attributes' change is put on as light and shade only (`shade`): the face keeps its own colours there. The photo
decoder draws the teeth of a mouth it opens cyan; added in colour, the cyan lands on the face, while its light and
shade alone give teeth in the mouth's own warm colour (docs/editing-log.md, session 44). Some keep their change only
where they draw (`kept`, `region.py`): the decoder's drift elsewhere stays off the face (session 45).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from streamfx.pixels import to_uint8

# Farneback's parameters for 128-256 px faces: a 3-level pyramid halving each time, 15-px windows
PYRAMID_SCALE, LEVELS, WINDOW, ITERATIONS, POLY_N, POLY_SIGMA = 0.5, 3, 15, 3, 5, 1.2


LUMA = (0.299, 0.587, 0.114)  # the weights of R, G, B in a pixel's light (BT.601)


def composite(faces: Tensor, plain: Tensor, edited: Tensor, shade: Tensor | None = None,
              kept: Tensor | None = None) -> Tensor:
    """[B,3,S,S] faces in [-1,1], their plain and edited drawings -> the edited faces, unclamped. `shade`: [B,1,h,w]
    in [0,1] at any resolution (the content map's), the share of each pixel's change put on as light and shade
    only; None: all of it in colour. `kept`: the same, the share of each pixel's change kept at all; None: all."""
    changed = torch.tensor([not torch.equal(p, e) for p, e in zip(plain, edited)], device=faces.device)
    out = faces.float().clone()
    if changed.any():
        grid = sample_grid(plain[changed], edited[changed])
        carried = warp(plain[changed], grid)
        out[changed] = warp(faces[changed], grid) - carried + edited[changed].float()
        if shade is not None:
            change = edited[changed].float() - carried
            share = F.interpolate(shade[changed].float(), size=change.shape[-2:], mode="bilinear", align_corners=False)
            out[changed] -= share * (change - light(change))  # the change's colour, where it is shade only
        if kept is not None:
            share = F.interpolate(kept[changed].float(), size=out.shape[-2:], mode="bilinear", align_corners=False)
            out[changed] = faces[changed].float() + share * (out[changed] - faces[changed].float())
    return out


def light(change: Tensor) -> Tensor:
    """[B,3,S,S] a change of colour -> the same change of light in every channel (grey: no change of colour)."""
    weights = torch.tensor(LUMA, dtype=change.dtype, device=change.device).view(1, 3, 1, 1)
    return (change * weights).sum(1, keepdim=True).expand_as(change)


def sample_grid(plain: Tensor, edited: Tensor) -> Tensor:
    """[B,S,S,2] for `grid_sample`: for every pixel of the edited drawing, where it came from in the plain one."""
    height, width = plain.shape[-2:]
    pixels = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), -1)
    scale = np.float32([2 / (width - 1), 2 / (height - 1)])
    flows = [cv2.calcOpticalFlowFarneback(cv2.cvtColor(e, cv2.COLOR_RGB2GRAY), cv2.cvtColor(p, cv2.COLOR_RGB2GRAY),
                                          None, PYRAMID_SCALE, LEVELS, WINDOW, ITERATIONS, POLY_N, POLY_SIGMA, 0)
             for p, e in zip(to_uint8(plain), to_uint8(edited))]
    return torch.from_numpy((pixels + np.stack(flows)) * scale - 1).to(plain.device)


def warp(images: Tensor, grid: Tensor) -> Tensor:
    """[B,3,S,S] images sampled at `grid` (bilinear; mirrored at the borders)."""
    return F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=True)
