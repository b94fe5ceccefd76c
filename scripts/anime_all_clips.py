"""Run `streamfx anime` on every clip under a folder and check each output against its input.

    python scripts/anime_all_clips.py [FOLDER] [--weights PATH] [--engine torch] [--markdown]

Checks per clip: same frame count, same per-frame presentation times (1 ms), audio present iff the
input has it with the same duration (50 ms), and the run exits 0. Without --weights a tiny random GNR
is used (the checks are about the pipeline, not the looks). Exit status 1 if any clip fails.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = ((4, 16), (8, 16), (16, 16), (32, 16), (64, 8), (128, 8), (256, 8))


def frame_times(path: Path) -> list[float]:
    from streamfx.io.decode import VideoReader

    with VideoReader(path) as reader:
        return [f.time for f in reader]


def check(source: Path, out: Path) -> str:
    """'' when the output matches the input, else what differs."""
    from streamfx.io.probe import probe

    src_times, out_times = frame_times(source), frame_times(out)
    if len(src_times) != len(out_times):
        return f"frames {len(out_times)} != {len(src_times)}"
    worst = max((abs(a - b) for a, b in zip(src_times, out_times)), default=0.0)
    if worst > 1e-3:
        return f"frame times differ by up to {worst * 1000:.1f} ms"
    src_audio, out_audio = probe(source).audio, probe(out).audio
    if bool(src_audio) != bool(out_audio):
        return "audio track missing" if src_audio else "unexpected audio track"
    if src_audio and abs((src_audio[0].duration or 0) - (out_audio[0].duration or 0)) > 0.05:
        return f"audio {out_audio[0].duration:.3f} s != {src_audio[0].duration:.3f} s"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=REPO.parent / "shared/data/videos")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--engine", default="torch")
    parser.add_argument("--markdown", action="store_true")
    opts = parser.parse_args()

    import torch

    from streamfx.cli import main as streamfx
    from streamfx.models.gnr import Generator, GNRConfig
    from streamfx.weights import save_weights

    rows, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        weights = opts.weights
        if weights is None:
            torch.manual_seed(0)
            weights = str(Path(tmp) / "tiny.safetensors")
            save_weights(weights, {"A2B": Generator(GNRConfig(channels=TINY, style_dim=32))}, {"name": "tiny"})
        for clip in sorted(opts.folder.rglob("*.mp4")):
            out = Path(tmp) / "out.mp4"
            started = time.perf_counter()
            code = streamfx(["-q", "anime", str(clip), "-o", str(out), "--overwrite", "--weights", weights,
                             "--engine", opts.engine])
            seconds = time.perf_counter() - started
            problem = check(clip, out) if code == 0 else f"exit {code}"
            failed += bool(problem)
            rows.append((str(clip.relative_to(opts.folder)), len(frame_times(clip)), seconds, problem or "ok"))
            print(f"{rows[-1][0]:<60} {rows[-1][1]:5d} frames {seconds:6.1f} s  {rows[-1][3]}", flush=True)
    if opts.markdown:
        print("\n| clip | frames | seconds | result |\n|---|---|---|---|")
        for name, frames, seconds, result in rows:
            print(f"| {name} | {frames} | {seconds:.1f} | {result} |")
    print(f"{len(rows) - failed} of {len(rows)} clips ok")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
