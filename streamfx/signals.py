"""How streamfx turns signals into clean stops.

Ctrl-C (SIGINT) and SIGTERM both become KeyboardInterrupt in the main thread, so one cleanup path serves both.
Ctrl-C is held back while C extensions (numpy, torch, cv2, PyAV) are imported: interrupting their module
initialisation can abort the process, leave a module that cannot be loaded again, or make CPython die by SIGINT
even after the interrupt was handled.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import importlib.util
import signal
import threading
from collections.abc import Iterable, Iterator


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM behave like Ctrl-C in the main thread, so both clean up the same way."""
    if not _in_main_thread():
        yield
        return

    def handler(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def interrupt_held() -> Iterator[None]:
    """Hold Ctrl-C until the block has finished, then raise KeyboardInterrupt if one came."""
    if not _in_main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def import_uninterrupted(modules: Iterable[str]) -> None:
    """Import the installed ones of `modules` with Ctrl-C held, so later lazy imports find them loaded."""
    with interrupt_held():
        for name in modules:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)


class _SignalStack(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


@contextlib.contextmanager
def thread_signal_stack_kept() -> Iterator[None]:
    """Give the calling thread its own alternate signal stack back after the block.

    OpenVINO's CPU plugin installs an alternate signal stack on the thread that loads a model, and after a run the
    thread still pointed at it once that memory was unmapped (seen on the main thread after `streamfx anime`). The
    next signal there (Ctrl-C) then ran its handler on freed memory and the process died with SIGSEGV instead of
    stopping cleanly. Where the C library has no sigaltstack, nothing is done.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        sigaltstack = libc.sigaltstack
    except (OSError, AttributeError):
        yield
        return
    before = _SignalStack()
    saved = sigaltstack(None, ctypes.byref(before)) == 0
    try:
        yield
    finally:
        if saved:
            sigaltstack(ctypes.byref(before), None)
