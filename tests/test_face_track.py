"""Tracking: stable ids, detection schedule, loss handling, selection; One Euro filter; real clips."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from conftest import DATA, require
from streamfx.errors import UsageError
from streamfx.face.smoothing import OneEuroFilter
from streamfx.face.track import FaceTracker
from streamfx.types import Face, VideoFrame

VIDEOS = DATA / "videos"


def _face(x: float, y: float, size: float = 100.0, score: float = 0.999) -> Face:
    box = np.array([x, y, x + size, y + size], np.float32)
    points = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32) * size + [x, y]
    return Face(box=box, landmarks=points.astype(np.float32), score=score)


class FakeDetector:
    """Scripted detector: `scene[i]` lists the faces present in frame i."""

    def __init__(self, scene, refine_score=0.99):
        self.scene, self.refine_score = scene, refine_score
        self.frame = 0
        self.detect_calls = self.refine_calls = 0
        self.smallest = []  # min_face_size of each detect call

    def detect(self, images, min_face_size=None):
        """The scene's faces, without those under `min_face_size` (box side), as the real detector skips them."""
        self.detect_calls += 1
        self.smallest.append(min_face_size)
        return [[f for f in self.scene[self.frame] if min_face_size is None or f.box[2] - f.box[0] >= min_face_size]]

    def refine(self, image, boxes):
        self.refine_calls += 1
        out = []
        for box in boxes:  # O-Net re-reads the present face nearest to each box, or sees no face
            near = [f for f in self.scene[self.frame] if np.abs(f.box - box).sum() < 200]
            face = min(near, key=lambda f: np.abs(f.box - box).sum()) if near else None
            out.append(Face(face.box, face.landmarks, self.refine_score) if face else Face(box, _face(0, 0).landmarks, 0.0))
        return out


def _run(tracker, detector, frames=None, shape=(8, 8)):
    results = []
    image = np.zeros((*shape, 3), np.uint8)
    for i in range(frames or len(detector.scene)):
        detector.frame = i
        frame = VideoFrame(index=i, image=image, pts=i, time_base=Fraction(1, 25))
        results.append(tracker.update(frame))
    return results


def test_ids_stable_and_detection_every_n():
    scene = [[_face(10 + i, 20), _face(300 - i, 40, 80)] for i in range(12)]
    detector = FakeDetector(scene)
    results = _run(FaceTracker(detector, detect_every=5, smooth=False), detector)
    assert detector.detect_calls == 3  # frames 0, 5, 10
    assert detector.refine_calls == 9
    assert all([f.track_id for f in faces] == [0, 1] for faces in results)
    assert results[-1][0].box[0] == pytest.approx(21.0)


def test_small_faces_are_searched_every_third_detection_and_tracks_never_drop():
    """720p, a detection every 5 frames: detections 0 and 3 search every size, the others faces of at least 48 px
    (1/15 of 720), or less when a tracked face is smaller, so that track continues."""
    big, small, medium = _face(100, 100, 200), _face(700, 100, 30), _face(900, 300, 120)
    scene = [[big]] + [[big, small]] * 5 + [[big, small, medium]] * 24
    detector = FakeDetector(scene)
    results = _run(FaceTracker(detector, detect_every=5, smooth=False), detector, shape=(720, 1280))
    assert detector.smallest == [None, 48.0, 48.0, None, pytest.approx(21.0), pytest.approx(21.0)]
    counts = [len(r) for r in results]
    assert counts[:10] == [1] * 10  # the medium face, there from frame 6, is found by the scan at frame 10
    assert counts[10:15] == [2] * 5  # the 30 px face, there from frame 1, waits for the full scan at frame 15
    assert counts[15:] == [3] * 15
    assert [f.track_id for f in results[-1]] == [0, 1, 2]


def test_lost_face_gets_new_id_and_low_scores_do_not_start_tracks():
    scene = [[_face(10, 20)]] * 5 + [[]] * 3 + [[_face(12, 20), _face(200, 20, score=0.8)]] * 4
    detector = FakeDetector(scene)
    results = _run(FaceTracker(detector, detect_every=5, smooth=False), detector)
    assert [len(r) for r in results[:5]] == [1] * 5
    assert results[6] == [] and results[7] == []
    ids = {f.track_id for r in results[8:] for f in r}
    assert ids == {1}  # a new id after loss; the 0.8 face never starts a track


def test_select_largest_and_by_id():
    scene = [[_face(10, 20, 60), _face(300, 40, 120)]] * 3
    detector = FakeDetector(scene)
    largest = _run(FaceTracker(detector, smooth=False, select="largest"), detector)
    assert all(len(r) == 1 and r[0].track_id == 1 for r in largest)
    detector = FakeDetector(scene)
    by_id = _run(FaceTracker(detector, smooth=False, select=0), detector)
    assert all(len(r) == 1 and r[0].track_id == 0 for r in by_id)
    with pytest.raises(UsageError):
        FaceTracker(detector, select="biggest")


def test_one_euro_removes_jitter_and_follows_motion():
    rng = np.random.default_rng(0)
    times = np.arange(200) / 25.0
    still = 100 + rng.normal(0, 1.0, (200, 5, 2))
    smoother = OneEuroFilter(1.0, 4.0)
    out = np.array([smoother(x, t, scale=100.0) for x, t in zip(still, times)])
    assert np.std(np.diff(out[50:], 2, axis=0)) < np.std(np.diff(still[50:], 2, axis=0)) / 3
    # a fast head turn: 400 px/s; the filter catches up within 2 frames of lag
    ramp = 100 + 400 * times[:, None, None] + np.zeros((200, 5, 2))
    smoother.reset()
    follow = np.array([smoother(x, t, scale=100.0) for x, t in zip(ramp, times)])
    assert np.abs(follow[20:] - ramp[20:]).max() < 2 * 400 / 25
    # dt from timestamps: a repeated timestamp does not divide by zero
    assert np.all(np.isfinite(smoother(ramp[-1], times[-1], scale=100.0)))


def _track_clip(clip: str, start=None, duration=None, max_side=480):
    from streamfx.face.detect import MTCNNDetector
    from streamfx.io.decode import VideoReader

    tracker = FaceTracker(MTCNNDetector(max_side=max_side), detect_every=5)
    with VideoReader(require(VIDEOS / clip), start=start, duration=duration) as reader:
        return [(frame.time, tracker.update(frame)) for frame in reader]


@pytest.mark.parametrize("clip", ["PC-AVS/Input_00010.mp4", "VToonify/data_651.mp4"])
def test_single_face_clip_tracked_in_every_frame(clip):
    results = _track_clip(clip)
    with_face = sum(1 for _, faces in results if faces)
    assert with_face >= 0.99 * len(results)
    assert {f.track_id for _, faces in results for f in faces} == {0}


def test_hamilton_dark_stretch_has_no_face_then_several():
    # Dark stage from about 2.4 s to 3.6 s (file time): blurry audience faces must not start tracks.
    results = _track_clip("face_recognition/short_hamilton_clip.mp4", start=1.5, duration=2.2, max_side=640)
    quiet = [len(faces) for t, faces in results if 2.45 <= t <= 3.55]
    assert len(quiet) > 30 and max(quiet) == 0
    assert any(faces for t, faces in results if t >= 3.6)  # the next shot's face is picked up
    results = _track_clip("face_recognition/short_hamilton_clip.mp4", start=7.8, duration=1.5, max_side=640)
    later = [len(faces) for t, faces in results if t >= 8.0]
    assert max(later) >= 3 and np.mean(later) >= 2.5
