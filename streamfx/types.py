"""Typed records passed between stages. Frozen so a stage cannot change another stage's data."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class VideoFrame:
    """One decoded picture, upright, with its presentation time."""

    index: int  # position in decode order, from 0
    image: np.ndarray  # [H,W,3] uint8 RGB
    pts: int | None  # in time_base units, as in the source stream
    time_base: Fraction

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or None when the source gave no pts."""
        return None if self.pts is None else float(self.pts * self.time_base)


@dataclass(frozen=True)
class Face:
    """One detected face in frame pixel coordinates."""

    box: np.ndarray  # [4] float32 x1, y1, x2, y2
    landmarks: np.ndarray  # [5,2] float32: left eye, right eye, nose, mouth left, mouth right
    score: float
    track_id: int = -1  # -1 until a tracker assigns one


@dataclass(frozen=True)
class AlignedCrop:
    """A face warped to the model's square template, and the warp that made it."""

    image: np.ndarray  # [S,S,3] uint8 RGB
    affine: np.ndarray  # [2,3] float64, frame -> crop
    face: Face
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def inverse_affine(self) -> np.ndarray:
        """[2,3] crop -> frame."""
        import cv2

        return cv2.invertAffineTransform(self.affine)
