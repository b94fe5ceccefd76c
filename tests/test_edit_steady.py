"""Steady photo edits: each face track's change averaged over its frames, so the decoder's noise does not flicker."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import tiny_photo_autoencoder
from streamfx.edit.steady import WORN_KEEP, SteadyChange


def test_a_tracks_change_is_averaged_over_its_frames_and_a_new_track_starts_from_its_own():
    steady = SteadyChange(keep=0.5)
    a, b = torch.ones(1, 3, 4, 4), -torch.ones(1, 3, 4, 4)
    torch.testing.assert_close(steady([7], a), a)  # first frame: its own change
    torch.testing.assert_close(steady([7], b), torch.zeros_like(b))  # half the average, half the new change
    torch.testing.assert_close(steady([7], b), -0.5 * torch.ones_like(b))
    torch.testing.assert_close(steady([8], a), a)  # another track starts afresh
    torch.testing.assert_close(steady([-1], b), b)  # untracked faces keep their own change
    both = steady([7, 7], torch.cat([a, a]))  # two frames of one track in one batch, in frame order
    torch.testing.assert_close(both, torch.cat([0.25 * a, 0.625 * a]))
    steady.clear()
    torch.testing.assert_close(steady([7], b), b)


def test_where_the_change_draws_something_worn_it_keeps_more_of_its_average():
    steady = SteadyChange(keep=0.5)
    worn = torch.zeros(1, 4, 4)
    worn[:, :2] = 1.0  # the top half draws glasses
    steady([3], torch.ones(1, 3, 4, 4), worn)
    out = steady([3], torch.zeros(1, 3, 4, 4), worn)[0]
    torch.testing.assert_close(out[:, :2], torch.full((3, 2, 4), WORN_KEEP))
    torch.testing.assert_close(out[:, 2:], torch.full((3, 2, 4), 0.5))
    changes = torch.randn(1, 3, 4, 4)
    assert SteadyChange(keep=0.0)([3], changes, worn) is changes  # --no-smooth: nothing averaged, worn or not


def test_keep_zero_passes_every_change_through_and_old_tracks_are_forgotten():
    changes = torch.randn(2, 3, 4, 4)
    assert SteadyChange(keep=0.0)([1, 2], changes) is changes
    steady = SteadyChange(keep=0.5, tracks=2)
    for track in (1, 2, 3):
        steady([track], changes[:1])
    torch.testing.assert_close(steady([1], changes[1:]), changes[1:])  # track 1 was forgotten: starts afresh
    with pytest.raises(ValueError):
        SteadyChange(keep=1.0)


class NoisyDecoder:
    """The tiny A2A's decoder with fresh noise on every call, as a real decoder redraws each frame a little
    differently (std 0.05 in [-1, 1], about 6 levels)."""

    def __init__(self, a2a):
        from streamfx.edit.render import PhotoDecoder

        self.decode, self.generator = PhotoDecoder(a2a), torch.Generator().manual_seed(1)

    def __call__(self, content, style):
        out = self.decode(content, style)
        return out + 0.05 * torch.randn(out.shape, generator=self.generator)


def test_averaging_more_than_halves_the_flicker_of_the_photo_effects_change():
    from streamfx.edit.bank import Edit
    from streamfx.edit.effect import PhotoEditEffect

    a2a, content_shape = tiny_photo_autoencoder()
    edit = Edit(torch.tensor([0]), torch.tensor([1.0]), 0.3 * torch.randn(1, *content_shape),
                torch.zeros(1, a2a.config.latent_dim))
    face = np.random.default_rng(0).integers(60, 196, (1, 64, 64, 3), dtype=np.uint8)  # a still face, 16 frames

    def change_flicker(steady: float) -> tuple[float, float]:
        effect = PhotoEditEffect(a2a, NoisyDecoder(a2a), edit, crop_size=64, engines=[], steady=steady)
        changes = [effect(face, [5])[:, 0].astype(np.float32) - face for _ in range(16)]
        flicker = np.mean([np.abs(b - a).mean() for a, b in zip(changes, changes[1:])])
        return float(flicker), float(np.abs(np.mean(changes, 0)).mean())

    (raw, size_raw), (averaged, size_averaged) = change_flicker(0.0), change_flicker(0.5)
    assert raw > 4.0  # the noise does show from frame to frame
    assert averaged < 0.6 * raw  # i.i.d. noise: the average's frame-to-frame change is 0.41 of the raw one
    assert abs(size_averaged - size_raw) < 0.1 * size_raw  # the edit itself is as strong as before
