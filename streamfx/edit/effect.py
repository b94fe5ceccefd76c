"""The photo edit effect for the pipeline: aligned face crops in, the same faces edited out.

The arithmetic of `render.photo_edit` on the chosen engines: the encoder and the photo decoder's generators run on
their engines (encoder and decoder graphs); style mappings stay in torch, as for every model. The edit is fixed for
the whole video, and each face's share of it (one-sided sliders, `reach.py`) is read once per face track and held,
so every frame of a face gets the same change; the change each frame's redrawing makes is averaged over the track's
recent frames (`steady.py`), so the decoder's frame-to-frame noise does not flicker.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
import torch.nn.functional as F

from streamfx.edit.bank import Edit
from streamfx.edit.reach import HeldPositions
from streamfx.edit.render import PhotoDecoder, one_sided, photo_edit
from streamfx.edit.steady import KEEP, SteadyChange
from streamfx.face.blend import EDIT_MASK
from streamfx.pixels import to_model, to_uint8


class PhotoEditEffect:
    name = "edit"
    variants = 1
    pastes_change = True  # the composer adds (edited - crop) to the frame instead of replacing the face
    framing = "celebahq"  # the photo decoder was trained on CelebA-HQ's framing; the bank is fitted on crops aligned
    # to it as these are (`edit/framing.py`)
    paste_mask = EDIT_MASK  # narrower than a whole face's: hair edits reach the crop's top and sides

    def __init__(self, encoder, decoder: PhotoDecoder, edit: Edit, *, crop_size: int, engines: list, weights=None,
                 label: str = "", steady: float = KEEP):
        """`encoder`: engines with the photo encoder (`render.photo_encoder`); `engines`: every engine set to close at
        the end; `steady`: the share of a track's averaged change each frame keeps (0: every frame its own change)."""
        self.encoder, self.decoder, self.engines = encoder, decoder, engines
        self.crop_size, self.weights, self.label = int(crop_size), weights, label
        self.engine, self.device = encoder.engine, encoder.device
        self.description = encoder.description
        self._lock = threading.Lock()
        self._held = HeldPositions()
        self._steady = SteadyChange(steady)
        self.set_edit(edit)

    def set_edit(self, edit: Edit) -> None:
        """Switch the edit between batches; the faces' positions are read again."""
        with self._lock:
            self._edit = edit
            self._worn = self._worn_share(edit, self.crop_size)  # fixed with the edit: worked out once, not per batch
            self._held.clear()
            self._steady.clear()

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray, tracks=None) -> np.ndarray:
        with self._lock:
            edit = self._edit
            if not edit.active:
                return crops[:, None]  # nothing to change: the faces exactly as they came
            faces = to_model(crops)
            edited = photo_edit(self.encoder, self.decoder, faces, one_sided(edit, self._held, tracks))
            edited = faces + self._steady(tracks, edited - faces, self._worn)
        return to_uint8(edited)[:, None]

    @staticmethod
    def _worn_share(edit: Edit, size: int) -> torch.Tensor | None:
        """[1,S,S] the share of the change that draws something worn, upsampled onto the crop; None: none."""
        share = edit.worn_share()
        if share is None:
            return None
        return F.interpolate(share, size=(size, size), mode="bilinear", align_corners=False)[0]

    def close(self) -> None:
        for engines in self.engines:
            engines.close()
