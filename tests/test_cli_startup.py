"""The command line starts light: reading the arguments loads no torch, and Ctrl-C at any moment of start-up
gives one line and exit code 130, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import SAMPLES

from streamfx.signals import interrupt_held


def test_building_the_parser_loads_no_heavy_module():
    code = ("import sys; from streamfx.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'cv2', 'av', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _wait_until_python_catches_sigint(pid: int, timeout: float = 10.0) -> None:
    """Until the interpreter has installed its SIGINT handler. Before that, and for the few milliseconds of its `site`
    import after, Ctrl-C ends any Python program before a line of ours runs; on a loaded machine that window
    outlasted the test's first delay, counted from the process's start."""
    status = f"/proc/{pid}/status"
    if not os.path.exists(status):  # no procfs: the delays alone
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(status) as lines:
                caught = next(line for line in lines if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            return  # the process already ended
        if int(caught.split()[1], 16) & (1 << (signal.SIGINT - 1)):
            return
        time.sleep(0.005)


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    # From argument parsing through torch's import (where a handled Ctrl-C once still ended the process by SIGINT,
    # about 1 run in 12) to model loading; the delays count from when Python can catch the signal.
    for delay in (0.15, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.6):
        out = tmp_path / f"out_{delay}.mp4"  # one per try: a run that finished first leaves its file
        proc = subprocess.Popen([sys.executable, "-m", "streamfx", "anime", str(SAMPLES / "astronaut.mp4"),
                                 "-o", str(out)], stderr=subprocess.PIPE, text=True)
        _wait_until_python_catches_sigint(proc.pid)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # finished before the signal: nothing to check at this delay
            continue
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.strip().splitlines()[-1] == "streamfx: interrupted", err
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_a_held_interrupt_lets_the_block_finish_then_raises():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here; it must not raise inside the block
            finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_after_an_openvino_run_stops_cleanly(tmp_path):
    """OpenVINO's CPU plugin leaves the thread that compiled a model an alternate signal stack that it frees later;
    the next Ctrl-C then crashed the process with SIGSEGV (a batch or the web app after their first job). The run
    and the interrupt happen in a child process, so a crash fails this test instead of ending the test session."""
    pytest.importorskip("openvino", reason="needs openvino (the cpu extra)")
    script = f"""
import os, signal, sys, time
from streamfx.cli import main
from streamfx.signals import interrupt_held
assert main(["-q", "anime", {str(SAMPLES / "astronaut.mp4")!r}, "-o", {str(tmp_path / "out.mp4")!r},
             "--duration", "0.2", "--engine", "openvino"]) == 0
try:
    with interrupt_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
except KeyboardInterrupt:
    print("stopped cleanly")
"""
    env = {**os.environ, "STREAMFX_ENGINES": str(tmp_path / "engines")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "stopped cleanly", (proc.returncode, proc.stderr[-500:])


def test_a_ctrl_c_while_onnx_loads_waits_for_it_to_load_whole():
    """onnx's C++ extension aborted the whole process (exit -6) when a Ctrl-C landed while it was being imported,
    which a run reaches while it opens its engines."""
    code = ("import os, signal, sys, threading\n"
            "from streamfx.export.onnx_export import onnx_module\n"
            "threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()  # the import takes 0.6 s\n"
            "try:\n"
            "    onnx_module()\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted;', 'onnx loaded' if 'onnx' in sys.modules else 'onnx half loaded')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "interrupted; onnx loaded"
