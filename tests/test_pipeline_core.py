"""The threaded loop itself, with stand-in stages: order, no drops in file mode, batching across frames,
drop-oldest in live mode, errors from any stage reach the caller, nothing hangs."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from streamfx.errors import MediaError
from streamfx.pipeline import Pipeline, PipelineOptions
from streamfx.stages import Composer, FaceWork
from streamfx.types import AlignedCrop, Face, VideoFrame

TB = Fraction(1, 25)


def frames(count, size=8):
    for i in range(count):
        yield VideoFrame(index=i, image=np.full((size, size, 3), i % 256, np.uint8), pts=i, time_base=TB)


class FakeFaces:
    """`faces_per_frame` crops per frame, each filled with the frame's value; optional delay or failure; `hold`
    frames held back before they leave, as a look-ahead smoother holds them."""

    crop_size = 4

    def __init__(self, faces_per_frame=1, delay=0.0, fail_at=None, hold=0):
        self.faces_per_frame, self.delay, self.fail_at, self.hold = faces_per_frame, delay, fail_at, hold
        self.held = []

    def push(self, frame):
        if frame.index == self.fail_at:
            raise MediaError("stage failed on purpose")
        time.sleep(self.delay)
        face = Face(np.zeros(4, np.float32), np.zeros((5, 2), np.float32), 1.0)
        crop = AlignedCrop(np.full((4, 4, 3), frame.image[0, 0, 0], np.uint8), np.eye(2, 3), face)
        self.held.append(FaceWork(frame, (crop,) * self.faces_per_frame))
        leaving = max(0, len(self.held) - self.hold)
        ready, self.held = self.held[:leaving], self.held[leaving:]
        return ready

    def flush(self):
        ready, self.held = self.held, []
        return ready


class Invert:
    engine, device = "fake", "cpu"

    def __init__(self, fail=False, delay=0.0):
        self.batches, self.fail, self.delay = [], fail, delay

    def __call__(self, crops, tracks=None):
        if self.fail and self.batches:
            raise RuntimeError("model failed on purpose")
        assert tracks is not None and len(tracks) == len(crops)  # each crop's face track comes along
        self.batches.append(len(crops))
        time.sleep(self.delay)
        return (255 - crops)[:, None]


class ValueComposer(Composer):
    """Output picture: the frame's value and the mean generated value, so order and pairing are checkable."""

    def __call__(self, work):
        value = -1 if work.generated is None else int(work.generated.mean())
        return np.array([work.frame.index, value])


class Collect:
    def __init__(self, delay=0.0):
        self.items, self.closed, self.aborted, self.delay = [], False, False, delay

    def write(self, image, frame):
        time.sleep(self.delay)
        self.items.append((frame.index, image))

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True


def test_file_mode_keeps_every_frame_in_order_and_batches_across_frames():
    effect, sink = Invert(), Collect()
    pipe = Pipeline(FakeFaces(faces_per_frame=3, delay=0.001), effect, ValueComposer(),
                    PipelineOptions(batch=8, warm_up=False))
    stats = pipe.run(frames(100), [sink])
    assert [i for i, _ in sink.items] == list(range(100))
    assert all(int(img[1]) == 255 - (i % 256) for i, img in sink.items)  # each frame got its own faces back
    assert sink.closed and not sink.aborted
    assert stats.frames_in == stats.frames_out == 100 and stats.faces == 300
    assert sum(effect.batches) == 300 and max(effect.batches) > 3  # several frames per model call
    assert set(stats.stages) == {"decode", "faces", "model", "paste", "encode"}


def test_file_mode_keeps_every_frame_a_face_stage_holds_back():
    """A look-ahead smoother holds frames back; each still comes out once, in order, with its own faces."""
    sink, faces = Collect(), FakeFaces(hold=9)
    stats = Pipeline(faces, Invert(), ValueComposer(), PipelineOptions(batch=4, warm_up=False)).run(frames(30), [sink])
    assert [i for i, _ in sink.items] == list(range(30)) and stats.frames_out == 30
    assert all(int(img[1]) == 255 - i for i, img in sink.items) and faces.held == []


def test_file_mode_never_drops_with_a_slow_sink():
    sink = Collect(delay=0.005)
    pipe = Pipeline(FakeFaces(), Invert(), ValueComposer(), PipelineOptions(batch=2, queue_size=2, warm_up=False))
    stats = pipe.run(frames(40), [sink])
    assert [i for i, _ in sink.items] == list(range(40)) and stats.frames_dropped == 0


def test_live_mode_drops_oldest_and_keeps_order():
    sink, effect = Collect(), Invert(delay=0.02)
    pipe = Pipeline(FakeFaces(), effect, ValueComposer(), PipelineOptions(batch=8, live=True, warm_up=False))
    stats = pipe.run(frames(100), [sink])
    shown = [i for i, _ in sink.items]
    assert stats.frames_dropped > 20 and len(shown) + stats.frames_dropped == 100
    assert shown == sorted(shown) and shown[-1] == 99  # the newest frame is never the one dropped
    assert max(effect.batches) == 1  # live: no batching across frames (latency)


def paced(count, interval):
    """Frames handed over every `interval` seconds, as a camera would."""
    for frame in frames(count):
        time.sleep(interval)
        yield frame


def test_live_latency_is_measured_for_every_frame_shown():
    sink = Collect()
    pipe = Pipeline(FakeFaces(), Invert(delay=0.03), ValueComposer(), PipelineOptions(batch=1, live=True, warm_up=False))
    stats = pipe.run(paced(20, 0.05), [sink])  # a 20 fps camera, a model that takes 30 ms
    assert stats.frames_dropped == 0 and len(stats.latencies) == stats.frames_out == 20
    mean, p95 = stats.latency_ms()
    assert 30 <= mean <= p95 < 200  # at least the model's time, far below a frame queue's worth of waiting
    assert "latency capture->sink" in stats.table()


def test_file_mode_records_no_latency():
    stats = Pipeline(FakeFaces(), Invert(), ValueComposer(), PipelineOptions(warm_up=False)).run(frames(10), [Collect()])
    assert stats.latencies == [] and stats.latency_ms() is None


@pytest.mark.parametrize("where", ["source", "faces", "model", "sink"])
def test_error_in_any_stage_reaches_the_caller_and_stops_all_threads(where):
    def source():
        yield from frames(5)
        raise MediaError("source failed on purpose")

    class FailingSink(Collect):
        def write(self, image, frame):
            if frame.index == 3:
                raise MediaError("sink failed on purpose")

    sink = FailingSink() if where == "sink" else Collect()
    pipe = Pipeline(FakeFaces(fail_at=4 if where == "faces" else None), Invert(fail=where == "model"),
                    ValueComposer(), PipelineOptions(batch=1, warm_up=False))
    before = threading.active_count()
    started = time.perf_counter()
    with pytest.raises((MediaError, RuntimeError), match="on purpose"):
        pipe.run(source() if where == "source" else frames(1000), [sink])
    assert time.perf_counter() - started < 5
    assert sink.aborted and not sink.closed
    time.sleep(0.2)
    assert threading.active_count() <= before


def test_keyboard_interrupt_becomes_interrupted_and_aborts_sinks():
    from streamfx.errors import Interrupted

    class InterruptingSink(Collect):
        path = "out.mp4"

        def write(self, image, frame):
            if frame.index == 5:
                raise KeyboardInterrupt

    sink = InterruptingSink()
    pipe = Pipeline(FakeFaces(), Invert(), ValueComposer(), PipelineOptions(warm_up=False))
    with pytest.raises(Interrupted, match="no output written") as info:
        pipe.run(frames(1000), [sink])
    assert info.value.exit_code == 130 and sink.aborted


def test_request_stop_finishes_cleanly():
    sink = Collect()
    pipe = Pipeline(FakeFaces(delay=0.002), Invert(), ValueComposer(), PipelineOptions(batch=1, warm_up=False))
    threading.Timer(0.1, pipe.request_stop).start()
    stats = pipe.run(frames(100000), [sink])
    assert 0 < stats.frames_out < 100000 and sink.closed
    assert [i for i, _ in sink.items] == list(range(stats.frames_out))
