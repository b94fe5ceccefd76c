"""Flicker of an effect's output in video (development measure): how much the face changes from frame to frame in
the output, against how much it changes in the input. 1.0: exactly as much. Used by
`scripts/consistency_report.py` and by the edit bank's video check (`scripts/check_edit_video.py`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamfx.training.data import DEFAULT_ROOT

VIDEOS = DEFAULT_ROOT / "videos"  # the shared clips


def clip_paths(clips: list[str | Path]) -> list[Path]:
    """Each clip as a path, or as a name under the shared videos folder ("LivePortrait/d20.mp4");
    FileNotFoundError naming every missing one (a clip left out silently leaves a table that looks complete)."""
    paths = [Path(c) if Path(c).is_file() else VIDEOS / c for c in clips]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no such clip: {', '.join(missing)} (paths, or names under {VIDEOS})")
    return paths


def face_boxes(clip: Path, duration: float) -> dict[int, tuple]:
    """Frame index -> (largest raw detection box (x1, y1, x2, y2), the Face), every frame, no tracking."""
    from streamfx.face.detect import VIDEO_MAX_SIDE, MTCNNDetector
    from streamfx.io.decode import VideoReader

    detector, boxes = MTCNNDetector(max_side=VIDEO_MAX_SIDE), {}
    with VideoReader(clip, duration=duration) as reader:
        for frame in reader:
            faces = detector.detect([frame.image])[0]
            if faces:
                h, w = frame.image.shape[:2]
                x1, y1, x2, y2 = faces[0].box
                boxes[frame.index] = ((max(0, int(x1)), max(0, int(y1)), min(w, int(x2)), min(h, int(y2))), faces[0])
    return boxes


class FlickerMeter:
    """A sink accumulating frame-to-frame differences of input and output inside the face boxes."""

    CROP_EVERY = 5  # frames between the face crops kept (for scoring the output's look)
    CROP_SIZE = 128

    def __init__(self, boxes):
        self.boxes, self.previous = boxes, None
        self.out_sum = self.in_sum = 0.0
        self.crops_in, self.crops_out = [], []  # aligned [S,S,3] uint8 face crops

    def write(self, image, frame):
        from streamfx.face.align import align_face

        found = self.boxes.get(frame.index)
        if found is not None and frame.index % self.CROP_EVERY == 0:
            self.crops_in.append(align_face(frame.image, found[1], self.CROP_SIZE).image)
            self.crops_out.append(align_face(image, found[1], self.CROP_SIZE).image)
        if self.previous is not None and found is not None and frame.index - 1 == self.previous[0]:
            x1, y1, x2, y2 = found[0]
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


def measure(clip: Path, weights: str, duration: float, boxes, smooth: bool, effect_argv: list[str]) -> FlickerMeter:
    """Run the effect over the first `duration` s of `clip` as the command line would and meter it. `weights`: a
    model path or "default"; `effect_argv`: the command and its effect options after the clip (["anime",
    "--style-seed", "0"], ["edit", "--edit", "bangs=1"])."""
    from streamfx.cli import build_parser
    from streamfx.commands.common import build_pipeline
    from streamfx.io.decode import VideoReader

    command, *options = effect_argv
    model = [] if weights == "default" else ["--weights", weights]
    argv = [command, str(clip), "--engine", "torch", *options, *model]
    args = build_parser().parse_args(argv + ([] if smooth else ["--no-smooth"]))
    effect = _build_effect(args)
    meter = FlickerMeter(boxes)
    try:
        with VideoReader(clip, duration=duration) as reader:
            build_pipeline(args, effect, live=False).run(reader, [meter])
    finally:
        effect.close()
    return meter


def _build_effect(args):
    if args.command == "edit":
        from streamfx.commands.edit import build_effect as build_edit

        return build_edit(args)
    from streamfx.commands.anime import build_effect as build_anime

    return build_anime(args)
