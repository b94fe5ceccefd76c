"""Face stage benchmarks and per-clip checks; prints tables (docs/faces.md quotes them).

1. speed: detection + tracking frames per second on a clip (default the 720x1280 LivePortrait/d13.mp4), frames
   decoded up front so only the face stage is timed; full detection every N frames, long side shrunk for
   detection. Also the full MTCNN alone and the O-Net refresh alone, per call.
2. coverage: share of frames with a tracked face, for every clip (single-face clips should reach 99%).
3. round trip: align + paste back an unmodified crop, mean |difference| inside the face box, for every clip.

Usage: python scripts/bench_faces.py [--data ../shared/data] [--threads 2] [--max-side 640] [--skip-clips]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MULTI_FACE = {"face_recognition/short_hamilton_clip.mp4"}


def decode_all(path: Path, limit: int | None = None) -> list:
    from streamfx.io.decode import VideoReader

    with VideoReader(path) as reader:
        frames = []
        for frame in reader:
            frames.append(frame)
            if limit and len(frames) >= limit:
                break
    return frames


def bench_speed(args, frames) -> None:
    from streamfx.face.detect import MTCNNDetector
    from streamfx.face.track import FaceTracker

    detector = MTCNNDetector(min_face_size=args.min_face_size, max_side=args.max_side)
    detector.detect([frames[0].image])  # warm-up: first-call allocations
    h, w = frames[0].image.shape[:2]
    print(f"\n## speed: {args.clip} ({w}x{h}, {len(frames)} frames), torch threads {args.threads}")
    print(f"{'stage':<46} {'ms/frame':>9} {'fps':>7}")
    for every in (1, 5, 10):
        tracker = FaceTracker(detector, detect_every=every)
        start = time.perf_counter()
        found = sum(1 for frame in frames if tracker.update(frame))
        per = (time.perf_counter() - start) / len(frames)
        label = f"track, detect every {every} (max side {args.max_side}), faces {found}/{len(frames)}"
        print(f"{label:<46} {per * 1e3:>9.1f} {1 / per:>7.1f}")
    sample = frames[:: max(1, len(frames) // 20)]
    start = time.perf_counter()
    faces = [detector.detect([f.image])[0] for f in sample]
    per = (time.perf_counter() - start) / len(sample)
    print(f"{'full MTCNN, one frame':<46} {per * 1e3:>9.1f} {1 / per:>7.1f}")
    boxes = [np.stack([x.box for x in f]) for f in faces if f]
    start = time.perf_counter()
    for frame, box in zip(sample, boxes):
        detector.refine(frame.image, box)
    per = (time.perf_counter() - start) / max(len(boxes), 1)
    print(f"{'O-Net refresh, one face':<46} {per * 1e3:>9.1f} {1 / per:>7.1f}")


def check_clips(args) -> None:
    from streamfx.face.align import align_face
    from streamfx.face.blend import paste_back
    from streamfx.face.detect import MTCNNDetector
    from streamfx.face.track import FaceTracker

    detector = MTCNNDetector(min_face_size=args.min_face_size, max_side=480)
    print(f"\n## clips: face coverage (detect every 5) and identity paste-back round trip")
    print(f"{'clip':<44} {'frames':>6} {'with face':>9} {'ids':>4} {'round trip':>10} {'face px':>7}")
    for path in sorted((args.data / "videos").rglob("*.mp4")):
        clip = str(path.relative_to(args.data / "videos"))
        tracker = FaceTracker(detector, detect_every=5)
        frames = decode_all(path)
        tracked = [tracker.update(frame) for frame in frames]
        coverage = sum(1 for faces in tracked if faces) / len(frames)
        ids = len({f.track_id for faces in tracked for f in faces})
        errors, sizes = [], []
        for frame, faces in list(zip(frames, tracked))[:: max(1, len(frames) // 10)]:
            for face in faces[:1]:
                crop = align_face(frame.image, face)
                out = paste_back(frame.image, crop.image, crop)
                x1, y1, x2, y2 = face.box
                w, h = x2 - x1, y2 - y1
                ys = slice(max(int(y1 + 0.15 * h), 0), max(int(y2 - 0.15 * h), 0))
                xs = slice(max(int(x1 + 0.15 * w), 0), max(int(x2 - 0.15 * w), 0))
                errors.append(np.abs(out[ys, xs].astype(np.int16) - frame.image[ys, xs]).mean())
                sizes.append(np.sqrt(w * h))
        note = " (multi-face)" if clip in MULTI_FACE else ""
        print(f"{clip[-44:]:<44} {len(frames):>6} {coverage:>8.1%} {ids:>4} {np.mean(errors):>10.2f} "
              f"{np.mean(sizes):>7.0f}{note}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="face stage benchmarks")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--clip", default="LivePortrait/d13.mp4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-side", type=int, default=None, help="default: what video runs use (640)")
    parser.add_argument("--min-face-size", type=int, default=20, help="default: what video runs use (20)")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--skip-clips", action="store_true", help="only the speed table")
    args = parser.parse_args()

    import torch

    from streamfx.face.detect import VIDEO_MAX_SIDE

    args.max_side = args.max_side or VIDEO_MAX_SIDE

    torch.set_num_threads(args.threads)
    frames = decode_all(args.data / "videos" / args.clip, args.frames)
    bench_speed(args, frames)
    if not args.skip_clips:
        check_clips(args)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
