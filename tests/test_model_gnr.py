"""GNR generator: fidelity to the official model (golden vector), official key layout, trainability."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import REFERENCE, require
from streamfx.errors import ModelError
from streamfx.models.gnr import OFFICIAL, SLIM, Generator, GNRConfig

TINY = GNRConfig(channels=((4, 16), (8, 16), (16, 16), (32, 8), (64, 8), (128, 4), (256, 4)), style_dim=16)


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max()).item()


@pytest.fixture(scope="module")
def golden() -> dict:
    path = require(REFERENCE / "gnr_tiny_reference.pt")
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("folded", [False, True], ids=["training-form", "folded"])
def test_golden_vector_reproduced(golden, folded):
    """The proof of fidelity: every expected tensor of the official code within 1e-4 relative error."""
    G = Generator(GNRConfig.from_dict(golden["config"])).eval()
    G.load_official_state_dict(golden["G_A2B_ema"])
    if folded:
        G.fold_equalized_lr()
    expected = golden["expected"]
    with torch.no_grad():
        content, style = G.encode(golden["input"])
        w = G.mapping(golden["z"])
        output = G.decode(content, w)
        own = G.decode(content, G.mapping(style))
    assert content.shape == expected["content"].shape == (2, 32, 16, 16)
    assert style.shape == (2, 8)
    for name, actual in [("content", content), ("style", style), ("w", w), ("output", output)]:
        assert rel_err(actual, expected[name]) < 1e-4, name
    assert rel_err(own, expected["output_own_style"]) < 1e-4
    # forward() is decode(encode(x)[0], mapping(z)).
    with torch.no_grad():
        assert rel_err(G(golden["input"], golden["z"]), expected["output"]) < 1e-4


def test_official_state_dict_round_trip(golden):
    G = Generator(GNRConfig.from_dict(golden["config"]))
    G.load_official_state_dict(golden["G_A2B_ema"])
    G.fold_equalized_lr()
    back = G.official_state_dict()
    assert list(back) == list(golden["G_A2B_ema"])
    for key, value in golden["G_A2B_ema"].items():
        assert back[key].shape == value.shape
        assert torch.allclose(back[key], value, rtol=1e-5, atol=1e-6), key


@pytest.fixture(scope="module")
def official_model() -> Generator:
    return Generator(OFFICIAL)


@pytest.fixture(scope="module")
def official_random_sd() -> dict:
    from streamfx.models.official_keys import official_key_shapes, random_official_state_dict

    assert len(official_key_shapes()) == 130
    return random_official_state_dict(seed=0)


def test_official_layout_loads_strictly(official_model, official_random_sd):
    assert sum(p.numel() for p in official_model.parameters()) == 39_581_207
    official_model.load_official_state_dict(official_random_sd)
    back = official_model.official_state_dict()
    key = "convs.2.conv.weight"  # an up-sampling conv: stored transposed inside the model
    assert torch.equal(back[key], official_random_sd[key])


@pytest.mark.parametrize(
    "change, key",
    [
        ("missing", "convs.5.conv.modulation.bias"),
        ("extra", "encoder.style.5.weight"),
        ("reshaped", "to_rgbs.1.conv.weight"),
        ("reshaped", "mapping.0.weight"),
    ],
)
def test_official_layout_refuses_bad_keys(official_model, official_random_sd, change, key):
    sd = dict(official_random_sd)
    if change == "missing":
        del sd[key]
    elif change == "extra":
        sd[key] = torch.zeros(3)
    else:
        sd[key] = sd[key].reshape(-1)
    with pytest.raises(ModelError, match=key.replace(".", r"\.")):
        official_model.load_official_state_dict(sd)


def test_wrong_blur_kernel_refused(official_model, official_random_sd):
    sd = dict(official_random_sd)
    sd["convs.0.conv.blur.kernel"] = torch.ones(4, 4)
    with pytest.raises(ModelError, match="convs.0.conv.blur.kernel"):
        official_model.load_official_state_dict(sd)


def test_config_round_trip_and_validation():
    for cfg in (OFFICIAL, SLIM, TINY):
        assert GNRConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ModelError, match="resolution"):
        GNRConfig(channels=((4, 8), (8, 8)))
    with pytest.raises(ModelError, match="bogus"):
        GNRConfig.from_dict({"bogus": 1})


def test_shapes_slim_and_batch():
    G = Generator(TINY).eval()
    x = torch.rand(3, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        content, style = G.encode(x)
        w = G.mapping(torch.randn(3, 8))
        out = G.decode(content, w)
    assert content.shape == (3, 16, 16, 16) and style.shape == (3, 8)
    assert w.shape == (3, 16) and out.shape == (3, 3, 256, 256)
    # Deterministic (no noise injection) and batch-independent.
    with torch.no_grad():
        assert torch.equal(G.decode(content, w), out)
        single = G.decode(content[1:2], w[1:2])
    assert torch.allclose(single, out[1:2], atol=1e-5)


def test_fold_unfold_same_function_and_gradients_flow():
    torch.manual_seed(0)
    G = Generator(TINY)
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    z = torch.randn(2, 8)
    before = G(x, z)
    folded = copy.deepcopy(G).fold_equalized_lr()
    assert folded.folded and not G.folded
    assert torch.allclose(folded(x, z), before, atol=1e-4 * before.abs().max().item())
    # Training form: every parameter gets a gradient, and the mapping's raw weights are ~1/lr_mul of the effective.
    (before.square().mean() + G.encode(x)[1].square().mean()).backward()
    for name, param in G.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    raw = G.mapping_net.layers[1].weight
    eff = folded.mapping_net.layers[1].weight
    assert torch.allclose(eff, raw * 0.01 / 16**0.5, rtol=1e-5)
    # Unfolding returns the raw parameters.
    folded.unfold_equalized_lr()
    assert torch.allclose(folded.mapping_net.layers[1].weight, raw, rtol=1e-4)
