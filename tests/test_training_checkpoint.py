"""Sharded checkpoints: exact round trip, size limit, corruption detected, optimizer and RNG state restored."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from streamfx.training import checkpoint as ckpt


def test_round_trip_splits_big_tensors_and_keeps_shards_small(tmp_path):
    generator = torch.Generator().manual_seed(0)
    tensors = {"big": torch.randn(300, 1000, generator=generator),  # 1.2 MB: split across shards
               "small": torch.arange(10, dtype=torch.int64), "half": torch.randn(7, 3, generator=generator).half()}
    path = ckpt.write_checkpoint(tmp_path / "c", tensors, {"step": 5}, max_shard_bytes=400_000)
    shards = sorted(path.glob("*.safetensors"))
    assert len(shards) >= 3
    assert all(s.stat().st_size <= 400_000 for s in shards)
    loaded, meta = ckpt.read_checkpoint(path)
    assert meta == {"step": 5}
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype and torch.equal(loaded[name], value), name


def test_corrupt_shard_is_reported(tmp_path):
    path = ckpt.write_checkpoint(tmp_path / "c", {"x": torch.ones(100)}, {})
    shard = next(path.glob("*.safetensors"))
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError):
        ckpt.read_checkpoint(path)


def test_save_step_keeps_latest_and_prunes(tmp_path):
    for step in (1, 2, 3):
        ckpt.save_step(tmp_path, step, {"x": torch.full((2,), float(step))}, {"step": step}, keep=2)
    assert ckpt.latest_checkpoint(tmp_path).name == "step_0000003"
    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_0000002", "step_0000003"]
    assert not list(tmp_path.glob("*.tmp"))


def test_optimizer_and_rng_state_restore_exactly(tmp_path):
    model = torch.nn.Linear(4, 3)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.0, 0.99))
    for _ in range(3):
        optim.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        optim.step()
    gen = torch.Generator().manual_seed(7)
    tensors, meta = ckpt.optimizer_state("opt", optim)
    rng_tensors, rng_meta = ckpt.rng_state({"g": gen})
    ckpt.write_checkpoint(tmp_path / "c", {**tensors, **rng_tensors, **{f"m/{k}": v for k, v in model.state_dict().items()}},
                          {"opt": meta, "rng": rng_meta})
    expected = (random.random(), np.random.rand(), torch.rand(1), torch.rand(1, generator=gen))

    loaded, loaded_meta = ckpt.read_checkpoint(tmp_path / "c")
    model2 = torch.nn.Linear(4, 3)
    model2.load_state_dict({k[2:]: v for k, v in loaded.items() if k.startswith("m/")})
    optim2 = torch.optim.Adam(model2.parameters(), lr=5.0)
    ckpt.restore_optimizer("opt", optim2, loaded, loaded_meta["opt"])
    gen2 = torch.Generator()
    ckpt.restore_rng({"g": gen2}, loaded, loaded_meta["rng"])
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2]) and torch.equal(torch.rand(1, generator=gen2), expected[3])
    assert optim2.param_groups[0]["lr"] == 1e-3 and optim2.param_groups[0]["betas"] == (0.0, 0.99)
    batch = torch.randn(5, 4)
    for m, o in ((model, optim), (model2, optim2)):
        o.zero_grad()
        m(batch).pow(2).sum().backward()
        o.step()
    assert torch.equal(model.weight, model2.weight)
