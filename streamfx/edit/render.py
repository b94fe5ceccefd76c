"""Edited faces, in plain torch or on engines (fitting, reports, tests and the pipeline's effect share it).

A photo edit decodes the face's content map and style code twice, once with the edit and once without, and puts
what changed between the two drawings onto the input (`composite.py`: the input moved as the drawing moved, plus
the rest of the difference). Slider 0 therefore returns the input exactly, and the face keeps its own detail however
blurry the decoder is. The decoder is the model's face autoencoder
(A2A: an encoder with a decoder trained to redraw the photo) when the weights have one, else GNR's own
cycle, face -> anime (in a fixed bridge style) -> face, which redraws a 128-px face at about 18 dB.

A2A's encoder is the one photo edits read (`photo_encoder`). It may be the face->anime encoder itself, or one trained
with A2A's decoder: the face->anime encoder's code carries too little of the photo for any decoder to draw an edit's
teeth or glasses from (docs/editing-log.md, sessions 27-28).
"""

from __future__ import annotations

import torch
from torch import Tensor

from streamfx.edit.composite import composite


class PhotoDecoder:
    """(content maps [B,C,H,W], photo style codes [B,latent]) -> photos [B,3,S,S], unclamped.

    The generators may be torch `Generator`s or engines (`GeneratorEngines`): both offer encode/decode/mapping.
    """

    def __init__(self, a2a=None, *, a2b=None, b2a=None, bridge_w: Tensor | None = None):
        if a2a is None and (a2b is None or b2a is None or bridge_w is None):
            raise ValueError("a photo decoder needs A2A, or A2B, B2A and a bridge style")
        self.a2a, self.a2b, self.b2a = a2a, a2b, b2a
        self.bridge_w = None if bridge_w is None else bridge_w.detach().float().reshape(1, -1)

    @property
    def kind(self) -> str:
        return "A2A decoder" if self.a2a is not None else "anime cycle"

    def __call__(self, content: Tensor, style: Tensor) -> Tensor:
        if self.a2a is not None:
            return self.a2a.decode(content, self.a2a.mapping(style)).float()
        anime = self.a2b.decode(content, self.bridge_w.expand(len(content), -1))
        anime_content, _ = self.b2a.encode(anime)
        return self.b2a.decode(anime_content, self.b2a.mapping(style)).float()


def photo_encoder(generators: dict):
    """The generator whose encoder photo edits read: A2A when the weights have one, else A2B."""
    return generators["A2A"] if "A2A" in generators else generators["A2B"]


def same_encoder(a, b) -> bool:
    """Whether generators `a` and `b` read faces alike: the same encoder weights, to the rounding that folding the
    equalised-lr gains in and out and fp16 storage leave (a relative 1e-3)."""
    if a is b:
        return True
    ours, theirs = a.encoder.state_dict(), b.encoder.state_dict()
    return ours.keys() == theirs.keys() and all(
        ours[k].shape == theirs[k].shape and torch.allclose(ours[k].float(), theirs[k].float(), rtol=1e-3, atol=1e-6)
        for k in ours)


def photo_decoder(generators: dict, meta: dict, bridge: str = "jpface") -> PhotoDecoder:
    """The photo decoder of torch generators {"A2B", "B2A"[, "A2A"]} from one weight file (metadata `meta`)."""
    if "A2A" in generators:
        return PhotoDecoder(generators["A2A"])
    bridge_w = bridge_style(generators["A2B"], meta, bridge)
    return PhotoDecoder(a2b=generators["A2B"], b2a=generators["B2A"], bridge_w=bridge_w)


def bridge_style(g_a2b, meta: dict, anchor: str = "jpface") -> Tensor:
    """w of the style anchor the anime cycle renders in (zeros z when the weights name no anchors)."""
    z = meta.get("style_anchors", {}).get(anchor, [0.0] * g_a2b.config.latent_dim)
    with torch.no_grad():
        return g_a2b.mapping(torch.tensor(z, dtype=torch.float32).reshape(1, -1))


def photo_edit(encoder, decoder: PhotoDecoder, faces: Tensor, deltas, base: Tensor | None = None) -> Tensor:
    """[B,3,S,S] faces in [-1,1] -> edited faces, unclamped. `encoder`: the `photo_encoder` (or its engines);
    `deltas`: (content delta, style delta) for every face, or a function of the faces' (content, style) that gives
    them per face (one-sided edits, `reach.py`), followed there by the shares of the change put on as light and
    shade only (`Edit.shade`) and kept at all (`Edit.kept`), None where they are whole; `base` (the plain decoding
    of `faces`) may be passed in when the same faces are edited many times."""
    content, style = encoder.encode(faces)
    parts = deltas(content, style) if callable(deltas) else deltas
    content_delta, style_delta, shade, kept = (*parts, None, None)[:4]
    if base is None:
        base = decoder(content, style)
    edited = decoder(content + content_delta, style + style_delta)
    return composite(faces, base, edited, shade, kept)


def one_sided(edit, held=None, tracks=None):
    """The `deltas` function of `photo_edit` for an `Edit`: each face moved as far as its position says, the
    positions held per face track by `held` (a `reach.HeldPositions`) when given."""
    def deltas(content: Tensor, style: Tensor):
        positions = edit.positions(content, style)
        if positions is not None and held is not None:
            positions = held(tracks, positions)
        count = len(content)
        return *edit.for_faces(count, positions), edit.shade(count, positions), edit.kept(count, positions)
    return deltas


@torch.no_grad()
def encode_all(encoder, faces: Tensor, chunk: int = 64) -> tuple[Tensor, Tensor]:
    """(content [N,C,H,W], style [N,latent_dim]) of many faces by `encoder` (a generator), in chunks."""
    parts = [encoder.encode(faces[i:i + chunk]) for i in range(0, len(faces), chunk)]
    return torch.cat([c for c, _ in parts]).float(), torch.cat([s for _, s in parts]).float()
