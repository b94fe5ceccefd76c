"""The thread budget: planned shares, user overrides, and the pools that actually take them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from streamfx.errors import UsageError
from streamfx.threads import ThreadBudget, apply_budget, current_budget, library_defaults, parse_overrides, plan_budget


@pytest.fixture
def restore_threads():
    import cv2
    import torch

    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(threads)
    cv2.setNumThreads(cv_threads)
    import streamfx.threads

    streamfx.threads._applied = None


@pytest.mark.parametrize("cores", [1, 2, 4, 16])
def test_planned_shares_fit_the_cores(cores):
    budget = plan_budget(cores)
    assert 1 <= budget.compute <= cores and budget.opencv >= 1
    assert 1 <= budget.encode <= cores and 1 <= budget.decode <= cores


def test_overrides_replace_only_the_named_shares():
    base = ThreadBudget(compute=1, opencv=1, decode=2, encode=2)
    assert parse_overrides("compute=2, encode=1", base) == ThreadBudget(compute=2, opencv=1, decode=2, encode=1)
    assert parse_overrides("", base) == base


@pytest.mark.parametrize("text", ["compute", "model=2", "compute=-1", "compute=two", "encode=1.5"])
def test_malformed_overrides_are_refused(text):
    with pytest.raises(UsageError, match="STREAMFX_THREADS"):
        parse_overrides(text, plan_budget(2))


def test_a_malformed_override_is_a_one_line_usage_error(monkeypatch, capsys):
    from streamfx.cli import main

    monkeypatch.setenv("STREAMFX_THREADS", "gpu=4")
    assert main(["-q", "anime", "nothing.mp4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("streamfx: error: STREAMFX_THREADS") and "\n" not in err


def test_applied_budget_sizes_torch_opencv_and_new_readers_and_writers(tmp_path, restore_threads):
    import cv2
    import numpy as np
    import torch

    from streamfx.io.decode import VideoReader
    from streamfx.io.encode import VideoWriter
    from test_io_fixtures import make_clip

    apply_budget(ThreadBudget(compute=1, opencv=1, decode=1, encode=3))
    assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
    assert current_budget().encode == 3
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    with VideoReader(clip) as reader:
        assert reader.threads == 1 and len(list(reader)) == 3
    with VideoWriter(tmp_path / "out.mp4", width=64, height=48, time_base=Fraction(1, 25), fps=Fraction(25)) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8), 0)
        assert writer._stream.codec_context.thread_count == 3
    with VideoWriter(tmp_path / "own.mp4", width=64, height=48, time_base=Fraction(1, 25), fps=Fraction(25),
                     threads=1) as writer:  # an explicit count wins over the budget
        writer.write(np.zeros((48, 64, 3), np.uint8), 0)
        assert writer._stream.codec_context.thread_count == 1


def test_library_defaults_give_every_pool_every_core():
    budget = library_defaults(4)
    assert budget.compute == budget.opencv == 4 and budget.decode == budget.encode == 0
