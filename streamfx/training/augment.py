"""GNR training augmentation in plain torch: random affine -> resize 286 -> random crop 256 -> horizontal flip.

The four steps are composed into one sampling matrix per image and applied with a single `grid_sample`, so an
image is interpolated once. Parameters are drawn on the CPU from an explicit `torch.Generator`: the same seed gives
the same augmentation on CPU and CUDA, and the generator's state goes into checkpoints for exact resume.
Ranges follow the official kornia call (`RandomAffine(20, (0.1, 0.1), (0.8, 1.2), 0.15)`); like kornia and
torchvision, shear is in degrees, so 0.15 is a very small shear.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    degrees: float = 20.0
    translate: float = 0.1  # fraction of the image side
    scale: tuple[float, float] = (0.8, 1.2)
    shear: float = 0.15  # degrees, x-shear, as kornia/torchvision read a scalar
    resize_ratio: float = 286 / 256  # resize to 286 then crop 256 (scaled for other sizes)
    flip: bool = True
    padding: str = "zeros"  # what kornia used; 0 in [-1,1] is mid grey
    # colour jitter of teacher targets only (the face keeps its colours, so the style code must carry them)
    hue_degrees: float = 30.0
    saturation: tuple[float, float] = (0.6, 1.4)
    brightness: float = 0.1  # added, in [-1,1] units
    contrast: tuple[float, float] = (0.8, 1.2)


def _uniform(count: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator, dtype=torch.float64)


def _affine_forward(count: int, size: int, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """[N,3,3] float64 pixel maps source -> affine output, about the image centre."""
    angle = torch.deg2rad(_uniform(count, -cfg.degrees, cfg.degrees, generator))
    scale = _uniform(count, cfg.scale[0], cfg.scale[1], generator)
    shift = _uniform(2 * count, -cfg.translate, cfg.translate, generator).view(count, 2) * size
    shear = torch.tan(torch.deg2rad(_uniform(count, -cfg.shear, cfg.shear, generator)))
    centre = (size - 1) / 2.0
    cos, sin = torch.cos(angle), torch.sin(angle)
    matrix = torch.zeros(count, 3, 3, dtype=torch.float64)
    # rotation @ shear_x @ scale
    matrix[:, 0, 0] = cos * scale
    matrix[:, 0, 1] = (cos * shear - sin) * scale
    matrix[:, 1, 0] = sin * scale
    matrix[:, 1, 1] = (sin * shear + cos) * scale
    linear = matrix[:, :2, :2]
    matrix[:, :2, 2] = centre + shift - (linear @ torch.full((count, 2, 1), centre, dtype=torch.float64)).squeeze(-1)
    matrix[:, 2, 2] = 1.0
    return matrix


def _crop_flip_to_affine(count: int, size: int, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """[N,3,3] float64 pixel maps final crop pixel -> pixel of the (pre-resize) affine output."""
    resized = int(round(size * cfg.resize_ratio))
    offset = torch.randint(0, resized - size + 1, (count, 2), generator=generator).double()
    flip = torch.rand(count, generator=generator) < 0.5 if cfg.flip else torch.zeros(count, dtype=torch.bool)
    ratio = size / resized
    matrix = torch.zeros(count, 3, 3, dtype=torch.float64)
    # x: u -> (S-1-u if flip) -> + ox -> (x + 0.5) * ratio - 0.5
    sign = torch.where(flip, -1.0, 1.0).double()
    matrix[:, 0, 0] = sign * ratio
    matrix[:, 0, 2] = (torch.where(flip, float(size - 1), 0.0).double() + offset[:, 0] + 0.5) * ratio - 0.5
    matrix[:, 1, 1] = ratio
    matrix[:, 1, 2] = (offset[:, 1] + 0.5) * ratio - 0.5
    matrix[:, 2, 2] = 1.0
    return matrix


def sample_transforms(count: int, size: int, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """[N,2,3] float32 `affine_grid` thetas (normalized output -> normalized source), align_corners=False."""
    forward = _affine_forward(count, size, cfg, generator)
    crop = _crop_flip_to_affine(count, size, cfg, generator)
    pixel = torch.linalg.inv(forward) @ crop  # crop pixel -> source pixel
    to_norm = torch.tensor([[2 / size, 0, 1 / size - 1], [0, 2 / size, 1 / size - 1], [0, 0, 1]], dtype=torch.float64)
    theta = to_norm @ pixel @ torch.linalg.inv(to_norm)
    return theta[:, :2, :].float()


def augment(images: torch.Tensor, generator: torch.Generator, cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """Independently augment each image. [N,3,S,S] in [-1,1] -> [N,3,S,S] (same device and dtype)."""
    count, _, height, width = images.shape
    if height != width:
        raise ValueError(f"augment expects square images, got {height}x{width}")
    theta = sample_transforms(count, height, cfg, generator)
    return _warp(images, theta, cfg)


def _warp(images: torch.Tensor, theta: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    grid = F.affine_grid(theta.to(images.device, images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=cfg.padding, align_corners=False)


def augment_pair(
    faces: torch.Tensor, targets: torch.Tensor, generator: torch.Generator, cfg: AugmentConfig = AugmentConfig()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment faces and their teacher outputs with the same transform per pair, so pixels stay in register.

    [N,3,S,S] each, in [-1,1] -> the same shapes.
    """
    if faces.shape != targets.shape:
        raise ValueError(f"pair shapes differ: {tuple(faces.shape)} vs {tuple(targets.shape)}")
    theta = sample_transforms(faces.shape[0], faces.shape[-1], cfg, generator)
    return _warp(faces, theta, cfg), _warp(targets, theta, cfg)


def gnr_batch(
    originals: torch.Tensor, generator: torch.Generator, cfg: AugmentConfig = AugmentConfig()
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two views of one domain that a GNR step uses.

    Returns (same, varied): `same` is one randomly chosen image augmented B times (the style code must not change
    across it); `varied` is every image augmented once (for the discriminators and the style sampler).
    Both [B,3,S,S] in [-1,1].
    """
    count = originals.shape[0]
    varied = augment(originals, generator, cfg)
    pick = int(torch.randint(0, count, (1,), generator=generator))
    same = augment(originals[pick : pick + 1].expand_as(originals).contiguous(), generator, cfg)
    return same, varied


# RGB <-> YIQ: hue is a rotation of the (I, Q) chroma plane, saturation its length
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def jitter_colours(
    images: torch.Tensor, generator: torch.Generator, cfg: AugmentConfig = AugmentConfig()
) -> torch.Tensor:
    """Per-image random hue rotation, saturation, contrast and brightness. [N,3,H,W] in [-1,1] -> same, clamped.

    Applied to teacher outputs so that one teacher gives a family of palettes: the style code read from a jittered
    output must carry its palette, which spreads the teacher's look over the style space that seeds sample.
    """
    count = images.shape[0]
    angle = torch.deg2rad(_uniform(count, -cfg.hue_degrees, cfg.hue_degrees, generator)).float()
    saturation = _uniform(count, *cfg.saturation, generator).float()
    contrast = _uniform(count, *cfg.contrast, generator).float()
    brightness = _uniform(count, -cfg.brightness, cfg.brightness, generator).float()
    cos, sin = torch.cos(angle) * saturation, torch.sin(angle) * saturation
    chroma = torch.zeros(count, 3, 3)
    chroma[:, 0, 0] = 1.0
    chroma[:, 1, 1], chroma[:, 1, 2], chroma[:, 2, 1], chroma[:, 2, 2] = cos, -sin, sin, cos
    matrix = _YIQ_TO_RGB @ chroma @ _RGB_TO_YIQ  # [N,3,3] acting on RGB
    matrix = (matrix * contrast.view(-1, 1, 1)).to(images.device, images.dtype)
    mixed = torch.einsum("nij,njhw->nihw", matrix, images)
    # contrast scales about mid grey (0 in [-1,1]); brightness shifts
    return (mixed + brightness.view(-1, 1, 1, 1).to(images.device, images.dtype)).clamp(-1, 1)
