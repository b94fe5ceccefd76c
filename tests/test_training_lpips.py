"""LPIPS (shift-tolerant VGG16) loaded from the stlpips-pytorch wheel into our own module."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from conftest import DATA, require
from streamfx.training.data import list_images, load_batch
from streamfx.training.lpips import _file_key_map, either_way, load_lpips, weight_path

pytestmark = pytest.mark.skipif(importlib.util.find_spec("stlpips_pytorch") is None,
                                reason="stlpips-pytorch not installed (pip install --no-deps stlpips-pytorch==0.0.2)")


@pytest.fixture(scope="module")
def lpips():
    torch.set_num_threads(2)
    return load_lpips()


@pytest.fixture(scope="module")
def faces():
    return load_batch(list_images(require(DATA / "celebahq256" / "images"))[:4], 128)


def test_every_learned_tensor_of_the_file_is_used():
    source = torch.load(weight_path(), map_location="cpu", weights_only=True)
    used = set(_file_key_map().values())
    # the only tensors left are the fixed blur kernels, which the module builds itself
    assert {k for k in source if k not in used} == {k for k in source if k.endswith(".filt")}
    assert len(used) == 2 + 13 * 2 + 5


def test_heads_are_the_trained_non_negative_weights(lpips):
    for head in lpips.heads:
        assert float(head.weight.min()) >= 0 and float(head.weight.max()) > 0


def test_distances_on_real_faces(lpips, faces):
    with torch.no_grad():
        same = lpips(faces, faces)
        shifted = lpips(faces.roll(1, dims=3), faces)
        noisy = lpips(faces + 0.1 * torch.randn(faces.shape, generator=torch.Generator().manual_seed(0)), faces)
        other = lpips(faces.roll(1, dims=0), faces)
    assert same.shape == (4,) and float(same.abs().max()) < 1e-6
    # shift tolerant: a one-pixel shift is far closer than mild noise, which is closer than another person
    assert float(shifted.max()) < 0.1 < float(noisy.min())
    assert float(noisy.mean()) < float(other.mean())
    assert 0.3 < float(other.mean()) < 0.8


def test_gradient_reaches_the_input_only(lpips, faces):
    x = faces.flip(3).clone().requires_grad_()
    lpips(x, faces).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in lpips.parameters())


def test_the_gpu_pack_keeps_every_lpips_tensor_within_int8_rounding():
    """scripts/gpu_decoder_pack.py carries LPIPS as int8 kernels; unpacked, every key of the file comes back
    (the scaling layer's 'scale' too) and each kernel within half a step of its channel's int8 scale."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("gpu_decoder_pack", Path(__file__).parents[1] / "scripts" /
                                                  "gpu_decoder_pack.py")
    pack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pack)
    g = torch.Generator().manual_seed(0)
    source = {"scaling_layer.scale": torch.rand(1, 3, 1, 1, generator=g),
              "net.slice1.2.weight": torch.randn(64, 64, 3, 3, generator=g) * torch.rand(64, 1, 1, 1, generator=g),
              "net.slice1.0.bias": torch.randn(64, generator=g),
              "lin0.model.1.weight": torch.rand(1, 64, 1, 1, generator=g)}
    packed = pack.quantize(source)
    assert packed["net.slice1.2.weight"].dtype == torch.int8
    unpacked = pack.dequantize(packed)
    assert set(unpacked) == set(source)
    step = source["net.slice1.2.weight"].abs().amax((1, 2, 3), keepdim=True) / 127
    assert ((unpacked["net.slice1.2.weight"] - source["net.slice1.2.weight"]).abs() <= step / 2 + 1e-7).all()
    for key in ("scaling_layer.scale", "net.slice1.0.bias", "lin0.model.1.weight"):
        assert torch.equal(unpacked[key], source[key])


def _stripes(size: int, rising: bool, period: float = 4.0) -> torch.Tensor:
    """[1,1,S,S] diagonal stripes in [-1,1]: '/' when `rising`, else '\\'."""
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    return torch.sin(2 * torch.pi * ((x + y) if rising else (x - y)) / (period * 2 ** 0.5))[None, None]


def test_one_diagonal_is_read_more_strictly_than_the_other(lpips, faces):
    """The fact `either_way` is for: the same stripes cost several times more running '/' than '\\'."""
    with torch.no_grad():
        rising = lpips(faces + 0.08 * _stripes(128, True), faces)
        falling = lpips(faces + 0.08 * _stripes(128, False), faces)
    assert float((rising / falling).min()) > 2.5


def test_either_way_reads_the_chosen_pairs_mirrored(lpips, faces):
    striped = faces + 0.08 * _stripes(128, False)
    mirror = torch.tensor([True, False, True, False])
    with torch.no_grad():
        read = either_way(lpips, striped, faces, mirror)
        plain, mirrored = lpips(striped, faces), lpips(striped.flip(3), faces.flip(3))
    assert torch.allclose(read[mirror], mirrored[mirror]) and torch.allclose(read[~mirror], plain[~mirror])
    assert float(read[mirror].min()) > float(read[~mirror].max())  # '\\' mirrored is '/', read strictly
