"""The photo edit effect for the pipeline: aligned face crops in, the same faces edited out.

The arithmetic of `render.photo_edit` on the chosen engines: the encoder and the photo decoder's generators run on
their engines (encoder and decoder graphs); style mappings stay in torch, as for every model. The edit is fixed for
the whole video (one content delta, one style delta), so every frame gets the same change.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from streamfx.edit.render import PhotoDecoder, photo_edit
from streamfx.pixels import to_model, to_uint8


class PhotoEditEffect:
    name = "edit"
    variants = 1
    pastes_change = True  # the composer adds (edited - crop) to the frame instead of replacing the face

    def __init__(self, encoder, decoder: PhotoDecoder, content_delta: torch.Tensor, style_delta: torch.Tensor, *,
                 crop_size: int, engines: list, weights=None, label: str = ""):
        """`encoder`: engines with the face->anime encoder; `engines`: every engine set to close at the end."""
        self.encoder, self.decoder, self.engines = encoder, decoder, engines
        self.crop_size, self.weights, self.label = int(crop_size), weights, label
        self.engine, self.device = encoder.engine, encoder.device
        self.description = encoder.description
        self._lock = threading.Lock()
        self.set_edit(content_delta, style_delta)

    def set_edit(self, content_delta: torch.Tensor, style_delta: torch.Tensor) -> None:
        """Switch the edit between batches (the live slider keys)."""
        with self._lock:
            self._content_delta = content_delta.detach().float()
            self._style_delta = style_delta.detach().float()

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> np.ndarray:
        with self._lock:
            content_delta, style_delta = self._content_delta, self._style_delta
        if not content_delta.any() and not style_delta.any():
            return crops[:, None]  # nothing to change: the faces exactly as they came
        edited = photo_edit(self.encoder, self.decoder, to_model(crops), content_delta, style_delta)
        return to_uint8(edited)[:, None]

    def close(self) -> None:
        for engines in self.engines:
            engines.close()
