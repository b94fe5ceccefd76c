"""Alignment to the GNR framing, paste-back identity round trip, masks, colour matching, frame edges."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import DATA, require
from streamfx.face.align import align_face, template, transform_points
from streamfx.face.blend import feather_mask, match_color, paste_back, paste_change
from streamfx.types import AlignedCrop, Face

VIDEOS = DATA / "videos"


@pytest.fixture(scope="module")
def detector():
    from streamfx.face.detect import MTCNNDetector

    return MTCNNDetector(max_side=480)


def test_template_reproduces_training_framing(detector):
    """selfie2anime trainA images ARE the training framing: aligning them should barely move them."""
    from streamfx.io.image import read_image

    folder = require(DATA / "selfie2anime" / "trainA")
    images = [read_image(p) for p in sorted(folder.glob("*.jpg"))[5:400:50]]  # not the files the template came from
    scales, shifts = [], []
    for image, faces in zip(images, detector.detect(images)):
        if not faces:
            continue
        crop = align_face(image, faces[0])
        scales.append(np.sqrt(abs(np.linalg.det(crop.affine[:, :2]))))
        shifts.append(transform_points([[128, 128]], crop.affine)[0] - 128)
    assert len(scales) >= 6
    assert abs(np.mean(scales) - 1.0) < 0.08
    assert np.abs(np.mean(shifts, axis=0)).max() < 10.0


def test_alignment_undoes_rotation_and_scale(detector):
    """A face rotated 25 degrees and shrunk lands on the template (eyes level, same size)."""
    import cv2

    from streamfx.io.image import read_image

    image = read_image(require(DATA / "photos" / "facenet-pytorch" / "test_images" / "kate_siegel" / "1.jpg"))
    image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    rotation = cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), 25, 0.8)
    rotated = cv2.warpAffine(image, rotation, (image.shape[1], image.shape[0]))
    face = detector.detect([rotated])[0][0]
    crop = align_face(rotated, face)
    aligned_points = transform_points(face.landmarks, crop.affine)
    assert np.abs(aligned_points - template()).max() < 14.0
    eyes = aligned_points[:2]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 4.0
    assert crop.image.shape == (256, 256, 3) and crop.image.dtype == np.uint8


def test_feather_mask_shape():
    mask = feather_mask(256, margin=0.1, feather=0.1)
    assert mask.shape == (256, 256) and mask.dtype == np.float32
    assert mask[128, 128] == pytest.approx(1.0, abs=1e-3)
    assert mask[:25].max() == 0.0 and mask[:, -25:].max() == 0.0
    assert 0.05 < mask[128, 38] < 0.95  # soft transition
    assert mask[128, 26] < 0.05  # no step where the margin starts


def _first_face_frame(clip: str, detector):
    from streamfx.io.decode import VideoReader

    with VideoReader(require(VIDEOS / clip)) as reader:
        for frame in reader:
            faces = detector.detect([frame.image])[0]
            if faces:
                return frame.image, faces[0]
    raise AssertionError(f"no face in {clip}")


def _face_region(face: Face, shape) -> tuple[slice, slice]:
    x1, y1, x2, y2 = face.box
    w, h = x2 - x1, y2 - y1  # inner 70% of the box: inside the mask's flat part
    ys = slice(max(int(y1 + 0.15 * h), 0), min(int(y2 - 0.15 * h), shape[0]))
    xs = slice(max(int(x1 + 0.15 * w), 0), min(int(x2 - 0.15 * w), shape[1]))
    return ys, xs


@pytest.mark.parametrize("clip", ["PC-AVS/Input_00010.mp4", "LivePortrait/d20.mp4", "video-retalking/face_2.mp4"])
def test_identity_round_trip(clip, detector):
    """Pasting back an unmodified crop reproduces the frame inside the face region (mean within 2 levels)."""
    frame, face = _first_face_frame(clip, detector)
    crop = align_face(frame, face)
    out = paste_back(frame, crop.image, crop)
    ys, xs = _face_region(face, frame.shape)
    diff = np.abs(out[ys, xs].astype(np.int16) - frame[ys, xs].astype(np.int16))
    assert diff.mean() <= 2.0
    assert np.percentile(diff, 99) <= 16  # no misplacement: only interpolation differences


def test_paste_back_touches_only_the_face_rectangle(detector):
    frame, face = _first_face_frame("PC-AVS/Input_00010.mp4", detector)
    crop = align_face(frame, face)
    out = paste_back(frame, np.zeros_like(crop.image), crop, mask_margin=0.1, feather=0.1)
    changed = np.any(out != frame, axis=2)
    ys, xs = np.nonzero(changed)
    corners = transform_points([[0, 0], [256, 0], [0, 256], [256, 256]], crop.inverse_affine)
    assert xs.min() >= corners[:, 0].min() - 1 and xs.max() <= corners[:, 0].max() + 1
    assert ys.min() >= corners[:, 1].min() - 1 and ys.max() <= corners[:, 1].max() + 1
    cy, cx = (int(v) for v in face.landmarks[2][::-1])
    assert out[cy, cx].max() <= 2  # the nose is covered by the (black) generated face


@pytest.mark.parametrize("size", [128, 256])
def test_paste_change_adds_only_the_edit_and_nothing_for_an_unchanged_crop(detector, size):
    """Photo edits: an unchanged crop leaves the frame bit-identical, and a uniform +20 brightening of the crop
    brightens the face centre by 20 while the frame outside the crop's square stays untouched."""
    frame, face = _first_face_frame("LivePortrait/d20.mp4", detector)
    crop = align_face(frame, face, size)
    assert np.array_equal(paste_change(frame, crop.image.copy(), crop), frame)
    brighter = np.clip(crop.image.astype(np.int16) + 20, 0, 255).astype(np.uint8)
    out = paste_change(frame, brighter, crop)
    cy, cx = (int(v) for v in face.landmarks[2][::-1])  # the nose
    nose_patch = (slice(cy - 3, cy + 4), slice(cx - 3, cx + 4))
    gain = out[nose_patch].astype(np.int16) - frame[nose_patch]
    assert 17 <= gain.mean() <= 20
    corners = transform_points([[0, 0], [size, 0], [0, size], [size, size]], crop.inverse_affine)
    changed_y, changed_x = np.nonzero(np.any(out != frame, axis=2))
    assert changed_x.min() >= corners[:, 0].min() - 1 and changed_x.max() <= corners[:, 0].max() + 1
    assert changed_y.min() >= corners[:, 1].min() - 1 and changed_y.max() <= corners[:, 1].max() + 1


def test_face_partly_outside_frame(detector):
    import cv2

    from streamfx.io.image import read_image

    frame = read_image(require(DATA / "photos" / "face_recognition_tests" / "obama_partial_face.jpg"))
    frame = cv2.resize(frame, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # face smaller than the crop
    face = detector.detect([frame])[0][0]
    crop = align_face(frame, face)
    out = paste_back(frame, crop.image, crop)
    assert out.shape == frame.shape
    ys, xs = _face_region(face, frame.shape)
    assert np.abs(out[ys, xs].astype(np.int16) - frame[ys, xs]).mean() <= 2.0
    # a crop placed entirely outside the frame changes nothing
    far = AlignedCrop(image=crop.image, affine=crop.affine + [[0, 0, 5000], [0, 0, 5000]], face=face)
    assert np.array_equal(paste_back(frame, crop.image, far), frame)


def test_color_match_paste_keeps_the_frame_colours(detector):
    """--color-match: a face generated with a strong blue cast is pasted with the frame face's colours."""
    frame, face = _first_face_frame("LivePortrait/d20.mp4", detector)
    crop = align_face(frame, face, 128)
    tinted = crop.image.copy()
    tinted[..., 2] = np.clip(tinted[..., 2].astype(np.int16) + 60, 0, 255).astype(np.uint8)
    ys, xs = _face_region(face, frame.shape)
    mean_rgb = lambda im: im[ys, xs].reshape(-1, 3).astype(np.float64).mean(0)  # noqa: E731
    plain = mean_rgb(paste_back(frame, tinted, crop)) - mean_rgb(frame)
    matched = mean_rgb(paste_back(frame, tinted, crop, color_match=True)) - mean_rgb(frame)
    assert plain[2] > 40
    assert np.abs(matched).max() < 0.2 * plain[2]


def test_color_match_moves_lab_statistics():
    import cv2

    rng = np.random.default_rng(1)
    target = np.clip(rng.normal([150, 110, 90], 12, (64, 64, 3)), 0, 255).astype(np.uint8)
    source = np.clip(rng.normal([60, 120, 200], 30, (64, 64, 3)), 0, 255).astype(np.uint8)
    where = np.ones((64, 64), bool)
    matched = match_color(source, target, where)
    lab = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)  # noqa: E731
    assert np.abs(lab(matched).mean(0) - lab(target).mean(0)).max() < 2.0
    assert np.abs(lab(matched).std(0) - lab(target).std(0)).max() < 2.0


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


@pytest.mark.parametrize("clip", ["LivePortrait/d13.mp4", "LivePortrait/d3.mp4"])
def test_fast_paths_match_the_plain_warps(clip, detector):
    """The cheap alignment (2x2 halvings) and paste (4-channel bilinear warp of a premultiplied 2x bicubic
    enlargement, 8-bit blend) stay within a few levels of the plain recipes they replace: one area resize and a
    bicubic warp for the crop, a bicubic warp of the face and a float blend for the paste. 128 px crops of these
    faces take both fast paths."""
    import cv2

    from streamfx.face.blend import _placement, _shared_mask

    frame, face = _first_face_frame(clip, detector)
    crop = align_face(frame, face, 128)
    scale = np.sqrt(abs(np.linalg.det(crop.affine[:, :2])))
    assert scale < 0.5, "the face must be large enough for the fast paths to run"
    # the plain crop: area-shrink the frame to twice the crop scale, then one bicubic warp
    shrunk = cv2.resize(frame, None, fx=2 * scale, fy=2 * scale, interpolation=cv2.INTER_AREA)
    factors = np.array([frame.shape[1] / shrunk.shape[1], frame.shape[0] / shrunk.shape[0]])
    local = crop.affine.copy()
    local[:, 2] += local[:, :2] @ (0.5 * factors - 0.5)
    local[:, :2] *= factors
    plain_crop = cv2.warpAffine(shrunk, local, (128, 128), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    assert _psnr(crop.image, plain_crop) > 34.0

    generated = cv2.GaussianBlur(crop.image, (0, 0), 1.0)[:, ::-1].copy()  # a different face-like picture
    (x0, y0, x1, y1), region_inverse, shape = _placement(crop, 128, frame.shape[:2])
    face_up = cv2.warpAffine(generated, region_inverse, shape, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(_shared_mask(128, 0.06, 0.12), region_inverse, shape, flags=cv2.INTER_LINEAR)[..., None]
    plain = frame.copy()
    blended = alpha * face_up + (1 - alpha) * frame[y0:y1, x0:x1]
    plain[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    fast = paste_back(frame, generated, crop)
    pasted = np.any(plain != frame, axis=2)
    assert pasted.sum() > 10_000
    assert _psnr(fast[pasted], plain[pasted]) > 40.0
    assert np.abs(fast.astype(np.int16) - plain).max() <= 8  # nothing of the mask's fringe is left out
