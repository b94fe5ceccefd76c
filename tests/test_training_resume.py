"""Training end to end on a tiny configuration with teacher pairs: finite losses, exact resume, the fast CPU step,
checkpoint shards under 15 MB."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import DATA, require
from streamfx.training import checkpoint as ckpt
from streamfx.training.data import build_domains, with_teacher_pairs
from streamfx.training.trainer import GNRTrainer, TrainConfig, model_config


@pytest.fixture(scope="module")
def domains():
    s2a = require(DATA / "selfie2anime")
    teacher = require(DATA / "teacher_jpface" / "celebahq256")
    return with_teacher_pairs(build_domains(s2a / "trainA", s2a / "trainB"), DATA / "celebahq256", [teacher])


def _trainer(domains, seed=3, **options):
    torch.set_num_threads(1)
    # d_reg_every=2 so the lazy R1 branch runs inside the few steps
    return GNRTrainer(TrainConfig(model=model_config("tiny"), batch=2, seed=seed, d_reg_every=2, **options), domains)


def _as_floats(logs):
    return {k: float(v) for k, v in logs.items()}


def test_resumed_run_repeats_the_uninterrupted_one(domains, tmp_path):
    straight = _trainer(domains)
    straight_logs = [_as_floats(straight.step()) for _ in range(3)]
    for logs in straight_logs:
        assert all(math.isfinite(v) for v in logs.values()), logs
    assert "d_r1" in straight_logs[0] and "d_r1" in straight_logs[2]
    assert straight_logs[0]["distill_l1"] > 0 and straight_logs[0]["distill_lpips"] > 0

    first = _trainer(domains)
    for _ in range(2):
        first.step()
    tensors, meta = first.state()
    path = ckpt.save_step(tmp_path / "checkpoints", first.step_count, tensors, meta)
    # the RNGs moved on after saving; the checkpoint must bring them back
    torch.randn(100)
    resumed = _trainer(domains, seed=99)  # different init and data order until the state is loaded
    loaded, loaded_meta = ckpt.read_checkpoint(ckpt.latest_checkpoint(tmp_path / "checkpoints"))
    resumed.load_state(loaded, loaded_meta)
    assert resumed.step_count == 2
    resumed_logs = _as_floats(resumed.step())
    for key, value in straight_logs[2].items():
        assert resumed_logs[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    for (name, a), (_, b) in zip(straight.ema_a2b.state_dict().items(), resumed.ema_a2b.state_dict().items()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), name
    for shard in path.glob("*.safetensors"):
        assert shard.stat().st_size <= ckpt.MAX_SHARD_BYTES


def test_training_moves_every_network(domains):
    trainer = _trainer(domains)
    before = {n: [p.detach().clone() for p in m.parameters()] for n, m in trainer._modules().items()}
    trainer.step()
    for name, module in trainer._modules().items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[name], module.parameters()))
        assert changed, f"{name} did not change after a step"


def test_distillation_only_steps_between_full_steps(domains):
    trainer = _trainer(domains, gnr_every=2, jitter_teacher=True)
    d_before = [p.detach().clone() for p in trainer.d_a.parameters()]
    full = _as_floats(trainer.step())
    assert "d_adv" in full and "cycle_mse" in full and "d_r1" in full
    d_after_full = [p.detach().clone() for p in trainer.d_a.parameters()]
    a2b_before = [p.detach().clone() for p in trainer.g_a2b.parameters()]
    distill = _as_floats(trainer.step())
    assert set(distill) == {"g_total", "distill_l1", "distill_lpips"}
    assert all(math.isfinite(v) for v in distill.values())
    assert any(not torch.equal(a, b) for a, b in zip(d_before, d_after_full))
    assert all(torch.equal(a, b) for a, b in zip(d_after_full, trainer.d_a.parameters()))  # no D update
    assert any(not torch.equal(a, b) for a, b in zip(a2b_before, trainer.g_a2b.parameters()))
    # R1 counts full steps: with d_reg_every=2 it runs on every other full step (steps 0, 4, ...)
    assert "d_r1" not in _as_floats(trainer.step()) and "d_r1" not in trainer.step()
    assert "d_r1" in trainer.step()


def test_perceptual_terms_read_the_drawn_pairs_mirrored(domains):
    """The cycle and distillation LPIPS read each pair the way the step's mirror draws say (`either_way`): all
    unmirrored gives plain LPIPS, all mirrored gives LPIPS of the flipped pairs, which differs on these drawings."""
    trainer = _trainer(domains)
    x = trainer._draw()
    b = trainer.cfg.batch
    assert x["mirror_cycle"].shape == (2 * b,) and x["mirror_pairs"].shape == (b,)
    with torch.no_grad():
        f = trainer._translate(x)
        distilled = trainer._distill(x)
        cycle_a, cycle_b = f["fake_a"], f["fake_b"]  # any drawings of the training size stand in for the cycle
        half = trainer.cfg.cycle_lpips_downsample
        outputs = F.avg_pool2d(torch.cat([cycle_a, cycle_b]), half)
        targets = F.avg_pool2d(torch.cat([x["same_a"], x["same_b"]]), half)
        expected = {}
        for mirrored in (False, True):
            flip = (lambda t: t.flip(3)) if mirrored else (lambda t: t)
            expected[mirrored] = [float(trainer.lpips(flip(outputs), flip(targets)).mean()) * 2,
                                  float(trainer.lpips(flip(distilled["image"]), flip(x["pair_y"])).mean())]
        readings = {}
        for mirrored in (False, True):
            for name in ("mirror_cycle", "mirror_pairs"):
                x[name] = torch.full_like(x[name], mirrored)
            readings[mirrored] = [float(v) for v in trainer._perceptual(x, cycle_a, cycle_b, distilled)]
    for mirrored in (False, True):
        assert readings[mirrored] == pytest.approx(expected[mirrored], rel=1e-5), mirrored
    assert expected[True][1] != pytest.approx(expected[False][1], rel=1e-3)


def test_cpu_bf16_channels_last_step_matches_fp32_closely(domains):
    """The fast CPU step (bf16 autocast, NHWC) computes the same losses as fp32 to bf16 precision, and its
    optimizer keeps fp32 weights."""
    reference = _as_floats(_trainer(domains).step())
    fast_trainer = _trainer(domains, amp=True, channels_last=True)
    fast = _as_floats(fast_trainer.step())
    assert set(fast) == set(reference)
    # one pass through a network: bf16 rounding only
    for key in ("d_adv", "g_adv", "g_latent", "style_consistency", "cycle_perceptual", "distill_l1", "distill_lpips"):
        assert fast[key] == pytest.approx(reference[key], rel=0.02), key
    # two passes through random, untrained generators amplify the rounding (measured: up to 10% at init)
    for key in ("cycle_mse", "style_reconstruction"):
        assert fast[key] == pytest.approx(reference[key], rel=0.15), key
    assert next(fast_trainer.g_a2b.parameters()).dtype == torch.float32


@pytest.mark.gpu
def test_cuda_bf16_steps_are_finite(domains):
    config = TrainConfig(model=model_config("tiny"), batch=4, seed=0, d_reg_every=2, amp=True)
    trainer = GNRTrainer(config, domains, device="cuda")
    for _ in range(3):
        logs = _as_floats(trainer.step())
        assert all(math.isfinite(v) for v in logs.values()), logs
    assert next(trainer.ema_a2b.parameters()).dtype == torch.float32


def test_benchmark_reports_both_step_kinds(domains):
    from streamfx.training.benchmark import measure

    torch.set_num_threads(1)
    config = TrainConfig(model=model_config("tiny"), batch=2, seed=0, d_reg_every=4, gnr_every=2)
    result = measure(config, domains, steps=4)
    assert result["s_per_it"] > 0 and result["s_per_distill_it"] > 0
    assert result["s_per_it_mean"] == pytest.approx((result["s_per_it"] + result["s_per_distill_it"]) / 2)
    assert result["flops_per_it"] > 0 and result["size"] == 64
