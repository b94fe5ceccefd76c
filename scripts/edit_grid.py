"""A grid of edits on the project's own sample face: rows are sliders, columns slider values -1 .. 1.

    python scripts/edit_grid.py [-o docs/images/edit_grid.jpg] [--anchor jpface] [--sliders smile male eyeglasses bangs]
    python scripts/edit_grid.py --photo -o docs/images/edit_grid_photo.jpg     # real faces out, as `streamfx edit`

The face is the astronaut sample (a public-domain NASA photo), aligned as the pipeline aligns it; each tile is the
default model's anime face in the anchor style with one slider set (strength as the bank stores it, photo verdicts
do not apply to anime output), or with --photo the edited photo (the model's photo decoder, the change put onto the
face, one-sided where the bank says so, as `streamfx edit` does; every fitted direction is drawn, editable or
not). The first column is the input face; each row is named by its slider and each column by its value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.edit.load import load_bank  # noqa: E402
from streamfx.edit.render import one_sided, photo_decoder, photo_edit, photo_encoder  # noqa: E402
from streamfx.io.decode import VideoReader  # noqa: E402
from streamfx.pixels import to_model, to_uint8  # noqa: E402
from streamfx.weights import load_generators, resolve_weights  # noqa: E402

VALUES = (-1.0, -0.5, 0.0, 0.5, 1.0)
BAND = 28  # the height of the column names' band
FONT, SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.5


def labelled(rows: list[np.ndarray], row_names: list[str], column_names: list[str]) -> np.ndarray:
    """The tiles' rows stacked, with each row's name on its left and each column's name above it (black on white)."""
    tile = rows[0].shape[0]
    grid = np.concatenate(rows, axis=0)
    left = max(cv2.getTextSize(name, FONT, SCALE, 1)[0][0] for name in row_names) + 12
    canvas = np.full((grid.shape[0] + BAND, grid.shape[1] + left, 3), 255, np.uint8)
    canvas[BAND:, left:] = grid
    for i, name in enumerate(column_names):
        width = cv2.getTextSize(name, FONT, SCALE, 1)[0][0]
        cv2.putText(canvas, name, (left + i * tile + (tile - width) // 2, BAND - 9), FONT, SCALE, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for i, name in enumerate(row_names):
        cv2.putText(canvas, name, (6, BAND + i * tile + tile // 2 + 5), FONT, SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs/images/edit_grid.jpg")
    parser.add_argument("--anchor", default="jpface")
    parser.add_argument("--sliders", nargs="+", default=["smile", "male", "eyeglasses", "bangs", "age"])
    parser.add_argument("--tile", type=int, default=160)
    parser.add_argument("--photo", action="store_true", help="real faces out instead of anime")
    parser.add_argument("--weights", default=None, help="model (default: the installed default)")
    opts = parser.parse_args()
    from streamfx.commands.styles import face_crop

    path = resolve_weights(opts.weights)
    generators, meta = load_generators(path)
    bank = load_bank(path, meta)
    g = generators["A2B"]
    with VideoReader(REPO / "samples/astronaut.mp4", start=1.0, duration=0.1) as reader:
        # photo edits take faces framed as their decoder was trained (CelebA-HQ's), anime edits as GNR's crops
        face = face_crop(next(iter(reader)).image, g.config.size, framing="celebahq" if opts.photo else "gnr")
    x = to_model(face)
    decoder, encoder = photo_decoder(generators, meta, bank.info.get("bridge", "jpface")), photo_encoder(generators)
    with torch.inference_mode():
        content, _ = g.encode(x)
        w = g.mapping(torch.tensor([meta["style_anchors"][opts.anchor]]))
        rows = []
        for slider in opts.sliders:
            tiles = [face]
            for value in VALUES:
                edit = bank.edit({slider: value}, photo=opts.photo, refused=True)
                if opts.photo:  # one-sided, as `streamfx edit` does it
                    edited = photo_edit(encoder, decoder, x, one_sided(edit))
                else:
                    edited = g.decode(content + edit.fixed()[0], w)
                tiles.append(to_uint8(edited)[0])
            rows.append(np.concatenate([cv2.resize(t, (opts.tile, opts.tile), interpolation=cv2.INTER_CUBIC)
                                        for t in tiles], axis=1))
    grid = labelled(rows, opts.sliders, ["input"] + [f"{v:+g}" if v else "0" for v in VALUES])
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(opts.output), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {opts.output}: rows {', '.join(opts.sliders)}; columns input, " + ", ".join(f"{v:+g}" for v in VALUES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
