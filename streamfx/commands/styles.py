"""`streamfx styles FACE.jpg --seeds 1-16 -o grid.png`: one face rendered in many styles, to pick a --style-seed."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from streamfx.errors import MediaError, UsageError

log = logging.getLogger("streamfx.styles")
BATCH = 8
LOOSE_CROP = 1.3  # the official demos crop a square 1.3x the detector box (selfie2anime framing)


def register(sub) -> None:
    parser = sub.add_parser("styles", help="render one face in many styles (a style gallery)")
    parser.add_argument("face", help="image with a face (the largest face is used)")
    parser.add_argument("--seeds", default="1-16", help="style seeds, e.g. 1-16 or 3,7,42 (default 1-16)")
    parser.add_argument("-o", "--output", default="styles.png", help="grid image to write (default styles.png)")
    parser.add_argument("--weights", help="weight file or catalog name (default: the bundled default model)")
    parser.add_argument("--cols", type=int, help="tiles per row (default: about square)")
    parser.add_argument("--no-detect", action="store_true", help="use the centre square, no face detection")
    parser.set_defaults(run=run, preload=("numpy", "torch", "cv2"))


def run(args) -> int:
    import cv2

    from streamfx.io.image import read_image
    from streamfx.styles import parse_seeds
    from streamfx.weights import load_generators, resolve_weights

    seeds = parse_seeds(args.seeds)
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise UsageError(f"output must be .png, .jpg or .webp: {output}")
    generators, _meta = load_generators(resolve_weights(args.weights))
    if "A2B" not in generators:
        raise UsageError("the weights have no A2B (face->anime) generator")
    G = generators["A2B"]
    size = G.config.size
    face = face_crop(read_image(args.face), size, detect=not args.no_detect)  # [S,S,3] uint8
    tiles = [face] + stylize_seeds(G, face, seeds)
    labels = ["input"] + [f"seed {s}" for s in seeds]
    grid = make_grid(tiles, labels, args.cols)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(output), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise MediaError(f"cannot write {output}")
    log.info("wrote %s: %d styles", output, len(seeds))
    return 0


def stylize_seeds(G, face: np.ndarray, seeds: list[int]) -> list[np.ndarray]:
    """One aligned face [S,S,3] uint8 RGB decoded with each seed's style: a list of [S,S,3] uint8 tiles."""
    import torch

    from streamfx.styles import style_from_seed

    return stylize(G, face, torch.cat([style_from_seed(s, G.config.latent_dim) for s in seeds]))


def stylize(G, face: np.ndarray, z) -> list[np.ndarray]:
    """One aligned face [S,S,3] uint8 RGB decoded with each style code z [K,latent]: K [S,S,3] uint8 tiles."""
    import torch

    from streamfx.pixels import to_model, to_uint8

    x = to_model(face)  # [1,3,S,S] in [-1,1]
    tiles = []
    with torch.inference_mode():
        content, _ = G.encode(x)
        for chunk in z.split(BATCH):
            out = G.decode(content.expand(len(chunk), -1, -1, -1), G.mapping(chunk))  # [N,3,S,S]
            tiles += list(to_uint8(out))
    return tiles


def face_crop(image: np.ndarray, size: int, detect: bool = True, framing: str = "gnr") -> np.ndarray:
    """The largest face as a loose square crop (1.3x the MTCNN box), resized to size x size; centre square if none.

    Uses `streamfx.face.align.align_face` (crops framed as `framing`) when that module is available, otherwise the
    box crop.
    """
    import cv2

    from streamfx.pixels import to_uint8
    from streamfx.styles import image_to_tensor

    faces = []
    if detect:
        from streamfx.face.detect import MTCNNDetector

        faces = MTCNNDetector(max_faces=1).detect([image])[0]
        if not faces:
            log.warning("no face found; using the centre square of the image")
    if faces:
        try:
            from streamfx.face.align import align_face

            return align_face(image, faces[0], size, framing).image
        except ImportError:
            x1, y1, x2, y2 = faces[0].box
            side = LOOSE_CROP * max(x2 - x1, y2 - y1)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            scale = size / side
            affine = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]])
            return cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return to_uint8(image_to_tensor(image, size)[0])  # the centre square, resized


def make_grid(tiles: list[np.ndarray], labels: list[str], cols: int | None = None) -> np.ndarray:
    """Tiles [S,S,3] uint8 in rows of `cols`, each labelled at its bottom-left corner."""
    import cv2

    cols = cols or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    s = tiles[0].shape[0]
    grid = np.zeros((rows * s, cols * s, 3), np.uint8)
    for i, (tile, label) in enumerate(zip(tiles, labels)):
        r, c = divmod(i, cols)
        cell = np.ascontiguousarray(tile)
        cv2.putText(cell, label, (6, s - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(cell, label, (6, s - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        grid[r * s : (r + 1) * s, c * s : (c + 1) * s] = cell
    return grid
