"""`streamfx anime` end to end with a tiny random GNR model: frame count, per-frame times and audio kept,
faces changed where detected, pixels away from faces within encoder noise, engine recorded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import DATA, SAMPLES, require
from streamfx.cli import main
from streamfx.face.detect import MTCNNDetector
from streamfx.io.decode import VideoReader
from streamfx.io.probe import probe

TINY = ((4, 16), (8, 16), (16, 16), (32, 16), (64, 8), (128, 8), (256, 8))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from streamfx.models.gnr import Generator, GNRConfig
    from streamfx.weights import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_weights(path, {"A2B": Generator(GNRConfig(channels=TINY, style_dim=32))}, {"name": "tiny-random-test"})
    return path


def _frames(path):
    with VideoReader(path) as reader:
        return [(f.time, f.image) for f in reader]


def _face_zone(detector, image, grow=2.2):
    """[H,W] bool: near a detected face (its box grown around its centre); None when no face is found."""
    faces = detector.detect([image])[0]
    if not faces:
        return None
    zone = np.zeros(image.shape[:2], bool)
    for face in faces:
        x1, y1, x2, y2 = face.box
        cx, cy, half_w, half_h = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * grow / 2, (y2 - y1) * grow / 2
        zone[max(0, int(cy - half_h)):int(cy + half_h), max(0, int(cx - half_w)):int(cx + half_w)] = True
    return zone


def _check_output(source, out, start=None, duration=None):
    src_info, out_info = probe(source), probe(out)
    with VideoReader(source, start=start, duration=duration) as reader:
        src = [(f.time, f.image) for f in reader]
    dst = _frames(out)
    assert len(dst) == len(src) == out_info.frame_count
    shift = start or 0.0  # a trimmed output starts at the requested start, as its audio does
    assert np.allclose([t for t, _ in dst], [t - shift for t, _ in src], atol=1e-3)  # timing kept
    assert bool(out_info.audio) == bool(src_info.audio)
    if out_info.audio and duration is None:
        assert abs(out_info.audio[0].duration - src_info.audio[0].duration) < 0.05
    assert "engine torch" in out_info.comment and "device cpu" in out_info.comment
    detector = MTCNNDetector(max_side=640)
    checked = away = 0
    for i in np.linspace(0, len(src) - 1, 5).astype(int):
        zone = _face_zone(detector, src[i][1])
        if zone is None:
            continue
        diff = np.abs(dst[i][1].astype(np.int16) - src[i][1].astype(np.int16)).mean(axis=2)
        assert diff[zone].mean() > 8, "faces must be stylized where detected"
        if (~zone).mean() > 0.05:  # a close-up may leave no pixel far from the face
            assert diff[~zone].mean() < 2.5, "pixels away from faces must stay within encoder noise"
            away += 1
        checked += 1
    assert checked >= 3
    return away


def test_sample_keeps_frames_timing_audio_and_changes_faces(tmp_path, tiny_weights):
    source, out = SAMPLES / "astronaut.mp4", tmp_path / "out.mp4"
    assert main(["-q", "anime", str(source), "-o", str(out), "--weights", str(tiny_weights), "--engine", "torch",
                 "--style-seed", "7"]) == 0
    assert _check_output(source, out) >= 3
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


@pytest.mark.parametrize("clip, start, duration", [
    ("VToonify/data_529_2.mp4", None, None),
    ("PC-AVS/Audio_Source_00373.mp4", 1.0, 1.6),
    ("V-Express/short_case_tys_gt.mp4", 1.0, 1.5),
])
def test_shared_clips(tmp_path, tiny_weights, clip, start, duration):
    source = require(DATA / "videos" / clip)
    out = tmp_path / "out.mp4"
    trim = [] if start is None else ["--start", str(start), "--duration", str(duration)]
    assert main(["-q", "anime", str(source), "-o", str(out), "--weights", str(tiny_weights),
                 "--engine", "torch", *trim]) == 0
    _check_output(source, out, start, duration)


def test_without_weights_runs_passthrough_and_says_so(tmp_path, caplog, monkeypatch, no_default_model):
    out = tmp_path / "out.mp4"
    assert main(["anime", str(SAMPLES / "astronaut.mp4"), "-o", str(out), "--duration", "1"]) == 0
    src, dst = _frames(SAMPLES / "astronaut.mp4")[:25], _frames(out)
    assert len(dst) == 25
    worst = max(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() for (_, a), (_, b) in zip(src, dst))
    assert worst < 2.5  # faces pasted back unchanged: the whole frame stays within encoder noise
    assert "engine none" in probe(out).comment


@pytest.mark.parametrize("argv, size", [(["--side-by-side"], (960, 480)), (["--grid", "4"], (480, 480)),
                                        (["--grid", "2"], (480, 240))])
def test_layouts(tmp_path, tiny_weights, argv, size):
    out = tmp_path / "out.mp4"
    assert main(["-q", "anime", str(SAMPLES / "astronaut.mp4"), "-o", str(out), "--weights", str(tiny_weights),
                 "--engine", "torch", "--duration", "0.4", *argv]) == 0
    info = probe(out)
    assert (info.width, info.height) == size and info.frame_count == 10
    if argv[0] == "--grid":  # each tile holds a different style of the same face
        image = _frames(out)[5][1]
        tiles = [image[:240, :240], image[:240, 240:]]
        assert np.abs(tiles[0].astype(np.int16) - tiles[1].astype(np.int16)).mean() > 2


def test_a_photo_gives_the_stylized_photo(tmp_path, tiny_weights):
    import cv2

    with VideoReader(SAMPLES / "astronaut.mp4", start=1.0, duration=0.1) as reader:
        image = next(iter(reader)).image
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), image[:, :, ::-1])
    assert main(["-q", "anime", str(photo), "--weights", str(tiny_weights)]) == 0
    out = cv2.imread(str(tmp_path / "face_anime.png"))[:, :, ::-1]
    assert out.shape == image.shape
    zone = _face_zone(MTCNNDetector(), image)
    assert zone is not None
    diff = np.abs(out.astype(np.int16) - image.astype(np.int16)).sum(axis=2)
    assert diff[zone].mean() > 10, "the face is stylized"
    assert diff[~zone].max() == 0, "a lossless output leaves every pixel away from the face as it was"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.png", "face_anime.png"]
