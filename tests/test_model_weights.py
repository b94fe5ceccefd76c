"""Weight files: official checkpoint loading (strict, safe), the streamfx safetensors format, lookup."""

from __future__ import annotations

import pytest
import torch

from conftest import REFERENCE, require
from streamfx.catalog import PACKAGE_DATA
from streamfx.errors import ModelError
from streamfx.models.gnr import Generator, GNRConfig
from streamfx.weights import (
    load_official_checkpoint, load_official_generators, load_weights, read_metadata, resolve_weights, save_weights,
)


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(require(REFERENCE / "gnr_tiny_reference.pt"), weights_only=True)


@pytest.fixture(scope="module")
def tiny_ckpt(golden, tmp_path_factory):
    """An official-layout checkpoint with the golden (tiny-width) generator in both directions."""
    path = tmp_path_factory.mktemp("ckpt") / "GNR_checkpoint.pt"
    torch.save({"G_A2B_ema": golden["G_A2B_ema"], "G_B2A_ema": golden["G_A2B_ema"]}, path)
    return path, GNRConfig.from_dict(golden["config"])


def _output(G: Generator, golden: dict) -> torch.Tensor:
    with torch.no_grad():
        return G.decode(G.encode(golden["input"])[0], G.mapping(golden["z"]))


def test_official_checkpoint_loads_and_matches_golden(golden, tiny_ckpt):
    path, cfg = tiny_ckpt
    G = load_official_checkpoint(path, "B2A", config=cfg)
    assert G.folded and not G.training
    out = _output(G, golden)
    expected = golden["expected"]["output"]
    assert ((out - expected).abs().max() / expected.abs().max()) < 1e-4


def test_official_checkpoint_refusals(golden, tiny_ckpt, tmp_path):
    path, cfg = tiny_ckpt
    with pytest.raises(ModelError, match="G_A2B_ema"):
        bad = tmp_path / "wrong_top.pt"
        torch.save({"G_A2B": golden["G_A2B_ema"]}, bad)
        load_official_checkpoint(bad, config=cfg)
    sd = dict(golden["G_A2B_ema"])
    sd["conv1.activate.bias"] = torch.zeros(7)
    with pytest.raises(ModelError, match=r"conv1\.activate\.bias"):
        bad = tmp_path / "wrong_shape.pt"
        torch.save({"G_A2B_ema": sd}, bad)
        load_official_checkpoint(bad, config=cfg)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelError, match="truncated"):
        load_official_checkpoint(truncated, config=cfg)
    with pytest.raises(ModelError, match="needs code"):
        evil = tmp_path / "evil.pt"
        torch.save({"G_A2B_ema": GNRConfig()}, evil)  # a class instance: unpickling it would run code
        load_official_checkpoint(evil, config=cfg)
    with pytest.raises(ModelError, match="not found"):
        load_official_checkpoint(tmp_path / "absent.pt")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_safetensors_round_trip(golden, tiny_ckpt, tmp_path, dtype):
    path, cfg = tiny_ckpt
    gens = load_official_generators(path, config=cfg)
    gens["A2B"].unfold_equalized_lr()  # saving works from the training form too
    out_path = tmp_path / "w.safetensors"
    digest = save_weights(out_path, gens, {"source": {"official_checkpoint": "test"}}, dtype=dtype)
    assert len(digest) == 64
    loaded, meta = load_weights(out_path)
    assert sorted(loaded) == ["A2B", "B2A"]
    assert meta["configs"]["A2B"] == cfg.to_dict() and meta["dtype"] == str(dtype).split(".")[1]
    assert meta["source"] == {"official_checkpoint": "test"} and meta["resolution"] == 256
    assert read_metadata(out_path)["tensors_sha256"] == meta["tensors_sha256"]
    expected = golden["expected"]["output"]
    err = ((_output(loaded["A2B"], golden) - expected).abs().max() / expected.abs().max()).item()
    assert err < (1e-4 if dtype == torch.float32 else 2e-2)
    assert loaded["A2B"].folded


def test_safetensors_corruption_detected(tiny_ckpt, tmp_path):
    path, cfg = tiny_ckpt
    out_path = tmp_path / "w.safetensors"
    save_weights(out_path, {"A2B": load_official_checkpoint(path, config=cfg)}, {})
    data = bytearray(out_path.read_bytes())
    data[-100] ^= 0xFF  # flip bits inside the last tensor
    out_path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_weights(out_path)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="safetensors"):
        load_weights(tmp_path / "junk.safetensors")


def test_resolve_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path))
    if not (PACKAGE_DATA / "gnr_slim.safetensors").exists():
        with pytest.raises(ModelError, match="no trained default model yet"):
            resolve_weights(None)
    with pytest.raises(ModelError, match="streamfx models download gnr-official"):
        resolve_weights("gnr-official")
    (tmp_path / "GNR_checkpoint.pt").write_bytes(b"x")
    assert resolve_weights("gnr-official") == tmp_path / "GNR_checkpoint.pt"
    assert resolve_weights(str(tmp_path / "GNR_checkpoint.pt")) == tmp_path / "GNR_checkpoint.pt"
    with pytest.raises(ModelError, match="neither a file nor a model name"):
        resolve_weights("no-such-model")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_channels_last_generator_saves_with_the_same_hash(tmp_path, dtype):
    # A decoder trained channels-last holds [O,I,1,1] weights with odd strides; its export once failed on them.
    config = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)
    torch.manual_seed(0)
    plain = Generator(config)
    strided = Generator(config)
    strided.load_state_dict(plain.state_dict())
    strided.to(memory_format=torch.channels_last)
    assert any(p.dim() == 4 and p.shape[-1] == 1 and p.stride(-1) != 1 for p in strided.parameters())
    save_weights(tmp_path / "plain.safetensors", {"A2B": plain}, {}, dtype=dtype)
    save_weights(tmp_path / "strided.safetensors", {"A2B": strided}, {}, dtype=dtype)
    assert (read_metadata(tmp_path / "plain.safetensors")["tensors_sha256"]
            == read_metadata(tmp_path / "strided.safetensors")["tensors_sha256"])
    loaded, _ = load_weights(tmp_path / "strided.safetensors")  # the checksum is verified on load
    assert sorted(loaded) == ["A2B"]


def test_ctrl_c_while_reading_tensors_stops_the_run(tiny_ckpt, tmp_path, monkeypatch):
    # safetensors' reader once turned a Ctrl-C that landed inside it into a TypeError (a CI run): the signal must
    # wait for the read and then stop the run, not be reported as a damaged file.
    import os
    import signal

    import safetensors.torch

    path, cfg = tiny_ckpt
    out_path = tmp_path / "w.safetensors"
    save_weights(out_path, {"A2B": load_official_checkpoint(path, config=cfg)}, {})
    real_load = safetensors.torch.load_file

    def load_interrupted(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            return real_load(*args, **kwargs)
        except KeyboardInterrupt as error:  # what the reader's native code did with it
            raise TypeError("could not determine the shape of object type 'torch.storage.UntypedStorage'") from error

    monkeypatch.setattr(safetensors.torch, "load_file", load_interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_weights(out_path)
