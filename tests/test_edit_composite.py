"""Putting an edit's redrawing back onto the sharp face: what moved is carried, what changed colour is added."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from streamfx.edit.composite import composite
from streamfx.pixels import to_model

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "astronaut.mp4"


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """The sample's first frame, its middle square at 128 px: real skin, hair and edges."""
    with av.open(str(SAMPLE)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    side = min(frame.shape[:2])
    top, left = (frame.shape[0] - side) // 2, (frame.shape[1] - side) // 2
    return cv2.resize(frame[top:top + side, left:left + side], (128, 128), interpolation=cv2.INTER_AREA)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), image.shape[1::-1],
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def inner(x: torch.Tensor) -> torch.Tensor:
    return x[..., 16:-16, 16:-16]


def test_a_drawing_that_moved_carries_the_sharp_face_along(face):
    """The decoder draws softly; when its drawing shifts by a few pixels, the face shifts with it and keeps its
    detail, where adding the difference leaves a ghost of the shift over a face that stayed put."""
    plain = cv2.GaussianBlur(face, (0, 0), 2.0)
    faces, drawn, moved = (to_model(x) for x in (face, plain, shifted(plain, 3, 2)))
    truth = to_model(shifted(face, 3, 2))
    carried = composite(faces, drawn, moved)
    added = faces + (moved - drawn)
    carried_error = float(inner(carried - truth).abs().mean())
    added_error = float(inner(added - truth).abs().mean())
    assert carried_error < 0.5 * added_error and carried_error < 0.04, (carried_error, added_error)


def test_a_change_of_colour_is_added_as_it_is(face):
    plain = cv2.GaussianBlur(face, (0, 0), 2.0)
    faces, drawn = to_model(face), to_model(plain)
    tinted = drawn.clone()
    tinted[:, 0] += 0.2  # redder all over, nothing moves
    out = composite(faces, drawn, tinted)
    assert float(inner(out - (faces + (tinted - drawn))).abs().mean()) < 0.01


def test_faces_whose_drawing_did_not_change_come_back_exactly(face):
    plain = cv2.GaussianBlur(face, (0, 0), 2.0)
    faces = to_model(np.stack([face, face[::-1].copy()]))
    drawn = to_model(np.stack([plain, plain[::-1].copy()]))
    edited = drawn.clone()
    edited[0] = to_model(shifted(plain, 2, 0))[0]
    out = composite(faces, drawn, edited)
    assert torch.equal(out[1], faces[1]) and not torch.equal(out[0], faces[0])
    assert torch.equal(composite(faces, drawn, drawn.clone()), faces)
