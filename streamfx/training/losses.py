"""GNR loss terms. Weights are applied by the trainer (`LossWeights`), not here; LPIPS lives in `lpips.py`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class LossWeights:
    """GNR weights (official `train.py` on `main`)."""

    adversarial: float = 1.0
    latent_adversarial: float = 2.0  # D_L term, per direction
    style_consistency: float = 50.0
    cycle: float = 20.0
    perceptual: float = 10.0  # LPIPS of the cycle
    style_reconstruction: float = 5.0
    r1_gamma: float = 10.0
    # teacher distillation (ours): decode(content(face), style read from the teacher output) -> teacher output
    distill_l1: float = 10.0
    distill_lpips: float = 10.0

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
