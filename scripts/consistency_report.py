"""Temporal consistency of `streamfx anime` (or `streamfx edit`) output: flicker inside the face, relative to the
input's own motion.

    python scripts/consistency_report.py [CLIP ...] [--duration 4] [--weights PATH|default] [--markdown]
        [--style-seed N | --style-anchor NAME] [--anime-score] [--photo-edit bangs=1]

A CLIP is a path, or a name under ../shared/data/videos (LivePortrait/d20.mp4); without any, six shared clips.
Per clip: ratio = mean |out[t] - out[t-1]| / mean |in[t] - in[t-1]|, both inside the face box of frame t
(MTCNN on the input, every frame, largest face). Measured with a fixed style and landmark smoothing on,
then with smoothing off (--no-smooth). 1.0 means the output changes exactly as much as the input does.
Without --weights the model is a tiny random GNR (seeded): meaningless for anime looks, but its output
moves with the alignment, so it measures steadiness of detection, tracking and paste-back. `--weights default`
runs what a user gets with no --weights (the bundled model). `--anime-score` also scores the output's face crops
(aligned with the input's landmarks, every 5th frame) with the evaluation's anime-vs-photo classifier
(the committed `streamfx/data/anime_classifier.safetensors`), next to the input crops' score. `--photo-edit SPEC`
measures `streamfx edit CLIP --edit SPEC` instead (real faces out; `--weights default` is implied).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.training.flicker import FlickerMeter, clip_paths, face_boxes, measure  # noqa: E402

DEFAULT_CLIPS = ["EAMM/video_happy.mp4", "DaGAN/driving.mp4", "PC-AVS/Pose_Source_00473.mp4",
                 "LivePortrait/d20.mp4", "V-Express/short_case_tys_gt.mp4", "video-retalking/face_1.mp4"]
TINY = ((4, 16), (8, 16), (16, 16), (32, 16), (64, 8), (128, 8), (256, 8))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per clip (default 4)")
    parser.add_argument("--weights", default=None, help="GNR weights, or 'default' (default: a tiny random model)")
    parser.add_argument("--style-seed", type=int, default=0)
    parser.add_argument("--style-anchor", default=None, help="a style anchor of the weights instead of the seed")
    parser.add_argument("--anime-score", action="store_true", help="score output face crops as anime (0..1)")
    parser.add_argument("--classifier", type=Path, default=None, help="default: the committed evaluation classifier")
    parser.add_argument("--photo-edit", metavar="NAME=V,...", default=None,
                        help="measure `streamfx edit --edit NAME=V,...` instead of anime")
    parser.add_argument("--markdown", action="store_true")
    opts = parser.parse_args()
    if opts.photo_edit and opts.weights is None:
        opts.weights = "default"  # a random model has no edit bank
    return opts


def tiny_weights(folder: Path) -> Path:
    import torch

    from streamfx.models.gnr import Generator, GNRConfig
    from streamfx.weights import save_weights

    torch.manual_seed(0)
    path = folder / "tiny-random.safetensors"
    save_weights(path, {"A2B": Generator(GNRConfig(channels=TINY, style_dim=32))}, {"name": "tiny-random"})
    return path


def anime_scores(classifier_path: Path | None, meter: FlickerMeter) -> tuple[float, float]:
    """(mean anime probability of the input crops, of the output crops)."""
    from streamfx.pixels import to_model
    from streamfx.training.classifier import ANIME_CLASSIFIER, load_classifier

    classifier, _ = load_classifier(classifier_path or ANIME_CLASSIFIER)

    def score(crops) -> float:
        x = to_model(np.stack(crops))
        return float(classifier.anime_probability(x).mean())

    return score(meter.crops_in), score(meter.crops_out)


def print_table(rows: list[tuple], anime_score: bool) -> None:
    """The markdown table of `rows` (clip, faces, smoothed, raw, input score, output score); the score columns
    only when they were measured."""
    columns = (2, 3, 5, 4) if anime_score else (2, 3)
    scores = " | anime score of the output faces | of the input faces" if anime_score else ""
    print(f"| clip | frames with a face | ratio, smoothing on | ratio, smoothing off{scores} |")
    print("|---|---|" + "---|" * len(columns))
    for row in rows:
        print(f"| {row[0]} | {row[1]} | " + " | ".join(f"{row[i]:.3f}" for i in columns) + " |")
    if rows:
        print("| mean | | " + " | ".join(f"{np.mean([r[i] for r in rows]):.3f}" for i in columns) + " |")


def main() -> int:
    opts = parse()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        clips = clip_paths(opts.clips or DEFAULT_CLIPS)
    except FileNotFoundError as error:
        raise SystemExit(f"consistency_report.py: {error}") from None
    style = ["--style-anchor", opts.style_anchor] if opts.style_anchor else ["--style-seed", str(opts.style_seed)]
    effect_argv = ["edit", "--edit", opts.photo_edit] if opts.photo_edit else ["anime", *style]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = opts.weights or str(tiny_weights(Path(tmp)))
        for clip in clips:
            boxes = face_boxes(clip, opts.duration)
            smoothed = measure(clip, weights, opts.duration, boxes, True, effect_argv)
            raw = measure(clip, weights, opts.duration, boxes, False, effect_argv).ratio
            scores = anime_scores(opts.classifier, smoothed) if opts.anime_score else (float("nan"),) * 2
            rows.append((f"{clip.parent.name}/{clip.name}", len(boxes), smoothed.ratio, raw, *scores))
            scored = f"; anime score {scores[1]:.3f} (input {scores[0]:.3f})" if opts.anime_score else ""
            print(f"{rows[-1][0]}: {smoothed.ratio:.3f} smoothed, {raw:.3f} unsmoothed{scored}", flush=True)
    model = Path(opts.weights).name if opts.weights else "tiny random GNR (seed 0)"
    if opts.markdown:
        print(f"\nmodel: {model}; {' '.join(effect_argv)}; first {opts.duration:g} s of each clip\n")
        print_table(rows, opts.anime_score)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
