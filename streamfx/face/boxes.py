"""Box geometry shared by the detector and the tracker. Boxes are [N,4] float x1, y1, x2, y2 in pixels."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N,M] intersection over union between [N,4] and [M,4] boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, np.float64).reshape(1, -1, 4)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def box_area(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def to_square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around the same centre (the later MTCNN stages see square crops)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    cx = boxes[:, 0] + 0.5 * w
    cy = boxes[:, 1] + 0.5 * h
    return np.stack([cx - 0.5 * side, cy - 0.5 * side, cx + 0.5 * side, cy + 0.5 * side], axis=1)


def regress_boxes(boxes: np.ndarray, offsets: np.ndarray, extent: float = 0.0) -> np.ndarray:
    """Apply MTCNN box regression: each edge moves by its offset times the box width/height.

    `extent` is 1 for R-Net and O-Net, whose offsets were trained against inclusive pixel widths (x2 - x1 + 1).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    w = boxes[:, 2] - boxes[:, 0] + extent
    h = boxes[:, 3] - boxes[:, 1] + extent
    scale = np.stack([w, h, w, h], axis=1)
    return boxes + np.asarray(offsets, np.float64).reshape(-1, 4) * scale


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """[N,size,size,3] uint8: each box cut from `image` and resized; parts outside the image are black.

    Black padding (as in the original MTCNN) keeps the face where the network expects it inside the crop,
    so faces cut by the frame edge still get correct landmarks.
    """
    import cv2

    height, width = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.uint8)
    # The weights were trained on MATLAB's 1-based inclusive boxes: a box covers pixel columns
    # trunc(x1)-1 .. trunc(x2)-1 (0-based). Matching that convention keeps landmarks within ~1 px of the reference.
    for i, box in enumerate(np.trunc(np.asarray(boxes, np.float64).reshape(-1, 4)).astype(np.int64)):
        x1, y1, x2, y2 = int(box[0]) - 1, int(box[1]) - 1, int(box[2]), int(box[3])
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        ix1, iy1, ix2, iy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if ix2 <= ix1 or iy2 <= iy1:
            continue
        if (ix1, iy1, ix2, iy2) == (x1, y1, x2, y2):
            patch = image[y1:y2, x1:x2]
        else:
            patch = np.zeros((y2 - y1, x2 - x1, 3), dtype=np.uint8)
            patch[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] = image[iy1:iy2, ix1:ix2]
        patch = _halved_while_larger(patch, 8 * size)
        shrink = patch.shape[0] > size or patch.shape[1] > size
        out[i] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out


def _halved_while_larger(patch: np.ndarray, side: int) -> np.ndarray:
    """Exact 2x2-area halvings (OpenCV's fast integer path; an odd last row or column is dropped) while both sides
    are at least `side`: a large face's crop then costs a fraction of one area resize by a fractional factor."""
    import cv2

    while patch.shape[0] >= side and patch.shape[1] >= side:
        height, width = patch.shape[0] // 2 * 2, patch.shape[1] // 2 * 2
        patch = cv2.resize(patch[:height, :width], (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    return patch
