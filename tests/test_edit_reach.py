"""One-sided sliders: where a face stands on an attribute, how much of the edit it gets, held per face track."""

from __future__ import annotations

import torch

from conftest import tiny_photo_autoencoder
from streamfx.edit.bank import AttributeReport, EditBank
from streamfx.edit.reach import HeldPositions, fit_probe, reach


def test_a_face_gets_the_whole_edit_up_to_halfway_and_none_once_it_has_the_attribute():
    positions = torch.tensor([[-0.5], [0.0], [0.5], [0.75], [1.0], [1.5]])
    up = reach(positions, torch.tensor([0.8]))[:, 0]
    down = reach(positions, torch.tensor([-0.8]))[:, 0]
    torch.testing.assert_close(up, torch.tensor([1.0, 1.0, 1.0, 0.5, 0.0, 0.0]))
    torch.testing.assert_close(down, torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 1.0]))


def test_the_probe_places_faces_without_the_attribute_at_0_and_with_it_at_1():
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(800, 2, generator=generator) < 0.3).float()
    content = torch.randn(800, 4, 3, 3, generator=generator)
    content[:, 0, 1, 1] += 2.0 * labels[:, 0]  # attribute 0 lives in one cell
    style = torch.randn(800, 2, generator=generator) + labels[:, 1:2]  # attribute 1 in the style code
    probe = fit_probe(content[:600], style[:600], labels[:600], ridge=10.0)
    fitted = probe.positions(content[:600], style[:600], torch.tensor([0, 1]))
    held_out = probe.positions(content[600:], style[600:], torch.tensor([0, 1]))  # faces the probe never saw
    for k in range(2):
        has, has_new = labels[:600, k] > 0.5, labels[600:, k] > 0.5
        assert abs(float(fitted[has, k].mean()) - 1) < 1e-4 and abs(float(fitted[~has, k].mean())) < 1e-4
        assert abs(float(held_out[has_new, k].mean()) - 1) < 0.15 and abs(float(held_out[~has_new, k].mean())) < 0.15
        assert float((held_out[has_new, k] > 0.5).float().mean()) > 0.7  # the signal is one noise deviation wide
        assert float((held_out[~has_new, k] < 0.5).float().mean()) > 0.7


def test_held_positions_are_the_mean_of_a_tracks_first_frames_then_fixed():
    held = HeldPositions(frames=2)
    first = held([7, -1], torch.tensor([[0.2], [0.9]]))
    torch.testing.assert_close(first, torch.tensor([[0.2], [0.9]]))
    second = held([7, -1], torch.tensor([[0.4], [0.1]]))
    torch.testing.assert_close(second, torch.tensor([[0.3], [0.1]]))  # the track's mean; no track: its own
    third = held([7], torch.tensor([[1.0]]))
    torch.testing.assert_close(third, torch.tensor([[0.3]]))  # fixed from now on
    held.clear()
    torch.testing.assert_close(held([7], torch.tensor([[1.0]])), torch.tensor([[1.0]]))
    torch.testing.assert_close(held(None, torch.tensor([[0.6]])), torch.tensor([[0.6]]))


def test_held_positions_forget_the_track_seen_longest_ago_past_their_limit():
    held = HeldPositions(frames=1, tracks=2)
    held([1, 2], torch.tensor([[0.1], [0.2]]))
    held([1], torch.tensor([[0.9]]))  # track 1 seen again: track 2 is now the one seen longest ago
    held([3], torch.tensor([[0.3]]))  # a third track: track 2 is forgotten
    kept = held([1, 2, 3], torch.tensor([[0.5], [0.6], [0.7]]))
    torch.testing.assert_close(kept, torch.tensor([[0.1], [0.6], [0.3]]))  # track 2 starts again from its reading


def test_an_attribute_with_labels_of_one_class_only_gets_the_plain_scale():
    generator = torch.Generator().manual_seed(6)
    labels = torch.zeros(50, 2)
    labels[:25, 0] = 1.0  # attribute 1: no face has it (Bald among a few faces, say)
    content, style = torch.randn(50, 2, 2, 2, generator=generator), torch.randn(50, 1, generator=generator)
    probe = fit_probe(content, style, labels)
    torch.testing.assert_close(probe.levels[1], torch.tensor([0.0, 1.0]))
    assert torch.isfinite(probe.positions(content, style, torch.tensor([0, 1]))).all()


def test_an_edit_moves_a_face_that_lacks_the_attribute_and_leaves_one_that_has_it():
    generator = torch.Generator().manual_seed(2)
    labels = (torch.rand(400, 1, generator=generator) < 0.5).float()
    content = torch.randn(400, 2, 2, 2, generator=generator)
    content[:, 0, 0, 0] += 3.0 * labels[:, 0]
    style = torch.randn(400, 1, generator=generator)
    bank = EditBank(["Smiling"], torch.randn(1, 2, 2, 2, generator=generator), torch.zeros(1, 1),
                    reports={"Smiling": AttributeReport(True, strength=1.0)},
                    probe=fit_probe(content, style, labels, ridge=10.0), one_sided=torch.tensor([True]))
    faces = torch.zeros(2, 2, 2, 2)
    faces[1, 0, 0, 0] = 4.5  # the second face smiles, more than most
    edit = bank.edit({"smile": 1.0})
    content_delta, _ = edit.for_faces(2, edit.positions(faces, torch.zeros(2, 1)))
    torch.testing.assert_close(content_delta[0], bank.content[0])
    assert not content_delta[1].any()
    down, _ = bank.edit({"smile": -1.0}).for_faces(2, edit.positions(faces, torch.zeros(2, 1)))
    assert not down[0].any() and torch.equal(down[1], -bank.content[0])
    bank.one_sided[0] = False  # fitted as an edit for every face alike
    edit = bank.edit({"smile": 1.0})
    assert edit.positions(faces, torch.zeros(2, 1)) is None
    alike, _ = edit.for_faces(2, None)
    assert torch.equal(alike[0], alike[1])


def test_in_an_edit_of_two_sliders_only_the_one_sided_one_follows_each_faces_position():
    from streamfx.edit.bank import Edit

    generator = torch.Generator().manual_seed(4)
    content, style = torch.randn(2, 2, 2, 2, generator=generator), torch.randn(2, 3, generator=generator)
    edit = Edit(torch.tensor([0, 1]), torch.tensor([0.8, -0.5]), content, style, None, torch.tensor([True, False]))
    positions = torch.tensor([[0.2, 0.9], [0.75, 0.1], [1.2, 0.5]])  # [faces, the two sliders]
    content_delta, style_delta = edit.for_faces(3, positions)
    shares = torch.tensor([1.0, 0.5, 0.0])  # slider 0 (+0.8, one-sided): up to halfway all of it, then less
    for face in range(3):
        expected = 0.8 * shares[face] * content[0] - 0.5 * content[1]  # slider 1 whatever the face's position
        torch.testing.assert_close(content_delta[face], expected)
        torch.testing.assert_close(style_delta[face], 0.8 * shares[face] * style[0] - 0.5 * style[1])


def test_one_sided_flags_and_the_probe_survive_saving(tmp_path):
    generator = torch.Generator().manual_seed(3)
    labels = (torch.rand(50, 2, generator=generator) < 0.5).float()
    probe = fit_probe(torch.randn(50, 2, 2, 2, generator=generator), torch.randn(50, 1, generator=generator), labels)
    bank = EditBank(["Smiling", "Bangs"], torch.randn(2, 2, 2, 2), torch.zeros(2, 1), probe=probe,
                    one_sided=torch.tensor([False, True]))
    bank.save(tmp_path / "bank.safetensors")
    loaded = EditBank.load(tmp_path / "bank.safetensors")
    assert loaded.one_sided.tolist() == [False, True]
    torch.testing.assert_close(loaded.probe.weights, probe.weights.half().float())
    torch.testing.assert_close(loaded.probe.levels, probe.levels)


class CountingProbe:
    """Reads every face as standing a little further each time it is asked (a face whose reading drifts)."""

    def __init__(self):
        self.calls = 0

    def positions(self, content, style, rows):
        self.calls += 1
        return torch.full((len(content), len(rows)), 0.5 + 0.02 * self.calls)


def test_the_photo_effect_holds_each_tracks_share_while_untracked_faces_follow_their_reading():
    import numpy as np

    from streamfx.edit.bank import Edit
    from streamfx.edit.effect import PhotoEditEffect
    from streamfx.edit.render import PhotoDecoder

    a2a, content_shape = tiny_photo_autoencoder()
    direction = torch.randn(1, *content_shape)
    edit = Edit(torch.tensor([0]), torch.tensor([1.0]), direction, torch.zeros(1, a2a.config.latent_dim),
                CountingProbe(), torch.tensor([True]))
    # steady=0: every frame its own change, so the held share shows exactly (averaging is test_edit_steady's)
    effect = PhotoEditEffect(a2a, PhotoDecoder(a2a), edit, crop_size=64, engines=[], steady=0.0)
    crops = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    first = effect(crops, [3])
    for _ in range(12):  # the track's first 12 readings (0.52 ... 0.74) are averaged, then held
        effect(crops, [3])
    held = [effect(crops, [3]) for _ in range(2)]
    assert np.array_equal(held[0], held[1]) and not np.array_equal(first, held[0])
    untracked = [effect(crops, [-1]) for _ in range(2)]
    assert not np.array_equal(untracked[0], untracked[1])  # each call its own reading
