"""Debug drawing: boxes, track ids and landmarks over a frame."""

from __future__ import annotations

import numpy as np

from streamfx.types import Face

# One colour per landmark (RGB): eyes green, nose blue, mouth corners red.
_POINT_COLOURS = ((0, 255, 0), (0, 255, 0), (0, 128, 255), (255, 0, 0), (255, 0, 0))


def _track_colour(track_id: int) -> tuple[int, int, int]:
    # Distinct, stable colours per id from the golden-angle hue walk.
    import cv2

    hue = int((track_id * 137.508) % 180) if track_id >= 0 else 30
    hsv = np.array([[[hue, 220, 255]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_faces(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A copy of the RGB image with each face's box, id (and score) and 5 landmarks drawn."""
    import cv2

    out = np.ascontiguousarray(image).copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for face in faces:
        colour = _track_colour(face.track_id)
        x1, y1, x2, y2 = (int(round(float(v))) for v in face.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        label = f"{face.track_id} {face.score:.2f}" if face.track_id >= 0 else f"{face.score:.2f}"
        scale = 0.4 * thickness
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        ty = max(y1, th + base)
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw, ty), colour, -1)
        cv2.putText(out, label, (x1, ty - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness,
                    cv2.LINE_AA)
        for (px, py), point_colour in zip(face.landmarks, _POINT_COLOURS):
            cv2.circle(out, (int(round(float(px))), int(round(float(py)))), thickness + 1, point_colour, -1,
                       cv2.LINE_AA)
    return out
