"""`streamfx batch`: a folder of four clips, one corrupt, gives three outputs and one reported error (exit 1); a
rerun redoes nothing; a killed run resumes where it stopped; Ray gives the same outputs as the plain run."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_io_fixtures import leftovers, make_clip, make_text

from streamfx.cli import main
from streamfx.io.probe import probe

GOOD = {"a.mp4": 25, "sub/b.mp4": 30, "sub/deeper/c.mkv": 20}


def _folder(root: Path) -> Path:
    folder = root / "in"
    for key, frames in GOOD.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        make_clip(path, frames=frames, audio_codec="aac")
    make_text(folder / "sub")  # sub/notes.mp4: text wearing a video's name
    (folder / "readme.txt").write_text("not a video, not a job\n")
    return folder


def _outputs(out: Path) -> dict[str, tuple[int, int, float]]:
    """key -> (frames, audio tracks, audio seconds) of every finished output."""
    found = {}
    for path in sorted(out.rglob("*.mp4")):
        info = probe(path)
        found[path.relative_to(out).as_posix()] = (info.frame_count, len(info.audio),
                                                   round(info.audio[0].duration, 2))
    return found


def _expected(folder: Path) -> dict[str, tuple[int, int, float]]:
    """What the outputs must hold: each good source's frames and its audio, as long as the source's."""
    found = {}
    for key in GOOD:
        info = probe(folder / key)
        found[str(Path(key).with_suffix(".mp4"))] = (info.frame_count, 1, round(info.audio[0].duration, 2))
    return found


def _assert_same_media(got: dict, expected: dict) -> None:
    """Same files, frames and audio tracks; audio as long within one AAC frame (containers count priming apart)."""
    assert sorted(got) == sorted(expected)
    for key, (frames, tracks, seconds) in expected.items():
        assert got[key][:2] == (frames, tracks), key
        assert got[key][2] == pytest.approx(seconds, abs=0.05), key


def _manifest(out: Path) -> dict:
    return json.loads((out / "streamfx-batch.json").read_text())["jobs"]


def test_one_corrupt_file_fails_alone_and_a_rerun_redoes_nothing(tmp_path, capsys, no_default_model):
    folder, out = _folder(tmp_path), tmp_path / "out"
    assert main(["batch", str(folder), "-o", str(out), "--preset", "ultrafast"]) == 1
    captured = capsys.readouterr()
    _assert_same_media(_outputs(out), _expected(folder))
    jobs = _manifest(out)
    assert {k: j["status"] for k, j in jobs.items()} == {"a.mp4": "done", "sub/b.mp4": "done",
                                                          "sub/deeper/c.mkv": "done", "sub/notes.mp4": "failed"}
    assert "not a readable media file" in jobs["sub/notes.mp4"]["error"]
    table = captured.out.splitlines()
    assert table[0].split() == ["file", "frames", "faces", "seconds", "fps", "status"] and len(table) == 5
    assert [line for line in captured.err.splitlines() if line.startswith("streamfx: error:")] == [
        "streamfx: error: 1 of 4 files failed (see the table; rerun to retry them)"]
    assert leftovers(out) == [] and leftovers(out / "sub") == []

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    assert main(["batch", str(folder), "-o", str(out), "--preset", "ultrafast"]) == 1  # the corrupt one fails again
    assert "3 finished earlier, 1 to run" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")} == stamps  # nothing redone

    (folder / "sub" / "notes.mp4").unlink()  # the user removes the bad file: the batch now succeeds
    assert main(["batch", str(folder), "-o", str(out), "--preset", "ultrafast"]) == 0


def test_a_killed_run_resumes(tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for i in range(4):
        make_clip(folder / f"clip{i}.mp4", width=320, height=240, frames=150, audio_codec="aac")
    command = [sys.executable, "-m", "streamfx", "batch", str(folder), "-o", str(out), "--preset", "ultrafast"]
    env = {"STREAMFX_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while not _recorded_done(out):  # the first job has finished and is in the manifest
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no cleanup at all: power loss
    proc.wait()
    # Only what the manifest records counts as finished; an output renamed into place just before the kill but not
    # yet recorded is done again (the manifest cannot vouch for its options).
    finished = {key: (out / key).stat().st_mtime_ns for key in _recorded_done(out)}
    assert 1 <= len(finished) < 4

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} finished earlier, {4 - len(finished)} to run" in rerun.stderr
    assert {n: (out / n).stat().st_mtime_ns for n in finished} == finished  # not redone
    assert {k: v[0] for k, v in _outputs(out).items()} == {f"clip{i}.mp4": 150 for i in range(4)}
    assert leftovers(out) == []  # the killed job's temp file went with the rerun


def _recorded_done(out: Path) -> list[str]:
    try:
        return [key for key, job in _manifest(out).items() if job["status"] == "done"]
    except (OSError, ValueError):  # not written yet
        return []


def test_bad_batch_options_are_refused_up_front(tmp_path, capsys):
    folder = _folder(tmp_path)
    for argv, words in [(["--workers", "0"], "--workers"), (["--grid", "4"], "--grid"),
                        (["--batch", "0"], "--batch")]:
        assert main(["batch", str(folder), "-o", str(tmp_path / "out"), *argv]) == 2
        assert words in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "nothing"), "-o", str(tmp_path / "out")]) == 2
    assert main(["batch", str(folder), "-o", str(folder)]) == 2
    assert main(["batch", str(folder), "-o", str(tmp_path / "no" / "such")]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs Ray (pip install 'streamfx[ray]')")
def test_ray_gives_the_same_outputs_as_the_plain_batch(tmp_path, capsys):
    import ray

    folder = _folder(tmp_path)
    assert main(["batch", str(folder), "-o", str(tmp_path / "plain"), "--preset", "ultrafast"]) == 1
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")  # a local Ray, as a cluster would be
    try:
        assert main(["batch", str(folder), "-o", str(tmp_path / "ray"), "--preset", "ultrafast", "--ray", "auto"]) == 1
    finally:
        ray.shutdown()
    assert len(_outputs(tmp_path / "plain")) == 3
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "plain")
    jobs = _manifest(tmp_path / "ray")
    assert jobs["sub/notes.mp4"]["status"] == "failed" and "not a readable media file" in jobs["sub/notes.mp4"]["error"]
