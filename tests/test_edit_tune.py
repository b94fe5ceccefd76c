"""Tuning an edit direction: on a toy decoder and classifier where the regression start is entangled."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from streamfx.edit.tune import TuneOptions, tune_direction, tuning_faces


class ToyDecoder(nn.Module):
    """Content [B,1,4,4] -> a 16x16 grey face; the style code only shifts brightness."""

    def forward(self, content, style):
        image = F.interpolate(content, scale_factor=4, mode="bilinear", align_corners=False) + style[:, :1, None, None]
        return image.expand(-1, 3, -1, -1)


class ToyClassifier(nn.Module):
    """Two attributes: the top half is bright, the bottom half is bright."""

    def forward(self, faces):
        grey = faces.mean(1)
        return 8 * torch.stack([grey[:, :8].mean((1, 2)), grey[:, 8:].mean((1, 2))], dim=1)

    @torch.no_grad()
    def probabilities(self, faces):
        return torch.sigmoid(self(faces))


def _effect(decoder, classifier, data, content_dir, style_dir):
    """(share of faces carried across attribute 0's line at +-1, mean change of attribute 1)."""
    sign = torch.where(data.before[:, 0] < 0.5, 1.0, -1.0)
    edited = decoder(data.content + sign[:, None, None, None] * content_dir, data.style + sign[:, None] * style_dir)
    after = classifier.probabilities((data.faces + edited - data.base).clamp(-1, 1))
    crossed = ((after[:, 0] >= 0.5) == (sign > 0)).float().mean()
    return float(crossed), float((after[:, 1] - data.before[:, 1]).abs().mean())


def test_tuning_carries_faces_across_and_frees_the_other_attribute():
    generator = torch.Generator().manual_seed(0)
    content = 0.3 * torch.randn(64, 1, 4, 4, generator=generator)
    style = torch.zeros(64, 1)
    decoder, classifier = ToyDecoder(), ToyClassifier()
    data = tuning_faces(lambda faces: (content, style), decoder, classifier, decoder(content, style))
    start = (torch.full((1, 4, 4), 0.05), torch.zeros(1))  # too weak, and it brightens the bottom half as well
    crossed, dragged = _effect(decoder, classifier, data, *start)
    tuned = tune_direction(decoder, classifier, data, 0, *start,
                           TuneOptions(steps=150, keep_weight=2.0, anchor_weight=0.001, bf16=False))
    crossed_after, dragged_after = _effect(decoder, classifier, data, *tuned)
    assert crossed < 0.7 and crossed_after >= 0.9
    assert dragged_after < 0.5 * dragged
    assert tuned[0][:, :2].mean() > tuned[0][:, 2:].abs().mean()  # the change moved to the top rows


def test_tuning_changes_neither_the_decoder_nor_the_classifier_nor_the_start():
    """Only the directions are optimised: weights the decoder and classifier train with, and the start the caller
    keeps, are left exactly as they were, even where the modules would take gradients."""
    generator = torch.Generator().manual_seed(1)
    content, style = 0.3 * torch.randn(16, 1, 4, 4, generator=generator), torch.zeros(16, 1)
    decoder, classifier = ToyDecoder(), ToyClassifier()
    gain = nn.Parameter(torch.tensor(1.5))  # trainable weights on both sides of the edit
    bias = nn.Parameter(torch.tensor(0.1))
    scaled_decoder = lambda c, s: gain * decoder(c, s)  # noqa: E731
    shifted_classifier = lambda faces: classifier(faces) + bias  # noqa: E731
    data = tuning_faces(lambda faces: (content, style), scaled_decoder, classifier, decoder(content, style))
    start = (torch.full((1, 4, 4), 0.05), torch.zeros(1))
    kept = tuple(d.clone() for d in start)
    tuned = tune_direction(scaled_decoder, shifted_classifier, data, 0, *start, TuneOptions(steps=20, bf16=False))
    assert torch.equal(gain, torch.tensor(1.5)) and torch.equal(bias, torch.tensor(0.1))
    assert gain.grad is None and bias.grad is None  # not even gradients left behind on them
    for given, before in zip(start, kept):
        torch.testing.assert_close(given, before, rtol=0, atol=0)
    assert not torch.equal(tuned[0], start[0])  # it did tune
