"""GNR augmentation: identity when switched off, exact flips, determinism, the two views of a batch, pairs in
register, colour jitter."""

from __future__ import annotations

import pytest
import torch

from conftest import DATA, require
from streamfx.training.augment import AugmentConfig, augment, augment_pair, gnr_batch
from streamfx.training.data import list_images, load_batch

OFF = AugmentConfig(degrees=0.0, translate=0.0, scale=(1.0, 1.0), shear=0.0, resize_ratio=1.0, flip=False)


def _faces(count=4, size=128):
    return load_batch(list_images(require(DATA / "selfie2anime" / "trainA"))[:count], size)


def test_switched_off_is_identity_and_flip_is_exact_mirror():
    faces = _faces()
    same = augment(faces, torch.Generator().manual_seed(0), OFF)
    assert (same - faces).abs().max() < 1e-4
    flip_only = AugmentConfig(**{**OFF.__dict__, "flip": True})
    out = augment(faces, torch.Generator().manual_seed(1), flip_only)
    for image, result in zip(faces, out):
        error_kept = (result - image).abs().max()
        error_flipped = (result - image.flip(2)).abs().max()
        assert min(error_kept, error_flipped) < 1e-4


def test_same_seed_same_augmentation_and_defaults_change_images():
    faces = _faces()
    a = augment(faces, torch.Generator().manual_seed(5))
    b = augment(faces, torch.Generator().manual_seed(5))
    c = augment(faces, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape == faces.shape
    assert ((a - faces).abs().flatten(1).mean(1) > 0.02).all()


def test_gnr_batch_same_is_one_image_varied_is_all():
    faces = _faces()
    same, varied = gnr_batch(faces, torch.Generator().manual_seed(2))
    assert same.shape == varied.shape == faces.shape
    # the B copies of `same` differ (independent augmentations) but share one source: their means are close
    assert not torch.equal(same[0], same[1])
    means = same.mean((1, 2, 3))
    assert float(means.max() - means.min()) < float(faces.mean((1, 2, 3)).max() - faces.mean((1, 2, 3)).min()) + 0.1


def test_pairs_are_warped_together():
    faces = torch.rand(3, 3, 32, 32) * 2 - 1
    targets = faces.flip(1)  # channel-reversed copies: the same warp keeps them channel-reversed
    warped_faces, warped_targets = augment_pair(faces, targets, torch.Generator().manual_seed(4))
    assert torch.equal(warped_targets, warped_faces.flip(1))
    assert not torch.allclose(warped_faces, faces, atol=1e-3)
    # the same draws as augmenting the faces alone
    assert torch.equal(warped_faces, augment(faces, torch.Generator().manual_seed(4)))
    with pytest.raises(ValueError):
        augment_pair(faces, targets[:2], torch.Generator())


def test_colour_jitter_keeps_grey_grey_and_varies_colour():
    from streamfx.training.augment import jitter_colours

    generator = torch.Generator().manual_seed(1)
    grey = torch.linspace(-0.8, 0.8, 8).view(1, 1, 1, 8).expand(4, 3, 8, 8)
    jittered = jitter_colours(grey, generator)
    # hue and saturation act on chroma only: grey pixels stay grey (equal channels)
    assert torch.allclose(jittered[:, 0], jittered[:, 1], atol=1e-5)
    assert torch.allclose(jittered[:, 1], jittered[:, 2], atol=1e-5)
    faces = _faces(4, 64)
    coloured = jitter_colours(faces, torch.Generator().manual_seed(2))
    assert coloured.shape == faces.shape and float(coloured.abs().max()) <= 1.0
    assert float((coloured - faces).abs().mean()) > 0.02
    off = AugmentConfig(hue_degrees=0.0, saturation=(1.0, 1.0), brightness=0.0, contrast=(1.0, 1.0))
    assert torch.allclose(jitter_colours(faces, torch.Generator(), off), faces, atol=1e-5)
