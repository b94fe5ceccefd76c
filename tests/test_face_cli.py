"""`streamfx faces` end to end: still image and video, JSON layout, drawn output."""

from __future__ import annotations

import json

import pytest

from conftest import DATA, require
from streamfx.cli import main


def test_faces_on_still_image(tmp_path):
    photo = require(DATA / "photos" / "facenet-pytorch" / "multiface.jpg")
    tracks, drawn = tmp_path / "t.json", tmp_path / "drawn.jpg"
    assert main(["-q", "faces", str(photo), "--json", str(tracks), "-o", str(drawn), "--max-side", "0"]) == 0
    frames = json.loads(tracks.read_text())["frames"]
    assert len(frames) == 1 and frames[0]["index"] == 0
    faces = frames[0]["faces"]
    assert len(faces) == 6 and sorted(f["id"] for f in faces) == list(range(6))
    assert all(len(f["box"]) == 4 and len(f["landmarks"]) == 5 and f["score"] > 0.99 for f in faces)
    assert drawn.stat().st_size > 10_000
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
