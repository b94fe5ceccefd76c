"""Style codes: from a seed, from a reference anime image, and mixes of two.

A video uses one style for every frame: compute `w = G.mapping(z)` once and decode every face with it.

Seeds are portable: z is drawn by Box-Muller from the raw 64-bit outputs of NumPy's PCG64 bit generator seeded with
the seed. Raw bit-generator streams are guaranteed stable across NumPy versions and platforms (unlike the
distribution methods), and Box-Muller in float64 is plain IEEE arithmetic, so the same seed gives the same z on any
machine.
"""

from __future__ import annotations

import numpy as np
import torch

from streamfx.errors import UsageError
from streamfx.models.gnr import Generator
from streamfx.pixels import to_model


def style_from_seed(seed: int, latent_dim: int = 8) -> torch.Tensor:
    """[1,latent_dim] float32 z ~ N(0, I), reproducible on any machine."""
    if not 0 <= int(seed) < 2**63:
        raise UsageError(f"style seed must be a non-negative integer, got {seed}")
    pairs = (latent_dim + 1) // 2
    raw = np.random.PCG64(int(seed)).random_raw(2 * pairs)
    # 53-bit uniforms in (0, 1]: never 0, so the log is finite.
    u = ((raw >> np.uint64(11)).astype(np.float64) + 1.0) / 2.0**53
    radius = np.sqrt(-2.0 * np.log(u[0::2]))
    angle = 2.0 * np.pi * u[1::2]
    z = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).reshape(-1)[:latent_dim]
    return torch.from_numpy(z.astype(np.float32)).unsqueeze(0)


def image_to_tensor(image_rgb: np.ndarray, size: int) -> torch.Tensor:
    """[H,W,3] uint8 RGB -> [1,3,size,size] float32 in [-1,1]: centre square crop, then area/linear resize."""
    import cv2

    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise UsageError(f"expected an [H,W,3] uint8 RGB image, got {image_rgb.shape} {image_rgb.dtype}")
    h, w = image_rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image_rgb[top : top + side, left : left + side]
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        square = cv2.resize(square, (size, size), interpolation=interp)
    return to_model(square)  # [1,3,S,S] in [-1,1]


@torch.no_grad()
def style_from_image(image_rgb: np.ndarray, encoder_b2a: Generator) -> torch.Tensor:
    """The style code z [1,latent_dim] of a reference anime image, from the B2A generator's encoder.

    The image should be an anime face framed like selfie2anime (loose square crop); a non-square image is
    centre-cropped to a square, then resized to the model size. Feed the result to the A2B generator's mapping.
    """
    param = next(encoder_b2a.parameters())
    x = image_to_tensor(image_rgb, encoder_b2a.config.size).to(param.device, param.dtype)
    _content, style = encoder_b2a.encode(x)
    return style.float()


def mix_styles(w_a: torch.Tensor, w_b: torch.Tensor, t: float) -> torch.Tensor:
    """Linear interpolation in w: t=0 gives w_a, t=1 gives w_b (t outside [0,1] extrapolates)."""
    if w_a.shape != w_b.shape:
        raise UsageError(f"cannot mix styles of shapes {tuple(w_a.shape)} and {tuple(w_b.shape)}")
    return torch.lerp(w_a, w_b, float(t))


def parse_style_mix(text: str) -> tuple[int, int, float]:
    """'a,b,t' -> (seed a, seed b, t)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        a, b, t = int(parts[0]), int(parts[1]), float(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise UsageError(f"--style-mix expects SEED_A,SEED_B,T (e.g. 3,7,0.5), got {text!r}") from None
    return a, b, t


def parse_seeds(text: str) -> list[int]:
    """'1-4,9' -> [1, 2, 3, 4, 9]."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi or lo)
            if last < first or last - first > 1000:
                raise ValueError
            seeds.extend(range(first, last + 1))
    except ValueError:
        raise UsageError(f"seeds must look like 1-16 or 1,5,9, got {text!r}") from None
    if not seeds:
        raise UsageError("no seeds given")
    return seeds


@torch.no_grad()
def style_w(
    G_A2B: Generator,
    seed: int | None = None,
    mix: str | tuple[int, int, float] | None = None,
    image_rgb: np.ndarray | None = None,
    G_B2A: Generator | None = None,
    anchor_z: list[float] | None = None,
) -> torch.Tensor:
    """One w [1,style_dim] for a whole video from exactly one of: seed, mix 'a,b,t', reference image (needs G_B2A),
    a stored anchor z."""
    given = sum(x is not None for x in (seed, mix, image_rgb, anchor_z))
    if given > 1:
        raise UsageError("choose one of --style-seed, --style-mix, --style-image, --style-anchor")
    param = next(G_A2B.parameters())
    latent = G_A2B.config.latent_dim

    def w_of(z: torch.Tensor) -> torch.Tensor:
        return G_A2B.mapping(z.to(param.device, param.dtype))

    if image_rgb is not None:
        if G_B2A is None:
            raise UsageError("--style-image needs weights with the B2A (anime->face) generator")
        return w_of(style_from_image(image_rgb, G_B2A))
    if anchor_z is not None:
        if len(anchor_z) != latent:
            raise UsageError(f"style anchor has {len(anchor_z)} numbers, the model's z has {latent}")
        return w_of(torch.tensor([anchor_z], dtype=torch.float32))
    if mix is not None:
        a, b, t = parse_style_mix(mix) if isinstance(mix, str) else mix
        return mix_styles(w_of(style_from_seed(a, latent)), w_of(style_from_seed(b, latent)), t)
    from streamfx.look import DEFAULT_SEED

    return w_of(style_from_seed(DEFAULT_SEED if seed is None else seed, latent))
