"""The photo edit effect for the pipeline: aligned face crops in, the same faces edited out.

The same arithmetic as `render.photo_edit`, on the chosen engines: both generators run on their engines (encoder
and decoder graphs); the B->A mapping of the per-face style codes stays in torch, as for every model. The edit is
fixed for the whole video (one content delta, one style delta), so every frame gets the same change.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from streamfx.pixels import to_model, to_uint8


class PhotoEditEffect:
    name = "edit"
    variants = 1
    pastes_change = True  # the composer adds (edited - crop) to the frame instead of replacing the face

    def __init__(self, engines_a2b, engines_b2a, bridge_w: torch.Tensor, content_delta: torch.Tensor,
                 style_delta: torch.Tensor, *, crop_size: int, weights=None, label: str = ""):
        self.engines_a2b, self.engines_b2a = engines_a2b, engines_b2a
        self.bridge_w = bridge_w.detach().float().reshape(1, -1)
        self.crop_size, self.weights, self.label = int(crop_size), weights, label
        self.engine, self.device = engines_a2b.engine, engines_a2b.device
        self.description = engines_a2b.description
        self._lock = threading.Lock()
        self.set_edit(content_delta, style_delta)

    def set_edit(self, content_delta: torch.Tensor, style_delta: torch.Tensor) -> None:
        """Switch the edit between batches (the live slider keys)."""
        with self._lock:
            self._content_delta = content_delta.detach().float()
            self._style_delta = style_delta.detach().float()

    def _cycle(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        anime = self.engines_a2b.decode(content, self.bridge_w.expand(len(content), -1))
        anime_content, _ = self.engines_b2a.encode(anime)
        return self.engines_b2a.decode(anime_content, self.engines_b2a.mapping(style)).float()

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> np.ndarray:
        with self._lock:
            content_delta, style_delta = self._content_delta, self._style_delta
        if not content_delta.any() and not style_delta.any():
            return crops[:, None]  # nothing to change: the faces exactly as they came
        faces = to_model(crops)
        content, style = self.engines_a2b.encode(faces)
        count = len(faces)
        photos = self._cycle(torch.cat([content, content + content_delta]), torch.cat([style, style + style_delta]))
        edited = faces + (photos[count:] - photos[:count])
        return to_uint8(edited)[:, None]

    def close(self) -> None:
        self.engines_a2b.close()
        self.engines_b2a.close()
