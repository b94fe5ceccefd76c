"""`streamfx live` end to end without hardware: a video file (or a fake OpenCV capture) as the camera and a
fake pyvirtualcam backend. Frames reach the virtual camera at its size and format, paced; an input that
ends mid-stream stops cleanly; memory stays flat over 2,000 frames."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import numpy as np
import pytest
from test_io_fixtures import make_clip

from conftest import SAMPLES
from streamfx.cli import main
from streamfx.io.decode import VideoReader
from streamfx.io.probe import probe

pyvirtualcam = pytest.importorskip("pyvirtualcam")


class FakeCam:
    """A pyvirtualcam backend that records what it receives."""

    instances: list = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.sizes, self.times, self.closed = [], [], 0
        FakeCam.instances.append(self)

    def send(self, frame):
        self.sizes.append(frame.size)
        self.times.append(time.perf_counter())

    def close(self):
        self.closed += 1

    def device(self):
        return "fake0"

    def native_fourcc(self):
        return self.fourcc


@pytest.fixture
def fake_cam():
    pyvirtualcam.register_backend("fake", FakeCam)
    FakeCam.instances.clear()
    return FakeCam


def _live(*argv):
    return main(["-q", "live", "--no-preview", "--virtual-cam", "--virtual-cam-backend", "fake", *argv])


def test_file_camera_to_virtual_camera_and_recording(tmp_path, fake_cam, monkeypatch, no_default_model):
    rec = tmp_path / "rec.mp4"
    started = time.perf_counter()
    assert _live("--camera", str(SAMPLES / "astronaut.mp4"), "-o", str(rec)) == 0
    elapsed = time.perf_counter() - started
    (cam,) = fake_cam.instances
    assert (cam.width, cam.height) == (480, 480)
    assert cam.fourcc.to_bytes(4, "little").decode() == pyvirtualcam.PixelFormat.RGB.value  # RGB24
    assert cam.closed == 1 and len(cam.sizes) >= 10
    assert set(cam.sizes) == {480 * 480 * 3}  # every frame at the camera's size, RGB
    # Paced: the clip plays in real time (4 s) and no two frames reach the camera faster than its rate allows.
    assert elapsed > 3.5
    intervals = np.diff(cam.times)
    assert intervals.mean() >= 0.9 / cam.fps
    assert probe(rec).frame_count == len(cam.sizes)  # the recording holds what was streamed


def test_file_camera_alone_runs_to_the_end(tmp_path, monkeypatch, no_default_model):
    clip = make_clip(tmp_path / "clip.mp4", width=64, height=48, frames=25)
    rec = tmp_path / "rec.mp4"
    assert main(["-q", "live", "--camera", str(clip), "-o", str(rec)]) == 0
    info = probe(rec)
    # A tiny clip with no face keeps up in real time: every frame is recorded, in order, at its own time.
    assert (info.width, info.height, info.frame_count) == (64, 48, 25)
    with VideoReader(clip) as source, VideoReader(rec) as recording:
        pairs = list(zip(source, recording, strict=True))
    assert [b.time for _, b in pairs] == pytest.approx([a.time for a, _ in pairs], abs=1e-3)
    assert all(np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).mean() < 3 for a, b in pairs)


def test_a_cut_file_as_camera_is_refused_before_recording(tmp_path, capsys, no_default_model):
    """A file standing in for a camera is a file: cut off, it is refused like anywhere else (a camera that goes
    away mid-stream is the FakeCapture tests' case)."""
    whole = make_clip(tmp_path / "whole.mp4", width=64, height=48, frames=50, options={"movflags": "faststart"})
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    rec = tmp_path / "rec.mp4"
    assert _live("--camera", str(cut), "-o", str(rec)) == 1
    assert "truncated or damaged" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "whole.mp4"]


class FakeCapture:
    """Stands in for cv2.VideoCapture: `frames` frames at about 100 fps, then the camera is gone."""

    frames = 20

    def __init__(self, index):
        self.left = self.frames

    def isOpened(self):
        return True

    def set(self, prop, value):
        return True

    def get(self, prop):
        import cv2

        return {cv2.CAP_PROP_FRAME_WIDTH: 64, cv2.CAP_PROP_FRAME_HEIGHT: 48, cv2.CAP_PROP_FPS: 100}.get(prop, 0)

    def read(self):
        if self.left == 0:
            return False, None
        self.left -= 1
        time.sleep(0.01)
        return True, np.full((48, 64, 3), 100, np.uint8)

    def release(self):
        pass


def test_camera_disconnect_is_reported_and_stops_cleanly(tmp_path, fake_cam, monkeypatch, capsys, no_default_model):
    import cv2
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    rec = tmp_path / "rec.mp4"
    assert main(["live", "--no-preview", "--virtual-cam", "--virtual-cam-backend", "fake", "--camera", "0",
                 "-o", str(rec)]) == 0
    assert "camera 0 stopped delivering frames" in capsys.readouterr().err
    (cam,) = fake_cam.instances
    assert (cam.width, cam.height) == (64, 48) and cam.closed == 1
    assert probe(rec).frame_count == len(cam.sizes) >= 1


def test_memory_stays_flat_over_2000_frames(fake_cam):
    """A looped small real-face source through tracker, paste-back and a virtual camera."""
    import cv2

    from streamfx.effects import PassthroughEffect
    from streamfx.face.detect import MTCNNDetector
    from streamfx.face.track import FaceTracker
    from streamfx.io.decode import VideoReader
    from streamfx.pipeline import Pipeline, PipelineOptions
    from streamfx.sinks.virtualcam import VirtualCamSink
    from streamfx.stages import Composer, FaceStage
    from streamfx.types import VideoFrame

    with VideoReader(SAMPLES / "astronaut.mp4", duration=1.0) as reader:
        loop = [cv2.resize(f.image, (96, 96), interpolation=cv2.INTER_AREA) for f in reader]

    gate = threading.Semaphore(2)  # a camera a little slower than the pipeline: live mode drops nothing

    def source(count=2000):
        for i in range(count):
            gate.acquire(timeout=5)
            yield VideoFrame(i, loop[i % len(loop)], i, Fraction(1, 1000))

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    samples = {}
    sink = VirtualCamSink(96, 96, 1000.0, backend="fake")

    class Probe:
        def write(self, image, frame):
            gate.release()
            if frame.index in (300, 1999):
                samples[frame.index] = rss_mb()

        def close(self):
            pass

        def abort(self):
            pass

    tracker = FaceTracker(MTCNNDetector(max_side=640, min_face_size=20), detect_every=5)
    pipe = Pipeline(FaceStage(tracker), PassthroughEffect(), Composer(), PipelineOptions(batch=1, live=True))
    stats = pipe.run(source(), [sink, Probe()])
    assert stats.frames_in == stats.frames_out == 2000 and stats.frames_dropped == 0
    assert stats.faces > 1500  # the faces were really tracked and pasted
    assert samples[1999] - samples[300] < 25, samples  # MB
    assert len(fake_cam.instances[0].sizes) == stats.frames_out
