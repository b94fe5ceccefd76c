"""Edited faces from the two generators, in plain torch (fitting, reports and the torch engine share it).

Photo output goes face -> anime -> face (GNR's own cycle) twice, once with the edit and once without, and adds the
difference to the input: `x + (cycle(edited) - cycle(plain))`. The cycle alone reconstructs a 128-px face at about
20 dB, blurrier than the input; the difference carries only what the edit changed, so slider 0 returns the input
exactly and the face keeps its own detail. Anime output decodes the edited content with the video's style.
"""

from __future__ import annotations

import torch
from torch import Tensor


def anime_edit(g_a2b, faces: Tensor, w: Tensor, content_delta: Tensor) -> Tensor:
    """[B,3,S,S] faces -> anime faces with `content_delta` ([C,H,W] or [B,C,H,W]) added to their content."""
    content, _style = g_a2b.encode(faces)
    return g_a2b.decode(content + content_delta, w.expand(len(faces), -1))


def cycle(g_a2b, g_b2a, content: Tensor, style: Tensor, bridge_w: Tensor) -> Tensor:
    """Content and photo style of faces -> photos, through an anime rendering in the bridge style."""
    anime = g_a2b.decode(content, bridge_w.expand(len(content), -1))
    anime_content, _ = g_b2a.encode(anime)
    return g_b2a.decode(anime_content, g_b2a.mapping(style))


def photo_edit(g_a2b, g_b2a, faces: Tensor, bridge_w: Tensor, content_delta: Tensor, style_delta: Tensor,
               base: Tensor | None = None) -> Tensor:
    """[B,3,S,S] faces in [-1,1] -> edited faces, unclamped. `base` (the plain cycle of `faces`) may be passed in
    when the same faces are edited many times."""
    content, style = g_a2b.encode(faces)
    if base is None:
        base = cycle(g_a2b, g_b2a, content, style, bridge_w)
    edited = cycle(g_a2b, g_b2a, content + content_delta, style + style_delta, bridge_w)
    return faces + (edited - base)


@torch.no_grad()
def encode_all(g_a2b, faces: Tensor, chunk: int = 64) -> tuple[Tensor, Tensor]:
    """(content [N,C,H,W], style [N,latent_dim]) of many faces, in chunks."""
    parts = [g_a2b.encode(faces[i:i + chunk]) for i in range(0, len(faces), chunk)]
    return torch.cat([c for c, _ in parts]).float(), torch.cat([s for _, s in parts]).float()
