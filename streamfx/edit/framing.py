"""Photos framed as `streamfx edit` frames faces in video, and an edit's change put back into the photo.

`streamfx edit` edits the aligned crop the face stage cuts from each frame and adds the crop's change to the frame
(`face/blend.paste_change_into`). That crop is framed like CelebA-HQ's photos (`face/align.py`, "celebahq"), on
which the photo decoder was trained. (Crops framed like GNR's training crops, as the anime effect takes them, are
13 % closer with the face 30 px of 256 higher; on them the bank's sides carried 14-58 % of calibration faces across
instead of 70-91 %.) Even so, our 5-point alignment differs face by face from CelebA-HQ's own, and directions fitted
on the photos as CelebA-HQ aligned them lose much of their effect on ours (docs/editing-log.md, session 22). So the bank
is fitted on each photo's face found and aligned as in a video, and calibrated and reported on the photo with the
crop's change pasted back, which is what the attribute classifier reads.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from streamfx.face.align import align_face, frame_to_crop, template
from streamfx.face.blend import EDIT_MASK, paste_change_into
from streamfx.pixels import to_model, to_uint8
from streamfx.training.data import load_image
from streamfx.training.keyed_cache import read_cached, write_cached
from streamfx.types import AlignedCrop

log = logging.getLogger("streamfx.edit")


@dataclass
class FramedPhotos:
    """Photos at the classifier's size (CelebA framing) and the pipeline's aligned crops of them."""

    paths: list[Path]  # the photos a face was found on
    size: int  # the photos' side, S
    crops: Tensor  # [N,3,C,C] in [-1,1]
    affines: Tensor  # [N,2,3] photo (S px) -> crop coordinates

    def __len__(self) -> int:
        return len(self.paths)

    @functools.cached_property
    def photos(self) -> Tensor:
        """[N,3,S,S] in [-1,1], read when first asked for: regression and training read only the crops (the 4,275
        fitting photos would take 840 MB)."""
        return to_model(np.stack([load_image(p, self.size) for p in self.paths]))

    def subset(self, index) -> FramedPhotos:
        index = torch.as_tensor(index)
        return FramedPhotos([self.paths[int(i)] for i in index], self.size, self.crops[index], self.affines[index])


def frame_photos(paths: list[Path], size: int, crop_size: int, framing: str = "celebahq",
                 cache: Path | None = None) -> FramedPhotos:
    """The photos at `paths` and the pipeline's `crop_size` crops of their largest face, framed as `framing` (the
    MTCNN detector and alignment video runs use, on the full-resolution photo); photos without a face are left out,
    and said so. `cache`: a file keeping the crops (about 0.02 s a photo to detect), reused for the same request."""
    from streamfx.face.detect import MTCNNDetector  # its nets load on first use

    names = [Path(p).name for p in paths]
    # The crop of a fixed, slightly turned face stands for the alignment rule: a cache cut by another is not reused.
    turned = template(256, "gnr") @ np.array([[1.0, 0.1], [-0.1, 1.0]]) + (7.0, -3.0)
    key = {"names": names, "crop_size": crop_size, "framing": framing,
           "alignment": np.round(frame_to_crop(turned, crop_size, framing), 6).tolist()}
    saved = read_cached(cache, key)
    if saved is not None:
        return _framed(paths, size, saved["found"], saved["crops"], saved["affines"])
    detector = MTCNNDetector(max_faces=1)
    found, crops, affines = [], [], []
    for i, path in enumerate(paths):
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        faces = detector.detect([image])[0]
        if not faces:
            continue
        aligned = align_face(image, faces[0], crop_size, framing)
        affine = aligned.affine.copy()
        affine[:, :2] *= image.shape[1] / size  # from the photo at full size to the photo at `size`
        found.append(i)
        crops.append(aligned.image)
        affines.append(affine)
    if len(found) < len(paths):
        log.info("no face found on %d of %d photos; left out", len(paths) - len(found), len(paths))
    crops, affines = torch.from_numpy(np.stack(crops)), torch.from_numpy(np.stack(affines))
    write_cached(cache, key, {"found": found, "crops": crops, "affines": affines})
    return _framed(paths, size, found, crops, affines)


def _framed(paths, size: int, found: list[int], crops: Tensor, affines: Tensor) -> FramedPhotos:
    return FramedPhotos([paths[i] for i in found], size, to_model(crops.numpy()), affines)


def put_back(photos: Tensor, crops: Tensor, edited: Tensor, affines: Tensor) -> Tensor:
    """[N,3,S,S] the photos with each crop's change (edited - crop) pasted in as `streamfx edit` pastes it into a
    frame (under `EDIT_MASK`, 8-bit)."""
    out = []
    for photo, crop, drawn, affine in zip(to_uint8(photos), to_uint8(crops), to_uint8(edited.clamp(-1, 1)), affines):
        canvas = photo.copy()
        paste_change_into(canvas, drawn, AlignedCrop(crop, affine.numpy().astype(np.float64), None),
                          mask_margin=EDIT_MASK[0], feather=EDIT_MASK[1])
        out.append(canvas)
    return to_model(np.stack(out)).to(photos.device)
