"""The flicker meter the edit bank's video verdict rests on: output that is the input reads exactly 1.0, and an
edit that redraws the face every frame reads more."""

from __future__ import annotations

import pytest

from conftest import DATA, require
from streamfx.training.flicker import clip_paths, face_boxes, measure

CLIP = "LivePortrait/d20.mp4"
SECONDS = 0.6


@pytest.fixture(scope="module")
def clip():
    path = require(DATA / "videos" / CLIP)
    return path, face_boxes(path, SECONDS)


def test_a_face_found_in_every_frame(clip):
    _path, boxes = clip
    assert len(boxes) == 15 and all(x2 > x1 and y2 > y1 for (x1, y1, x2, y2), _face in boxes.values())


def test_output_equal_to_the_input_reads_one_and_an_edit_more(clip):
    path, boxes = clip
    untouched = measure(path, "default", SECONDS, boxes, True, ["edit", "--edit", "bangs=0"])
    assert untouched.ratio == 1.0 and untouched.in_sum > 0
    edited = measure(path, "default", SECONDS, boxes, False, ["edit", "--edit", "bangs=1"])
    assert edited.ratio > 1.02, edited.ratio  # the fringe redrawn each frame, smoothing off


def test_clips_are_named_under_the_shared_videos_and_a_missing_one_is_named_in_the_error(clip, tmp_path):
    path, _boxes = clip
    assert clip_paths([CLIP, path]) == [path, path]
    with pytest.raises(FileNotFoundError, match="no such clip: .*nosuch.mp4"):
        clip_paths([CLIP, "LivePortrait/nosuch.mp4"])
