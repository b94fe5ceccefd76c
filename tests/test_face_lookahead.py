"""The look-ahead smoother: centred fits that do not lag, frames out once and in order, tracks kept apart."""

from __future__ import annotations

import numpy as np
import pytest

from streamfx.face.lookahead import MAX_AHEAD, LookaheadSmoother, local_fit
from streamfx.face.smoothing import face_points
from streamfx.types import Face


def _face(track_id: int, centre: np.ndarray) -> Face:
    """A face whose 7 points all sit at `centre` [2] (landmarks and box corners)."""
    return Face(np.tile(centre, 2).astype(np.float32), np.tile(centre, (5, 1)).astype(np.float32), 1.0, track_id)


def test_a_centred_fit_follows_a_moving_head_without_lag_even_at_a_tracks_end():
    offsets = np.arange(-9, 10, dtype=np.float64)
    steady = 3.0 + 2.0 * offsets  # a causal filter would trail this move
    assert local_fit(offsets, steady[:, None], sigma=3.0)[0] == pytest.approx(3.0, abs=1e-9)
    assert local_fit(offsets[:10], steady[:10, None], sigma=3.0)[0] == pytest.approx(3.0, abs=1e-9)  # nothing ahead
    turning = steady + 0.5 * offsets ** 2  # speeding up: a quadratic keeps the turn, a line rounds it off
    assert local_fit(offsets, turning[:, None], sigma=3.0, order=2)[0] == pytest.approx(3.0, abs=1e-9)
    assert local_fit(offsets, turning[:, None], sigma=3.0, order=1)[0] > 3.0 + 1.0


def test_the_fit_takes_most_of_the_noise_off_a_still_face():
    noise = np.random.default_rng(0).normal(0.0, 1.0, size=(2000, 2))
    for order, share in ((1, 0.35), (2, 0.45)):  # a Gaussian average of sigma 3 frames: 0.31
        smoothed = np.array([local_fit(np.arange(-9, 10) * 1.0, noise[i - 9:i + 10], sigma=3.0, order=order)
                             for i in range(9, len(noise) - 9)])
        assert smoothed.std() < share * noise.std(), order


def test_frames_leave_once_in_order_held_a_tenth_of_a_second_or_so_and_the_rest_on_flush():
    smoother = LookaheadSmoother()  # sigma 0.1 s, reaching 0.3 s either side
    assert (smoother.delay(30.0), smoother.delay(60.0)) == (9, 18)
    out = []
    for index in range(40):
        ready = smoother.push(index, index / 30.0, [_face(0, np.array([index, 0.0]))])
        assert len(ready) == (1 if index >= smoother.delay(30.0) else 0)
        out += ready
    out += smoother.flush()
    assert [item for item, _ in out] == list(range(40)) and smoother.flush() == []
    # a steady move is where it was, at every frame, the ends included
    assert all(np.allclose(face_points(faces[0])[:, 0], item, atol=1e-4) for item, faces in out)


def test_stalled_timestamps_hold_no_more_than_the_cap():
    smoother = LookaheadSmoother()
    held = [smoother.push(index, 0.0, [_face(0, np.array([5.0, 5.0]))]) for index in range(200)]
    assert sum(len(ready) for ready in held) == 200 - MAX_AHEAD
    assert len(smoother.flush()) == MAX_AHEAD


def test_tracks_are_smoothed_apart_and_a_new_track_only_from_its_own_frames():
    smoother = LookaheadSmoother()
    out = []
    for index in range(40):
        faces = [_face(0, np.array([100.0, 50.0]))]
        if index >= 12:  # a second face, far away, enters at frame 12
            faces.append(_face(1, np.array([400.0, 300.0 + index])))
        out += smoother.push(index, index / 25.0, faces)
    out += smoother.flush()
    assert [index for index, _ in out] == list(range(40))
    for index, faces in out:
        assert [f.track_id for f in faces] == ([0, 1] if index >= 12 else [0])
        assert np.allclose(face_points(faces[0]), [100.0, 50.0], atol=1e-4)
        if index >= 12:
            assert np.allclose(face_points(faces[1]), [400.0, 300.0 + index], atol=1e-3)


def test_frames_out_are_not_kept_only_their_faces():
    import gc
    import weakref

    class Frame:  # stands for a decoded picture, which a smoother must not hoard
        pass

    smoother, seen = LookaheadSmoother(), []
    for index in range(30):
        frame = Frame()
        seen.append(weakref.ref(frame))
        smoother.push(frame, index / 30.0, [_face(0, np.array([1.0, 2.0]))])
    del frame
    gc.collect()
    assert sum(ref() is not None for ref in seen) == smoother.delay(30.0)  # the held ones, no more
