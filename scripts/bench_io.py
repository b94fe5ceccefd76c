"""Video I/O throughput: decode-only, encode-only and passthrough (decode + encode + audio copy) frames
per second at 720p and 1080p. Prints a Markdown table.

The test clips are made here, in a temporary folder: a shared clip (default: the Hamilton clip,
640x360 with AAC audio) upscaled to each size and encoded once with libx264.

    python scripts/bench_io.py [--source CLIP] [--frames 100] [--presets medium veryfast] [--codec libx264]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2

from streamfx.io.decode import VideoReader
from streamfx.io.encode import VideoWriter, choose_video_codec

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared/data/videos/face_recognition/short_hamilton_clip.mp4"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def make_clip(source: Path, out: Path, size: tuple[int, int], frames: int) -> None:
    """Upscale the first `frames` frames of `source` to `size`, keeping its pts and the audio alongside."""
    from streamfx.io.probe import probe

    info = probe(source)
    seconds = info.start_time + frames / float(info.fps or 25)
    with VideoReader(source, duration=seconds) as reader:
        with VideoWriter(out, width=size[0], height=size[1], time_base=reader.time_base, fps=reader.fps,
                         audio_from=source, audio_range=reader.time_range, preset="veryfast", crf=18) as writer:
            for frame in reader:
                writer.write(cv2.resize(frame.image, size, interpolation=cv2.INTER_CUBIC), frame.pts)


def bench_decode(clip: Path) -> tuple[float, list]:
    """Frames per second of decode to upright RGB; also returns the frames for the encode test."""
    start = time.perf_counter()
    with VideoReader(clip) as reader:
        frames = [(f.image, f.pts) for f in reader]
        info = reader.info
    return len(frames) / (time.perf_counter() - start), [frames, info]


def bench_encode(frames, info, out: Path, codec: str, preset: str) -> float:
    """Frames per second of RGB -> H.264 file (no audio), frames already in memory."""
    start = time.perf_counter()
    with VideoWriter(out, width=info.width, height=info.height, time_base=info.time_base, fps=info.fps,
                     codec=codec, preset=preset, overwrite=True) as writer:
        for image, pts in frames:
            writer.write(image, pts)
    return len(frames) / (time.perf_counter() - start)


def bench_passthrough(clip: Path, out: Path, codec: str, preset: str) -> float:
    """Frames per second of decode + encode + audio packet copy, as `streamfx anime` does around the model."""
    start = time.perf_counter()
    with VideoReader(clip) as reader:
        with VideoWriter(out, width=reader.info.width, height=reader.info.height, time_base=reader.time_base,
                         fps=reader.fps, audio_from=clip, codec=codec, preset=preset, overwrite=True) as writer:
            count = 0
            for frame in reader:
                writer.write(frame.image, frame.pts)
                count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--frames", type=int, default=100, help="frames per test clip")
    parser.add_argument("--presets", nargs="+", default=["medium", "veryfast"])
    parser.add_argument("--codec", default="libx264", help="e.g. h264_nvenc (falls back to libx264)")
    args = parser.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"source clip not found: {args.source}")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in SIZES.items():
            clip = Path(tmp) / f"{name}.mp4"
            make_clip(args.source, clip, size, args.frames)
            codec = choose_video_codec(args.codec, *size)
            decode_fps, (frames, info) = bench_decode(clip)
            rows.append((name, "decode -> RGB", "-", decode_fps))
            for preset in args.presets:
                enc = bench_encode(frames, info, Path(tmp) / "enc.mp4", codec, preset)
                rows.append((name, f"encode RGB -> {codec}", preset, enc))
            del frames
            for preset in args.presets:
                fps = bench_passthrough(clip, Path(tmp) / "pass.mp4", codec, preset)
                rows.append((name, f"passthrough + audio copy ({codec})", preset, fps))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# video I/O, {args.frames} frames per clip, {platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"load average {load} (other work on the machine lowers these numbers)\n")
    print("| size | stage | preset | frames/s |")
    print("|---|---|---|---|")
    for name, stage, preset, fps in rows:
        print(f"| {name} | {stage} | {preset} | {fps:.1f} |")


if __name__ == "__main__":
    main()
