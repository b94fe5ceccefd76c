"""streamfx: stylize and edit faces in video, live."""

__version__ = "0.1.0"
