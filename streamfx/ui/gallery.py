"""The style picker's pictures: the uploaded face decoded in many styles, and in the style chosen.

A style is chosen the way the CLI takes it (a seed, a reference anime image, or a mix of two seeds), and `flags()`
gives the very options `streamfx anime` would get, so what the gallery shows is what a run produces.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamfx.errors import ModelError, UsageError

SEED, IMAGE, MIX = "Seed", "Reference image", "Mix two seeds"
MODES = (SEED, IMAGE, MIX)
_model_lock = threading.Lock()


@dataclass(frozen=True)
class Style:
    mode: str = SEED
    seed: int = 0
    seed_b: int = 1
    t: float = 0.5
    image: str | None = None  # path of the reference anime face
    edits: tuple[tuple[str, float], ...] = ()  # (slider name, value in [-1, 1]) for the anime character

    def flags(self) -> list[str]:
        """This style as `streamfx anime` options."""
        return self._style_flags() + (["--edit", self.edit_text()] if self.edit_text() else [])

    def _style_flags(self) -> list[str]:
        if self.mode == IMAGE:
            if not self.image:
                raise UsageError("choose a reference image for the style first")
            return ["--style-image", self.image]
        if self.mode == MIX:
            return ["--style-mix", f"{int(self.seed)},{int(self.seed_b)},{float(self.t):g}"]
        return ["--style-seed", str(int(self.seed))]

    def edit_text(self) -> str:
        """The moved sliders as `--edit` takes them ('smile=0.8,bangs=-0.5'); empty when none moved."""
        return ",".join(f"{name}={float(value):g}" for name, value in self.edits if value)

    def label(self) -> str:
        if self.mode == IMAGE:
            text = "style of the reference image"
        elif self.mode == MIX:
            text = f"mix of seeds {int(self.seed)} and {int(self.seed_b)} at {float(self.t):g}"
        else:
            text = f"seed {int(self.seed)}"
        return text + (f", edit {self.edit_text().replace(',', ', ')}" if self.edit_text() else "")


def generators() -> dict | None:
    """The default model's generators (loaded once), or None when no model is installed (runs pass faces
    through unchanged, as in the CLI)."""
    from streamfx.weights import resolve_weights

    try:
        path = resolve_weights(None)
    except ModelError:
        return None
    with _model_lock:
        return _load(str(path))[0]


def edit_bank():
    """The default model's edit bank, or None (no model, or a model without one)."""
    from streamfx.edit.load import bank_path, load_bank
    from streamfx.weights import resolve_weights

    if generators() is None:
        return None
    path = resolve_weights(None)
    if not bank_path(path).is_file():
        return None
    with _model_lock:
        return _load_bank(str(path))


def edit_sliders() -> list[str]:
    """The headline sliders the default model offers for anime faces (none without a bank)."""
    from streamfx.edit.sliders import HEADLINE

    bank = edit_bank()
    return bank.offered(HEADLINE, photo=False) if bank is not None else []


@functools.lru_cache(maxsize=1)
def _load(path: str) -> tuple[dict, dict]:
    from streamfx.weights import load_generators

    found, meta = load_generators(path)
    if "A2B" not in found:
        raise ModelError(f"{path}: holds no face->anime (A2B) generator")
    return found, meta


@functools.lru_cache(maxsize=1)
def _load_bank(path: str):
    from streamfx.edit.load import load_bank

    return load_bank(Path(path), _load(path)[1])


def face_tile(frame: np.ndarray, faces: list, size: int) -> np.ndarray:
    """The largest face aligned as the pipeline aligns it; the centre square when no face was found."""
    from streamfx.commands.styles import face_crop
    from streamfx.face.align import align_face

    if faces:
        return align_face(frame, faces[0], size=size).image
    return face_crop(frame, size, detect=False)


def tile_size() -> int:
    found = generators()
    return found["A2B"].config.size if found else 256


def seed_tiles(face: np.ndarray, first: int, count: int) -> list[tuple[np.ndarray, str]]:
    """(tile, caption) for seeds first .. first+count-1; just the face, captioned so, without a model."""
    from streamfx.commands.styles import stylize_seeds

    found = generators()
    if found is None:
        return [(face, "no model installed: faces stay as they are")]
    seeds = list(range(first, first + count))
    return list(zip(stylize_seeds(found["A2B"], face, seeds), (f"seed {s}" for s in seeds)))


def style_tile(face: np.ndarray, style: Style) -> np.ndarray:
    """The face in the chosen style, computed as build_effect computes a run's style."""
    import torch

    from streamfx.io.image import read_image
    from streamfx.pixels import to_model, to_uint8
    from streamfx.styles import style_w

    found = generators()
    if found is None:
        return face
    G = found["A2B"]
    style.flags()  # refuses an incomplete choice with the CLI's words
    kwargs = {"seed": int(style.seed)}
    if style.mode == IMAGE:
        kwargs = {"image_rgb": read_image(style.image), "G_B2A": found.get("B2A")}
    elif style.mode == MIX:
        kwargs = {"mix": (int(style.seed), int(style.seed_b), float(style.t))}
    x = to_model(face)  # [1,3,S,S] in [-1,1]
    with torch.inference_mode():
        w = style_w(G, **kwargs)
        content, _ = G.encode(x)
        return to_uint8(G.decode(content + _content_delta(style), w))[0]


def _content_delta(style: Style):
    """The edit's change to the content map, as the anime effect adds it (0 when nothing is moved)."""
    from streamfx.edit.load import parse_sliders

    bank = edit_bank() if style.edit_text() else None
    if bank is None:
        return 0
    return bank.deltas(parse_sliders(style.edit_text()), photo=False)[0]
