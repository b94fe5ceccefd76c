"""The live preview window for real: `streamfx live --preview` under a virtual X display (Xvfb) opens a window
showing the stylized stream, takes keys sent to it (n: next style seed, q: quit), and a screenshot shows it.

Needs Xvfb and xdotool (Debian: apt-get install xvfb xdotool) and OpenCV with window support (opencv-python);
skips without them, fails instead under CI (STREAMFX_REQUIRE_DISPLAY=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import SAMPLES
from streamfx.io.decode import VideoReader

TITLE = "streamfx live"


def _missing() -> str | None:
    import cv2

    tools = [t for t in ("Xvfb", "xdotool") if shutil.which(t) is None]
    if tools:
        return f"needs {' and '.join(tools)} (apt-get install xvfb xdotool)"
    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    if gui and gui[0].split(":", 1)[1].strip().upper() == "NONE":
        return "the installed OpenCV has no window support (opencv-python-headless)"
    return None


@pytest.fixture
def display():
    reason = _missing()
    if reason is not None:
        if os.environ.get("STREAMFX_REQUIRE_DISPLAY") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    number = next(n for n in range(91, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def _long_clip(path: Path, seconds: int = 12) -> Path:
    """The sample's frames played over and over, so the run lasts until the test quits it (no audio needed)."""
    with VideoReader(SAMPLES / "astronaut.mp4") as reader:
        frames = [f.image for f in reader]
    with av.open(str(path), "w") as c:
        stream = c.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 480, 480, "yuv420p"
        for i in range(seconds * 25):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return path


def _xdotool(display: str, *argv: str) -> str:
    return subprocess.run(["xdotool", *argv], capture_output=True, text=True, check=True, timeout=20,
                          env={**os.environ, "DISPLAY": display}).stdout


def _window(display: str, deadline: float) -> str:
    while True:
        found = subprocess.run(["xdotool", "search", "--name", TITLE], capture_output=True, text=True,
                               env={**os.environ, "DISPLAY": display}).stdout.split()
        if found:
            return found[0]
        assert time.monotonic() < deadline, "no preview window appeared"
        time.sleep(0.1)


def _grab(display: str, window: str) -> np.ndarray:
    from PIL import ImageGrab

    geometry = dict(line.split("=") for line in _xdotool(display, "getwindowgeometry", "--shell", window).split())
    x, y, w, h = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return np.asarray(ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=display).convert("RGB"))


def test_preview_window_shows_the_stream_and_takes_keys(display, tmp_path):
    """With the bundled default model: the window shows stylized faces."""
    clip = _long_clip(tmp_path / "long.mp4")
    env = {**os.environ, "DISPLAY": display, "STREAMFX_HOME": str(tmp_path / "home")}
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "streamfx", "live", "--camera", str(clip), "--preview",
                             "--style-seed", "3"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        window = _window(display, time.monotonic() + 90)
        time.sleep(1.5)  # frames flowing
        shot = _grab(display, window)
        _xdotool(display, "windowfocus", "--sync", window)
        _xdotool(display, "key", "--window", window, "n")
        time.sleep(1.0)
        _xdotool(display, "key", "--window", window, "q")
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "style seed 4" in err  # n moved the seed on from 3
    frames_shown = int(err.split("live: ")[1].split(" frames shown")[0])
    assert 0 < frames_shown < 12 * 25  # q ended the run before the clip did

    assert shot.shape[:2] == (480, 480)  # the picture only: no toolbar, no status bar
    assert shot.std() > 20  # a picture, not an empty window
    overlay = shot[:30, :120].reshape(-1, 3).astype(int)  # the frame rate, drawn in green
    assert ((overlay[:, 1] > 200) & (overlay[:, 0] < 80) & (overlay[:, 2] < 80)).sum() > 20
    if os.environ.get("STREAMFX_PREVIEW_SCREENSHOT"):
        from PIL import Image

        Image.fromarray(shot).save(os.environ["STREAMFX_PREVIEW_SCREENSHOT"])
