"""Where an edit keeps its change on photos: the region of its direction on the content map, and the fit's choice."""

from __future__ import annotations

import torch

from streamfx.edit.bank import AttributeReport, EditBank
from streamfx.edit.composite import composite
from streamfx.edit.region import region


def mouth_direction(seed: int = 0) -> torch.Tensor:
    """[8,16,16] a faint change everywhere and a strong one on the mouth's cells (rows 11-13, columns 6-9)."""
    generator = torch.Generator().manual_seed(seed)
    direction = 0.1 * torch.randn(8, 16, 16, generator=generator)
    direction[:, 11:14, 6:10] += torch.randn(8, 3, 4, generator=generator)
    return direction


class CodeReader:
    """An encoder whose faces all read as the zero code (8 x 16 x 16 content, 3 style numbers)."""

    def encode(self, x):
        return torch.zeros(len(x), 8, 16, 16), torch.zeros(len(x), 3)


def hazing_decoder(faces: torch.Tensor):
    """A photo decoder that draws `faces` [B,3,64,64] back, lighter where the content map moved (the edit's place)
    and a little lighter all over, by how far the whole code moved (the decoder's drift)."""
    def decoder(content, style):
        cells = torch.nn.functional.interpolate(content.norm(dim=1, keepdim=True), size=64, mode="nearest")
        return faces[:len(content)] + 0.1 * cells + 0.05 * content.abs().mean((1, 2, 3)).view(-1, 1, 1, 1)
    return decoder


def test_the_region_covers_the_strong_place_and_leaves_the_faint_rest():
    mask = region(mouth_direction(), 2.0)
    assert torch.equal(mask[11:14, 6:10], torch.ones(3, 4))  # the place itself, whole
    assert float(mask[:6].max()) == 0.0  # the brow and hair, far from it: nothing
    assert 0.0 < float(mask.mean()) < 0.15
    assert float(region(mouth_direction(), 1.0).mean()) > float(mask.mean())  # a lower threshold: a wider region


def test_faces_edited_by_shares_of_one_direction_share_its_region():
    direction = mouth_direction()
    shares = torch.tensor([0.0, 0.4, 2.5])[:, None, None, None] * direction
    torch.testing.assert_close(region(shares, 1.5), region(direction, 1.5))
    assert torch.equal(region(torch.zeros(8, 16, 16), 1.5), torch.zeros(16, 16))


def test_the_change_outside_the_kept_share_leaves_the_face_exactly_as_it_was():
    generator = torch.Generator().manual_seed(1)
    faces = torch.rand(2, 3, 32, 32, generator=generator) * 2 - 1
    plain = faces.clone()
    edited = plain + 0.2  # lighter all over, nothing moves
    kept = torch.zeros(2, 1, 4, 4)
    kept[..., 2:, :] = 1.0  # the lower half of the map
    out = composite(faces, plain, edited, kept=kept)
    whole = composite(faces, plain, edited)
    assert torch.equal(out[..., :12, :], faces[..., :12, :])  # the upper part, clear of the ramp
    torch.testing.assert_close(out[..., 20:, :], whole[..., 20:, :])
    assert torch.equal(composite(faces, plain, edited, kept=torch.ones(2, 1, 4, 4)), whole)


def test_an_edit_keeps_each_attributes_change_in_its_region_by_its_share_of_the_map():
    """Smiling keeps its change in its region, black hair everywhere: a cell only the smile moves keeps the smile's
    mask there, a cell only the hair moves all of it; an edit without regions (or anime output) keeps everything."""
    names = ["Smiling", "Black_Hair"]
    content = torch.stack([mouth_direction(), 0.5 * torch.ones(8, 16, 16)])
    content[1, :, 11:14, 6:10] = 0.0  # the hair's change nowhere near the mouth
    reports = {"Smiling": AttributeReport(True, strength=4.0, region=2.0),
               "Black_Hair": AttributeReport(True, strength=5.0)}
    bank = EditBank(names, content, torch.zeros(2, 3), "abc", reports=reports)
    alone = bank.edit({"smiling": 1.0}).kept(3, None)
    assert alone.shape == (3, 1, 16, 16) and torch.allclose(alone[0, 0], region(content[0], 2.0))
    both = bank.edit({"smiling": 1.0, "black_hair": -1.0}).kept(3, None)
    assert torch.allclose(both[:, 0, 12, 7], torch.ones(3))  # the mouth: the smile's, whole
    assert float(both[:, 0, 0, 0].min()) > 0.95  # the hair's place: nearly all of the hair's change
    assert bank.edit({"black_hair": -1.0}).kept(3, None) is None
    assert bank.edit({"smiling": 1.0}, photo=False).kept(3, None) is None


def test_a_calibrator_with_a_region_keeps_the_faces_outside_it_as_they_were():
    """The fit's drawings: a decoder that draws the mouth's change and a haze over the whole face; under a region
    the haze stays off the face away from the mouth, and the readings of the two drawings are kept apart."""
    from streamfx.edit.fit import Calibrator

    generator = torch.Generator().manual_seed(2)
    faces = torch.rand(4, 3, 64, 64, generator=generator) * 2 - 1

    class Classifier:
        def probabilities(self, x):
            return x.mean((1, 2, 3))[:, None].expand(-1, 40).sigmoid()

    cal = Calibrator(CodeReader(), hazing_decoder(faces), Classifier(), faces)
    index, direction = torch.arange(4), mouth_direction()
    whole = cal.edited(index, direction, torch.zeros(3))
    kept = cal.regioned(2.0).edited(index, direction, torch.zeros(3))
    assert float((whole[..., :16, :] - faces[..., :16, :]).abs().min()) > 0.01  # the haze reaches the brow
    assert torch.equal(kept[..., :16, :], faces[..., :16, :])  # not under the region
    assert float((kept[..., 44:56, 24:40] - faces[..., 44:56, 24:40]).abs().mean()) > 0.1  # the mouth changed
    assert not torch.equal(cal.edited(index, direction, torch.zeros(3)), kept)  # drawn apart, not mixed up


def test_a_photo_edit_keeps_a_banks_region_attribute_off_the_rest_of_the_face():
    """The wiring from the bank to the composite, as `streamfx edit` runs it: a decoder that draws the mouth and
    hazes the whole face; the attribute fitted with a region changes the mouth only, one without changes all."""
    from streamfx.edit.render import one_sided, photo_edit

    generator = torch.Generator().manual_seed(3)
    faces = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1

    def edited(low):
        report = AttributeReport(True, strength=1.0, region=low)
        bank = EditBank(["Mouth_Slightly_Open"], mouth_direction()[None], torch.zeros(1, 3), "abc",
                        reports={"Mouth_Slightly_Open": report})
        return photo_edit(CodeReader(), hazing_decoder(faces), faces, one_sided(bank.edit({"mouth_open": 1.0})))

    kept, whole = edited(2.0), edited(None)
    assert torch.equal(kept[..., :16, :], faces[..., :16, :])
    assert float((whole[..., :16, :] - faces[..., :16, :]).abs().min()) > 0.01
    torch.testing.assert_close(kept[..., 46:54, 26:38], whole[..., 46:54, 26:38])  # the mouth as drawn
