"""Greedy non-maximum suppression on [N,4] x1,y1,x2,y2 boxes (numpy)."""

from __future__ import annotations

import numpy as np


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Indices of the boxes kept, best score first.

    mode "union": overlap = intersection / union (IoU).
    mode "min": overlap = intersection / smaller area, which also removes a box nested inside a better one
    (MTCNN's last stage uses it).
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    if mode not in ("union", "min"):
        raise ValueError(f"nms mode must be 'union' or 'min', not {mode!r}")
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    area = np.maximum(x2 - x1, 0.0) * np.maximum(y2 - y1, 0.0)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0.0, None)
        h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0.0, None)
        inter = w * h
        if mode == "min":
            denom = np.minimum(area[best], area[rest])
        else:
            denom = area[best] + area[rest] - inter
        overlap = inter / np.maximum(denom, 1e-12)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float,
                mode: str = "union") -> np.ndarray:
    """NMS applied separately within each group id (e.g. image index or pyramid level); indices kept."""
    kept = [np.flatnonzero(groups == g)[nms(boxes[groups == g], scores[groups == g], threshold, mode)]
            for g in np.unique(groups)]
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)

