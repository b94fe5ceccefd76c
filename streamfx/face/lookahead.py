"""Zero-lag landmark smoothing for streams that can be read ahead (files).

A camera must place each face as soon as its frame arrives, so live mode filters causally (One Euro, which trails a
moving head by a frame or two). A file can wait: each frame here leaves `reach` frames late, its faces placed by a
fit over the track's raw observations up to `reach` frames either side, weighted by a Gaussian in frame distance. The
fit is centred, so it does not trail a move; it is a straight line (`order` 1), so a track's first and last frames,
with observations on one side only, are not pulled back towards the middle of the track. In the middle of a track a
line through symmetric observations is their Gaussian average. A quadratic (`order` 2) keeps more of a sudden turn and
takes off less noise. Chosen on the jitter clips and the edit and anime flicker clips (docs/faces.md).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

from streamfx.face.smoothing import face_points, with_points
from streamfx.types import Face

Item = TypeVar("Item")

DEFAULT_SIGMA = 3.0  # frames
DEFAULT_ORDER = 1  # of the polynomial fitted: a line


def local_fit(offsets: np.ndarray, samples: np.ndarray, sigma: float, order: int = DEFAULT_ORDER) -> np.ndarray:
    """Value at offset 0 of a polynomial of degree `order` fitted to `samples` [N,...] at frame `offsets` [N], each
    weighted by a Gaussian of `sigma` frames. The degree drops where the samples cannot carry it: to 1 when fewer
    than two lie on one side of 0 (a track's first or last frames), to 0 for a single sample."""
    offsets = np.asarray(offsets, np.float64)
    before, after = int((offsets < 0).sum()), int((offsets > 0).sum())
    if min(before, after) < 2:
        order = min(order, 1)
    order = min(order, len(offsets) - 1)
    flat = np.asarray(samples, np.float64).reshape(len(offsets), -1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    basis = np.vander(offsets, order + 1, increasing=True)  # 1, d, d^2
    weighted = basis * weights[:, None]
    coefficients = np.linalg.solve(weighted.T @ basis, weighted.T @ flat)
    return coefficients[0].reshape(np.shape(samples)[1:])


class LookaheadSmoother(Generic[Item]):
    """Holds each (item, faces) back until the faces `reach` frames later are known, then hands it on with every
    face's landmarks and box refitted from its track's observations around it (`local_fit`). Items are anything that
    rides along with the faces (the pipeline's frames); tracks are told apart by `Face.track_id`."""

    def __init__(self, sigma: float = DEFAULT_SIGMA, order: int = DEFAULT_ORDER, reach: int | None = None):
        if not sigma > 0 or order not in (0, 1, 2):
            raise ValueError(f"look-ahead smoothing needs sigma > 0 frames and order 0, 1 or 2, not {sigma}, {order}")
        self.sigma, self.order = float(sigma), int(order)
        self.reach = int(reach) if reach is not None else math.ceil(3 * self.sigma)
        # the frames from `reach` before the next one out to the newest: (item, raw faces)
        self._window: deque[tuple[Item, Sequence[Face]]] = deque()
        self._centre = 0  # where in the window the next frame out sits

    @property
    def delay(self) -> int:
        """Frames an item is held back."""
        return self.reach

    def push(self, item: Item, faces: Sequence[Face]) -> list[tuple[Item, list[Face]]]:
        """Take one frame's raw faces; return the frames now ready (none while the window fills, then one)."""
        self._window.append((item, tuple(faces)))
        ready = []
        while len(self._window) - 1 - self._centre >= self.reach:
            ready.append(self._release())
        return ready

    def flush(self) -> list[tuple[Item, list[Face]]]:
        """The frames still held, smoothed from what is known (the stream ended)."""
        ready = []
        while self._centre < len(self._window):
            ready.append(self._release())
        return ready

    def _release(self) -> tuple[Item, list[Face]]:
        item, faces = self._window[self._centre]
        smoothed = [self._smoothed(face) for face in faces]
        self._centre += 1
        while self._centre > self.reach:  # keep `reach` frames of history
            self._window.popleft()
            self._centre -= 1
        return item, smoothed

    def _smoothed(self, face: Face) -> Face:
        offsets, points = [], []
        for position, (_, faces) in enumerate(self._window):
            seen = next((f for f in faces if f.track_id == face.track_id), None)
            if seen is not None:
                offsets.append(position - self._centre)
                points.append(face_points(seen))
        return with_points(face, local_fit(np.array(offsets), np.stack(points), self.sigma, self.order))
