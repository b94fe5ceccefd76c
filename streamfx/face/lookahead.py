"""Zero-lag landmark smoothing for streams that can be read ahead (files).

A camera must place each face as soon as its frame arrives, so live mode filters causally (One Euro, which trails a
moving head by a frame or two). A file can wait: each frame here leaves about `reach` seconds late, its faces placed
by a fit over the track's raw observations up to `reach` seconds either side, weighted by a Gaussian in time. The
fit is centred, so it does not trail a move; it is a straight line (`order` 1), so a track's first and last frames,
with observations on one side only, are not pulled back towards the middle of the track. In the middle of a track a
line through symmetric observations is their Gaussian average. A quadratic (`order` 2) keeps more of a sudden turn
and takes off less noise. Widths are in seconds, as motion is: at 30 fps sigma 0.1 s spans 3 frames, at 60 fps 6
(more observations of the same motion, so more of the detector's noise averaged away). Chosen on the jitter clips
and the edit and anime flicker clips (docs/faces.md).
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

DEFAULT_SIGMA = 0.1  # seconds
DEFAULT_ORDER = 1  # of the polynomial fitted: a line
MAX_AHEAD = 48  # frames held at most, whatever the timestamps say (0.3 s up to 160 fps): timestamps may stall


def local_fit(offsets: np.ndarray, samples: np.ndarray, sigma: float, order: int = DEFAULT_ORDER) -> np.ndarray:
    """Value at offset 0 of a polynomial of degree `order` fitted to `samples` [N,...] at `offsets` [N] (time from
    the frame placed), each weighted by a Gaussian of `sigma` (same unit). The degree drops where the samples cannot
    carry it: to 1 when fewer than two lie on one side of 0 (a track's first or last frames), to 0 for one sample."""
    offsets = np.asarray(offsets, np.float64)
    before, after = int((offsets < 0).sum()), int((offsets > 0).sum())
    if min(before, after) < 2:
        order = min(order, 1)
    order = min(order, len(offsets) - 1)
    flat = np.asarray(samples, np.float64).reshape(len(offsets), -1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    basis = np.vander(offsets / sigma, order + 1, increasing=True)  # 1, d, d^2 in sigmas: well conditioned
    weighted = basis * weights[:, None]
    coefficients = np.linalg.lstsq(weighted.T @ basis, weighted.T @ flat, rcond=None)[0]
    return coefficients[0].reshape(np.shape(samples)[1:])


class LookaheadSmoother(Generic[Item]):
    """Holds each (item, faces) back until the faces `reach` seconds later are known, then hands it on with every
    face's landmarks and box refitted from its track's observations around it (`local_fit`). Items are anything that
    rides along with the faces (the pipeline's frames); tracks are told apart by `Face.track_id`."""

    def __init__(self, sigma: float = DEFAULT_SIGMA, order: int = DEFAULT_ORDER, reach: float | None = None):
        if not sigma > 0 or order not in (0, 1, 2):
            raise ValueError(f"look-ahead smoothing needs sigma > 0 s and order 0, 1 or 2, not {sigma}, {order}")
        self.sigma, self.order = float(sigma), int(order)
        self.reach = float(reach) if reach is not None else 3 * self.sigma
        # from `reach` before the next frame out to the newest: (item, time, raw faces)
        self._window: deque[tuple[Item, float, Sequence[Face]]] = deque()
        self._centre = 0  # where in the window the next frame out sits

    def delay(self, fps: float) -> int:
        """Frames an item is held back at `fps` frames a second."""
        return min(MAX_AHEAD, math.ceil(self.reach * fps - 1e-9))

    def push(self, item: Item, time: float, faces: Sequence[Face]) -> list[tuple[Item, list[Face]]]:
        """Take one frame's raw faces, seen at `time` seconds; return the frames now ready (oldest first)."""
        self._window.append((item, float(time), tuple(faces)))
        ready = []
        while self._centre < len(self._window) and self._seen_ahead():
            ready.append(self._release())
        return ready

    def flush(self) -> list[tuple[Item, list[Face]]]:
        """The frames still held, smoothed from what is known (the stream ended)."""
        ready = []
        while self._centre < len(self._window):
            ready.append(self._release())
        return ready

    def _seen_ahead(self) -> bool:
        """Whether the frames after the centre reach far enough for it to leave."""
        ahead = len(self._window) - 1 - self._centre
        return ahead >= MAX_AHEAD or self._window[-1][1] - self._window[self._centre][1] >= self.reach - 1e-9

    def _release(self) -> tuple[Item, list[Face]]:
        item, time, faces = self._window[self._centre]
        smoothed = [self._smoothed(face, time) for face in faces]
        self._window[self._centre] = (None, time, faces)  # history needs the faces only, not the frame
        self._centre += 1
        # keep the history a later frame still reaches back to
        while self._centre > 0 and (self._centre > MAX_AHEAD or time - self._window[0][1] >= self.reach - 1e-9):
            self._window.popleft()
            self._centre -= 1
        return item, smoothed

    def _smoothed(self, face: Face, time: float) -> Face:
        offsets, points = [], []
        for _, seen_at, faces in self._window:
            seen = next((f for f in faces if f.track_id == face.track_id), None)
            if seen is not None and abs(seen_at - time) <= self.reach + 1e-9:
                offsets.append(seen_at - time)
                points.append(face_points(seen))
        return with_points(face, local_fit(np.array(offsets), np.stack(points), self.sigma, self.order))
