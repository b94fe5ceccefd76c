#!/usr/bin/env python
"""The model card's sample grid: faces the project may publish x style seeds, from one weight file.

    python scripts/model_card_grid.py --weights streamfx/data/gnr_slim.safetensors -o docs/images/gnr_slim_seeds.jpg

Rows: scikit-image's public-domain astronaut photo (Eileen Collins, NASA) and frames of the project's own
`samples/astronaut.mp4` (the same photo under a moving virtual camera: other scales, shifts and rolls). Each row
is the aligned input crop followed by one tile per seed and one per style anchor stored with the model. No
dataset or teacher image is used, so the grid may be committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.commands.styles import face_crop, make_grid, stylize, stylize_seeds  # noqa: E402
from streamfx.io.decode import VideoReader  # noqa: E402
from streamfx.styles import parse_seeds  # noqa: E402
from streamfx.weights import load_generators, resolve_weights  # noqa: E402


def publishable_faces(sample: Path, seconds: list[float]):
    """(label, [H,W,3] uint8 RGB) for the astronaut photo and the sample's frames nearest `seconds`."""
    from skimage import data

    faces = [("photo", data.astronaut())]
    wanted = sorted(seconds)
    with VideoReader(sample) as reader:
        for frame in reader:
            if wanted and frame.time >= wanted[0]:
                faces.append((f"clip {wanted.pop(0):g}s", frame.image))
            if not wanted:
                break
    return faces


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weight file or catalog name (default: the bundled model)")
    p.add_argument("--seeds", default="0-7")
    p.add_argument("--sample", type=Path, default=REPO / "samples" / "astronaut.mp4")
    p.add_argument("--times", default="1.0,2.2,3.4", help="seconds of the sample clip to take frames from")
    p.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args(argv)
    generators, meta = load_generators(resolve_weights(args.weights))
    G = generators["A2B"]
    seeds = parse_seeds(args.seeds)
    anchors = meta.get("style_anchors", {})
    tiles, labels = [], []
    for label, image in publishable_faces(args.sample, [float(t) for t in args.times.split(",")]):
        face = face_crop(image, G.config.size)
        tiles += [face] + stylize_seeds(G, face, seeds)
        labels += [label] + [f"seed {s}" for s in seeds]
        if anchors:
            tiles += stylize(G, face, torch.tensor(list(anchors.values()), dtype=torch.float32))
            labels += list(anchors)
    grid = make_grid(tiles, labels, cols=1 + len(seeds) + len(anchors))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    faces = len(tiles) // (1 + len(seeds) + len(anchors))
    print(f"wrote {args.output} ({faces} faces x {len(seeds)} seeds and {len(anchors)} anchors)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
