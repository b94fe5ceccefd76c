"""Evaluation metrics on real faces: identical images score perfectly, different ones do not."""

from __future__ import annotations

import torch

from conftest import DATA, require
from streamfx.training.data import list_images, load_batch
from streamfx.training.evaluate import grey_thumbnail_correlation, pairwise_l1, psnr


def test_metrics_on_real_faces():
    faces = load_batch(list_images(require(DATA / "selfie2anime" / "trainA"))[:4], 128)
    assert (psnr(faces, faces) > 90).all()
    noisy = (faces + 0.05 * torch.randn_like(faces)).clamp(-1, 1)
    assert ((psnr(noisy, faces) > 20) & (psnr(noisy, faces) < 35)).all()
    assert torch.allclose(grey_thumbnail_correlation(faces, faces), torch.ones(4), atol=1e-5)
    assert (grey_thumbnail_correlation(noisy, faces) > 0.95).all()
    # a mirrored face keeps less of the layout than a noisy copy
    assert grey_thumbnail_correlation(faces.flip(3), faces).mean() < grey_thumbnail_correlation(noisy, faces).mean()
    assert float(pairwise_l1(faces[:1].expand(3, -1, -1, -1))) == 0.0
    assert float(pairwise_l1(faces)) > 0.05
