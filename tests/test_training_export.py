"""Export of trained EMA generators: the weight file computes what the checkpoint's EMA generators compute."""

from __future__ import annotations

import torch

from conftest import DATA, require
from streamfx.training import checkpoint as ckpt
from streamfx.training.data import build_domains, list_images, load_batch
from streamfx.training.export import ema_generators, export_weights
from streamfx.training.trainer import GNRTrainer, TrainConfig, model_config


def test_export_matches_checkpoint_ema(tmp_path):
    s2a = require(DATA / "selfie2anime")
    torch.set_num_threads(1)
    trainer = GNRTrainer(TrainConfig(model=model_config("tiny"), batch=2, seed=1),
                         build_domains(s2a / "trainA", s2a / "trainB"))
    trainer.step()
    tensors, meta = trainer.state()
    path = ckpt.save_step(tmp_path / "checkpoints", trainer.step_count, tensors, meta)
    digest = export_weights(path, tmp_path / "gnr_tiny.safetensors", device="cpu (test)")
    assert len(digest) == 64

    from streamfx.weights import load_weights

    loaded, metadata = load_weights(tmp_path / "gnr_tiny.safetensors")
    assert metadata["steps"] == 1 and metadata["train_config"]["batch"] == 2 and "git_commit" in metadata
    reference, _ = ema_generators(path)
    faces = load_batch(list_images(s2a / "trainA")[:2], 64)
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for direction in ("A2B", "B2A"):
            expected = reference[direction](faces, z)
            got = loaded[direction](faces, z)
            assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4), direction
