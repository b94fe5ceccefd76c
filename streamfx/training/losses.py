"""GNR loss terms. Weights are applied by the trainer (`LossWeights`), not here.

LPIPS (the official 10x cycle term) needs pretrained VGG/AlexNet weights, which are not available offline. It is
replaced by L1 + multi-scale SSIM in the mix of Zhao et al., "Loss Functions for Image Restoration with Neural
Networks" (2017): 0.16 * L1 + 0.84 * (1 - SSIM), with SSIM averaged over 3 scales (full, 1/2, 1/4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

SSIM_C1 = 0.01**2  # for images in [0,1]
SSIM_C2 = 0.03**2
SSIM_ALPHA = 0.84


@dataclass(frozen=True)
class LossWeights:
    """GNR weights (official `train.py` on `main`)."""

    adversarial: float = 1.0
    latent_adversarial: float = 2.0  # D_L term, per direction
    style_consistency: float = 50.0
    cycle: float = 20.0
    perceptual: float = 10.0  # stands in for LPIPS
    style_reconstruction: float = 5.0
    r1_gamma: float = 10.0

    def to_dict(self) -> dict:
        return asdict(self)


def d_logistic_loss(real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """Non-saturating discriminator loss, averaged over the heads: softplus(-real) + softplus(fake)."""
    terms = [F.softplus(-r.float()).mean() + F.softplus(f.float()).mean() for r, f in zip(real, fake)]
    return torch.stack(terms).mean()


def g_nonsaturating_loss(fake: list[Tensor]) -> Tensor:
    """Generator side: softplus(-D(fake)), averaged over the heads."""
    return torch.stack([F.softplus(-f.float()).mean() for f in fake]).mean()


def r1_penalty(real: list[Tensor], inputs: Tensor) -> Tensor:
    """E ||d sum(D(x)) / dx||^2 over real samples (all heads summed); inputs must require grad."""
    total = sum(r.float().sum() for r in real)
    (grad,) = torch.autograd.grad(total, inputs, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def style_consistency_loss(style: Tensor) -> Tensor:
    """Sum over dimensions of the batch variance of the style codes of one image augmented B times. [B,D] -> []."""
    return style.float().var(0, unbiased=False).sum()


def _gaussian_window(size: int, sigma: float, channels: int, device, dtype) -> Tensor:
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    taps = torch.exp(-(coords**2) / (2 * sigma**2))
    taps = taps / taps.sum()
    return torch.outer(taps, taps).expand(channels, 1, size, size).contiguous()


def ssim(x: Tensor, y: Tensor, window: int = 7, sigma: float = 1.5) -> Tensor:
    """Mean SSIM of two [B,C,H,W] batches in [0,1] (Gaussian window, reflect padding so small maps work)."""
    channels = x.shape[1]
    kernel = _gaussian_window(window, sigma, channels, x.device, x.dtype)
    pad = window // 2

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.pad(t, (pad,) * 4, mode="reflect"), kernel, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + SSIM_C1) / (mu_x**2 + mu_y**2 + SSIM_C1)
    structure = (2 * cov + SSIM_C2) / (var_x + var_y + SSIM_C2)
    return (luminance * structure).mean()


def multiscale_ssim(x: Tensor, y: Tensor, scales: int = 3) -> Tensor:
    """SSIM averaged over `scales` dyadic scales. Inputs [B,3,H,W] in [-1,1]."""
    x, y = (x.float() + 1) / 2, (y.float() + 1) / 2
    values = []
    for level in range(scales):
        if level:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        values.append(ssim(x, y))
    return torch.stack(values).mean()


def perceptual_loss(output: Tensor, target: Tensor) -> Tensor:
    """LPIPS stand-in: 0.16 * L1 (on [0,1]) + 0.84 * (1 - multi-scale SSIM)."""
    l1 = (output.float() - target.float()).abs().mean() / 2  # /2: [-1,1] differences measured on [0,1]
    return (1 - SSIM_ALPHA) * l1 + SSIM_ALPHA * (1 - multiscale_ssim(output, target))
