"""Face effects: what the model stage does to a batch of aligned crops.

An effect maps crops [B,S,S,3] uint8 RGB to generated faces [B,V,S,S,3] uint8 RGB, where V is the
number of variants per face (1 normally; N for `--grid N`, one per style). Styles are fixed per
video: w is computed once and reused for every batch. Three effects implement `Effect`: passthrough (no model),
anime (here) and the photo edit (`streamfx/edit/effect.py`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from streamfx.face.blend import FACE_MASK
from streamfx.pixels import to_model, to_uint8


class Effect(Protocol):
    """What the pipeline's model stage calls, and what the run reports about it."""

    name: str  # "passthrough", "anime" or "edit"
    pastes_change: bool  # True: the composer adds (output - crop) to the frame's own face instead of replacing it
    engine: str  # the engine that runs it ("none" without a model)
    device: str
    description: str  # engine, precision and threads, as logged and written into output files
    variants: int  # generated faces per crop (a style grid has several)
    crop_size: int  # the aligned crop side the model takes
    framing: str  # the template the crops are aligned to (`face/align.py`): "gnr", or "celebahq" for photo edits
    paste_mask: tuple[float, float]  # the (margin, feather) of the paste's feathered mask unless the user sets them
    weights: Path | None

    def __call__(self, crops: np.ndarray, tracks=None) -> np.ndarray:
        """[B,S,S,3] uint8 RGB -> [B,V,S,S,3] uint8 RGB. `tracks`: the face track of each crop (-1: none), for
        effects that hold something per face over a video."""

    def close(self) -> None:
        """Release the engines."""


class PassthroughEffect:
    """Returns the crops unchanged: the pipeline still detects, tracks, aligns and pastes back."""

    name = "passthrough"
    pastes_change = False
    framing = "gnr"  # GNR's training crops
    paste_mask = FACE_MASK
    engine = "none"
    device = "cpu"
    description = "none (passthrough: no model)"
    variants = 1
    crop_size = 256
    weights = None

    def __call__(self, crops: np.ndarray, tracks=None) -> np.ndarray:
        return crops[:, None]  # [B,1,S,S,3]

    def close(self) -> None:
        pass


class AnimeEffect:
    """GANs N' Roses face -> anime: encode content, decode it with the video's fixed style(s).

    engines: a `GeneratorEngines` (encode/decode on the chosen engine).
    styles: w [V,style_dim], one row per variant (V > 1 for a style grid).
    crop_size: the model's input side; latent_dim: length of z (for `style_for_seed`).
    """

    name = "anime"
    pastes_change = False
    framing = "gnr"  # GNR's training crops
    paste_mask = FACE_MASK
    variants: int

    def __init__(self, engines, styles: torch.Tensor, *, crop_size: int = 256, latent_dim: int = 8, weights=None):
        self.engines = engines
        self.crop_size, self.latent_dim, self.weights = int(crop_size), int(latent_dim), weights
        self.engine, self.device = engines.engine, engines.device
        self.description = engines.description
        self._lock = threading.Lock()
        self._content_delta = None
        self.set_styles(styles)

    def set_edit(self, content_delta: torch.Tensor | None) -> None:
        """An attribute edit added to every face's content map (None or all zeros: no edit)."""
        with self._lock:
            self._content_delta = None if content_delta is None or not content_delta.any() else content_delta.float()

    def set_styles(self, styles: torch.Tensor) -> None:
        """Switch styles between batches (the live n/p keys); the next batch uses the new ones."""
        styles = styles.detach().to("cpu", torch.float32).reshape(-1, styles.shape[-1])
        with self._lock:
            self._styles = styles
            self.variants = styles.shape[0]

    def style_for_seed(self, seed: int) -> torch.Tensor:
        """w [1,style_dim] of a seed, for switching styles while running."""
        from streamfx.styles import style_from_seed

        return self.engines.mapping(style_from_seed(seed, self.latent_dim))

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray, tracks=None) -> np.ndarray:
        with self._lock:
            styles, content_delta = self._styles, self._content_delta
        count, variants = crops.shape[0], styles.shape[0]
        x = to_model(crops)  # [B,3,S,S] float32 in [-1,1]
        content, _own_style = self.engines.encode(x)  # [B,C,16,16]
        if content_delta is not None:
            content = content + content_delta
        if variants > 1:
            content = content.repeat_interleave(variants, dim=0)  # [B*V,C,16,16], variants of a face adjacent
        w = styles.repeat(count, 1)  # [B*V,style_dim]
        out = to_uint8(self.engines.decode(content, w))  # [B*V,S,S,3] uint8
        return out.reshape(count, variants, *out.shape[1:])

    def close(self) -> None:
        self.engines.close()


# ---- building the effect a command asked for -------------------------------------------------------------------

NO_MODEL_WARNING = ("no anime model installed: faces are tracked and pasted back unchanged; "
                    "pass --weights PATH (our .safetensors or the official GNR_checkpoint.pt)")


def weights_identity(path, meta: dict) -> str:
    """What identifies the weights in engine cache keys: the tensor hash, else name, size and mtime."""
    if meta.get("tensors_sha256"):
        return str(meta["tensors_sha256"])
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}"


def build_effect(weights: str | None, look=None, *, engine: str = "auto", device: str = "auto",
                 precision: str = "auto", max_batch: int = 8, cache_dir=None):
    """The anime effect for `weights` (path or catalog name) with `look` (a `Look`: style and edit; default: the
    model's default style, no edit), or passthrough when no model is installed. `effect.look` is the look that runs."""
    import logging

    from streamfx.errors import ModelError
    from streamfx.look import Look
    from streamfx.weights import load_generators, resolve_weights

    if weights is None:
        try:
            path = resolve_weights(None)
        except ModelError:
            logging.getLogger("streamfx").warning(NO_MODEL_WARNING)
            return PassthroughEffect()
    else:
        path = resolve_weights(weights)
    generators, meta = load_generators(path)
    if "A2B" not in generators:
        raise ModelError(f"{path}: holds no face->anime (A2B) generator")
    look = (look or Look()).for_model(meta)
    content_delta = None
    if look.edit is not None and look.edit.active:
        from streamfx.edit.load import load_bank

        content_delta, _style_delta = load_bank(path, meta).deltas(look.edit.sliders, look.edit.freeze, photo=False)
    effect = effect_from_generator(generators["A2B"], look.styles(generators, meta), engine=engine, device=device,
                                   precision=precision, max_batch=max_batch, cache_dir=cache_dir,
                                   source_hash=weights_identity(path, meta), weights=path)
    effect.set_edit(content_delta)
    effect.look = look  # what ran, for the output's comment
    return effect


def effect_from_generator(generator, styles: torch.Tensor, *, engine: str = "auto", device: str = "auto",
                          precision: str = "auto", max_batch: int = 8, cache_dir=None, source_hash: str = "",
                          weights=None) -> AnimeEffect:
    """An AnimeEffect running `generator` (a GNR Generator) on the chosen engine with styles w [V,style_dim]."""
    from streamfx.engines.select import open_engines

    engines = open_engines(generator, engine=engine, device=device, precision=precision, max_batch=max_batch,
                           cache_dir=cache_dir, source_hash=source_hash)
    return AnimeEffect(engines, styles, crop_size=generator.config.size, latent_dim=generator.config.latent_dim,
                       weights=weights)
