"""The edit bank's arithmetic and storage: zero is nothing, sliders add, frozen attributes are held, one model only."""

from __future__ import annotations

import pytest
import torch

from streamfx.edit.bank import AttributeReport, EditBank
from streamfx.edit.fit import regress
from streamfx.errors import ModelError, UsageError

NAMES = ["Smiling", "Young", "Male", "Eyeglasses", "No_Beard"]


@pytest.fixture
def bank():
    generator = torch.Generator().manual_seed(0)
    content = torch.randn(len(NAMES), 4, 2, 2, generator=generator)
    style = torch.randn(len(NAMES), 3, generator=generator)
    reports = {n: AttributeReport(True, strength=1.5, crossing=0.9, entanglement=0.05) for n in NAMES}
    reports["Eyeglasses"] = AttributeReport(False, "only 40% of faces cross at full strength")
    return EditBank(NAMES, content, style, "abc", reports=reports)


def test_slider_zero_adds_exactly_nothing(bank):
    content, style = bank.deltas({"smile": 0.0, "age": 0.0})
    assert not content.any() and not style.any()


def test_sliders_add_and_aliases_carry_their_sign(bank):
    both, _ = bank.deltas({"smile": 0.5, "age": 0.25})
    smile, _ = bank.deltas({"smile": 0.5})
    age, _ = bank.deltas({"age": 0.25})
    torch.testing.assert_close(both, smile + age)
    young, _ = bank.deltas({"young": 0.25})
    torch.testing.assert_close(age, -young)  # older is less Young
    torch.testing.assert_close(smile, 0.5 * bank.content[0])


def test_a_lowered_slider_takes_its_own_strength_and_stays_proportional(bank):
    bank.lowering[0] = 2.5  # smile -1 needs 2.5 times the strength of +1
    down, _ = bank.deltas({"smile": -0.4})
    torch.testing.assert_close(down, -0.4 * 2.5 * bank.content[0])
    up, _ = bank.deltas({"smile": 0.4})
    torch.testing.assert_close(up, 0.4 * bank.content[0])
    half, _ = bank.deltas({"smile": -0.2})
    torch.testing.assert_close(half, down / 2)


def test_a_frozen_attribute_has_no_component_left(bank):
    content, style = bank.deltas({"smile": 1.0, "male": 0.7}, freeze=("young",))
    young = bank.content[1].reshape(-1)
    assert abs(float(content.reshape(-1) @ young)) < 1e-4
    assert abs(float(style @ bank.style[1])) < 1e-4
    edit = bank.content[0] + 0.7 * bank.content[2]
    torch.testing.assert_close(content, edit - _along(edit, bank.content[1]))  # the rest of the edit is kept


def test_two_frozen_attributes_that_go_together_are_both_held(bank):
    bank.content[4] = bank.content[1] + 0.3 * bank.content[4]  # No_Beard's direction close to Young's
    content, _ = bank.deltas({"smile": 1.0}, freeze=("young", "no_beard"))
    for k in (1, 4):
        assert abs(float(content.reshape(-1) @ bank.content[k].reshape(-1))) < 1e-4, k
    span = torch.stack([bank.content[1].reshape(-1), bank.content[4].reshape(-1)], 1)
    projection = span @ torch.linalg.lstsq(span, bank.content[0].reshape(-1, 1)).solution
    torch.testing.assert_close(content, bank.content[0] - projection.reshape(content.shape), atol=1e-5, rtol=0)


def test_an_attribute_both_moved_and_frozen_is_refused_under_any_of_its_names(bank):
    with pytest.raises(UsageError, match="smile is both edited and frozen"):
        bank.deltas({"smile": 0.5, "male": 0.2}, freeze=("smile",))
    with pytest.raises(UsageError, match="young is both edited and frozen"):
        bank.deltas({"age": 0.5}, freeze=("young",))
    content, _ = bank.deltas({"smile": 0.0, "male": 0.2}, freeze=("smile",))  # a slider at 0 moves nothing
    torch.testing.assert_close(content, 0.2 * bank.content[2] - _along(0.2 * bank.content[2], bank.content[0]))


def _along(vector, direction):
    """The component of `vector` along `direction`."""
    v, d = vector.reshape(-1), direction.reshape(-1)
    return ((v @ d) / (d @ d) * d).reshape(vector.shape)


def test_two_names_moving_one_attribute_are_refused_rather_than_added(bank):
    with pytest.raises(UsageError, match="age and young both move Young"):
        bank.deltas({"age": 0.5, "young": 0.2})
    older, _ = bank.deltas({"age": 0.5, "young": 0.0})
    torch.testing.assert_close(older, -0.5 * bank.content[1])


@pytest.mark.parametrize("sliders, words", [({"wings": 0.5}, "unknown edit"), ({"smile": 1.5}, "from -1 to 1"),
                                            ({"eyeglasses": 0.5}, "cannot be edited")])
def test_bad_sliders_are_refused_by_name(bank, sliders, words):
    with pytest.raises(UsageError, match=words):
        bank.deltas(sliders)


def test_a_slider_offered_one_way_refuses_the_other_way_with_its_reason(bank):
    bank.reports["No_Beard"] = AttributeReport(True, strength=1.0, sides="-", crossing=0.2, entanglement=0.06,
                                               crossing_up=0.2, crossing_down=0.8, entanglement_up=0.07,
                                               entanglement_down=0.05)
    beard, _ = bank.deltas({"beard": 0.5})  # beard +: No_Beard down, the side offered
    torch.testing.assert_close(beard, -0.5 * bank.content[4])
    with pytest.raises(UsageError, match=r"beard from 0 to 1 only .*only 20% of faces cross"):
        bank.deltas({"beard": -0.5})
    with pytest.raises(UsageError, match="no_beard from -1 to 0 only"):
        bank.deltas({"no_beard": 0.5})
    anime, _ = bank.deltas({"beard": -0.5}, photo=False)  # anime output takes both ways
    torch.testing.assert_close(anime, 0.5 * bank.content[4])
    assert bank.offered(["beard", "eyeglasses", "smile"]) == ["beard", "smile"]


def test_refused_sides_run_only_when_asked_for_and_are_named_with_their_figures(bank):
    bank.reports["No_Beard"] = AttributeReport(True, strength=1.0, sides="-", crossing_up=0.2, crossing_down=0.8,
                                               entanglement_up=0.07, entanglement_down=0.05)
    bank.reports["Eyeglasses"] = AttributeReport(False, strength=2.0, crossing=0.4, entanglement=0.15)
    with pytest.raises(UsageError, match="--allow-refused runs it anyway"):
        bank.deltas({"beard": -0.5})
    beard, _ = bank.edit({"beard": -0.5}, refused=True).fixed()
    torch.testing.assert_close(beard, 0.5 * bank.content[4])  # No_Beard up, the side refused
    glasses, _ = bank.edit({"eyeglasses": 0.3}, refused=True).fixed()
    torch.testing.assert_close(glasses, 0.3 * bank.content[3])
    assert bank.below_bars({"beard": -0.5, "eyeglasses": 0.3, "smile": 1.0, "age": 0.0}) == [
        "beard -0.5 (crosses 20%, moves the others by 0.070)", "eyeglasses +0.3 (crosses 40%, moves the others by 0.150)"]
    assert bank.below_bars({"beard": 0.5}) == []  # the side offered
    bank.reports["Young"] = AttributeReport(True, strength=1.0, sides="+", crossing_up=0.8, entanglement_up=0.05)
    assert bank.below_bars({"young": -0.4}) == ["young -0.4 (not measured: too few calibration faces)"]


def test_a_side_that_changes_the_person_is_refused_with_that_reason_and_keeps_it_when_saved(bank, tmp_path):
    bank.reports["Eyeglasses"] = AttributeReport(False, "keeps the person for only 64% of faces", strength=2.5,
                                                 sides="", crossing_up=0.73, crossing_down=0.4, entanglement_up=0.098,
                                                 entanglement_down=0.12, identity_up=0.64)
    refusal = r"eyeglasses is not offered on real faces .*keeps the person for only 64% of faces"
    with pytest.raises(UsageError, match=refusal):
        bank.deltas({"eyeglasses": 0.5})
    assert bank.below_bars({"eyeglasses": 1.0}) == [
        "eyeglasses +1 (crosses 73%, moves the others by 0.098, keeps the person for 64%)"]
    bank.save(tmp_path / "edits.safetensors")
    loaded = EditBank.load(tmp_path / "edits.safetensors", model_sha256="abc").reports["Eyeglasses"]
    assert loaded.identity(1) == 0.64 and loaded.identity(-1) is None


def test_a_side_that_flickers_in_video_is_withdrawn_with_that_reason_and_a_steady_one_stays(bank, tmp_path):
    bank.reports["Smiling"] = AttributeReport(True, strength=4.5, sides="+-", crossing_up=0.7, crossing_down=0.8,
                                              entanglement_up=0.093, entanglement_down=0.05, identity_up=0.95)
    judged = bank.with_flicker("Smiling", 1.0, 1.239).with_flicker("Smiling", -1.0, 1.19)
    assert bank.reports["Smiling"].sides == "+-"  # the bank judged is a new one
    report = judged.reports["Smiling"]
    assert report.sides == "-" and report.editable and (report.flicker(1), report.flicker(-1)) == (1.239, 1.19)
    with pytest.raises(UsageError, match=r"smile=0.5: .* from -1 to 0 only .*flickers in video \(ratio 1.24\)"):
        judged.deltas({"smile": 0.5})
    torch.testing.assert_close(judged.deltas({"smile": -0.5})[0], bank.deltas({"smile": -0.5})[0])
    assert judged.below_bars({"smile": 1.0}) == [
        "smile +1 (crosses 70%, moves the others by 0.093, keeps the person for 95%, flickers in video at 1.24)"]
    alone = judged.with_flicker("Smiling", -1.0, 1.3).reports["Smiling"]  # no side left: refused as a whole
    assert not alone.editable and alone.sides == "" and "flickers in video (ratio 1.30)" in alone.reason
    # judged again in a steadier pipeline: a side refused for flicker alone comes back, in the order of the sides
    steadier = judged.with_flicker("Smiling", -1.0, 1.3).with_flicker("Smiling", 1.0, 1.15).reports["Smiling"]
    assert steadier.sides == "+" and steadier.editable and steadier.reason == ""
    assert judged.with_flicker("Smiling", 1.0, 1.15).reports["Smiling"].sides == "+-"
    short = AttributeReport(True, strength=4.5, sides="-", crossing_up=0.6, crossing_down=0.8, entanglement_up=0.05,
                            entanglement_down=0.05, flicker_up=1.3)  # refused for its crossing as well
    assert short.with_flicker(1.0, 1.1).sides == "-"
    judged.save(tmp_path / "edits.safetensors")
    reloaded = EditBank.load(tmp_path / "edits.safetensors", model_sha256="abc").reports
    assert reloaded["Smiling"].sides == "-" and reloaded["Smiling"].flicker(1) == 1.239
    assert reloaded["Young"].flicker(1) is None and reloaded["Young"].sides == bank.reports["Young"].sides  # unjudged


def test_a_side_withdrawn_on_sight_is_refused_with_its_reason_and_keeps_it_when_saved(bank, tmp_path):
    bank.reports["Smiling"] = AttributeReport(True, strength=4.0, sides="+-", crossing_up=0.8, crossing_down=0.9,
                                              entanglement_up=0.05, entanglement_down=0.06)
    judged = bank.withdrawn("Smiling", -1.0, "a bright glare over the mouth")
    assert bank.reports["Smiling"].sides == "+-"  # the bank judged is a new one
    with pytest.raises(UsageError, match=r"from 0 to 1 only .*withdrawn on sight: a bright glare over the mouth"):
        judged.deltas({"smile": -0.5})
    torch.testing.assert_close(judged.deltas({"smile": 0.5})[0], bank.deltas({"smile": 0.5})[0])
    assert judged.below_bars({"smile": -1.0}) == [
        "smile -1 (crosses 90%, moves the others by 0.060, withdrawn on sight: a bright glare over the mouth)"]
    judged.save(tmp_path / "edits.safetensors")
    loaded = EditBank.load(tmp_path / "edits.safetensors", model_sha256="abc").reports["Smiling"]
    assert loaded.sides == "+" and loaded.withdrawn_down == "a bright glare over the mouth"
    assert loaded.with_flicker(-1.0, 1.05).sides == "+"  # steady in video, still withdrawn on sight
    alone = loaded.withdrawn(1.0, "a grimace")  # no side left: refused as a whole, with the reason
    assert not alone.editable and alone.reason == "withdrawn on sight: a grimace"


def test_the_warning_for_a_refused_side_names_every_bar_flicker_included(bank, caplog):
    """A side withdrawn for flicker alone met the photo bars: the warning must not say it missed those only."""
    from streamfx.edit.load import EditRequest, edit_label

    bank.reports["Smiling"] = AttributeReport(True, strength=4.5, sides="+", crossing_up=0.8, entanglement_up=0.09)
    judged = bank.with_flicker("Smiling", 1.0, 1.28)
    with caplog.at_level("WARNING", logger="streamfx"):
        label = edit_label(judged, EditRequest(sliders={"smile": 1.0}))
    assert "flickers in video at 1.28" in label
    assert "flicker <= 1.2" in caplog.text and ">= 70% of faces cross" in caplog.text


def test_an_attribute_without_a_direction_is_refused_even_when_refused_sides_are_allowed(bank):
    bank.reports["Eyeglasses"] = AttributeReport(False, "the classifier cannot measure it")  # strength 0: not fitted
    with pytest.raises(UsageError, match="cannot be edited") as refusal:
        bank.edit({"eyeglasses": 0.5}, refused=True)
    assert "--allow-refused" not in str(refusal.value)


def test_an_uneditable_attribute_at_zero_is_fine(bank):
    content, _ = bank.deltas({"eyeglasses": 0.0})
    assert not content.any()


def test_saved_bank_loads_back_and_refuses_another_model(bank, tmp_path):
    path = tmp_path / "edits.safetensors"
    bank.lowering[2] = 1.75
    bank.reports["Male"] = AttributeReport(True, strength=2.0, sides="+", crossing_up=0.8, crossing_down=0.3)
    bank.save(path)
    loaded = EditBank.load(path, model_sha256="abc")
    assert loaded.attributes == NAMES and loaded.reports["Eyeglasses"].reason.startswith("only 40%")
    assert loaded.reports["Male"] == bank.reports["Male"] and loaded.reports["Smiling"].sides == "+-"
    torch.testing.assert_close(loaded.lowering, bank.lowering)
    torch.testing.assert_close(loaded.content, bank.content.half().float())
    with pytest.raises(ModelError, match="another model"):
        EditBank.load(path, model_sha256="def")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ModelError, match="not a readable edit bank"):
        EditBank.load(tmp_path / "junk.safetensors")


def test_anime_output_takes_the_anime_directions_where_photo_edits_read_another_encoder(bank, tmp_path):
    import dataclasses

    anime = torch.randn(bank.content.shape, generator=torch.Generator().manual_seed(5))
    both = dataclasses.replace(bank, anime_content=anime)
    photo, _ = both.deltas({"smile": 0.5})
    torch.testing.assert_close(photo, 0.5 * bank.content[0])
    drawn, _ = both.deltas({"smile": 0.5}, photo=False)
    torch.testing.assert_close(drawn, 0.5 * anime[0])
    held, _ = both.deltas({"smile": 1.0}, freeze=("young",), photo=False)  # held along the anime directions
    assert abs(float(held.reshape(-1) @ anime[1].reshape(-1))) < 1e-4
    path = tmp_path / "edits.safetensors"
    both.save(path)
    loaded = EditBank.load(path, model_sha256="abc")
    torch.testing.assert_close(loaded.anime_content, anime.half().float())
    bank.save(tmp_path / "one.safetensors")
    assert EditBank.load(tmp_path / "one.safetensors").anime_content is None
    refit = dataclasses.replace(both, anime_content=anime + 1)
    merged = both.with_refit(refit, ["Young"])
    torch.testing.assert_close(merged.anime_content[1], anime[1] + 1)
    torch.testing.assert_close(merged.anime_content[0], anime[0])
    with pytest.raises(ModelError, match="another encoder"):
        bank.with_refit(refit, ["Young"])


def test_a_bank_from_before_lowering_loads_with_both_sides_alike(bank, tmp_path):
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    path = tmp_path / "edits.safetensors"
    bank.save(path)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    del tensors["lowering"]
    save_file(tensors, str(path), metadata=meta)
    loaded = EditBank.load(path)
    assert torch.equal(loaded.lowering, torch.ones(len(NAMES)))


def test_regression_recovers_each_labels_own_effect_despite_correlation():
    generator = torch.Generator().manual_seed(1)
    labels = (torch.rand(4000, 2, generator=generator) < 0.5).float()
    labels[:, 1] = torch.where(torch.rand(4000, generator=generator) < 0.8, labels[:, 0], labels[:, 1])  # correlated
    effects = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    codes = labels @ effects + 0.1 * torch.randn(4000, 3, generator=generator)
    found = regress(codes, labels)
    torch.testing.assert_close(found, effects, atol=0.03, rtol=0)
    naive = codes[labels[:, 0] == 1].mean(0) - codes[labels[:, 0] == 0].mean(0)
    assert naive[1] > 1.0  # the plain mean difference would have dragged the correlated label along


def test_live_slider_keys_step_the_chosen_slider_and_push_the_edit(bank):
    from streamfx.commands.live import LiveControls

    class FakeEffect:
        def __init__(self):
            self.deltas = []

        def set_edit(self, content_delta):
            self.deltas.append(content_delta)

    effect = FakeEffect()
    controls = LiveControls(pipeline=None, effect=effect, camera=None, seed=0, bank=bank, request=None)
    assert controls.names[0] == "smile" and "eyeglasses" not in controls.names  # only editable sliders
    for key in "+++":
        controls.on_key(key)
    assert controls.sliders == {"smile": 0.3}
    torch.testing.assert_close(effect.deltas[-1], 0.3 * bank.content[0])
    controls.on_key("]")
    controls.on_key("-")
    assert controls.sliders == {"smile": 0.3, controls.names[1]: -0.1}
    controls.on_key("0")
    assert controls.sliders[controls.names[1]] == 0.0
    controls.on_key("[")  # back to smile
    for _ in range(15):  # from 0.3, eight presses would reach the end
        controls.on_key("+")
    assert controls.sliders["smile"] == 1.0  # held at the end, not past it
    torch.testing.assert_close(effect.deltas[-1], bank.content[0])  # the other slider is at 0
    for _ in range(25):
        controls.on_key("-")
    assert controls.sliders["smile"] == -1.0


def test_live_slider_keys_skip_frozen_attributes_and_keep_one_name_per_attribute(bank):
    from streamfx.commands.live import LiveControls
    from streamfx.edit.load import EditRequest

    request = EditRequest({"young": 0.2}, freeze=("male",))
    controls = LiveControls(pipeline=None, effect=None, camera=None, seed=0, bank=bank, request=request)
    assert "male" not in controls.names and "age" not in controls.names
    assert controls.names.count("young") == 1 and "smile" in controls.names


def test_a_refit_replaces_only_the_named_attributes(bank):
    from streamfx.edit.reach import fit_probe

    generator = torch.Generator().manual_seed(5)
    bank.probe = fit_probe(torch.randn(20, 4, 2, 2, generator=generator), torch.randn(20, 3, generator=generator),
                           (torch.rand(20, len(NAMES), generator=generator) < 0.5).float())
    refit = EditBank(NAMES, bank.content + 1, bank.style + 1, "abc", torch.full((len(NAMES),), 2.0), bank.probe,
                     torch.ones(len(NAMES), dtype=torch.bool),
                     reports={n: AttributeReport(True, strength=3.0, sides="+") for n in NAMES},
                     info={"seconds": 10.0})
    merged = bank.with_refit(refit, ["Male"])
    torch.testing.assert_close(merged.content[2], refit.content[2])
    assert merged.one_sided.tolist() == [False, False, True, False, False]  # one-sided as its refit measured
    torch.testing.assert_close(merged.content[[0, 1, 3, 4]], bank.content[[0, 1, 3, 4]])
    assert merged.lowering.tolist() == [1.0, 1.0, 2.0, 1.0, 1.0] and merged.reports["Male"].strength == 3.0
    assert merged.reports["Smiling"] == bank.reports["Smiling"] and merged.info["refits"][0]["attributes"] == ["Male"]
    assert not bank.content[2].equal(merged.content[2])  # the bank refitted into is left as it was
    with pytest.raises(ModelError, match="another model"):
        bank.with_refit(EditBank(NAMES, bank.content, bank.style, "def"), ["Male"])
    bank.info["train_faces"] = 4275
    with pytest.raises(ModelError, match="other faces"):  # its directions would not go with this bank's probe
        bank.with_refit(EditBank(NAMES, bank.content, bank.style, "abc", info={"train_faces": 4000}), ["Male"])


def test_a_refit_names_the_sides_it_offers_differently_from_the_bank_before_and_why(bank):
    side = dict(strength=4.0, crossing_up=0.8, crossing_down=0.9, entanglement_up=0.05, entanglement_down=0.06)
    bank.reports["Smiling"] = AttributeReport(True, sides="+-", **side)
    before = bank.withdrawn("Smiling", -1.0, "a grimace")  # the previous checkpoint's bank, judged on sight
    refit = EditBank(NAMES, bank.content, bank.style, "def", reports=dict(bank.reports))
    refit.reports["Young"] = AttributeReport(True, strength=2.0, sides="+", crossing_up=0.9, crossing_down=0.4,
                                             entanglement_up=0.05, entanglement_down=0.05)
    refit.reports["Male"] = AttributeReport(False, "not fitted")
    assert refit.offer_changes(before) == [
        "Smiling -1 now offered (before: withdrawn on sight: a grimace)",
        "Young -1 no longer offered: only 40% of faces cross at full strength"]
    assert refit.offer_changes(refit) == []


def test_the_share_put_on_as_light_and_shade_follows_where_each_attribute_moves_the_map():
    """Smiling's change is light and shade only, black hair's in colour: a cell only the smile moves is all
    shade, a cell only the hair moves none, and an edit with no such attribute (or anime output) has no share."""
    names = ["Smiling", "Black_Hair"]
    content = torch.zeros(2, 4, 2, 2)
    content[0, :, 0, 0], content[1, :, 1, 1] = 1.0, 2.0  # the smile in the top-left cell, the hair bottom-right
    reports = {"Smiling": AttributeReport(True, strength=4.0, shade_only=True),
               "Black_Hair": AttributeReport(True, strength=5.0)}
    bank = EditBank(names, content, torch.zeros(2, 3), "abc", reports=reports)
    share = bank.edit({"smiling": 1.0, "black_hair": -1.0}).shade(3, None)
    assert share.shape == (3, 1, 2, 2)
    assert torch.equal(share[:, 0, 0, 0], torch.ones(3)) and torch.equal(share[:, 0, 1, 1], torch.zeros(3))
    assert bank.edit({"black_hair": -1.0}).shade(3, None) is None
    assert bank.edit({"smiling": 1.0}, photo=False).shade(3, None) is None


def test_the_share_held_steadier_follows_where_something_worn_is_drawn():
    """Eyeglasses draw something worn, smiling does not: a cell only the glasses move is all worn, one only the
    smile moves none, and anime output (drawn, not averaged) has no share."""
    names = ["Eyeglasses", "Smiling"]
    content = torch.zeros(2, 4, 2, 2)
    content[0, :, 0, 0], content[1, :, 1, 1] = 1.0, 2.0
    reports = {name: AttributeReport(True, strength=2.0) for name in names}
    bank = EditBank(names, content, torch.zeros(2, 3), "abc", reports=reports)
    share = bank.edit({"eyeglasses": 1.0, "smiling": 1.0}).worn_share()
    assert share.shape == (1, 1, 2, 2)
    assert float(share[0, 0, 0, 0]) == 1.0 and float(share[0, 0, 1, 1]) == 0.0
    assert bank.edit({"smiling": 1.0}).worn_share() is None
    assert bank.edit({"eyeglasses": 1.0}, photo=False).worn_share() is None
