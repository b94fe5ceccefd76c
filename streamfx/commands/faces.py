"""`streamfx faces IN [-o OUT] [--json TRACKS.json]`: detect and track faces in a video or a still image."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path

from streamfx.errors import UsageError
from streamfx.face.track import parse_selection

log = logging.getLogger("streamfx.faces")


def register(sub) -> None:
    parser = sub.add_parser("faces", help="detect and track faces; draw them (-o) and/or write tracks (--json)")
    parser.add_argument("input", metavar="IN", help="video file or still image")
    parser.add_argument("-o", "--output", metavar="OUT", help="write a copy with boxes, ids and landmarks drawn")
    parser.add_argument("--json", metavar="TRACKS.json", help="write per-frame faces as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--detect-every", type=int, default=5, metavar="N",
                        help="full detection every N frames, cheap landmark refresh between (default 5)")
    parser.add_argument("--no-smooth", action="store_true", help="report raw landmarks (no smoothing)")
    parser.add_argument("--live-smoothing", action="store_true",
                        help="smooth as live mode does (One Euro, from past frames only) instead of as the video "
                             "commands do (a centred fit over the frames either side, without lag)")
    parser.add_argument("--min-cutoff", type=float, default=None,
                        help="with --live-smoothing: One Euro cutoff at rest, Hz (less = smoother)")
    parser.add_argument("--beta", type=float, default=None,
                        help="with --live-smoothing: One Euro speed coefficient (more = less lag)")
    parser.add_argument("--min-face-size", type=int, default=20, metavar="PX", help="smallest face in pixels (20)")
    parser.add_argument("--max-side", type=int, default=640, metavar="PX",
                        help="shrink frames to this long side for detection, 0 = full size (default 640)")
    parser.add_argument("--max-faces", type=int, default=None, metavar="K", help="keep the K largest faces")
    parser.add_argument("--thresholds", type=float, nargs=3, default=(0.6, 0.7, 0.7), metavar=("P", "R", "O"),
                        help="P-Net, R-Net, O-Net score thresholds (default 0.6 0.7 0.7)")
    parser.add_argument("--select", default="all", metavar="RULE",
                        help="which faces: all, largest, or a track id (default all)")
    parser.add_argument("--device", default="cpu", help="torch device for detection: cpu or cuda (default cpu)")
    parser.add_argument("--start", type=float, default=None, metavar="S", help="start at S seconds (video)")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="process S seconds (video)")
    parser.set_defaults(run=run, preload=("numpy", "torch", "cv2", "av"))


def _detector(args):
    from streamfx.face.detect import MTCNNDetector

    if args.max_side < 0 or args.max_faces is not None and args.max_faces < 1:
        raise UsageError("--max-side must be >= 0 and --max-faces >= 1")
    return MTCNNDetector(device=args.device, min_face_size=args.min_face_size, thresholds=tuple(args.thresholds),
                         max_faces=args.max_faces, max_side=args.max_side or None)


def face_record(face) -> dict:
    """One face as JSON: id, score, box [x1,y1,x2,y2], landmarks [[x,y] x5] (pixels, 2 decimals)."""
    return {
        "id": int(face.track_id),
        "score": round(float(face.score), 4),
        "box": [round(float(v), 2) for v in face.box],
        "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks],
    }


def run(args) -> int:
    from streamfx.io.image import is_image_path
    from streamfx.io.paths import check_input

    source = check_input(args.input)
    select = parse_selection(args.select, "--select")
    if (args.min_cutoff is not None or args.beta is not None) and not args.live_smoothing:
        raise UsageError("--min-cutoff and --beta tune the One Euro filter of --live-smoothing: add it")
    if args.json is not None:
        json_path = Path(args.json).expanduser()
        if json_path.exists() and not args.overwrite:
            raise UsageError(f"{json_path}: output exists (use --overwrite to replace it)")
        if not json_path.parent.is_dir():
            raise UsageError(f"{json_path}: folder {json_path.parent} does not exist")
    if is_image_path(source):
        frames = _run_image(args, source, select)
    else:
        frames = _run_video(args, source, select)
    if args.json is not None:
        _write_json(Path(args.json).expanduser(), {"frames": frames})
    found = sum(1 for f in frames if f["faces"])
    log.info("%d frame(s), faces in %d, at most %d in one frame", len(frames), found,
             max((len(f["faces"]) for f in frames), default=0))
    return 0


def _run_image(args, source: Path, select) -> list[dict]:
    from streamfx.face.draw import draw_faces
    from streamfx.io.image import read_image, write_image
    from streamfx.io.paths import resolve_output

    output = None
    if args.output is not None:
        output = resolve_output(source, args.output, suffix="faces", overwrite=args.overwrite, ext=source.suffix)
    image = read_image(source)
    faces = _detector(args).detect([image])[0]
    faces = [face.__class__(face.box, face.landmarks, face.score, i) for i, face in enumerate(faces)]
    if select == "largest":
        faces = faces[:1]  # the detector returns the largest first
    elif isinstance(select, int):
        faces = [f for f in faces if f.track_id == select]
    if output is not None:
        write_image(output, draw_faces(image, faces))
    return [{"index": 0, "pts": 0.0, "faces": [face_record(f) for f in faces]}]


def _run_video(args, source: Path, select) -> list[dict]:
    from streamfx.face.draw import draw_faces
    from streamfx.face.lookahead import LookaheadSmoother
    from streamfx.face.smoothing import frame_time
    from streamfx.face.track import FaceTracker
    from streamfx.io.decode import VideoReader
    from streamfx.io.encode import VideoWriter
    from streamfx.io.paths import resolve_output

    output = None
    if args.output is not None:
        output = resolve_output(source, args.output, suffix="faces", overwrite=args.overwrite)
    smoothing = {k: v for k, v in (("min_cutoff", args.min_cutoff), ("beta", args.beta)) if v is not None}
    live = args.live_smoothing and not args.no_smooth
    tracker = FaceTracker(_detector(args), detect_every=args.detect_every, smooth=live, select=select, **smoothing)
    # as `anime` and `edit` place the faces of a file (commands/common.py)
    lookahead = None if live or args.no_smooth else LookaheadSmoother()
    frames, started = [], time.perf_counter()
    with VideoReader(source, start=args.start, duration=args.duration) as reader:
        writer = None
        if output is not None:
            writer = VideoWriter(output, width=reader.info.width, height=reader.info.height,
                                 time_base=reader.time_base, fps=reader.fps, audio_from=source,
                                 audio_range=reader.time_range, overwrite=args.overwrite)

        def record(frame, faces) -> None:
            frames.append({"index": frame.index, "pts": None if frame.time is None else round(frame.time, 6),
                           "faces": [face_record(f) for f in faces]})
            if writer is not None:
                writer.write(draw_faces(frame.image, faces), frame.pts)

        with writer if writer is not None else contextlib.nullcontext():
            for frame in reader:
                faces = tracker.update(frame)
                if lookahead is None:
                    record(frame, faces)
                    continue
                for ready in lookahead.push(frame, frame_time(frame), faces):
                    record(*ready)
            for ready in lookahead.flush() if lookahead is not None else []:
                record(*ready)
    elapsed = time.perf_counter() - started
    log.info("tracked %d frames in %.1f s (%.1f fps)", len(frames), elapsed, len(frames) / max(elapsed, 1e-9))
    return frames


def _write_json(path: Path, document: dict) -> None:
    from streamfx.io.paths import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(document, separators=(",", ":")) + "\n")
