"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012): an adaptive low-pass for noisy tracked points.

Slow motion gets a low cutoff (jitter removed); fast motion raises the cutoff (little lag). Time steps come
from the caller (frame timestamps), so variable frame rate is handled.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from streamfx.types import Face


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    # Exponential smoothing factor of a first-order low-pass with this cutoff at this step.
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array of any shape element-wise.

    min_cutoff (Hz): cutoff at rest; lower = smoother, more lag when moving slowly.
    beta: how fast the cutoff rises with speed; higher = less lag on fast moves.
    d_cutoff (Hz): cutoff of the speed estimate.
    Speeds are divided by the `scale` given with each sample (e.g. the face size in pixels), so one setting
    suits small and large faces alike.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0,
                 default_dt: float = 1.0 / 30.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("One Euro filter needs min_cutoff > 0, d_cutoff > 0, beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.default_dt = default_dt
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float | None, scale: float = 1.0) -> np.ndarray:
        """Filtered value of sample `x` taken at time `t` (seconds)."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = self.default_dt if t is None or self._t is None else t - self._t
        if not dt > 0:  # repeated or out-of-order timestamp
            dt = self.default_dt
        self._t = t
        speed = (x - self._x) / dt / max(scale, 1e-6)
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (speed - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        return self._x.copy()


def face_points(face: Face) -> np.ndarray:
    """The points a smoother follows: the 5 landmarks and the box's 2 corners, [7,2] float64 pixels."""
    return np.concatenate([face.landmarks.reshape(5, 2), face.box.reshape(2, 2)]).astype(np.float64)


def with_points(face: Face, points: np.ndarray) -> Face:
    """`face` with landmarks and box taken from [7,2] `points` (as `face_points` lays them out)."""
    return replace(face, landmarks=points[:5].astype(np.float32), box=points[5:].reshape(4).astype(np.float32))


def frame_time(frame) -> float:
    """A frame's time in seconds for smoothing: its timestamp, or its index at 30 fps when it has none."""
    return frame.time if frame.time is not None else frame.index / 30.0
