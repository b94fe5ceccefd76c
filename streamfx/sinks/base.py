"""The sink interface, and a sink that hands frames to a function (tests, reports)."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from streamfx.types import VideoFrame


class Sink(Protocol):
    def write(self, image: np.ndarray, frame: VideoFrame) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class CallbackSink:
    """Calls `fn(image, frame)` per output frame."""

    def __init__(self, fn: Callable[[np.ndarray, VideoFrame], object]):
        self.fn = fn

    def write(self, image: np.ndarray, frame: VideoFrame) -> None:
        self.fn(image, frame)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass
