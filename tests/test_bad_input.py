"""The bad-input table: damaged files, bad options, bad paths and signals given to `streamfx anime`.

Every kind must end with its exit code (2 usage, 1 processing), exactly one line on stderr naming the problem, no
traceback, nothing new left in the folder, and every input byte for byte as it was. Signals (exit 130, same rules)
need a real process: Ctrl-C at start-up in test_cli_startup.py, SIGINT and SIGTERM mid-run in
test_pipeline_interrupt.py."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_io_fixtures import digest, make_audio_only, make_clip, make_cut, make_empty, make_text

from conftest import REPO, SAMPLES
from streamfx.cli import main


# ---- inputs: each takes the test folder and returns the argument list after `anime` -----------------------------
def _clip(folder: Path) -> Path:
    return make_clip(folder / "in.mp4", frames=25)


def _zero_byte(folder):
    return [str(make_empty(folder))]


def _text_as_video(folder):
    return [str(make_text(folder))]


def _random_bytes_mkv(folder):
    path = folder / "noise.mkv"
    path.write_bytes(bytes(range(256)) * 64)
    return [str(path)]


def _cut_index_at_end(folder):
    return [str(make_cut(SAMPLES / "astronaut.mp4", folder))]


def _cut_index_first(folder):
    whole = make_clip(folder / "whole.mp4", frames=50, options={"movflags": "faststart"})
    cut = make_cut(whole, folder, "cut_first.mp4")
    whole.unlink()
    return [str(cut)]


def _cut_matroska(folder):
    whole = make_clip(folder / "whole.mkv", frames=50)
    data = whole.read_bytes()
    whole.unlink()
    path = folder / "cut.mkv"
    path.write_bytes(data[: int(len(data) * 0.7)])
    return [str(path)]


def _audio_only(folder):
    return [str(make_audio_only(folder / "voice.mp4"))]


def _text_as_image(folder):
    path = folder / "photo.jpg"
    path.write_text("not a picture\n")
    return [str(path)]


def _with_clip(*extra):
    return lambda folder: [str(_clip(folder)), *extra]


def _weights(content: bytes, name: str):
    def make(folder):
        weights = folder / name
        weights.write_bytes(content)
        return [str(_clip(folder)), "--weights", str(weights)]
    return make


def _truncated_default_weights(folder):
    data = (REPO / "streamfx" / "data" / "gnr_slim.safetensors").read_bytes()
    return _weights(data[: len(data) // 3], "cut.safetensors")(folder)


def _output(name: str, *extra):
    def make(folder):
        return [str(_clip(folder)), "-o", str(folder / name), *extra]
    return make


def _output_exists(folder):
    (folder / "taken.mp4").write_bytes(b"keep me")
    return _output("taken.mp4")(folder)


def _output_is_folder(folder):
    (folder / "sub.mp4").mkdir()
    return _output("sub.mp4")(folder)


def _output_is_input(folder):
    clip = _clip(folder)
    return [str(clip), "-o", str(folder / "." / "in.mp4"), "--overwrite"]


def _output_unwritable(folder):
    return [str(_clip(folder)), "-o", "/sys/out.mp4"]


def _image_to_video(folder):
    import cv2
    import numpy as np

    path = folder / "face.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    return [str(path), "-o", str(folder / "face.mp4")]


def _image_with_duration(folder):
    return [*_image_to_video(folder)[:1], "--duration", "2"]


# kind -> (make arguments, exit code, words the one error line must hold)
TABLE = {
    # files
    "zero-byte file": (_zero_byte, 1, "empty file"),
    "text named .mp4": (_text_as_video, 1, "not a readable media file"),
    "random bytes named .mkv": (_random_bytes_mkv, 1, "noise.mkv"),
    "mp4 cut, index at the end": (_cut_index_at_end, 1, "not a readable media file"),
    "mp4 cut, index first": (_cut_index_first, 1, "truncated or damaged"),
    "matroska cut at 70%": (_cut_matroska, 1, "truncated or damaged"),
    "audio only": (_audio_only, 1, "no video stream"),
    "text named .jpg": (_text_as_image, 1, "not a readable image"),
    "input missing": (lambda f: [str(f / "nope.mp4")], 2, "does not exist"),
    "input is a folder": (lambda f: [str(f)], 2, "not a regular file"),
    "weights: random bytes": (_weights(b"\x11" + random.Random(0).randbytes(4095), "w.safetensors"), 1,
                              "not a weight file"),
    # a 0x80 first byte is what 1 random file in 256 has: not a pickle unless a protocol number follows
    "weights: random bytes from 0x80": (_weights(b"\x80\xf3" + random.Random(1).randbytes(4094), "w.safetensors"), 1,
                                        "not a weight file"),
    "weights: pickle header named .safetensors": (_weights(b"\x80\x04garbage", "w.safetensors"), 1,
                                                  "not a torch checkpoint"),
    "weights: text named .pt": (_weights(b"hello\n", "w.pt"), 1, "not a weight file"),
    "weights: damaged pickle": (_weights(b"\x80\x02garbage", "w.pt"), 1, "not a torch checkpoint"),
    "weights: cut safetensors": (_truncated_default_weights, 1, "cut.safetensors"),
    "weights: missing": (_with_clip("--weights", "no-such.safetensors"), 1, "no-such.safetensors"),
    # options
    "--batch 0": (_with_clip("--batch", "0"), 2, "--batch"),
    "--detect-every 0": (_with_clip("--detect-every", "0"), 2, "--detect-every"),
    "--faces biggest": (_with_clip("--faces", "biggest"), 2, "--faces"),
    "two style options": (_with_clip("--style-seed", "3", "--style-mix", "1,2,0.5"), 2, "choose one"),
    "--grid with --side-by-side": (_with_clip("--grid", "4", "--side-by-side"), 2, "--grid"),
    "--mask-margin 0.7": (_with_clip("--mask-margin", "0.7"), 2, "--mask-margin"),
    "--duration nan": (_with_clip("--duration", "nan"), 2, "duration"),
    "--duration inf": (_with_clip("--duration", "inf"), 2, "duration"),
    "--start nan": (_with_clip("--start", "nan"), 2, "start"),
    "--start -1": (_with_clip("--start", "-1"), 2, "start"),
    "--start past the end": (_with_clip("--start", "30"), 2, "past the end"),
    "--preset bogus": (_with_clip("--preset", "bogus"), 2, "--preset"),
    "--crf 99": (_with_clip("--crf", "99"), 2, "--crf"),
    "--codec bogus": (_with_clip("--codec", "bogus"), 2, "unknown video codec"),
    "--codec aac": (_with_clip("--codec", "aac"), 2, "not a video encoder"),
    "--device bogus": (_with_clip("--device", "bogus"), 2, "device"),
    "--style-image missing": (_with_clip("--style-image", "no-such-anime.png"), 2, "--style-image"),
    "--style-mix 1,2": (_with_clip("--style-mix", "1,2"), 2, "--style-mix"),
    "image with --duration": (_image_with_duration, 2, "apply to videos only"),
    # paths
    "output folder missing": (_output("no/such/out.mp4"), 2, "does not exist"),
    "output exists": (_output_exists, 2, "--overwrite"),
    "output is a folder": (_output_is_folder, 2, "is a folder"),
    "output is the input": (_output_is_input, 2, "same file as the input"),
    "output folder unwritable": (_output_unwritable, 2, "cannot write in /sys"),
    "output extension .xyz": (_output("out.xyz"), 2, "unsupported output extension"),
    "h264 into .webm": (_output("out.webm", "--codec", "libx264"), 2, "cannot go into .webm"),
    "image to a .mp4": (_image_to_video, 2, "image output"),
}


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): (digest(p) if p.is_file() else "folder") for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("kind", sorted(TABLE))
def test_bad_input(kind, tmp_path, capsys, no_default_model):
    make, code, words = TABLE[kind]
    folder = tmp_path / "work"
    folder.mkdir()
    argv = make(folder)
    before = _snapshot(folder)
    capsys.readouterr()
    assert main(["-q", "anime", *argv]) == code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("streamfx: error:"), err
    assert words in err[0]
    assert _snapshot(folder) == before  # nothing new, nothing changed, inputs intact


def test_the_table_covers_thirty_kinds():
    assert len(TABLE) >= 30
