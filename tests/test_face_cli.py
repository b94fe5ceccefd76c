"""`streamfx faces` end to end: still image and video, JSON layout, drawn output."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import DATA, require
from streamfx.cli import main


def _read_rgb(path):
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]


def _check_drawing(original, drawn, faces):
    """Each face's box edges in its track colour and its landmarks in the landmark colours, where the JSON puts
    them; every pixel away from the boxes and their labels exactly as in the input."""
    from streamfx.face.draw import _track_colour

    assert drawn.shape == original.shape
    near = np.zeros(original.shape[:2], bool)
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face["box"])
        colour = np.array(_track_colour(face["id"]))
        edges = [drawn[y2, x1 + 4:x2 - 3], drawn[y1 + 4:y2 - 3, x1], drawn[y1 + 4:y2 - 3, x2]]  # bottom, left, right
        for edge in edges:
            on_colour = (np.abs(edge.astype(int) - colour).max(axis=1) <= 30).mean()
            assert on_colour > 0.9, f"face {face['id']}: box edge not drawn in its colour ({on_colour:.2f})"
        for (x, y), point_colour in zip(face["landmarks"], _LANDMARK_COLOURS):
            pixel = drawn[int(round(y)), int(round(x))].astype(int)
            assert np.abs(pixel - point_colour).max() <= 30, f"face {face['id']}: landmark ({x}, {y}) is {pixel}"
        near[max(0, y1 - 8):y2 + 8, max(0, x1 - 8):x2 + 8] = True
        near[max(0, y1 - 45):y1 + 8, max(0, x1 - 8):x1 + 150] = True  # the "id score" label above the box
    assert 0.5 < (~near).mean() < 0.99
    np.testing.assert_array_equal(drawn[~near], original[~near])


# RGB, in landmark order: eyes green, nose blue, mouth corners red (what `faces -o` draws)
_LANDMARK_COLOURS = ((0, 255, 0), (0, 255, 0), (0, 128, 255), (255, 0, 0), (255, 0, 0))


def test_faces_on_still_image(tmp_path):
    photo = require(DATA / "photos" / "facenet-pytorch" / "multiface.jpg")
    tracks, drawn = tmp_path / "t.json", tmp_path / "drawn.png"  # lossless, so drawn pixels can be checked
    assert main(["-q", "faces", str(photo), "--json", str(tracks), "-o", str(drawn), "--max-side", "0"]) == 0
    frames = json.loads(tracks.read_text())["frames"]
    assert len(frames) == 1 and frames[0]["index"] == 0
    faces = frames[0]["faces"]
    assert len(faces) == 6 and sorted(f["id"] for f in faces) == list(range(6))
    assert all(len(f["box"]) == 4 and len(f["landmarks"]) == 5 and f["score"] > 0.99 for f in faces)
    _check_drawing(_read_rgb(photo), _read_rgb(drawn), faces)
    # an existing output is refused (exit 2) unless --overwrite
    assert main(["-q", "faces", str(photo), "--json", str(tracks)]) == 2


def test_faces_on_video(tmp_path):
    from streamfx.io.probe import probe

    clip = require(DATA / "videos" / "VToonify" / "data_529_2.mp4")
    tracks, drawn = tmp_path / "t.json", tmp_path / "drawn.mp4"
    assert main(["-q", "faces", str(clip), "--json", str(tracks), "-o", str(drawn), "--select", "largest"]) == 0
    frames = json.loads(tracks.read_text())["frames"]
    info = probe(clip)
    assert len(frames) == info.frame_count == probe(drawn).frame_count
    assert all(len(f["faces"]) == 1 and f["faces"][0]["id"] == 0 for f in frames)
    times = [f["pts"] for f in frames]
    assert times == sorted(times) and times[-1] - times[0] == pytest.approx((len(frames) - 1) / 15, abs=0.01)


def test_bad_select_is_usage_error(tmp_path):
    photo = require(DATA / "photos" / "facenet-pytorch" / "multiface.jpg")
    assert main(["-q", "faces", str(photo), "--select", "biggest"]) == 2


def _landmarks(path) -> tuple[list[int], np.ndarray]:
    frames = json.loads(path.read_text())["frames"]
    return [f["index"] for f in frames], np.array([f["faces"][0]["landmarks"] for f in frames], np.float64)


def test_video_faces_are_smoothed_without_lag_unless_asked_to_smooth_as_live(tmp_path):
    """A head moving in a talking-head clip: the look-ahead fit takes off more jitter than live mode's One Euro
    filter and stays nearer the raw landmarks while the head moves fast (One Euro trails it)."""
    clip = require(DATA / "videos" / "LivePortrait" / "d0.mp4")
    runs = {}
    for name, extra in (("ahead", []), ("live", ["--live-smoothing"]), ("raw", ["--no-smooth"])):
        tracks = tmp_path / f"{name}.json"
        assert main(["-q", "faces", str(clip), "--json", str(tracks), "--select", "largest", *extra]) == 0
        runs[name] = _landmarks(tracks)
    assert runs["ahead"][0] == runs["live"][0] == runs["raw"][0] == list(range(78))  # every frame, once, in order
    ahead, live, raw = (runs[name][1] for name in ("ahead", "live", "raw"))
    jitter = {name: float(np.linalg.norm(np.diff(points, n=2, axis=0), axis=-1).mean())
              for name, points in (("ahead", ahead), ("live", live), ("raw", raw))}
    assert jitter["live"] < 0.3 * jitter["raw"] and jitter["ahead"] < 0.5 * jitter["live"], jitter
    centre = {name: points.mean(axis=1) for name, points in (("ahead", ahead), ("live", live), ("raw", raw))}
    speed = np.linalg.norm(np.gradient(centre["raw"], axis=0), axis=1)
    fast = speed >= np.quantile(speed, 0.8)
    off = {name: float(np.linalg.norm(centre[name] - centre["raw"], axis=1)[fast].mean()) for name in ("ahead", "live")}
    assert off["ahead"] < 0.8 * off["live"], off
    # One Euro's settings belong to live smoothing: asked for without it, a usage error
    assert main(["-q", "faces", str(clip), "--json", str(tmp_path / "x.json"), "--beta", "2"]) == 2
