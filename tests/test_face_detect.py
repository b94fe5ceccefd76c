"""MTCNN detection: counts on real photos, parity with facenet-pytorch's own MTCNN, options, errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, require
from streamfx.errors import ModelError, UsageError
from streamfx.face.boxes import box_area

FIXTURE = Path(__file__).parent / "fixtures" / "mtcnn_reference.json"
PHOTOS = DATA / "photos"
SINGLE_FACE = ["angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham"]


@pytest.fixture(scope="module")
def detector():
    from streamfx.face.detect import MTCNNDetector

    try:
        return MTCNNDetector()
    except ModelError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(FIXTURE.read_text())["photos"]


@pytest.fixture(scope="module")
def detections(detector):
    """Lazy cache: photo name -> (image, faces), so each photo is detected once per module."""
    from streamfx.io.image import read_image

    cache = {}

    def get(name: str):
        if name not in cache:
            image = read_image(require(PHOTOS / name))
            cache[name] = (image, detector.detect([image])[0])
        return cache[name]

    return get


def test_nets_run_with_shipped_weights(detector):
    image = np.zeros((64, 80, 3), np.uint8)
    assert detector.detect([image]) == [[]]  # a flat image holds no face
    prob, offsets = detector.pnet(__import__("torch").zeros(2, 3, 12, 12))
    assert tuple(prob.shape) == (2, 1, 1) and tuple(offsets.shape) == (2, 4, 1, 1)


def test_multiface_finds_six(detections):
    _, faces = detections("facenet-pytorch/multiface.jpg")
    assert len(faces) == 6
    assert all(f.score > 0.99 for f in faces)
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    assert areas == sorted(areas, reverse=True)  # largest first


@pytest.mark.parametrize("person", SINGLE_FACE)
def test_single_face_photos_give_one(detections, person):
    _, faces = detections(f"facenet-pytorch/test_images/{person}/1.jpg")
    assert len(faces) == 1


@pytest.mark.parametrize("name", ["facenet-pytorch/multiface.jpg", "facenet-pytorch/test_images/kate_siegel/1.jpg",
                                  "facenet-pytorch/test_images/paul_rudd/1.jpg", "face_recognition_tests/obama3.jpg",
                                  "face_recognition_tests/32bit.png"])
def test_landmarks_match_reference_mtcnn(detections, reference, name):
    """Same weights, our cascade: boxes and landmarks within 1% of the face size (at least 3 px) of
    facenet-pytorch's MTCNN, for every reference face fully inside the image."""
    image, faces = detections(name)
    height, width = image.shape[:2]
    inside = [f for f in reference[name]["faces"] if min(f["box"][:2]) >= 0 and f["box"][2] <= width
              and f["box"][3] <= height]
    assert inside
    for ref in inside:
        box, points = np.array(ref["box"]), np.array(ref["landmarks"])
        ours = min(faces, key=lambda f: np.abs(f.box - box).sum())
        tolerance = max(3.0, 0.01 * (box[2] - box[0]))
        assert np.abs(ours.landmarks - points).max() <= tolerance
        assert np.abs(ours.box - box).max() <= 2 * tolerance
        assert abs(ours.score - ref["score"]) < 0.01


@pytest.mark.parametrize("name", ["obama_partial_face.jpg", "obama_partial_face2.jpg"])
def test_partial_face_at_frame_edge(detections, name):
    image, faces = detections(f"face_recognition_tests/{name}")
    width = image.shape[1]
    assert len(faces) == 1 and faces[0].score > 0.95
    face = faces[0]
    assert face.box[0] < 0 or face.box[2] > width  # the box runs past the edge
    # Black padding keeps the geometry: all five points on the visible face, eyes above nose above mouth.
    assert np.all(face.landmarks[:, 0] >= 0) and np.all(face.landmarks[:, 0] <= width)
    eyes, nose, mouth = face.landmarks[:2, 1].mean(), face.landmarks[2, 1], face.landmarks[3:, 1].mean()
    assert eyes < nose < mouth


def test_rgba_png(detections):
    image, faces = detections("face_recognition_tests/32bit.png")
    assert image.shape[2] == 3 and image.dtype == np.uint8
    assert len(faces) == 1


def test_batch_of_mixed_sizes_equals_one_by_one(detector, detections):
    import cv2

    big, _ = detections("facenet-pytorch/multiface.jpg")
    small = cv2.resize(big, (600, 315), interpolation=cv2.INTER_AREA)
    other = small[:, 100:500].copy()
    batched = detector.detect([small, other, small])
    singles = [detector.detect([img])[0] for img in (small, other)]
    assert len(singles[0]) == 6
    assert [len(f) for f in batched] == [6, len(singles[1]), 6]
    for got, want in zip(batched, singles + singles[:1]):
        np.testing.assert_allclose(np.stack([f.landmarks for f in got]), np.stack([f.landmarks for f in want]),
                                   atol=1e-3)


def test_max_side_and_max_faces(detections):
    from streamfx.face.detect import MTCNNDetector

    image, full = detections("facenet-pytorch/multiface.jpg")
    fast = MTCNNDetector(max_side=600, max_faces=4).detect([image])[0]
    assert len(fast) == 4
    for face in fast:  # the 4 largest, found on a half-size image, in full-size pixels
        nearest = min(full[:4], key=lambda f: np.abs(f.box - face.box).sum())
        assert np.abs(nearest.landmarks - face.landmarks).max() < 4.0


def test_refine_on_detected_boxes(detector, detections):
    image, faces = detections("facenet-pytorch/multiface.jpg")
    refined = detector.refine(image, np.stack([f.box for f in faces]))
    assert len(refined) == len(faces)
    for before, after in zip(faces, refined):
        assert after.score > 0.9
        assert np.abs(after.landmarks - before.landmarks).max() < 4.0
    assert detector.refine(image, np.zeros((0, 4))) == []


def test_rejects_non_rgb_input(detector):
    with pytest.raises(UsageError):
        detector.detect([np.zeros((32, 32), np.uint8)])
    with pytest.raises(UsageError):
        detector.detect([np.zeros((32, 32, 3), np.float32)])


def test_missing_package_names_install_command(monkeypatch):
    from streamfx.face import mtcnn

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps facenet-pytorch==2\.6\.0"):
        mtcnn.load_mtcnn()


@pytest.mark.parametrize("name", ["facenet-pytorch/multiface.jpg", "face_recognition_tests/obama_partial_face.jpg"])
def test_openvino_nets_find_the_same_faces_as_torch(name, detections, tmp_path, monkeypatch):
    """MTCNN on OpenVINO (the default on the CPU when openvino is installed) changes speed, not faces: the same boxes,
    landmarks and scores as the torch nets from a detection and from O-Net's refresh of given boxes, with the three
    ONNX graphs exported into a fresh engine cache."""
    pytest.importorskip("openvino", reason="MTCNN on OpenVINO needs openvino (the cpu extra)")
    from streamfx.face.detect import MTCNNDetector

    monkeypatch.setenv("STREAMFX_ENGINES", str(tmp_path))
    compiled = MTCNNDetector(engine="auto")
    assert compiled.engine == "openvino"
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("mtcnn-*.onnx")) == ["onet", "pnet", "rnet"]
    image, faces = detections(name)
    plain = MTCNNDetector(engine="torch")
    assert plain.engine == "torch"
    shifted = np.stack([f.box for f in faces]) + 3.0  # a tracked box one frame later
    for detector in (compiled, plain):
        found = detector.detect([image])[0]
        assert len(found) == len(faces) > 0
        for a, b in zip(found, faces):
            np.testing.assert_allclose(a.box, b.box, atol=0.01)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.01)
            assert a.score == pytest.approx(b.score, abs=1e-4)
    for a, b in zip(compiled.refine(image, shifted), plain.refine(image, shifted)):
        np.testing.assert_allclose(a.box, b.box, atol=0.01)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.01)
        assert a.score == pytest.approx(b.score, abs=1e-4)


def test_a_search_for_larger_faces_skips_the_small_and_keeps_the_large_as_found(detector):
    """`min_face_size` drops only the finest pyramid levels: on a 720p frame holding the same face at about 200 and
    40 pixels, a search for faces of at least 80 finds the large one with the full search's box and score."""
    import cv2

    from streamfx.io.image import read_image

    photo = read_image(require(PHOTOS / "face_recognition_tests" / "obama3.jpg"))
    x1, y1, x2, y2 = detector.detect([photo])[0][0].box.astype(int)
    side = max(x2 - x1, y2 - y1)
    head = photo[max(0, y1 - side // 2) : y2 + side // 2, max(0, x1 - side // 2) : x2 + side // 2]
    frame = np.full((720, 1280, 3), 128, np.uint8)
    frame[100:500, 100:500] = cv2.resize(head, (400, 400), interpolation=cv2.INTER_AREA)
    frame[300:380, 900:980] = cv2.resize(head, (80, 80), interpolation=cv2.INTER_AREA)
    every = detector.detect([frame])[0]
    sides = [float(np.sqrt(box_area(f.box)[0])) for f in every]
    assert len(sides) == 2 and 150 < sides[0] < 250 and 30 < sides[1] < 50
    large = detector.detect([frame], min_face_size=80)[0]
    assert len(large) == 1
    # O-Net sees one crop instead of two: some CPUs' kernels then round differently in the last float bit
    np.testing.assert_allclose(large[0].box, every[0].box, rtol=0, atol=1e-3)
    np.testing.assert_allclose(large[0].landmarks, every[0].landmarks, rtol=0, atol=1e-3)
    assert abs(large[0].score - every[0].score) < 1e-5
