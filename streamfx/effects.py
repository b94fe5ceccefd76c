"""Face effects: what the model stage does to a batch of aligned crops.

An effect maps crops [B,S,S,3] uint8 RGB to generated faces [B,V,S,S,3] uint8 RGB, where V is the
number of variants per face (1 normally; N for `--grid N`, one per style). Styles are fixed per
video: w is computed once and reused for every batch.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from streamfx.pixels import to_model, to_uint8


class PassthroughEffect:
    """Returns the crops unchanged: the pipeline still detects, tracks, aligns and pastes back."""

    name = "passthrough"
    engine = "none"
    device = "cpu"
    description = "none (passthrough: no model)"
    variants = 1
    crop_size = 256
    weights = None

    def __call__(self, crops: np.ndarray) -> np.ndarray:
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
    def __call__(self, crops: np.ndarray) -> np.ndarray:
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


def grid_styles(generator, first_seed: int, count: int) -> torch.Tensor:
    """w [count,style_dim] for seeds first_seed .. first_seed+count-1."""
    from streamfx.styles import style_from_seed

    latent = generator.config.latent_dim
    with torch.inference_mode():
        return torch.cat([generator.mapping(style_from_seed(first_seed + i, latent)) for i in range(count)])


def build_effect(weights: str | None, *, engine: str = "auto", device: str = "auto", precision: str = "auto",
                 max_batch: int = 8, seed: int | None = None, mix: str | None = None, style_image=None,
                 anchor: str | None = None, grid: int = 0, cache_dir=None, edit=None):
    """The anime effect for `weights` (path or catalog name), or passthrough when none is installed.

    Exactly one style source is used: seed (default 0), mix 'a,b,t', a reference image path, or the name of a
    style anchor stored in the weights' metadata.
    grid > 1 makes `grid` variants per face, seeds seed .. seed+grid-1.
    edit: an `EditRequest` (sliders and frozen attributes) applied to every face's content.
    """
    import logging

    from streamfx.errors import ModelError
    from streamfx.styles import style_w
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
    generator = generators["A2B"]
    if grid > 1:
        styles = grid_styles(generator, seed or 0, grid)
    else:
        image = None
        if style_image is not None:
            from streamfx.io.image import read_image

            image = read_image(style_image)
        styles = style_w(generator, seed=seed, mix=mix, image_rgb=image, G_B2A=generators.get("B2A"),
                         anchor_z=anchor_code(meta, anchor) if anchor is not None else None)
    content_delta = None
    if edit is not None and edit.active:
        from streamfx.edit.load import load_bank

        content_delta, _style_delta = load_bank(path, meta).deltas(edit.sliders, edit.freeze)
    effect = effect_from_generator(generator, styles, engine=engine, device=device, precision=precision,
                                   max_batch=max_batch, cache_dir=cache_dir, source_hash=weights_identity(path, meta),
                                   weights=path)
    effect.set_edit(content_delta)
    return effect


def anchor_code(meta: dict, name: str) -> list[float]:
    """The z of a named style anchor in a weight file's metadata; UsageError naming those that exist."""
    from streamfx.errors import UsageError

    anchors = meta.get("style_anchors", {})
    if name not in anchors:
        have = ", ".join(sorted(anchors)) or "none"
        raise UsageError(f"--style-anchor {name!r}: this model has no such anchor (it has: {have})")
    return anchors[name]


def effect_from_generator(generator, styles: torch.Tensor, *, engine: str = "auto", device: str = "auto",
                          precision: str = "auto", max_batch: int = 8, cache_dir=None, source_hash: str = "",
                          weights=None) -> AnimeEffect:
    """An AnimeEffect running `generator` (a GNR Generator) on the chosen engine with styles w [V,style_dim]."""
    from streamfx.engines.select import open_engines

    engines = open_engines(generator, engine=engine, device=device, precision=precision, max_batch=max_batch,
                           cache_dir=cache_dir, source_hash=source_hash)
    return AnimeEffect(engines, styles, crop_size=generator.config.size, latent_dim=generator.config.latent_dim,
                       weights=weights)
