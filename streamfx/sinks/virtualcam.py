"""An OBS / v4l2loopback virtual camera sink (pyvirtualcam), paced to the camera's frame rate."""

from __future__ import annotations

import logging

import numpy as np

from streamfx.errors import StreamfxError, UsageError
from streamfx.types import VideoFrame

log = logging.getLogger("streamfx.sinks")


def _import_pyvirtualcam():
    try:
        import pyvirtualcam
    except ImportError:
        raise UsageError("--virtual-cam needs pyvirtualcam: pip install 'streamfx[obs]' (or pip install pyvirtualcam)") \
            from None
    return pyvirtualcam


class VirtualCamSink:
    """Sends RGB frames to a virtual camera of fixed size; frames of another size are resized.

    pace: sleep after each frame until the next one is due (`sleep_until_next_frame`), so the
    camera sees a steady rate even when frames arrive in bursts.
    """

    def __init__(self, width: int, height: int, fps: float, *, device: str | None = None,
                 backend: str | None = None, pace: bool = True):
        pyvirtualcam = _import_pyvirtualcam()
        self.width, self.height, self.fps, self.pace = int(width), int(height), float(fps), pace
        try:
            self._camera = pyvirtualcam.Camera(width=self.width, height=self.height, fps=self.fps,
                                               fmt=pyvirtualcam.PixelFormat.RGB, device=device, backend=backend)
        except RuntimeError as error:
            raise StreamfxError(f"virtual camera unavailable: {str(error).splitlines()[0]} "
                                "(Linux: sudo modprobe v4l2loopback devices=1; Windows/macOS: install OBS)") from None
        log.info("virtual camera: %s (%dx%d @ %g fps)", self._camera.device, self.width, self.height, self.fps)

    @property
    def device(self) -> str:
        return self._camera.device

    def write(self, image: np.ndarray, frame: VideoFrame) -> None:
        if image.shape[:2] != (self.height, self.width):
            import cv2

            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        self._camera.send(np.ascontiguousarray(image))
        if self.pace:
            self._camera.sleep_until_next_frame()

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None

    def abort(self) -> None:
        self.close()
