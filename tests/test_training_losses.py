"""Loss terms: known values on simple inputs and on real images."""

from __future__ import annotations

import math

import torch

from streamfx.training.losses import d_logistic_loss, g_nonsaturating_loss, r1_penalty, style_consistency_loss


def test_adversarial_losses_at_zero_logits_are_log2():
    zeros = [torch.zeros(2, 1, 8, 8), torch.zeros(2, 1)]
    assert math.isclose(float(d_logistic_loss(zeros, zeros)), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(float(g_nonsaturating_loss(zeros)), math.log(2), rel_tol=1e-6)


def test_r1_of_a_linear_critic_is_its_squared_norm():
    weight = torch.tensor([[3.0, 4.0]])
    x = torch.randn(5, 2, requires_grad=True)
    assert math.isclose(float(r1_penalty([x @ weight.T], x)), 25.0, rel_tol=1e-6)


def test_style_consistency_zero_for_equal_codes():
    code = torch.randn(1, 8)
    assert float(style_consistency_loss(code.expand(4, 8))) == 0.0
    assert float(style_consistency_loss(torch.randn(4, 8))) > 0.0
