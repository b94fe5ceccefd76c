"""SIGINT / SIGTERM during `streamfx anime` (a real subprocess): exit 130, a message saying nothing was
written, no output file, no temporary file, input unchanged."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest
from test_io_fixtures import digest

from conftest import SAMPLES


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_leaves_nothing(tmp_path, sig):
    source = shutil.copy(SAMPLES / "astronaut.mp4", tmp_path / "in.mp4")
    before = digest(source)
    out = tmp_path / "out.mp4"
    # --detect-every 1 keeps the run long enough to be caught mid-way on a fast machine.
    proc = subprocess.Popen([sys.executable, "-m", "streamfx", "-q", "anime", str(source), "-o", str(out),
                             "--detect-every", "1"], stderr=subprocess.PIPE, text=True,
                            env={"STREAMFX_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):  # the writer has started
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "no output written" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["in.mp4"]
    assert digest(source) == before
