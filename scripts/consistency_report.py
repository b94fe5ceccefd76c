"""Temporal consistency of `streamfx anime` output: flicker inside the face, relative to the input's own motion.

    python scripts/consistency_report.py [CLIP ...] [--duration 4] [--weights PATH] [--markdown]

Per clip: ratio = mean |out[t] - out[t-1]| / mean |in[t] - in[t-1]|, both inside the face box of frame t
(MTCNN on the input, every frame, largest face). Measured with a fixed style and landmark smoothing on,
then with smoothing off (--no-smooth). 1.0 means the output changes exactly as much as the input does.
Without --weights the model is a tiny random GNR (seeded): meaningless for anime looks, but its output
moves with the alignment, so it measures steadiness of detection, tracking and paste-back.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared/data/videos"
DEFAULT_CLIPS = ["EAMM/video_happy.mp4", "DaGAN/driving.mp4", "PC-AVS/Pose_Source_00473.mp4",
                 "LivePortrait/d20.mp4", "V-Express/short_case_tys_gt.mp4", "video-retalking/face_1.mp4"]
TINY = ((4, 16), (8, 16), (16, 16), (32, 16), (64, 8), (128, 8), (256, 8))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per clip (default 4)")
    parser.add_argument("--weights", default=None, help="GNR weights (default: a tiny random model)")
    parser.add_argument("--markdown", action="store_true")
    return parser.parse_args()


def face_boxes(clip: Path, duration: float) -> dict[int, tuple[int, int, int, int]]:
    """Frame index -> largest raw detection box (x1, y1, x2, y2), every frame, no tracking."""
    from streamfx.face.detect import MTCNNDetector
    from streamfx.io.decode import VideoReader

    detector, boxes = MTCNNDetector(max_side=640), {}
    with VideoReader(clip, duration=duration) as reader:
        for frame in reader:
            faces = detector.detect([frame.image])[0]
            if faces:
                h, w = frame.image.shape[:2]
                x1, y1, x2, y2 = faces[0].box
                boxes[frame.index] = (max(0, int(x1)), max(0, int(y1)), min(w, int(x2)), min(h, int(y2)))
    return boxes


class FlickerMeter:
    """A sink accumulating frame-to-frame differences of input and output inside the face boxes."""

    def __init__(self, boxes):
        self.boxes, self.previous = boxes, None
        self.out_sum = self.in_sum = 0.0

    def write(self, image, frame):
        box = self.boxes.get(frame.index)
        if self.previous is not None and box is not None and frame.index - 1 == self.previous[0]:
            x1, y1, x2, y2 = box
            _, prev_in, prev_out = self.previous
            self.in_sum += np.abs(frame.image[y1:y2, x1:x2].astype(np.int16) - prev_in[y1:y2, x1:x2]).mean()
            self.out_sum += np.abs(image[y1:y2, x1:x2].astype(np.int16) - prev_out[y1:y2, x1:x2]).mean()
        self.previous = (frame.index, frame.image, image)

    def close(self):
        pass

    def abort(self):
        pass

    @property
    def ratio(self) -> float:
        return self.out_sum / self.in_sum if self.in_sum else float("nan")


def tiny_weights(folder: Path) -> Path:
    import torch

    from streamfx.models.gnr import Generator, GNRConfig
    from streamfx.weights import save_weights

    torch.manual_seed(0)
    path = folder / "tiny-random.safetensors"
    save_weights(path, {"A2B": Generator(GNRConfig(channels=TINY, style_dim=32))}, {"name": "tiny-random"})
    return path


def measure(clip: Path, weights: str, duration: float, boxes, smooth: bool) -> float:
    from streamfx.cli import build_parser
    from streamfx.commands.anime import build_effect, build_pipeline
    from streamfx.io.decode import VideoReader

    argv = ["anime", str(clip), "--weights", weights, "--engine", "torch", "--style-seed", "0"]
    args = build_parser().parse_args(argv + ([] if smooth else ["--no-smooth"]))
    effect = build_effect(args)
    meter = FlickerMeter(boxes)
    try:
        with VideoReader(clip, duration=duration) as reader:
            build_pipeline(args, effect, live=False).run(reader, [meter])
    finally:
        effect.close()
    return meter.ratio


def main() -> int:
    opts = parse()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    clips = opts.clips or [VIDEOS / c for c in DEFAULT_CLIPS]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = opts.weights or str(tiny_weights(Path(tmp)))
        for clip in (c for c in clips if c.is_file()):
            boxes = face_boxes(clip, opts.duration)
            smooth = measure(clip, weights, opts.duration, boxes, smooth=True)
            raw = measure(clip, weights, opts.duration, boxes, smooth=False)
            rows.append((f"{clip.parent.name}/{clip.name}", len(boxes), smooth, raw))
            print(f"{rows[-1][0]}: {smooth:.3f} smoothed, {raw:.3f} unsmoothed", flush=True)
    model = Path(opts.weights).name if opts.weights else "tiny random GNR (seed 0)"
    if opts.markdown:
        print(f"\nmodel: {model}; fixed style seed 0; first {opts.duration:g} s of each clip\n")
        print("| clip | frames with a face | ratio, smoothing on | ratio, smoothing off |\n|---|---|---|---|")
        for name, count, smooth, raw in rows:
            print(f"| {name} | {count} | {smooth:.3f} | {raw:.3f} |")
        if rows:
            print(f"| mean | | {np.mean([r[2] for r in rows]):.3f} | {np.mean([r[3] for r in rows]):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
