"""What a run makes of the faces, read once from the command line: the anime style and the attribute edit.

Every command that builds an effect goes through `Look.from_args` (which refuses bad values before any work) and
`Look.styles` (the one place a run turns style codes z into the decoder's w). The style is fixed for the whole video,
which is what keeps the character the same from frame to frame; so is the edit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from streamfx.edit.load import EditRequest, parse_names, parse_sliders
from streamfx.errors import UsageError

DEFAULT_SEED = 0
# With no style asked for, a run uses the model's anchor of this name when it has one: the look its main teacher
# taught, cleaner than any seed on the default model (docs/model-card.md); other models fall back to DEFAULT_SEED.
DEFAULT_ANCHOR = "jpface"
MAX_GRID = 16


@dataclass(frozen=True)
class Look:
    seed: int | None = None  # None: DEFAULT_SEED, unless another style source is given
    mix: tuple[int, int, float] | None = None  # seeds a and b, and t (0 is a, 1 is b)
    image: Path | None = None  # a reference anime face
    anchor: str | None = None  # a named style stored with the model
    grid: int = 0  # > 1: that many seeds from `first_seed`, tiled
    edit: EditRequest | None = None

    @classmethod
    def from_args(cls, args) -> Look:
        """The look a parsed command line asks for; UsageError for any bad or conflicting value."""
        from streamfx.styles import parse_style_mix

        seed, mix, image = getattr(args, "style_seed", None), getattr(args, "style_mix", None), getattr(
            args, "style_image", None)
        anchor, grid = getattr(args, "style_anchor", None), getattr(args, "grid", 0) or 0
        if len([x for x in (seed, mix, image, anchor) if x is not None]) > 1:
            raise UsageError("choose one of --style-seed, --style-image, --style-mix, --style-anchor")
        if seed is not None and seed < 0:
            raise UsageError(f"--style-seed must be >= 0, not {seed}")
        if image is not None and not Path(image).is_file():
            raise UsageError(f"--style-image: file not found: {image}")
        if not 0 <= grid <= MAX_GRID:
            raise UsageError(f"--grid must be 0..{MAX_GRID}, not {grid}")
        if grid > 1 and (getattr(args, "side_by_side", False) or image or mix):
            raise UsageError("--grid uses seeds; it cannot be combined with --side-by-side, --style-image or --style-mix")
        return cls(seed, parse_style_mix(mix) if mix is not None else None, Path(image) if image else None, anchor,
                   grid, edit_from_args(args))

    def for_model(self, meta: dict) -> Look:
        """This look with the model's default style filled in when none was asked for (see DEFAULT_ANCHOR)."""
        asked = any(x is not None for x in (self.seed, self.mix, self.image, self.anchor)) or self.grid > 1
        if asked or DEFAULT_ANCHOR not in meta.get("style_anchors", {}):
            return self
        return replace(self, anchor=DEFAULT_ANCHOR)

    @property
    def first_seed(self) -> int:
        return DEFAULT_SEED if self.seed is None else self.seed

    def label(self) -> str:
        """How the style is described in output files and logs."""
        if self.grid > 1:
            text = f"grid of seeds {self.first_seed}..{self.first_seed + self.grid - 1}"
        elif self.image is not None:
            text = f"image {self.image}"
        elif self.mix is not None:
            text = "mix {},{},{:g}".format(*self.mix)
        elif self.anchor is not None:
            text = f"anchor {self.anchor}"
        else:
            text = f"seed {self.first_seed}"
        if self.edit is not None and self.edit.active:
            text += f"; edit {self.edit.describe()}"
        return text

    @torch.no_grad()
    def styles(self, generators: dict, meta: dict) -> torch.Tensor:
        """w [V,style_dim] for the A2B generator: one row, or one per grid seed."""
        from streamfx.styles import style_w

        g_a2b = generators["A2B"]
        if self.grid > 1:
            return torch.cat([style_w(g_a2b, seed=self.first_seed + i) for i in range(self.grid)])
        image = None
        if self.image is not None:
            from streamfx.io.image import read_image

            image = read_image(self.image)
        anchor = anchor_code(meta, self.anchor) if self.anchor is not None else None
        seed = self.seed if (self.mix, image, anchor) == (None, None, None) else None
        return style_w(g_a2b, seed=seed, mix=self.mix, image_rgb=image, G_B2A=generators.get("B2A"), anchor_z=anchor)


def edit_from_args(args) -> EditRequest | None:
    """--edit and --freeze of an anime or live run, or None."""
    if not getattr(args, "edit", None):
        if getattr(args, "freeze", None):
            raise UsageError("--freeze holds attributes while others are edited: give --edit too")
        return None
    return EditRequest(parse_sliders(args.edit), parse_names(getattr(args, "freeze", None)))


def anchor_code(meta: dict, name: str) -> list[float]:
    """The z of a named style anchor in a weight file's metadata; UsageError naming those that exist."""
    anchors = meta.get("style_anchors", {})
    if name not in anchors:
        have = ", ".join(sorted(anchors)) or "none"
        raise UsageError(f"--style-anchor {name!r}: this model has no such anchor (it has: {have})")
    return anchors[name]
