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


def test_a_run_started_from_an_export_continues_its_generators(tmp_path):
    """`train_gnr.py --init-weights`: both the live and the EMA generators start from the file, at its step count."""
    s2a = require(DATA / "selfie2anime")
    torch.set_num_threads(1)
    domains = build_domains(s2a / "trainA", s2a / "trainB")
    source = GNRTrainer(TrainConfig(model=model_config("tiny"), batch=2, seed=1), domains)
    for _ in range(2):
        source.step()
    source.wall_seconds = 123.5  # the run loop's clock; the warm start must carry it on
    tensors, meta = source.state()
    path = ckpt.save_step(tmp_path / "checkpoints", source.step_count, tensors, meta)
    export_weights(path, tmp_path / "gnr_tiny.safetensors", device="cpu (test)")

    from streamfx.training.loop import RunOptions, TrainingRun
    from streamfx.weights import load_weights

    run = TrainingRun(TrainConfig(model=model_config("tiny"), batch=2, seed=7), domains, RunOptions(run_dir=tmp_path / "run"))
    started = run.trainer
    faces = load_batch(list_images(s2a / "trainA")[:2], 64)
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert not torch.allclose(started.ema_a2b(faces, z), source.ema_a2b(faces, z), atol=1e-2)  # other init
        run.start_from_weights(tmp_path / "gnr_tiny.safetensors")
        assert started.step_count == 2 and started.wall_seconds == 123.5
        for mine, theirs in ((started.ema_a2b, source.ema_a2b), (started.g_a2b, source.ema_a2b),
                             (started.ema_b2a, source.ema_b2a), (started.g_b2a, source.ema_b2a)):
            assert torch.allclose(mine(faces, z), theirs(faces, z), atol=1e-4, rtol=1e-4)
    logs = started.step()
    assert started.step_count == 3 and all(torch.isfinite(v) for v in logs.values())
    # the weights it exports say where they began
    tensors, meta = started.state()
    path = ckpt.save_step(tmp_path / "continued", started.step_count, tensors, meta)
    export_weights(path, tmp_path / "continued.safetensors", device="cpu (test)")
    started_from = load_weights(tmp_path / "continued.safetensors")[1]["started_from"]
    assert started_from["file"] == "gnr_tiny.safetensors" and started_from["steps"] == 2
