"""Paste a generated face crop back into its frame: inverse warp, feathered mask, optional colour match."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from streamfx.types import AlignedCrop

FACE_MASK = (0.06, 0.12)  # (margin, feather) pasting a whole generated face: its crop's edges never show
# (margin, feather) of the mask a photo edit's change is pasted under. The whole-face mask (`FACE_MASK`) fades out
# the top and sides of the crop, where the hair is: at the same strengths black_hair -1 carried 38 % of calibration
# faces across under it and 69 % under this one, mouth_open +1 47 % and 62 % (docs/editing-log.md, session 23). Only
# the change is pasted, near zero where the edit does not act; a hair edit can show the crop's top as a line.
EDIT_MASK = (0.01, 0.04)


def feather_mask(size: int, margin: float = 0.1, feather: float = 0.1) -> np.ndarray:
    """[size,size] float32 in [0,1]: 0 over `margin` of the side at each edge, then a soft ramp about `feather`
    of the side wide up to 1 in the middle."""
    if not (0.0 <= margin < 0.5) or feather < 0.0:
        raise ValueError(f"mask margin must be in [0,0.5) and feather >= 0, got {margin}, {feather}")
    mask = np.zeros((size, size), np.float32)
    edge = int(round(margin * size))
    # The flat part stops half a feather width inside the margin, so the blurred ramp has reached ~0 (2 sigma)
    # where the margin starts and zeroing the margin leaves no visible step.
    inner = min(int(round(edge + 0.5 * feather * size)), size // 2 - 1)
    mask[inner : size - inner, inner : size - inner] = 1.0
    sigma = feather * size / 4.0
    if sigma > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_CONSTANT)
        mask[:edge, :] = 0.0  # the crop's own border must never show
        mask[size - edge :, :] = 0.0
        mask[:, :edge] = 0.0
        mask[:, size - edge :] = 0.0
    return mask


@functools.lru_cache(maxsize=8)
def _shared_mask(size: int, margin: float, feather: float) -> np.ndarray:
    """The feather mask, computed once per shape: a Gaussian blur of the whole square per face per frame was a
    measurable share of the paste stage at 720p."""
    mask = feather_mask(size, margin, feather)
    mask.flags.writeable = False
    return mask


def paste_back(frame: np.ndarray, generated: np.ndarray, crop: AlignedCrop, *,
               mask_margin: float = FACE_MASK[0], feather: float = FACE_MASK[1],
               color_match: bool = False) -> np.ndarray:
    """A new frame with `generated` ([S,S,3] uint8, same framing as `crop`) blended over the face.

    Only the frame rectangle under the mask's nonzero part is warped; faces partly outside the frame are clipped.
    color_match moves the generated face's Lab mean and std inside the mask to those of the frame's face.
    """
    out = frame.copy()
    paste_back_into(out, generated, crop, mask_margin=mask_margin, feather=feather, color_match=color_match)
    return out


def paste_back_into(canvas: np.ndarray, generated: np.ndarray, crop: AlignedCrop, *,
                    mask_margin: float = FACE_MASK[0], feather: float = FACE_MASK[1],
                    color_match: bool = False) -> None:
    """`paste_back` in place: the composer copies a frame once, however many faces it holds."""
    size = generated.shape[0]
    if generated.shape[:2] != (size, size) or crop.image.shape[0] != size:
        raise ValueError(f"generated face {generated.shape} does not match the crop {crop.image.shape}")
    if color_match:  # in crop space, where the crop itself is the frame's face
        generated = match_color(generated, crop.image, _shared_mask(size, mask_margin, feather) > 0.5)
    placed = _placement(crop, size, canvas.shape[:2], _mask_extent(size, mask_margin, feather))
    if placed is None:
        return  # the face is entirely outside the frame
    (x0, y0, x1, y1), inverse, shape = placed
    # The face, premultiplied by its mask, and the mask travel as one 4-channel picture: OpenCV's warp has a vector
    # path for 4 channels (not for 3), and one bilinear warp of a crop first enlarged 2x by a bicubic resize looks
    # like a bicubic warp at a third of the cost (43-57 dB apart over the pasted pixels at 720p).
    factor = UPSAMPLE if _drawn_scale(inverse) > UPSAMPLE_ABOVE else 1
    warped = cv2.warpAffine(_premultiplied_face(generated, factor, mask_margin, feather), _finer_grid(inverse, factor),
                            shape, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    # face*alpha + background*(1-alpha) in 8-bit saturating vector ops: half the time of a float blend
    keep = cv2.cvtColor(cv2.bitwise_not(warped[:, :, 3]), cv2.COLOR_GRAY2RGB)
    background = canvas[y0:y1, x0:x1]
    canvas[y0:y1, x0:x1] = cv2.add(cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB),
                                   cv2.multiply(background, keep, scale=1 / 255))


UPSAMPLE = 2  # the crop is enlarged this much before the warp when it is drawn larger than UPSAMPLE_ABOVE
UPSAMPLE_ABOVE = 1.5


def _drawn_scale(inverse: np.ndarray) -> float:
    """Frame pixels per crop pixel of a crop -> frame affine."""
    return float(np.sqrt(abs(np.linalg.det(inverse[:, :2]))))


def _premultiplied_face(generated: np.ndarray, factor: int, mask_margin: float, feather: float) -> np.ndarray:
    """[S*f,S*f,4] uint8: the face (bicubic-enlarged by `factor`) times the feather mask, with the mask as alpha."""
    size = generated.shape[0]
    if factor != 1:
        generated = cv2.resize(generated, (size * factor, size * factor), interpolation=cv2.INTER_CUBIC)
    # RGB -> RGBA sets alpha to 255, so one multiply by the 4-channel mask also writes the mask into alpha
    # (an order of magnitude faster than stacking the channels with numpy)
    return cv2.multiply(cv2.cvtColor(generated, cv2.COLOR_RGB2RGBA), _shared_alpha(size, factor, mask_margin, feather),
                        scale=1 / 255)


@functools.lru_cache(maxsize=8)
def _shared_alpha(size: int, factor: int, margin: float, feather: float) -> np.ndarray:
    """[S*f,S*f,4] uint8: the crop's feather mask as 8-bit alpha in every channel, enlarged bilinearly (the mask's
    shape stays the crop size's)."""
    mask = _shared_mask(size, margin, feather)
    if factor != 1:
        mask = cv2.resize(mask, (size * factor, size * factor), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.merge([np.round(mask * 255).astype(np.uint8)] * 4)
    alpha.flags.writeable = False
    return alpha


def _finer_grid(inverse: np.ndarray, factor: int) -> np.ndarray:
    """The crop -> frame affine re-expressed for the crop enlarged `factor` times (pixel centres kept)."""
    if factor == 1:
        return inverse
    finer = inverse.copy()
    finer[:, :2] /= factor
    finer[:, 2] += inverse[:, :2] @ np.full(2, 0.5 / factor - 0.5)
    return finer


def paste_change(frame: np.ndarray, generated: np.ndarray, crop: AlignedCrop, *,
                 mask_margin: float = FACE_MASK[0], feather: float = FACE_MASK[1]) -> np.ndarray:
    """A new frame with the change `generated - crop.image` added over the face (photo edits).

    The frame keeps its own pixels and only the edit's difference is warped back, so a face larger than the model's
    crop keeps its full-resolution detail, and a crop returned unchanged leaves the frame bit-identical.
    """
    out = frame.copy()
    paste_change_into(out, generated, crop, mask_margin=mask_margin, feather=feather)
    return out


def paste_change_into(canvas: np.ndarray, generated: np.ndarray, crop: AlignedCrop, *,
                      mask_margin: float = FACE_MASK[0], feather: float = FACE_MASK[1]) -> None:
    """`paste_change` in place."""
    size = generated.shape[0]
    if generated.shape != crop.image.shape:
        raise ValueError(f"generated face {generated.shape} does not match the crop {crop.image.shape}")
    change = generated.astype(np.float32) - crop.image.astype(np.float32)
    placed = _placement(crop, size, canvas.shape[:2], _mask_extent(size, mask_margin, feather))
    if placed is None or not change.any():
        return
    (x0, y0, x1, y1), inverse, shape = placed
    change = cv2.warpAffine(change, inverse, shape, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(_shared_mask(size, mask_margin, feather), inverse, shape, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)
    edited = canvas[y0:y1, x0:x1].astype(np.float32) + alpha[:, :, None] * change
    canvas[y0:y1, x0:x1] = np.clip(edited + 0.5, 0, 255).astype(np.uint8)


def _placement(crop: AlignedCrop, size: int, frame_hw: tuple[int, int], extent: tuple[float, float] | None = None):
    """(frame rectangle, crop -> rectangle affine, rectangle (w, h)) of the part `extent` (crop pixels, lo to hi on
    both axes; default the whole square) of a crop, or None when it is off the frame."""
    region = _covered_rect(crop.affine, (0.0, float(size)) if extent is None else extent, frame_hw)
    if region is None:
        return None
    x0, y0, x1, y1 = region
    inverse = cv2.invertAffineTransform(crop.affine)
    inverse[:, 2] -= (x0, y0)  # crop -> region coordinates
    return region, inverse, (x1 - x0, y1 - y0)


def _covered_rect(affine: np.ndarray, extent: tuple[float, float], frame_hw: tuple[int, int]
                  ) -> tuple[int, int, int, int] | None:
    """Frame rectangle (x0, y0, x1, y1) covered by the crop square from `extent[0]` to `extent[1]` on both axes,
    clipped to the frame; None when empty."""
    inverse = cv2.invertAffineTransform(affine)
    lo, hi = extent
    corners = np.array([[lo, lo], [hi, lo], [lo, hi], [hi, hi]], np.float64) @ inverse[:, :2].T + inverse[:, 2]
    height, width = frame_hw
    x0 = max(int(np.floor(corners[:, 0].min())), 0)
    y0 = max(int(np.floor(corners[:, 1].min())), 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 1, width)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 1, height)
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


@functools.lru_cache(maxsize=8)
def _mask_extent(size: int, margin: float, feather: float) -> tuple[float, float]:
    """Crop coordinates (lo, hi) that hold every nonzero pixel of the feather mask, with a pixel to spare for the
    bilinear warp: only that part of the crop needs pasting (about 3/4 of its area at the default margin)."""
    used = np.nonzero(_shared_mask(size, margin, feather).any(axis=0))[0]
    if len(used) == 0:
        return 0.0, 0.0
    return float(max(used[0] - 1, 0)), float(min(used[-1] + 2, size))


def match_color(source: np.ndarray, target: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`source` (uint8 RGB) with its Lab mean/std inside `where` moved to those of `target` there
    (Reinhard et al. 2001 colour transfer)."""
    if where.sum() < 16:
        return source
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    tgt = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    src_mean, src_std = src[where].mean(0), src[where].std(0)
    tgt_mean, tgt_std = tgt[where].mean(0), tgt[where].std(0)
    gain = tgt_std / np.maximum(src_std, 1.0)  # a flat source must not blow up
    matched = (src - src_mean) * gain + tgt_mean
    return cv2.cvtColor(np.clip(matched + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
