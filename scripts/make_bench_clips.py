"""Benchmark clips made from the shared videos: 1280x720 one-face, 1920x1080 five-face, and 30 fps camera stand-ins.

    python scripts/make_bench_clips.py [--out runs/bench_clips] [--seconds 6]

The shared set has no landscape 720p or 1080p footage, so these are composed from it (development use only, never
committed): `landscape720_1face.mp4` puts LivePortrait/d3 (one face) in the middle of a 1280x720 frame over a blurred,
stretched copy of itself, the way phone video is shown on a landscape stream; `mosaic1080_5faces.mp4` tiles five
one-face clips into a 3x2 grid of 640x540 cells (the sixth cell holds a plain gradient). Both 25 fps,
H.264 CRF 18, no audio; faces are 500-700 px tall in the 720p clip and about 300 px in the mosaic.
`camera640x480.mp4` and `camera1280x720.mp4` stand in for a 30 fps webcam in `scripts/bench_live.py`: LivePortrait/d10
(one face, 30 fps) fitted the same way, 10 s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared/data/videos"
ONE_FACE = VIDEOS / "LivePortrait/d3.mp4"
WEBCAM_LIKE = VIDEOS / "LivePortrait/d10.mp4"  # 30 fps
MOSAIC_FACES = [VIDEOS / name for name in ("LivePortrait/d3.mp4", "LivePortrait/d10.mp4", "video-retalking/face_1.mp4",
                                           "video-retalking/face_2.mp4", "AniPortrait/pose_ref_video.mp4")]
FPS = 25


def frames(path: Path, count: int):
    """`count` RGB frames of `path`, looping the clip when it is shorter."""
    import av

    out = []
    while len(out) < count:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                out.append(frame.to_ndarray(format="rgb24"))
                if len(out) == count:
                    break
    return out


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` scaled to fit inside width x height, centred over a blurred cover-scaled copy of itself."""
    h, w = image.shape[:2]
    cover = max(width / w, height / h)
    background = cv2.resize(image, (round(w * cover), round(h * cover)), interpolation=cv2.INTER_AREA)
    top, left = (background.shape[0] - height) // 2, (background.shape[1] - width) // 2
    canvas = cv2.GaussianBlur(background[top:top + height, left:left + width], (0, 0), 25)
    scale = min(width / w, height / h)
    face = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    y, x = (height - face.shape[0]) // 2, (width - face.shape[1]) // 2
    canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    return canvas


def write(path: Path, images, fps: int = FPS) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "medium"})
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for image in images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))


def landscape_720(seconds: float) -> list[np.ndarray]:
    return [fit(image, 1280, 720) for image in frames(ONE_FACE, round(seconds * FPS))]


def mosaic_1080(seconds: float) -> list[np.ndarray]:
    count = round(seconds * FPS)
    sources = [frames(path, count) for path in MOSAIC_FACES]
    # A plain gradient, not a blurred face: MTCNN finds a face in a blurred one.
    ramp = np.linspace(90, 200, 640, dtype=np.float32)[None, :, None] * np.array([1.0, 0.95, 0.85], np.float32)
    texture = np.broadcast_to(ramp, (540, 640, 3)).astype(np.uint8)
    out = []
    for t in range(count):
        cells = [fit(source[t], 640, 540) for source in sources] + [texture]
        out.append(np.vstack([np.hstack(cells[:3]), np.hstack(cells[3:])]))
    return out


def make_cameras(out: Path, seconds: float = 10.0) -> list[Path]:
    """The 30 fps camera stand-ins (640x480, 1280x720) in `out` unless they are there; returns their paths."""
    made = []
    for width, height in ((640, 480), (1280, 720)):
        path = out / f"camera{width}x{height}.mp4"
        if not path.is_file():
            write(path, [fit(image, width, height) for image in frames(WEBCAM_LIKE, round(seconds * 30))], fps=30)
        made.append(path)
    return made


def make(out: Path, seconds: float = 6.0) -> list[Path]:
    """Write the two clips into `out` unless they are there; returns their paths."""
    made = []
    for name, build in (("landscape720_1face.mp4", landscape_720), ("mosaic1080_5faces.mp4", mosaic_1080)):
        path = out / name
        if not path.is_file():
            write(path, build(seconds))
        made.append(path)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs/bench_clips")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    for path in make(args.out, args.seconds) + make_cameras(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
