"""The stream loop: decode -> faces (track + align) -> model (batched) -> paste -> sinks, in threads.

Stages are threads joined by bounded queues, so decoding, inference and encoding overlap (PyAV,
torch, ONNX Runtime and OpenCV release the GIL in their heavy calls). The sinks run in the calling
thread, which is also where Ctrl-C lands.

File mode blocks on full queues: no frame is dropped and order is kept (one worker per stage,
FIFO queues). The face stage may hold a few frames back to smooth landmarks without lag (`FaceStage.push`).
The model stage gathers faces across consecutive frames into one batch.
Live mode drops the oldest captured frame when the pipeline falls behind, and batches only the
faces of one frame (latency).

An exception in any stage stops every stage and is raised in the caller; sinks are aborted (a
file sink deletes its temporary file). Ctrl-C or SIGTERM becomes `Interrupted` (exit 130).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from streamfx.effects import Effect
from streamfx.errors import Interrupted
from streamfx.stages import Composer, FaceStage, FaceWork
from streamfx.stats import RunStats
from streamfx.types import VideoFrame

log = logging.getLogger("streamfx.pipeline")

_END = object()  # end-of-stream marker passed down the queues
_POLL = 0.05  # seconds between checks of the stop flag while a queue waits


class _Stopped(Exception):
    """Raised inside a stage when another stage failed or the caller aborted."""


@dataclass(frozen=True)
class PipelineOptions:
    batch: int = 8  # faces per model call
    live: bool = False  # drop oldest frames instead of blocking; no batching across frames
    queue_size: int = 0  # frames per queue; 0 = 2 x batch for files, 2 for live
    warm_up: bool = True  # one model call before the clock starts (lazy engine init)
    finish_on_interrupt: bool = False  # live: Ctrl-C ends the stream cleanly (a second one aborts)


class Pipeline:
    """Runs one stream through face stage, effect and composer into sinks.

    sinks: objects with `write(image, frame)`, `close()` and `abort()`; closed on success,
    aborted on any failure or interrupt.
    """

    def __init__(self, face_stage: FaceStage, effect: Effect, composer: Composer,
                 options: PipelineOptions = PipelineOptions()):
        if options.batch < 1:
            raise ValueError(f"batch must be at least 1, got {options.batch}")
        self.face_stage, self.effect, self.composer, self.options = face_stage, effect, composer, options
        self.effect_enabled = True  # live toggle (space key)
        self.stats = RunStats(engine=effect.engine, device=effect.device)
        self._abort = threading.Event()  # stop everything now
        self._finish = threading.Event()  # stop reading input; let the rest drain
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        size = options.queue_size or (2 if options.live else max(8, 2 * options.batch))
        self._frames, self._faces, self._paste, self._out = (queue.Queue(size) for _ in range(4))
        self._captured: dict[int, float] = {}  # live: frame index -> when capture handed it over

    def request_stop(self) -> None:
        """End the stream cleanly: no more input is read; frames already in flight are finished."""
        self._finish.set()

    # ---- queue helpers ------------------------------------------------------------------------------------
    def _put(self, q: queue.Queue, item) -> None:
        while not self._abort.is_set():
            try:
                q.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _put_latest(self, q: queue.Queue, item) -> None:
        """Live capture: never wait; make room by dropping the oldest queued frame."""
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    dropped = q.get_nowait()
                    if dropped is not _END:
                        self.stats.frames_dropped += 1
                        self._captured.pop(dropped.index, None)

    def _get(self, q: queue.Queue):
        while not self._abort.is_set():
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                continue
        raise _Stopped

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
        self._abort.set()

    def _worker(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except _Stopped:
                pass
            except BaseException as error:  # carried to the caller's thread
                self._fail(error)
        return run

    # ---- stages -------------------------------------------------------------------------------------------
    def _read(self, frames: Iterable[VideoFrame]) -> None:
        iterator = iter(frames)
        stage = "capture" if self.options.live else "decode"
        while not self._finish.is_set() and not self._abort.is_set():
            started = time.perf_counter()
            frame = next(iterator, None)
            if frame is None:
                break
            self.stats.add(stage, time.perf_counter() - started)
            self.stats.frames_in += 1
            if self.options.live:
                self._captured[frame.index] = time.perf_counter()
                self._put_latest(self._frames, frame)
            else:
                self._put(self._frames, frame)
        self._put(self._frames, _END)

    def _find_faces(self) -> None:
        while (frame := self._get(self._frames)) is not _END:
            with self.stats.timed("faces"):
                ready = self.face_stage.push(frame)
            for work in ready:
                self._put(self._faces, work)
        for work in self.face_stage.flush():
            self._put(self._faces, work)
        self._put(self._faces, _END)

    def _gather(self) -> tuple[list[FaceWork], bool]:
        """Frames for one model call and whether the stream ended. Files: until `batch` faces are
        waiting (or 2 x batch frames without faces); live: one frame."""
        first = self._get(self._faces)
        if first is _END:
            return [], True
        works, faces = [first], len(first.crops)
        while not self.options.live and faces < self.options.batch and len(works) < 2 * self.options.batch:
            item = self._get(self._faces)
            if item is _END:
                return works, True
            works.append(item)
            faces += len(item.crops)
        return works, False

    def _run_model(self) -> None:
        ended = False
        while not ended:
            works, ended = self._gather()
            for work in self._apply_effect(works):
                self._put(self._paste, work)
        self._put(self._paste, _END)

    def _apply_effect(self, works: list[FaceWork]) -> list[FaceWork]:
        crops = [crop.image for work in works for crop in work.crops]
        if not self.effect_enabled:
            return [FaceWork(w.frame, w.crops, None, skip_effect=True) for w in works]
        if not crops:
            return works
        tracks = [crop.face.track_id for work in works for crop in work.crops]
        with self.stats.timed("model", items=len(crops)):
            generated = self.effect(np.stack(crops), tracks)  # [F,V,S,S,3] uint8
        self.stats.faces += len(crops)
        self.stats.batches += 1
        out, start = [], 0
        for work in works:
            count = len(work.crops)
            out.append(FaceWork(work.frame, work.crops, generated[start:start + count]))
            start += count
        return out

    def _compose(self) -> None:
        while (work := self._get(self._paste)) is not _END:
            with self.stats.timed("paste"):
                picture = self.composer(work)
            self._put(self._out, (work.frame, picture))
        self._put(self._out, _END)

    # ---- the caller's side -------------------------------------------------------------------------------
    def _warm_up(self) -> None:
        size = self.face_stage.crop_size
        self.effect(np.zeros((1, size, size, 3), np.uint8), [-1])

    def run(self, frames: Iterable[VideoFrame], sinks: Sequence, progress: Callable[[int], object] | None = None
            ) -> RunStats:
        """Process every frame into every sink; returns the stats. Raises what a stage raised."""
        if self.options.warm_up:
            self._warm_up()
        threads = [threading.Thread(target=self._worker(body), name=f"streamfx-{name}", daemon=True)
                   for name, body in (("read", lambda: self._read(frames)), ("faces", self._find_faces),
                                      ("model", self._run_model), ("paste", self._compose))]
        started = time.perf_counter()
        try:
            for thread in threads:
                thread.start()
            self._drain(sinks, progress)
        except BaseException as error:
            self._abort.set()
            _join(threads)
            _abort_sinks(sinks)
            if isinstance(error, _Stopped) and self._error is not None:
                raise self._error from None
            if isinstance(error, KeyboardInterrupt):
                raise Interrupted(_interrupt_message(sinks)) from None
            raise
        _join(threads)
        for sink in sinks:
            sink.close()
        self.stats.wall_seconds = time.perf_counter() - started
        return self.stats

    def _drain(self, sinks: Sequence, progress) -> None:
        while True:
            try:
                item = self._get(self._out)
            except KeyboardInterrupt:
                if not self.options.finish_on_interrupt or self._finish.is_set():
                    raise
                log.warning("stopping (Ctrl-C again to abort without saving)")
                self.request_stop()
                continue
            if item is _END:
                return
            frame, picture = item
            with self.stats.timed("encode"):
                for sink in sinks:
                    sink.write(picture, frame)
            captured = self._captured.pop(frame.index, None)
            if captured is not None:
                self.stats.latencies.append(time.perf_counter() - captured)
            self.stats.frames_out += 1
            if progress is not None:
                progress(1)


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        if thread.ident is not None:  # started
            thread.join(timeout=10.0)


def _abort_sinks(sinks: Sequence) -> None:
    for sink in sinks:
        try:
            sink.abort()
        except Exception as error:  # already failing: cleanup of the other sinks must go on
            log.debug("ignored while aborting %r: %s", sink, error)


def _interrupt_message(sinks: Sequence) -> str:
    files = [str(s.path) for s in sinks if getattr(s, "path", None) is not None]
    if files:
        return f"interrupted: stopped early, no output written ({', '.join(files)} not created, temp file removed)"
    return "interrupted: stopped early"
