"""The per-frame work of each pipeline stage, free of threads and queues.

`FaceStage` finds and aligns faces; `Composer` pastes generated faces back and lays out the output
frame (plain, side-by-side, or a grid of styles). `pipeline.py` runs them in threads; the naive
benchmark loop calls them one after another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from streamfx.face.align import align_face
from streamfx.face.blend import FACE_MASK, paste_back_into, paste_change_into
from streamfx.face.lookahead import LookaheadSmoother
from streamfx.face.smoothing import frame_time
from streamfx.types import AlignedCrop, Face, VideoFrame


@dataclass(frozen=True)
class FaceWork:
    """One frame on its way through the pipeline."""

    frame: VideoFrame
    crops: tuple[AlignedCrop, ...] = ()
    generated: np.ndarray | None = None  # [F,V,S,S,3] uint8, one row per crop
    skip_effect: bool = False  # live toggle: show the input unchanged


class FaceStage:
    """Tracker update plus alignment: VideoFrame -> FaceWork with one crop per selected face.

    With a `lookahead` smoother (files), frames leave in order but a few frames late (`lookahead.delay`), faces
    placed by the smoother from the tracker's raw faces: call `push` for each frame and `flush` at the end.
    Without one, `push` hands back its own frame at once, placed as the tracker placed it.
    """

    def __init__(self, tracker, crop_size: int = 256, framing: str = "gnr", lookahead: LookaheadSmoother | None = None):
        """`framing`: the template crops are aligned to, the one the effect's model was trained on (`face/align.py`)."""
        self.tracker = tracker
        self.crop_size = int(crop_size)
        self.framing = framing
        self.lookahead = lookahead

    def __call__(self, frame: VideoFrame) -> FaceWork:
        """One frame's faces as the tracker places them (no look-ahead)."""
        return self._aligned(frame, self.tracker.update(frame))

    def push(self, frame: VideoFrame) -> list[FaceWork]:
        """The frames ready after this one arrived, oldest first."""
        if self.lookahead is None:
            return [self(frame)]
        faces = self.tracker.update(frame)
        return [self._aligned(*ready) for ready in self.lookahead.push(frame, frame_time(frame), faces)]

    def flush(self) -> list[FaceWork]:
        """The frames still held back, at the end of the stream."""
        if self.lookahead is None:
            return []
        return [self._aligned(*ready) for ready in self.lookahead.flush()]

    def _aligned(self, frame: VideoFrame, faces: list[Face]) -> FaceWork:
        crops = tuple(align_face(frame.image, face, self.crop_size, self.framing) for face in faces)
        return FaceWork(frame, crops)


@dataclass(frozen=True)
class ComposeOptions:
    mask_margin: float = FACE_MASK[0]
    feather: float = FACE_MASK[1]
    color_match: bool = False
    side_by_side: bool = False  # input | output
    change_only: bool = False  # photo edits: add the face's change to the frame instead of replacing the face


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, cols) for `count` tiles, as square as possible, wider than tall."""
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def tile_grid(images: list[np.ndarray]) -> np.ndarray:
    """Tiles [H,W,3] into a rows x cols grid, each shrunk by the column count (empty tiles black)."""
    rows, cols = grid_shape(len(images))
    height, width = images[0].shape[:2]
    tile_w, tile_h = max(2, width // cols), max(2, height // cols)
    canvas = np.zeros((rows * tile_h, cols * tile_w, 3), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        small = cv2.resize(image, (tile_w, tile_h), interpolation=cv2.INTER_AREA)
        canvas[r * tile_h:(r + 1) * tile_h, c * tile_w:(c + 1) * tile_w] = small
    return canvas


class Composer:
    """FaceWork with generated faces -> the output picture."""

    def __init__(self, options: ComposeOptions = ComposeOptions(), grid: int = 0):
        if grid > 1 and options.side_by_side:
            raise ValueError("side-by-side output and a style grid cannot be combined")
        self.options = options
        self.grid = int(grid)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the pictures `__call__` returns for a width x height input."""
        if self.grid > 1:
            rows, cols = grid_shape(self.grid)
            width, height = cols * max(2, width // cols), rows * max(2, height // cols)
        return (2 * width if self.options.side_by_side else width), height

    def __call__(self, work: FaceWork) -> np.ndarray:
        source = work.frame.image
        variants = max(self.grid, 1)
        if work.skip_effect or work.generated is None or not work.crops:
            pictures = [source] * variants
        else:
            pictures = [self._paste(source, work.crops, work.generated[:, min(v, work.generated.shape[1] - 1)])
                        for v in range(variants)]
        picture = tile_grid(pictures) if self.grid > 1 else pictures[0]
        if self.options.side_by_side:  # the command refuses side-by-side together with a grid
            picture = np.concatenate([source, picture], axis=1)
        return picture

    def _paste(self, image: np.ndarray, crops, generated: np.ndarray) -> np.ndarray:
        o = self.options
        canvas = image.copy()  # one copy per picture, however many faces
        for crop, face in zip(crops, generated):
            if o.change_only:
                paste_change_into(canvas, face, crop, mask_margin=o.mask_margin, feather=o.feather)
            else:
                paste_back_into(canvas, face, crop, mask_margin=o.mask_margin, feather=o.feather,
                                color_match=o.color_match)
        return canvas
