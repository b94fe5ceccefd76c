"""The command line starts light: reading the arguments loads no torch, and Ctrl-C at any moment of start-up
gives one line and exit code 130, never a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import SAMPLES


def test_building_the_parser_loads_no_heavy_module():
    code = ("import sys; from streamfx.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'cv2', 'av', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    for delay in (0.15, 0.3, 0.6):  # from argument parsing through model loading
        proc = subprocess.Popen([sys.executable, "-m", "streamfx", "anime", str(SAMPLES / "astronaut.mp4"),
                                 "-o", str(tmp_path / "out.mp4")], stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # finished before the signal: nothing to check at this delay
            continue
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.strip().splitlines()[-1] == "streamfx: interrupted", err
        assert not (tmp_path / "out.mp4").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
