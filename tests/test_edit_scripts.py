"""The editing scripts' own rules: what `withdraw_edit.py` writes and refuses, what `fit_edits.py` refuses before a
long fit, and how `edit_report.py` counts crossings and monotonic faces."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import DATA, require
from streamfx.edit.bank import EditBank
from streamfx.weights import read_metadata

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "streamfx/data/gnr_slim.safetensors"
BANK = REPO / "streamfx/data/gnr_slim_edits.safetensors"


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], capture_output=True, text=True,
                          timeout=300)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_withdrawing_a_side_writes_a_bank_that_refuses_it_with_the_reason_seen(tmp_path):
    before = digest(BANK)
    out = tmp_path / "edits.safetensors"
    done = run("withdraw_edit.py", "bangs=1", "--why", "a fringe drawn as a dark smear", "--out", str(out))
    assert done.returncode == 0, done.stderr
    shipped = EditBank.load(BANK)
    bank = EditBank.load(out, read_metadata(WEIGHTS)["tensors_sha256"])
    assert shipped.reports["Bangs"].offers(1.0) and not bank.reports["Bangs"].offers(1.0)
    assert "withdrawn on sight: a fringe drawn as a dark smear" in bank.reports["Bangs"].side_reason(1.0)
    assert [n for n in bank.attributes if bank.reports[n].offers(1.0) != shipped.reports[n].offers(1.0)] == ["Bangs"]
    assert torch.equal(bank.content, shipped.content)  # only the verdict changes
    assert digest(BANK) == before  # --out: the shipped bank is left as it was


@pytest.mark.parametrize("side, words", [("bangs=2", "give a side as NAME=1 or NAME=-1"),
                                         ("male=1", "male=1 is not offered: nothing to withdraw"),
                                         ("wings=1", "unknown")])
def test_withdrawing_what_cannot_be_withdrawn_is_a_one_line_error(side, words, tmp_path):
    out = tmp_path / "edits.safetensors"
    done = run("withdraw_edit.py", side, "--why", "x", "--out", str(out))
    assert done.returncode != 0 and words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--into", str(BANK)], "--into needs --attributes"),
    (["--near", str(BANK), "--tune-steps", "5"], "--near searches strengths, which tuning does not"),
])
def test_fit_edits_refuses_requests_it_cannot_honour_before_fitting(args, words, tmp_path):
    out = tmp_path / "edits.safetensors"
    done = run("fit_edits.py", *args, "--out", str(out))
    assert done.returncode != 0 and words in done.stderr and not out.exists(), done.stderr


def test_fit_edits_names_attributes_celeba_does_not_have(tmp_path):
    require(DATA / "celebahq256")
    out = tmp_path / "edits.safetensors"
    done = run("fit_edits.py", "--attributes", "Smiling", "Wings", "--celeba-dir", str(DATA / "celebahq256"),
               "--out", str(out), "--framing-cache", str(tmp_path))
    assert done.returncode != 0 and "not CelebA attributes: Wings" in done.stderr and not out.exists(), done.stderr


@pytest.fixture(scope="module")
def report_script():
    spec = importlib.util.spec_from_file_location("edit_report", REPO / "scripts/edit_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_report_counts_only_faces_that_start_on_the_far_side(report_script):
    before = torch.tensor([0.1, 0.3, 0.6, 0.9, 0.2])
    after = torch.tensor([0.7, 0.4, 0.8, 0.95, 0.51])
    assert report_script.crossing(before, after, 1.0) == pytest.approx(2 / 3)  # of 0.1, 0.3, 0.2: two end past 0.5
    assert report_script.crossing(before, after, -1.0) == 0.0  # 0.6 and 0.9 stay above
    among = torch.tensor([True, False, False, False, False])
    assert report_script.crossing(before, after, 1.0, among) == 1.0
    assert torch.isnan(torch.tensor(report_script.crossing(before, after, -1.0, among)))  # no such face


def test_the_report_allows_the_classifiers_noise_in_a_monotonic_climb(report_script):
    values = (0.0, 0.5, 1.0)
    probs = {0.0: torch.tensor([[0.2], [0.2], [0.2]]), 0.5: torch.tensor([[0.5], [0.19], [0.5]]),
             1.0: torch.tensor([[0.9], [0.6], [0.45]])}
    # face 0 climbs; face 1 dips by 0.01 (within 0.02) then climbs; face 2 falls by 0.05
    assert report_script.monotonic(probs, 1.0, 0, values) == pytest.approx(2 / 3)
    assert report_script.monotonic(probs, -1.0, 0, values) == 0.0


def test_the_video_check_measures_again_only_what_it_has_not_measured(tmp_path):
    """The shipped bank was judged on the default three clips at 4 s: run as it was, every offered side is already
    measured, so the check measures nothing (about 40 s a side and clip otherwise) and writes the same verdicts."""
    require(DATA / "videos")
    out = tmp_path / "edits.safetensors"
    done = run("check_edit_video.py", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 3  # the table's head and the line naming the file: no side rows
    shipped, checked = EditBank.load(BANK), EditBank.load(out)
    assert checked.info["video_check"] == shipped.info["video_check"]
    for name in shipped.attributes:
        for sign in (1.0, -1.0):
            assert checked.reports[name].offers(sign) == shipped.reports[name].offers(sign), (name, sign)
            assert checked.reports[name].flicker(sign) == shipped.reports[name].flicker(sign), (name, sign)
