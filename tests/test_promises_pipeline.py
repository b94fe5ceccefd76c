"""README promises about what the pipeline does to faces, on real pictures with the bundled model:
one look per video (a fixed style for every face in every frame and batch) and landmark smoothing that really
runs inside `streamfx anime` (less jitter than `--no-smooth`)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

import streamfx.effects
import streamfx.stages
from conftest import SAMPLES
from streamfx.cli import main
from streamfx.io.decode import VideoReader
from streamfx.io.probe import probe


@pytest.fixture
def clean_home(tmp_path, monkeypatch):
    """The bundled default model, never one from a user cache; engine files in a temporary folder."""
    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STREAMFX_ENGINES", str(tmp_path / "engines"))


def _sample_frame(seconds: float) -> np.ndarray:
    with VideoReader(SAMPLES / "astronaut.mp4", start=seconds, duration=0.1) as reader:
        return next(iter(reader)).image


def _still_clip(path, image: np.ndarray, frames: int, fps: int = 25):
    """The same picture `frames` times, lossless (x264 qp 0): every frame decodes to the same pixels."""
    height, width = image.shape[:2]
    with av.open(str(path), "w") as c:
        stream = c.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "qp": "0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return path


def test_one_look_per_video_across_batches(tmp_path, monkeypatch, clean_home):
    """The same face in 7 frames, stylized in 4 model calls (--batch 2): every call gives the same generated face,
    and the (lossless) output frames are all identical while the face itself has changed."""
    still = _sample_frame(1.0)[::2, ::2].copy()  # 240x240: the astronaut's face, fast to detect
    clip = _still_clip(tmp_path / "still.mp4", still, frames=7)
    with VideoReader(clip) as reader:  # the test's own premise: identical input frames
        decoded = [f.image for f in reader]
    assert len(decoded) == 7 and all(np.array_equal(d, decoded[0]) for d in decoded)

    calls = []  # (crops, generated) of every model call after the warm-up
    original = streamfx.effects.AnimeEffect.__call__

    def recording(self, crops, tracks=None):
        generated = original(self, crops, tracks)
        if crops.any():  # the pipeline's warm-up call sends a black crop
            calls.append((crops.copy(), generated.copy()))
        return generated

    monkeypatch.setattr(streamfx.effects.AnimeEffect, "__call__", recording)
    out = tmp_path / "out.mp4"
    assert main(["-q", "anime", str(clip), "-o", str(out), "--engine", "torch", "--style-seed", "7", "--batch", "2",
                 "--detect-every", "1", "--crf", "0", "--preset", "ultrafast"]) == 0

    assert [len(crops) for crops, _ in calls] == [2, 2, 2, 1]  # one face per frame, batched across frames
    crops = np.concatenate([c for c, _ in calls])
    generated = np.concatenate([g for _, g in calls])[:, 0]  # [7,S,S,3]
    assert all(np.array_equal(c, crops[0]) for c in crops), "premise: the same aligned crop in every frame"
    assert np.abs(generated[0].astype(np.int16) - crops[0].astype(np.int16)).mean() > 8, "the face is stylized"
    for face in generated[1:]:
        diff = np.abs(face.astype(np.int16) - generated[0].astype(np.int16))
        assert diff.max() <= 1, f"the look changed between frames/batches (max diff {diff.max()})"

    info = probe(out)
    assert info.frame_count == 7 and "engine torch" in info.comment and "style seed 7" in info.comment
    with VideoReader(out) as reader:
        pictures = [f.image for f in reader]
    assert np.abs(pictures[0].astype(np.int16) - still.astype(np.int16)).mean() > 2, "the output shows the new face"
    for picture in pictures[1:]:
        assert np.abs(picture.astype(np.int16) - pictures[0].astype(np.int16)).max() <= 1


def test_style_is_fixed_per_effect_and_reproducible_from_the_seed(clean_home):
    """The same aligned crop in separate calls, in different batches and in a second effect built from the same
    seed gets the same pixels; another seed gets another look."""
    from streamfx.commands.styles import face_crop
    from streamfx.effects import build_effect
    from streamfx.look import Look

    first = build_effect(None, Look(seed=7), engine="torch", device="cpu")
    size = first.crop_size
    crop = face_crop(_sample_frame(1.0), size)
    mirrored, upside_down = crop[:, ::-1], crop[::-1]  # other faces to share a batch with
    try:
        alone = first(crop[None])[0, 0]
        again = first(crop[None])[0, 0]
        in_batch = first(np.stack([mirrored, crop, upside_down]))[1, 0]
        np.testing.assert_array_equal(again, alone)
        assert np.abs(in_batch.astype(np.int16) - alone.astype(np.int16)).max() <= 1
        assert np.abs(alone.astype(np.int16) - crop.astype(np.int16)).mean() > 8, "premise: the face is stylized"
    finally:
        first.close()
    second = build_effect(None, Look(seed=7), engine="torch", device="cpu")
    try:
        rerun = second(crop[None])[0, 0]
        second.set_styles(second.style_for_seed(8))
        seed8 = second(crop[None])[0, 0]
    finally:
        second.close()
    assert np.abs(rerun.astype(np.int16) - alone.astype(np.int16)).max() <= 1, "same seed, same look in a new run"
    assert np.abs(seed8.astype(np.int16) - alone.astype(np.int16)).mean() > 2, "premise: another seed, another look"


def _landmark_track(tmp_path, monkeypatch, *extra) -> np.ndarray:
    """[frames,5,2] landmarks of the one face, as the pipeline's face stage handed them to the model stage."""
    seen = []
    original = streamfx.stages.FaceStage._aligned

    def recording(self, frame, faces):
        work = original(self, frame, faces)
        seen.append(np.stack([crop.face.landmarks for crop in work.crops]))
        return work

    monkeypatch.setattr(streamfx.stages.FaceStage, "_aligned", recording)
    out = tmp_path / f"out{len(extra)}.mp4"
    assert main(["-q", "anime", str(SAMPLES / "astronaut.mp4"), "-o", str(out), "--duration", "1.6",
                 "--preset", "ultrafast", *extra]) == 0
    monkeypatch.setattr(streamfx.stages.FaceStage, "_aligned", original)
    assert len(seen) == 40 and all(faces.shape == (1, 5, 2) for faces in seen)
    return np.stack(seen)[:, 0]


def test_landmark_smoothing_runs_in_the_pipeline(tmp_path, monkeypatch, no_default_model):
    """Jitter = mean size of the frame-to-frame change of landmark velocity (second difference, pixels): the slow
    zoom of the sample has little of it, detection noise a lot."""
    smoothed = _landmark_track(tmp_path, monkeypatch)
    raw = _landmark_track(tmp_path, monkeypatch, "--no-smooth")
    jitter = {name: float(np.abs(np.diff(points, n=2, axis=0)).mean()) for name, points in
              (("smoothed", smoothed), ("raw", raw))}
    assert jitter["raw"] > 0.3, f"premise: the raw landmarks jitter ({jitter})"
    assert jitter["smoothed"] < 0.6 * jitter["raw"], jitter
    # Smoothing follows the face, it does not freeze it: the tracks stay within a few pixels of each other.
    assert np.abs(smoothed - raw).mean() < 5.0  # pixels; the face is about 170 px wide
