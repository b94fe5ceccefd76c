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


def test_a_change_put_on_as_light_and_shade_keeps_the_faces_colour_where_the_share_says(face):
    """The mouth's attributes put their change on as light and shade only: the decoder's cyan teeth arrive as
    bright teeth in the mouth's own colour. The share is given on the content map's grid; elsewhere the colour
    comes through as before."""
    from streamfx.edit.composite import LUMA

    plain = cv2.GaussianBlur(face, (0, 0), 2.0)
    faces, drawn = to_model(face), to_model(plain)
    cyan = drawn.clone()
    cyan[:, 1:] += 0.3  # greener and bluer all over, nothing moves
    share = torch.zeros(1, 1, 4, 4)
    share[..., :, :2] = 1.0  # the left half of the map: shade only
    out = composite(faces, drawn, cyan, share)
    change = out - composite(faces, drawn, drawn.clone())  # the faces themselves, as the plain drawing leaves them
    left, right = change[..., 24:104, 8:48], change[..., 24:104, 80:120]
    grey = sum(w * 0.3 for w in LUMA[1:])  # the light of +0.3 in green and blue
    spread = left.amax(1) - left.amin(1)  # how far apart the channels moved, per pixel
    assert float(spread.mean()) < 0.005 and abs(float(left.mean()) - grey) < 0.01  # lifted alike: no colour (0.3)
    assert torch.allclose(right.mean((0, 2, 3)), torch.tensor([0.0, 0.3, 0.3]), atol=0.01)  # in colour
    assert torch.equal(composite(faces, drawn, cyan, torch.zeros(1, 1, 4, 4)), composite(faces, drawn, cyan))


def test_a_photo_edit_puts_the_banks_shade_only_attributes_on_as_light(face):
    """The wiring from the bank to the composite: an edit of a shade-only attribute, drawn by a decoder that turns
    the face cyan, lifts the face's light without changing its colour; the same edit marked colour comes out cyan."""
    from streamfx.edit.bank import AttributeReport, EditBank
    from streamfx.edit.render import one_sided, photo_edit

    faces = to_model(face)

    class Encoder:
        def encode(self, x):
            return torch.zeros(len(x), 4, 2, 2), torch.zeros(len(x), 3)

    def decoder(content, style):  # cyan where the code moved, by how far
        drawn = faces.expand(len(content), -1, -1, -1).clone()
        drawn[:, 1:] += content.mean((1, 2, 3)).view(-1, 1, 1, 1)
        return drawn

    def edited(shade_only: bool):
        report = AttributeReport(True, strength=1.0, shade_only=shade_only)
        bank = EditBank(["Mouth_Slightly_Open"], torch.full((1, 4, 2, 2), 0.3), torch.zeros(1, 3), "abc",
                        reports={"Mouth_Slightly_Open": report})
        return photo_edit(Encoder(), decoder, faces, one_sided(bank.edit({"mouth_open": 1.0})))

    lit, cyan = edited(True) - faces, edited(False) - faces
    assert torch.allclose(cyan.mean((0, 2, 3)), torch.tensor([0.0, 0.3, 0.3]), atol=0.01)
    assert float((lit.amax(1) - lit.amin(1)).mean()) < 0.005 and float(lit.mean()) > 0.2  # lighter, same colour
