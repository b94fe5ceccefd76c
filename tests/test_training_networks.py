"""Discriminators: output shapes per size, the diversity head's batch-level verdict, the latent discriminator."""

from __future__ import annotations

import pytest
import torch

from streamfx.models.discriminator import Discriminator, LatentDiscriminator
from streamfx.training.trainer import model_config


@pytest.mark.parametrize("name,size", [("tiny", 64), ("slim", 128), ("slim", 256)])
def test_discriminator_heads(name, size):
    torch.manual_seed(0)
    config = model_config(name, size)
    disc = Discriminator(size, dict(config.channels))
    x = torch.randn(3, 3, size, size)
    patch, glob, diversity = disc(x)
    assert patch.shape == (3, 1, size // 8, size // 8)
    assert glob.shape == (3, 1, size // 32, size // 32)
    assert diversity.shape == (3, 1)
    assert torch.allclose(diversity, diversity[:1].expand_as(diversity))  # one verdict per batch
    same = disc(x[:1].expand(3, -1, -1, -1))[2]
    assert not torch.allclose(same, diversity)  # a batch of one image repeated is judged differently


def test_latent_discriminator_sees_batch_spread():
    torch.manual_seed(0)
    disc = LatentDiscriminator(8)
    codes = torch.randn(4, 8)
    assert disc(codes).shape == (4, 1)
    # minibatch std: the logit of a sample depends on the rest of the batch
    assert not torch.allclose(disc(codes)[0], disc(torch.cat([codes[:1], codes[:1] * 0, codes[2:]]))[0])


def test_model_configs_keep_content_grid():
    for name, size in (("slim", 256), ("slim", 128), ("official", 128), ("tiny", 64)):
        config = model_config(name, size)
        assert config.size == size and config.content_size == 16
