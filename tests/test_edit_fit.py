"""Fitting's choices on known responses: where a direction is kept, and which strength each side of a slider gets."""

from __future__ import annotations

import copy

import numpy as np
import torch

from streamfx.edit.fit import (STRENGTHS, Start, _calibrate, _calibrate_near, localise, split_calibration,
                               starting_faces)


def test_localise_keeps_the_attributes_place_and_drops_the_faint_rest():
    generator = torch.Generator().manual_seed(0)
    direction = 0.1 * torch.randn(8, 16, 16, generator=generator)
    direction[:, 11:14, 6:10] += torch.randn(8, 3, 4, generator=generator)  # the mouth, say
    kept = localise(direction)
    torch.testing.assert_close(kept[:, 11:14, 6:10], direction[:, 11:14, 6:10])  # the place itself, whole
    far = torch.ones(16, 16, dtype=torch.bool)
    far[9:16, 4:12] = False
    assert kept.norm(dim=0)[far].sum() < 0.1 * direction.norm(dim=0)[far].sum()  # away from it, little


class Unscreened:
    """What fitting asks of a calibrator besides its readings, for one that has no screen."""

    @property
    def reference(self):
        return self.before

    def screened(self):
        return self


class FakeCalibrator(Unscreened):
    """Faces 0-15 lack the attribute, 16-31 have it. Slider up carries face i across once the strength reaches
    need_up[i]; slider down carries a face across in a window of strengths only (past it the decoder smears)."""

    labels = None
    identity = None

    def __init__(self):
        self.before = torch.full((32, 2), 0.2)
        self.before[16:, 0] = 0.8
        self.need_up = torch.linspace(0.5, 1.4, 16)  # every face across at 1.5
        self.down_window = (2.2, 3.0)  # across at 2.5 only

    def probabilities(self, index, content_delta, style_delta):
        scale = float(style_delta[0])  # the tests pass the strength through the style delta
        after = self.before[index].clone()
        if scale > 0:
            after[:, 0] = torch.where(scale >= self.need_up[index], 0.9, 0.2)
        else:
            inside = self.down_window[0] <= -scale <= self.down_window[1]
            after[:, 0] = 0.1 if inside else 0.8
        after[:, 1] += 0.01 * abs(scale)  # the other attribute drifts with strength
        return after


def _recording(fake):
    """`fake` with every strength it is asked to measure (signed) recorded in the returned list."""
    measured = []
    fake.probabilities = lambda index, c, s, inner=fake.probabilities: (measured.append(float(s[0])),
                                                                        inner(index, c, s))[1]
    return measured


def test_each_side_gets_the_smallest_strength_that_carries_it_and_not_one_past_its_best():
    calibration = _calibrate(FakeCalibrator(), 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert calibration.up.strength == 1.5 and calibration.up.crossing == 1.0
    assert calibration.down.strength == 2.5 and calibration.down.crossing == 1.0
    assert 2.5 in STRENGTHS and calibration.crossing == 1.0
    assert abs(calibration.entanglement - 0.01 * (1.5 + 2.5) / 2) < 1e-6


def test_a_finer_grid_finds_the_weaker_strength_the_default_one_steps_over():
    """The down side carries its faces across between 2.2 and 3.0 only: the default grid finds 2.5; a grid of 1, 2,
    2.75 and 4 searches only its own strengths, near a previous fit too, and picks 2.75 (and 2 for the up side,
    which 1 carries only half across)."""
    grid = (1.0, 2.0, 2.75, 4.0)
    fake = FakeCalibrator()
    measured = _recording(fake)
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16, grid=grid)
    assert (calibration.up.strength, calibration.down.strength) == (2.0, 2.75)
    assert {abs(m) for m in measured} <= set(grid)
    near = _calibrate_near(FakeCalibrator(), 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16,
                           start={1.0: 1.5, -1.0: 2.5}, grid=grid)
    assert (near.up.strength, near.down.strength) == (2.0, 2.75)


def test_a_settled_side_is_not_measured_again_while_the_other_side_climbs():
    fake = FakeCalibrator()
    measured = _recording(fake)
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert (calibration.up.strength, calibration.down.strength) == (1.5, 2.5)
    assert measured == [0.75, -0.75, 1.5, -1.5, -2.0, -2.5]  # up settles at 1.5; down alone climbs to 2.5


def test_a_search_from_the_previous_fits_strengths_picks_the_same_with_fewer_measurements():
    full = _calibrate(FakeCalibrator(), 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    fake = FakeCalibrator()
    measured = _recording(fake)
    near = _calibrate_near(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16,
                           start={1.0: full.up.strength, -1.0: full.down.strength})
    assert near == full
    assert measured == [1.5, 0.75, -2.5, -2.0]  # each side: its old strength, then one weaker that no longer does


def test_a_search_from_strengths_that_no_longer_fit_climbs_or_steps_down_to_the_new_ones():
    fake = FakeCalibrator()
    measured = _recording(fake)
    near = _calibrate_near(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16,
                           start={1.0: 4.0, -1.0: 1.4})  # up: the model now needs less; down: more (1.4 is nearest 1.5)
    assert (near.up.strength, near.down.strength) == (1.5, 2.5) and near.crossing == 1.0
    assert measured == [4.0, 3.0, 2.5, 2.0, 1.5, 0.75, -1.5, -2.0, -2.5]


def test_a_search_from_a_strength_past_the_bars_steps_down_to_one_that_meets_them():
    fake = _most_across_early()
    full = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    near = _calibrate_near(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16,
                           start={1.0: 4.0, -1.0: 2.5})  # 4 reaches 80 % but moves the others 0.16
    assert near.up == full.up and near.up.strength == 1.5 and near.up.passes


def test_a_search_for_a_side_that_never_reaches_the_target_finds_the_full_searchs_best():
    fake = FakeCalibrator()
    fake.down_window = (1.8, 2.2)  # only the faces within reach: the down side carries at most 50 %
    inner = fake.probabilities

    def half_reached(index, c, s):
        after = inner(index, c, s)
        after[8:, 0] = torch.where(index[8:] >= 16, 0.8, after[8:, 0])  # half the faces never move
        return after

    fake.probabilities = half_reached
    full = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert full.down.strength == 2.0 and full.down.crossing == 0.5
    near = _calibrate_near(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16,
                           start={1.0: 1.5, -1.0: 4.0})  # the old side was refused at 4, its best then
    assert near.down == full.down


def test_a_side_that_meets_the_bars_below_the_target_takes_that_strength():
    fake = _most_across_early()
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert calibration.up.strength == 1.5 and calibration.up.passes  # 4 reaches 80 % but moves the others 0.16
    assert calibration.up.crossing == 0.75 and abs(calibration.up.entanglement - 0.06) < 1e-6


def test_a_side_that_meets_every_bar_only_between_two_strengths_tried_gets_the_strength_between():
    fake = FakeCalibrator()
    fake.need_up = torch.tensor([1.0] * 10 + [1.7] * 2 + [1.9] * 2 + [6.0] * 2)  # 62 % at 1.5, 75 % at 1.75, 88 % at 2
    fake.before[:, 1] = 0.0
    inner = fake.probabilities

    def steep_drift(index, c, s):
        after = inner(index, c, s)
        after[:, 1] = 0.055 * abs(float(s[0]))  # the others move 0.083 at 1.5, 0.096 at 1.75, 0.110 at 2
        return after

    fake.probabilities = steep_drift
    measured = _recording(fake)
    full = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert 1.75 not in STRENGTHS and measured.count(1.75) == 1  # 1.5 within the bars but short, 2 past them
    assert full.up.strength == 1.75 and full.up.passes and full.up.crossing == 0.75
    near = _calibrate_near(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16,
                           start={1.0: 2.0, -1.0: 2.5})
    assert near.up == full.up  # a refit finds it too


def _most_across_early() -> FakeCalibrator:
    """Slider up carries 75 % of the faces across from strength 1 on and every face at 4, where the other attribute
    has moved by 0.16 (`_drift`): 1.5 meets every bar below the target, 4 reaches the target past the bars."""
    fake = FakeCalibrator()
    fake.need_up = torch.tensor([1.0] * 12 + [4.0] * 4)
    fake.before[:, 1] = 0.0
    fake.probabilities = lambda index, c, s, inner=fake.probabilities: _drift(inner(index, c, s), float(s[0]))
    return fake


def _drift(after, scale):
    after[:, 1] = 0.04 * abs(scale)  # the other attribute moves by 0.04 per unit of strength
    return after


class FakeProbe:
    def __init__(self, positions):
        self.values = positions

    def positions(self, content, style, rows):
        return self.values[:, None]


class PerFaceCalibrator(Unscreened):
    """Faces 0-15 lack the attribute, 16-31 have it; a face crosses once its own strength (carried in the style
    delta, one number per face or one for all) reaches 1.5. The other attribute drifts with strength."""

    labels = None
    identity = None

    def __init__(self):
        self.before = torch.full((32, 2), 0.2)
        self.before[16:, 0] = 0.8
        self.content, self.style = torch.zeros(32, 1, 4, 4), torch.zeros(32, 1)

    def probabilities(self, index, content_delta, style_delta):
        scale = style_delta.reshape(-1).expand(len(index))
        after = self.before[index].clone()
        crossed = scale.abs() >= 1.5
        after[:, 0] = torch.where(crossed, torch.where(scale > 0, 0.9, 0.1), after[:, 0])
        after[:, 1] += 0.01 * scale.abs()
        return after


def test_the_one_sided_edit_is_kept_unless_the_faces_it_misreads_cost_the_bar():
    from streamfx.edit.fit import _fit_attribute

    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    positions[:4] = 0.9  # the probe thinks four faces without the attribute nearly have it: they get 20 %
    fitted = _fit_attribute(PerFaceCalibrator(), 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions),
                            target=0.8, per_side=16)
    assert fitted.one_sided and fitted.measured.up.crossing == 0.75 and fitted.measured.down.crossing == 1.0
    assert fitted.measured.up.strength == 1.5
    positions[:6] = 0.9  # six misread: 62 % would cross, under the bar the full edit reaches
    fitted = _fit_attribute(PerFaceCalibrator(), 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions),
                            target=0.8, per_side=16)
    assert not fitted.one_sided and fitted.crossing == 1.0
    torch.testing.assert_close(fitted.style, torch.tensor([1.5]))


class ScreenedCalibrator(PerFaceCalibrator):
    """PerFaceCalibrator (the classifier) with a screen that reads every face across from `screen_crossing` on,
    and the other attribute 0.005 higher than the classifier does (its rounding). Records who measured what."""

    def __init__(self, screen_crossing: float):
        super().__init__()
        self.read, self.screen = [], _ScreenOf(self, screen_crossing)

    def probabilities(self, index, content_delta, style_delta):
        self.read.append(("classifier", float(style_delta.reshape(-1).abs().max())))
        return super().probabilities(index, content_delta, style_delta)

    def screened(self):
        return self.screen


class _ScreenOf:
    labels = None
    identity = None

    def __init__(self, classifier: ScreenedCalibrator, crossing: float):
        self.classifier, self.crossing = classifier, crossing
        self.before, self.content, self.style = classifier.before, classifier.content, classifier.style
        self.reference = self.before + torch.tensor([0.0, 0.005])

    def probabilities(self, index, content_delta, style_delta):
        self.classifier.read.append(("screen", float(style_delta.reshape(-1).abs().max())))
        scale = style_delta.reshape(-1).expand(len(index))
        after = self.reference[index].clone()
        after[:, 0] = torch.where(scale.abs() >= self.crossing, torch.where(scale > 0, 0.9, 0.1), after[:, 0])
        after[:, 1] += 0.01 * scale.abs()
        return after


def test_the_screen_searches_and_the_classifier_reads_the_pick_once_a_side():
    from streamfx.edit.fit import _fit_attribute

    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    fake = ScreenedCalibrator(screen_crossing=1.5)  # the screen and the classifier agree where faces cross
    fitted = _fit_attribute(fake, 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions), target=0.8,
                            per_side=16)
    readers = [reader for reader, _ in fake.read]
    assert readers.count("classifier") == 2 and readers[-2:] == ["classifier", "classifier"]
    assert readers.count("screen") > 4
    assert fitted.measured.sides == "+-" and fitted.measured.up.strength == 1.5
    # the figures kept are the classifier's: the other attribute moved by 0.01 x 1.5, not the screen's 0.005 more
    assert abs(fitted.measured.entanglement - 0.015) < 1e-6


def test_where_the_screen_offers_other_sides_than_the_classifier_the_classifier_searches_again():
    from streamfx.edit.fit import _fit_attribute

    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    fake = ScreenedCalibrator(screen_crossing=0.7)  # the screen sees faces across at 0.75 that are not yet
    fitted = _fit_attribute(fake, 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions), target=0.8,
                            per_side=16)
    assert ("classifier", 0.75) in fake.read  # the screen's pick, read by the classifier: nobody across
    assert fitted.measured.up.strength == 1.5 and fitted.measured.down.strength == 1.5
    assert fitted.measured.sides == "+-" and abs(fitted.measured.entanglement - 0.015) < 1e-6


class PickyIdentityCalibrator(ScreenedCalibrator):
    """ScreenedCalibrator whose identity model takes half the faces for others from strength 1.5 on."""

    identity = "dlib"

    def same_person(self, index, content_delta, style_delta):
        strength = float(style_delta.reshape(-1).abs().max())
        self.read.append(("dlib", strength))
        return 0.5 if strength >= 1.5 else 1.0


def test_dlib_reads_only_the_screens_pick_and_its_refusal_sends_the_classifier_searching():
    from streamfx.edit.fit import _fit_attribute

    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    fake = PickyIdentityCalibrator(screen_crossing=1.5)
    fitted = _fit_attribute(fake, 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions), target=0.8,
                            per_side=16)
    first_classifier_read = [reader for reader, _ in fake.read].index("classifier")
    assert "dlib" not in [reader for reader, _ in fake.read[:first_classifier_read]]  # the screen asks no dlib
    assert fitted.measured.sides == "" and fitted.measured.up.identity == 0.5  # refused, for the person
    assert sum(reader == "classifier" for reader, _ in fake.read) > 2  # searched again by the classifier


class ShapeCalibrator(PerFaceCalibrator):
    """PerFaceCalibrator whose other attribute also moves with the edit's content change outside its place (the
    top-left cell): the regressed direction moves it past the bar, the localised one leaves it alone."""

    def probabilities(self, index, content_delta, style_delta):
        after = super().probabilities(index, content_delta, style_delta)
        after[:, 1] += 0.1 * content_delta.abs().flatten(1)[:, 1:].mean(1)  # [N,C,H,W]: a change per face
        return after


def test_a_refit_from_a_previous_fit_takes_the_shape_the_full_fit_would():
    from streamfx.edit.fit import _fit_attribute

    direction = torch.full((1, 4, 4), 0.5)
    direction[0, 0, 0] = 8.0  # the attribute's place, and a faint rest that moves the other attribute
    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    full = _fit_attribute(ShapeCalibrator(), 0, direction, torch.ones(1), FakeProbe(positions), target=0.8,
                          per_side=16)
    assert full.localised
    # the previous fit kept the regressed shape (another model's): the localised one, checked at the strengths
    # picked for it, ranks better, so it is searched too and taken
    near = _fit_attribute(ShapeCalibrator(), 0, direction, torch.ones(1), FakeProbe(positions), target=0.8,
                          per_side=16, start=Start({1.0: 2.0, -1.0: 2.0}, localised=False))
    assert near.localised and near.measured == full.measured


def test_a_refit_searches_the_other_shape_only_where_it_ranks_as_well_at_the_picked_strengths():
    from streamfx.edit.fit import _fit_attribute

    direction = torch.full((1, 4, 4), 0.5)
    direction[0, 0, 0] = 8.0
    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    full = _fit_attribute(ShapeCalibrator(), 0, direction, torch.ones(1), FakeProbe(positions), target=0.8,
                          per_side=16)
    searched = {}
    for localised in (False, True):
        fake = ShapeCalibrator()
        measured = _recording_shapes(fake)
        near = _fit_attribute(fake, 0, direction, torch.ones(1), FakeProbe(positions), target=0.8, per_side=16,
                              start=Start({1.0: full.measured.up.strength, -1.0: full.measured.down.strength},
                                          localised))
        assert near.localised and near.measured == full.measured  # the full fit's pick from either start
        searched[localised] = measured
    # from the full fit's own shape the regressed one is measured once a side, at the picked strength, and no more
    assert searched[True].count("regressed") == 2
    assert searched[False].count("regressed") > 2  # from the other shape, both are searched


def _recording_shapes(fake):
    """`fake` with the shape of every edit it measures recorded ("regressed" or "localised") in the returned list:
    the regressed direction changes the far corner of the map (cell 0,3), the localised one leaves it."""
    shapes = []
    inner = fake.probabilities

    def probabilities(index, content_delta, style_delta):
        far = content_delta.reshape(-1, 16)[:, 3].abs().amax()
        shapes.append("regressed" if far > 1e-6 else "localised")
        return inner(index, content_delta, style_delta)

    fake.probabilities = probabilities
    return shapes


class IdentityCalibrator(FakeCalibrator):
    """FakeCalibrator with an identity model: an edit keeps every face the same person up to strength 2, and only
    half of them past it."""

    identity = "dlib"

    def __init__(self):
        super().__init__()
        self.asked = []

    def same_person(self, index, content_delta, style_delta):
        scale = abs(float(style_delta[0]))
        self.asked.append(scale)
        return 1.0 if scale <= 2.0 else 0.5


def test_a_side_that_changes_the_person_is_not_offered_and_says_so():
    from streamfx.edit.fit import _report

    fake = IdentityCalibrator()
    fake.need_up = torch.full((16,), 3.0)  # every face across from strength 3 on, where the person changes
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert calibration.up.strength == 3.0 and calibration.up.identity == 0.5 and not calibration.up.passes
    # across only from 2.2: the weakest strength tried that carries it, 2.25, halfway between 2 and 2.5 (`_refine`)
    assert calibration.down.strength == 2.25 and calibration.down.identity == 0.5
    assert 0.75 not in fake.asked and 1.5 not in fake.asked  # dlib is asked only where the other bars are met
    report = _report(calibration, calibration.up.strength, calibration.down.strength, localised=False)
    assert not report.editable and report.identity_up == 0.5
    assert report.side_reason(1) == "keeps the person for only 50% of faces"
    assert report.reason == "keeps the person for only 50% of faces"


def test_a_weaker_strength_that_keeps_the_person_is_preferred():
    fake = IdentityCalibrator()
    fake.need_up = torch.tensor([1.0] * 12 + [2.5] * 4)  # 75 % across from 1 on, every face from 2.5
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert calibration.up.strength == 1.5 and calibration.up.passes and calibration.up.identity == 1.0


def test_faces_whose_label_disagrees_with_the_classifier_are_not_calibrated_on():
    before = torch.tensor([[0.2], [0.3], [0.8], [0.9], [0.7]])
    labels = torch.tensor([[0.0], [1.0], [1.0], [0.0], [1.0]])  # face 1 missed by the classifier, face 3 misread
    assert starting_faces(before, None, 0, 1.0).tolist() == [0, 1]
    assert starting_faces(before, None, 0, -1.0).tolist() == [2, 3, 4]
    assert starting_faces(before, labels, 0, 1.0).tolist() == [0]
    assert starting_faces(before, labels, 0, -1.0).tolist() == [2, 4]


def test_a_slider_that_only_carries_faces_one_way_is_offered_that_way():
    from streamfx.edit.fit import _report

    fake = FakeCalibrator()
    fake.down_window = (10.0, 11.0)  # no strength tried takes the attribute away
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert calibration.sides == "+" and calibration.crossing == 0.0
    report = _report(calibration, calibration.up.strength, calibration.down.strength, localised=False)
    assert report.editable and report.offers(1) and not report.offers(-1) and not report.reason
    assert report.side_reason(-1) == "only 0% of faces cross at full strength"
    fake.need_up = torch.full((16,), 9.0)  # nor put it on: offered neither way, and the reason says so
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    report = _report(calibration, 1.0, 1.0, localised=False)
    assert calibration.sides == "" and not report.editable and report.reason.startswith("only 0%")


def test_a_side_without_calibration_faces_is_never_offered():
    from streamfx.edit.fit import _report

    fake = FakeCalibrator()
    fake.before[16:, 0] = 0.2  # nobody has the attribute: slider -1 has no faces to measure on
    calibration = _calibrate(fake, 0, torch.zeros(1), torch.ones(1), target=0.8, per_side=16)
    assert calibration.up.passes and not calibration.down.measured
    assert calibration.sides == "+" and calibration.down.strength == calibration.up.strength
    report = _report(calibration, calibration.up.strength, calibration.down.strength, localised=False)
    assert report.crossing_up == 1.0 and report.crossing_down is None
    assert report.side_reason(-1) == "too few calibration faces to measure it that way"


def test_calibration_faces_are_kept_out_of_the_fit_and_no_face_is_lost():
    train = [f"{i:05d}.jpg" for i in range(4750)]
    fitting, calibration = split_calibration(train)
    assert len(calibration) == 475 and calibration[:2] == ["00000.jpg", "00010.jpg"]
    assert not set(fitting) & set(calibration) and sorted(fitting + calibration) == train


class RednessClassifier:
    """Reads attribute 0 as how red a face is on average; attribute 1 stays at 0.3 whatever is drawn."""

    def probabilities(self, faces):
        red = torch.sigmoid(20 * faces[:, 0].mean((1, 2)))
        return torch.stack([red, torch.full_like(red, 0.3)], 1)


def test_a_bank_for_a_photo_encoder_of_its_own_keeps_anime_directions_at_the_same_strength_and_shape():
    from streamfx.edit.fit import fit_bank, regress
    from streamfx.edit.render import PhotoDecoder, encode_all
    from streamfx.models.gnr import Generator, GNRConfig

    config = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)
    torch.manual_seed(0)
    photo, anime = Generator(config).fold_equalized_lr().eval(), Generator(config).fold_equalized_lr().eval()
    generator = torch.Generator().manual_seed(1)
    labels = (torch.rand(48, 2, generator=generator) < 0.5).float()
    faces = torch.rand(48, 3, 64, 64, generator=generator) * 0.4 - 0.2
    faces[:, 0] += 0.3 * (labels[:, :1, None] - 0.5)  # attribute 0: a redder face
    calibration = torch.rand(24, 3, 64, 64, generator=generator) * 0.4 - 0.2
    options = dict(names=["Red", "Other"], measurable={"Red": 1.0}, per_side=8, attributes=["Red"])
    with torch.no_grad():
        bank = fit_bank(photo, PhotoDecoder(photo), RednessClassifier(), faces, labels, calibration,
                        anime_encoder=anime, **options)
        alone = fit_bank(photo, PhotoDecoder(photo), RednessClassifier(), faces, labels, calibration, **options)
    report = bank.reports["Red"]
    assert report.strength > 0 and alone.anime_content is None
    # slider -1 moves by the strength measured for it: -lowering x the +1 direction
    assert abs(float(bank.lowering[0]) * report.strength - report.strength_down) < 1e-5
    torch.testing.assert_close(bank.content, alone.content)  # the photo side is fitted as before
    shape = localise if report.localised else (lambda d: d)
    for encoder, stored in ((photo, bank.content), (anime, bank.anime_content)):
        direction = regress(encode_all(encoder, faces)[0], labels)[0]
        torch.testing.assert_close(stored[0], report.strength * shape(direction))
        assert not stored[1].any()  # not fitted: nothing to add
    assert bank.info["anime_directions"].startswith("regressed on the face->anime")


class RecordingIdentity:
    """An identity model that records the faces it is shown and takes every one for the same person."""

    def __init__(self):
        self.shown = []

    def descriptors(self, images):
        self.shown.append(np.stack(images))
        return np.zeros((len(images), 128), np.float32)


def _counted_photo_model():
    """(a small random photo autoencoder, its photo decoder counting the faces it draws, that count)."""
    from streamfx.edit.render import PhotoDecoder
    from streamfx.models.gnr import Generator, GNRConfig

    config = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)
    torch.manual_seed(0)
    photo = Generator(config).fold_equalized_lr().eval()
    decoder, drawn = PhotoDecoder(photo), []

    def counting(content, style):
        drawn.append(len(content))
        return decoder(content, style)

    return photo, counting, drawn


def test_the_identity_check_reads_the_faces_the_classifier_just_read_without_drawing_them_again():
    from streamfx.edit.fit import Calibrator
    from streamfx.pixels import to_uint8

    photo, counting, drawn = _counted_photo_model()
    faces = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 0.4 - 0.2
    identity = RecordingIdentity()
    cal = Calibrator(photo, counting, RednessClassifier(), faces, identity=identity)
    index, content = torch.tensor([1, 3, 4]), torch.full_like(cal.content[0], 0.5)
    style = torch.zeros_like(cal.style[0])
    drawn.clear()
    cal.probabilities(index, content, style)
    assert drawn == [3]
    assert cal.same_person(index, content, style) == 1.0 and drawn == [3]  # not drawn again
    np.testing.assert_array_equal(identity.shown[-1], to_uint8(cal.edited(index, content, style)))
    cal.probabilities(index, 2 * content, style)  # another edit is drawn
    assert drawn == [3, 3]


class PaleRednessClassifier(RednessClassifier):
    """RednessClassifier reading every face a little less red: a screen with rounding of its own."""

    def probabilities(self, faces):
        return super().probabilities(faces) - torch.tensor([0.01, 0.0])


def test_the_screened_calibrator_shares_the_drawings_and_measures_from_its_own_readings():
    from streamfx.edit.fit import Calibrator, _measure

    photo, counting, drawn = _counted_photo_model()
    faces = torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 0.4 - 0.2
    identity = RecordingIdentity()
    cal = Calibrator(photo, counting, RednessClassifier(), faces, identity=identity, screen=PaleRednessClassifier())
    screen = cal.screened()
    assert screen.screened() is screen and cal.screened() is screen
    assert screen.before is cal.before  # which faces start where stays the classifier's
    torch.testing.assert_close(screen.reference, cal.before - torch.tensor([0.01, 0.0]))
    index = torch.arange(8)
    content, style = torch.full_like(cal.content[0], 0.5), torch.zeros_like(cal.style[0])
    drawn.clear()
    torch.testing.assert_close(screen.probabilities(index, content, style),
                               cal.probabilities(index, content, style) - torch.tensor([0.01, 0.0]))
    assert drawn == [8]  # drawn once for both readers
    assert screen.identity is None and cal.identity is identity  # the screen searches without asking dlib
    # an edit's change is measured from the reader's own readings of the unedited faces
    direction, style_dir = torch.ones_like(cal.content[0]), torch.zeros_like(cal.style[0])
    by_screen = _measure(screen, 1, direction, style_dir, 0.5, per_side=8, signs=[1.0])[1.0]
    by_classifier = _measure(cal, 1, direction, style_dir, 0.5, per_side=8, signs=[1.0])[1.0]
    assert abs(by_screen.entanglement - by_classifier.entanglement) < 1e-6


def test_the_shaded_calibrator_keeps_an_edits_light_drops_its_colour_and_keeps_its_drawings_apart():
    from streamfx.edit.composite import LUMA
    from streamfx.edit.fit import Calibrator

    photo, counting, drawn = _counted_photo_model()
    faces = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 0.4 - 0.2
    cal = Calibrator(photo, counting, RednessClassifier(), faces)
    shaded = cal.shaded()
    assert shaded.shade and not cal.shade and shaded.screened() is shaded  # no screen: its own reader
    index, content = torch.arange(6), torch.full_like(cal.content[0], 0.5)
    style = torch.zeros_like(cal.style[0])
    drawn.clear()
    coloured, lit = cal.edited(index, content, style), shaded.edited(index, content, style)
    assert drawn == [6, 6]  # each drawn once: the kept drawings tell the two apart
    assert torch.equal(cal.edited(index, content, style), coloured) and drawn == [6, 6]
    colour = coloured - lit  # what shading took off: the change's colour, none of its light
    light = sum(w * colour[:, c] for c, w in enumerate(LUMA))
    assert float(colour.abs().mean()) > 0.01 and float(light.abs().max()) < 1e-5


class RegionCalibrator(PerFaceCalibrator):
    """PerFaceCalibrator whose edits may keep their change in a region: the attribute is drawn where the
    direction is over `drawn_over` times its median cell, so a tighter region cuts into it and a quarter of the
    faces no longer cross; the other attribute's drift, the decoder's change elsewhere, shrinks with the region."""

    region = None

    def __init__(self, drawn_over: float, drift: float = 1.0):
        super().__init__()
        self.drawn_over = drawn_over
        self.drift = {None: drift, 2.0: 0.3, 1.5: 0.5, 1.0: 0.8}

    def regioned(self, low):
        view = copy.copy(self)
        view.region = low
        return view

    def probabilities(self, index, content_delta, style_delta):
        after = super().probabilities(index, content_delta, style_delta)
        if self.region is not None and self.region > self.drawn_over:
            after[::4, 0] = self.before[index][::4, 0]  # every fourth face left where it was
        after[:, 1] = self.before[index, 1] + (after[:, 1] - self.before[index, 1]) * self.drift[self.region]
        return after


def test_the_region_kept_is_the_tightest_that_keeps_every_side_and_its_crossing():
    from streamfx.edit.fit import _fit_attribute, _fit_region

    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    fake = RegionCalibrator(drawn_over=1.5)
    fitted = _fit_attribute(fake, 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions), target=0.8,
                            per_side=16)
    low, measured = _fit_region(fake, 0, fitted, FakeProbe(positions), per_side=16)
    assert low == 1.5 and measured.sides == fitted.measured.sides == "+-"  # 2 loses a quarter of the faces
    assert measured.up.strength == fitted.measured.up.strength and measured.crossing == fitted.crossing
    assert abs(measured.entanglement - 0.5 * fitted.entanglement) < 1e-6
    fake = RegionCalibrator(drawn_over=0.5)  # drawn all over: every region loses a quarter of the faces
    fitted = _fit_attribute(fake, 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions), target=0.8,
                            per_side=16)
    low, measured = _fit_region(fake, 0, fitted, FakeProbe(positions), per_side=16)
    assert low is None and measured is fitted.measured


def test_a_region_that_brings_a_side_within_the_bars_is_kept_though_it_carries_fewer_faces():
    from streamfx.edit.fit import _fit_attribute, _fit_region

    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    fake = RegionCalibrator(drawn_over=1.2, drift=8.0)  # the whole change moves the other attribute by 0.12
    fitted = _fit_attribute(fake, 0, torch.zeros(1, 4, 4), torch.ones(1), FakeProbe(positions), target=0.8,
                            per_side=16)
    assert fitted.measured.sides == "" and fitted.crossing == 1.0
    low, measured = _fit_region(fake, 0, fitted, FakeProbe(positions), per_side=16)
    assert low == 2.0 and measured.sides == "+-" and measured.crossing == 0.75  # the tightest, within the bars


def test_a_side_offered_by_neither_may_lose_crossing_beside_one_that_is_offered():
    from streamfx.edit.fit import Calibration, Side, _keeps

    whole = Calibration(Side(4.25, 0.70, 0.097), Side(5.0, 0.53, 0.088))  # smile: +1 offered, -1 not
    kept = Calibration(Side(4.25, 0.70, 0.087), Side(5.0, 0.30, 0.050))
    assert _keeps(kept, whole)
    assert not _keeps(Calibration(Side(4.25, 0.62, 0.087), kept.down), whole)  # +1 no longer offered
    neither = Calibration(Side(5.0, 0.55, 0.176), Side(5.0, 0.56, 0.180))  # male: offered neither way
    assert not _keeps(Calibration(Side(5.0, 0.55, 0.09), Side(5.0, 0.30, 0.09)), neither)
    assert _keeps(Calibration(Side(5.0, 0.52, 0.09), Side(5.0, 0.53, 0.09)), neither)


class GradedRegionCalibrator(RegionCalibrator):
    """RegionCalibrator whose faces need strengths from 1.75 to 4 to cross (twelve of sixteen by 2.0, thirteen by
    2.5), the other attribute moving 0.045 a unit of strength under the whole change: that meets the bars at 2.0
    only, carrying 75 %. Kept at the median cell, where it draws, the change moves the others less."""

    def __init__(self):
        super().__init__(drawn_over=1.0)
        self.need = torch.tensor([1.75] * 12 + [2.5, 3.0, 4.0, 4.0])

    def probabilities(self, index, content_delta, style_delta):
        scale = style_delta.reshape(-1).expand(len(index))
        after = self.before[index].clone()
        crossed = scale.abs() >= self.need[index % 16]
        after[:, 0] = torch.where(crossed, torch.where(scale > 0, 0.9, 0.1), after[:, 0])
        if self.region is not None and self.region > self.drawn_over:
            after[::4, 0] = self.before[index][::4, 0]
        after[:, 1] = self.before[index, 1] + 0.045 * scale.abs() * self.drift[self.region]
        return after


def test_the_strengths_are_searched_again_in_the_region_kept():
    from streamfx.edit.fit import _fit_attribute, _fit_region, _search_in_region

    positions = torch.cat([torch.zeros(16), torch.ones(16)])
    fake, direction, probe = GradedRegionCalibrator(), torch.zeros(1, 4, 4), FakeProbe(positions)
    fitted = _fit_attribute(fake, 0, direction, torch.ones(1), probe, target=0.8, per_side=16)
    assert fitted.measured.up.strength == 2.0 and fitted.crossing == 0.75  # 2.5 moves the others by 0.11
    low, measured = _fit_region(fake, 0, fitted, probe, per_side=16)
    assert low == 1.0 and measured.up.strength == 2.0
    searched, measured = _search_in_region(fake, 0, direction, torch.ones(1), probe, 0.8, 16, fitted, measured, low)
    assert measured is searched.measured and measured.sides == "+-"
    assert measured.up.strength == measured.down.strength == 2.5 and measured.crossing == 13 / 16
    assert abs(measured.up.entanglement - 0.045 * 2.5 * 0.8) < 1e-6  # within the bar in the region
    torch.testing.assert_close(searched.style, torch.tensor([2.5]))
