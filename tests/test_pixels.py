"""streamfx.pixels: the one uint8 <-> [-1,1] conversion is exact, shape-agnostic, and clamps."""

import numpy as np
import pytest
import torch

from streamfx.pixels import to_model, to_uint8

ALL = np.arange(256, dtype=np.uint8)


def _image_of_all_values() -> np.ndarray:
    """[16,16,3] uint8 holding every value 0..255 in each channel (shifted per channel)."""
    return np.stack([np.roll(ALL, 85 * c).reshape(16, 16) for c in range(3)], axis=-1)


def test_round_trip_of_every_value_is_exact():
    image = _image_of_all_values()
    x = to_model(image)
    assert x.dtype == torch.float32 and x.shape == (1, 3, 16, 16)
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert np.array_equal(to_uint8(x)[0], image)
    assert np.array_equal(to_uint8(x[0]), image)


def test_values_are_those_of_the_formulas_it_replaced():
    image = _image_of_all_values()[None]  # [1,16,16,3]
    x = to_model(image)
    assert torch.equal(x, torch.from_numpy(image).permute(0, 3, 1, 2).float() / 127.5 - 1.0)  # torch, out of place
    assert np.array_equal(x.permute(0, 2, 3, 1).numpy(), image.astype(np.float32) / 127.5 - 1.0)  # numpy float32
    y = torch.cat([torch.linspace(-1.5, 1.5, 29997), torch.zeros(3)]).reshape(1, 3, 1, -1)  # 0 -> the 127.5 tie
    expected = ((np.clip(y.numpy(), -1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.array_equal(to_uint8(y), expected)


def test_a_batch_and_a_single_image_give_the_same_numbers():
    rng = np.random.default_rng(7)
    batch = rng.integers(0, 256, (4, 24, 20, 3), dtype=np.uint8)
    x = to_model(batch)
    assert x.shape == (4, 3, 24, 20)
    for i, image in enumerate(batch):
        assert torch.equal(to_model(image)[0], x[i])
    y = torch.randn(4, 3, 24, 20, generator=torch.Generator().manual_seed(3)) * 0.6
    out = to_uint8(y)
    assert out.shape == (4, 24, 20, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    for i in range(4):
        assert np.array_equal(to_uint8(y[i]), out[i])
    assert np.array_equal(to_uint8(y.half()), to_uint8(y.half().float()))  # any float dtype, computed in fp32


def test_values_outside_the_range_clamp():
    y = torch.tensor([-7.0, -1.0001, -1.0, 0.0, 1.0, 1.0001, 7.0, float("inf"), float("-inf")]).reshape(1, 3, 1, 3)
    assert to_uint8(y).transpose(0, 3, 1, 2).reshape(-1).tolist() == [0, 0, 0, 128, 255, 255, 255, 255, 0]


def test_the_layout_stays_channels_last():
    """A permuted view of the pixels (as every caller had before): conv results depend on the layout in the last
    bits, so keeping it keeps the outputs bit-identical."""
    x = to_model(np.zeros((2, 8, 8, 3), np.uint8))
    assert x.permute(0, 2, 3, 1).is_contiguous()


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8),
                                 np.zeros((1, 8, 8, 4), np.uint8), np.zeros((2, 1, 8, 8, 3), np.uint8)])
def test_to_model_refuses_what_is_not_uint8_rgb(bad):
    with pytest.raises(ValueError):
        to_model(bad)


@pytest.mark.parametrize("shape", [(8, 8), (1, 4, 8, 8), (2, 1, 3, 8, 8)])
def test_to_uint8_refuses_what_is_not_rgb_chw(shape):
    with pytest.raises(ValueError):
        to_uint8(torch.zeros(shape))
