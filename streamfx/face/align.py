"""Similarity alignment of a face to a square crop from its 5 landmarks: framed like the GANs N' Roses training
crops (the anime model: least squares to a template), or like CelebA-HQ's photos (photo edits, whose decoder was
trained on those photos: CelebA-HQ's own crop rule, from the eye and mouth centres)."""

from __future__ import annotations

import cv2
import numpy as np

from streamfx.types import AlignedCrop, Face

# Landmark template for a 256x256 crop: left eye, right eye, nose, mouth left, mouth right.
# Derived from the training data itself: our MTCNN on 291 selfie2anime trainA images (every 10th file) gave mean
# landmarks LE (93.3, 90.8), RE (166.7, 90.3), N (130.2, 136.4), ML (98.9, 166.5), MR (160.4, 166.0), std ~13 px.
# Mirrored about x = 128 because training also flips images horizontally. The framing is loose (mean MTCNN box
# 161x209 px, i.e. the crop is about that box scaled 1.2-1.6), as the GNR model expects.
TEMPLATE_256 = np.array(
    [[91.3, 90.5], [164.7, 90.5], [128.0, 136.4], [97.2, 166.3], [158.8, 166.3]], dtype=np.float64
)

# The same five points on CelebA-HQ's 256-px photos: our MTCNN on 475 training photos (every 10th) gave LE (96.9,
# 121.9), RE (160.4, 121.9), N (127.8, 161.6), ML (100.0, 188.7), MR (156.7, 188.5), std ~4 px; mirrored as above.
# The face sits lower and smaller than in GNR's crops (eyes 63 px apart at y = 122, against 73 px at y = 90).
# Where a CelebA-HQ face's landmarks sit on average; its crop is cut by `celebahq_crop`, not fitted to these.
CELEBAHQ_TEMPLATE_256 = np.array(
    [[96.3, 121.9], [159.7, 121.9], [128.0, 161.6], [99.6, 188.6], [156.4, 188.6]], dtype=np.float64
)
TEMPLATES = {"gnr": TEMPLATE_256, "celebahq": CELEBAHQ_TEMPLATE_256}  # framing name -> template

# Below this scale (crop pixels per frame pixel) warping aliases; the region is halved by 2x2 averaging first.
_MIN_DIRECT_SCALE = 0.5


def template(size: int = 256, framing: str = "gnr") -> np.ndarray:
    """[5,2] template landmarks for a size x size crop framed as `framing` ("gnr" or "celebahq")."""
    return TEMPLATES[framing] * (size / 256.0)


def frame_to_crop(landmarks: np.ndarray, size: int = 256, framing: str = "gnr") -> np.ndarray:
    """[2,3] float64 frame -> crop similarity (rotation, uniform scale, translation) of a face framed as `framing`."""
    if framing == "celebahq":
        return celebahq_crop(landmarks, size)
    return _fit_template(landmarks, template(size, framing))


def celebahq_crop(landmarks: np.ndarray, size: int = 256) -> np.ndarray:
    """[2,3] frame -> crop similarity for the square CelebA-HQ's photos were cut by (Karras et al. 2018, appendix
    C). Its axis blends the eye line with the eyes-to-mouth line, its centre is a tenth of the way from the eyes to
    the mouth, and its half side is the larger of 2x the eye distance and 1.8x the eyes-to-mouth distance. On
    CelebA-HQ's own photos our MTCNN points cut crops 3.0 px (of 256) from the photo on average, against 4.1 px for
    the least-squares fit to the mean landmarks, whose scale wanders with the face's proportions and pose."""
    points = np.asarray(landmarks, np.float64).reshape(5, 2)
    eyes, mouth = points[:2].mean(0), points[3:].mean(0)
    eye_line, down = points[1] - points[0], mouth - eyes
    across = eye_line + np.array([down[1], -down[0]])  # the eye line plus the face's axis turned a quarter
    norm = float(np.hypot(*across))
    if norm < 1e-6 or not np.all(np.isfinite(points)):
        return _similarity_from_spread(points, template(size, "celebahq"))
    half = across / norm * max(2.0 * float(np.hypot(*eye_line)), 1.8 * float(np.hypot(*down)))
    half_down = np.array([-half[1], half[0]])
    centre = eyes + 0.1 * down
    corners = np.float32([centre - half - half_down, centre + half - half_down, centre + half + half_down])
    return cv2.getAffineTransform(corners, np.float32([[0, 0], [size, 0], [size, size]])).astype(np.float64)


def _fit_template(landmarks: np.ndarray, dst: np.ndarray) -> np.ndarray:
    src = np.asarray(landmarks, np.float64).reshape(5, 2)
    # A huge RANSAC threshold keeps all 5 points as inliers: the result is the least-squares similarity.
    affine, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1e4)
    if affine is None or not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:, :2])) < 1e-9:
        return _similarity_from_spread(src, dst)
    return affine


def _similarity_from_spread(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    # Degenerate landmarks (all equal, collinear): map centroid to centroid, no rotation.
    spread = max(float(np.ptp(src, axis=0).max()), 1e-3)
    scale = float(np.ptp(dst, axis=0).max()) / spread
    shift = dst.mean(0) - scale * src.mean(0)
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply a [2,3] affine to [N,2] points."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return points @ np.asarray(affine, np.float64)[:, :2].T + np.asarray(affine, np.float64)[:, 2]


def align_face(image: np.ndarray, face: Face, size: int = 256, framing: str = "gnr") -> AlignedCrop:
    """Warp the face to a size x size crop framed as `framing`; pixels beyond the frame edge repeat the edge."""
    affine = frame_to_crop(face.landmarks, size, framing)
    crop = warp_to_crop(image, affine, size)  # [size,size,3] uint8 RGB
    return AlignedCrop(image=crop, affine=affine, face=face)


def warp_to_crop(image: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """Warp only the frame region the crop sees, halving it first (2x2 averaging) when the face is much larger."""
    inverse = cv2.invertAffineTransform(affine)
    corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64), inverse)
    height, width = image.shape[:2]
    x0 = int(np.clip(np.floor(corners[:, 0].min()) - 2, 0, width - 1))
    y0 = int(np.clip(np.floor(corners[:, 1].min()) - 2, 0, height - 1))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()) + 3, x0 + 1, width))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()) + 3, y0 + 1, height))
    region = image[y0:y1, x0:x1]
    # frame -> region coordinates: shift by the region origin, then by the shrink factor
    local = affine.copy()
    local[:, 2] += affine[:, :2] @ np.array([x0, y0], np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
    while scale < _MIN_DIRECT_SCALE and min(region.shape[:2]) >= 4:
        # Halve by 2x2 averaging until the final warp shrinks by 0.5-1x. An exact halving takes OpenCV's fast
        # integer-area path: several times cheaper than one area resize by a fractional factor, and as sharp.
        even_h, even_w = region.shape[0] // 2 * 2, region.shape[1] // 2 * 2
        region = cv2.resize(region[:even_h, :even_w], (even_w // 2, even_h // 2), interpolation=cv2.INTER_AREA)
        local[:, 2] += local[:, :2] @ np.array([0.5, 0.5])  # x_small = (x + 0.5) / 2 - 0.5
        local[:, :2] *= 2.0
        scale *= 2.0
    # Cubic keeps more detail than bilinear: the identity round trip error halves on small faces.
    return cv2.warpAffine(region, local, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
