"""Where output frames go: a video file, a preview window, a virtual camera.

Every sink has `write(image, frame)` ([H,W,3] uint8 RGB plus the source `VideoFrame` for its
timing), `close()` (finish normally) and `abort()` (stop, leave nothing half-written).
"""

from streamfx.sinks.base import CallbackSink, Sink
from streamfx.sinks.file import FileSink

__all__ = ["CallbackSink", "FileSink", "Sink"]
