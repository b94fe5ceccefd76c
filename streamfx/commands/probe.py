"""`streamfx probe IN [--json]`: what a media file holds (size, rate, duration, frames, audio)."""

from __future__ import annotations

import json

from streamfx.io.probe import MediaInfo, probe


def register(sub) -> None:
    parser = sub.add_parser("probe", help="show a video's size, frame rate, duration, frames and audio streams")
    parser.add_argument("input", metavar="IN", help="video file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run, preload=("av",))


def format_table(info: MediaInfo) -> str:
    """Human-readable two-column table, one audio line per stream."""
    fps = "unknown" if info.fps is None else f"{float(info.fps):.3f} ({info.fps})"
    rows = [
        ("file", str(info.path)),
        ("container", info.format),
        ("video", f"{info.video_codec} {info.width}x{info.height} (upright)"),
        ("rotation", f"{info.rotation} deg"),
        ("fps", fps),
        ("frames", str(info.frame_count)),
        ("duration", f"{info.duration:.3f} s"),
        ("start", f"{info.start_time:.3f} s"),
        ("time base", str(info.time_base)),
    ]
    for a in info.audio:
        length = "?" if a.duration is None else f"{a.duration:.3f} s"
        rows.append((f"audio #{a.index}", f"{a.codec} {a.sample_rate} Hz {a.channels} ch {length}"))
    if not info.audio:
        rows.append(("audio", "none"))
    if info.comment:
        rows.append(("comment", info.comment))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def run(args) -> int:
    info = probe(args.input)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(format_table(info))
    return 0
