"""Attribute edits with the bundled model and its bank: the sliders move the attribute on held-out faces, zero is
exactly nothing, videos keep their frames, timing and audio, and bad requests are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import DATA, SAMPLES, require
from streamfx.catalog import DEFAULT_MODEL, PACKAGE_DATA, get_entry
from streamfx.cli import main
from streamfx.face.blend import EDIT_MASK
from streamfx.edit.load import load_bank
from streamfx.edit.sliders import HEADLINE
from streamfx.io.decode import VideoReader
from streamfx.io.probe import probe
from streamfx.weights import load_weights

BUNDLED = PACKAGE_DATA / get_entry(DEFAULT_MODEL).file
CLASSIFIER = PACKAGE_DATA / "celeba_attributes.safetensors"


@pytest.fixture
def clean_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path / "home"))


def frames_of(path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [f.image for f in reader]


@pytest.fixture(scope="module")
def model():
    generators, meta = load_weights(BUNDLED)
    return generators, meta, load_bank(BUNDLED, meta)


def held_out_framed(count: int, size: int):
    """(the 40 names, the first `count` held-out photos and their crops as the pipeline frames faces)."""
    from streamfx.edit.framing import frame_photos
    from streamfx.training.attributes import read_attributes
    from streamfx.training.data import list_images, split_holdout

    root = require(DATA / "celebahq256")
    names, table = read_attributes(root)
    _train, held = split_holdout([p for p in list_images(root / "images") if p.name in table])
    return names, frame_photos(held[:count], size, size)


def test_the_bank_belongs_to_the_bundled_model_and_lists_every_attribute(model, capsys, clean_home):
    _generators, meta, bank = model
    assert len(bank.attributes) == 40 and bank.model_sha256 == meta["tensors_sha256"]
    assert main(["edit", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in bank.attributes)
    for k, name in enumerate(bank.attributes):  # an offered slider says whether it leaves faces already there alone
        if bank.reports[name].editable:
            line = next(row for row in out.splitlines() if row.split()[:1] == [name])
            assert ("one-sided" in line) == bool(bank.one_sided[k]), line
    for name, report in bank.reports.items():  # each side of a slider is offered on photos when it meets every bar
        for sign, crossing, entanglement in ((1, report.crossing_up, report.entanglement_up),
                                             (-1, report.crossing_down, report.entanglement_down)):
            identity = report.identity(sign)
            if report.strength and crossing is None:  # a side without calibration faces is never offered
                assert not report.offers(sign), (name, sign)
            elif report.strength:
                within = crossing >= 0.7 and entanglement <= 0.1
                assert (identity is not None) == within, (name, sign)  # dlib asked wherever the other bars are met
                on_photos = within and identity >= 0.9
                flicker = report.flicker(sign)
                assert (flicker is not None) == on_photos, (name, sign)  # run in video wherever photos pass
                seen = not report.withdrawal(sign)  # a side may be withdrawn on sight, with its reason
                assert report.offers(sign) == (on_photos and flicker <= 1.2 and seen), (name, sign)
            assert report.offers(sign) or report.side_reason(sign), f"{name} {sign:+d}: a refusal must say why"
        assert report.editable == bool(report.sides), name
    assert all(bank.reports[bank.resolve(s)[0]].strength > 0 for s in HEADLINE)  # every headline slider is fitted


def test_every_attribute_the_classifier_measures_has_a_fitted_direction_in_the_bundled_bank(model):
    bank = model[2]  # a refit of a few (`fit_edits.py --attributes ... --into`) must not leave the rest behind
    unfitted = [name for name, report in bank.reports.items()
                if not report.strength and "cannot measure" not in report.reason]
    assert not unfitted, unfitted
    assert bank.reports["Blurry"].reason.startswith("the classifier cannot measure it"), bank.reports["Blurry"]
    for k, name in enumerate(bank.attributes):  # slider -1 moves by the strength its side was measured at
        report = bank.reports[name]
        if report.strength:
            assert abs(float(bank.lowering[k]) * report.strength - report.strength_down) < 1e-4, name


def test_the_bundled_bank_was_judged_on_faces_the_fit_had_not_seen_aligned_and_pasted_as_video_faces(model):
    info = model[2].info  # every 10th training face calibrates, the other nine fit (`fit.split_calibration`)
    assert abs(info["train_faces"] - 9 * info["calibration_faces"]) <= 0.01 * info["train_faces"], info
    assert info["aligned"] == "as video faces", info  # `edit/framing.py`
    assert tuple(info["paste_mask"]) == EDIT_MASK, info  # calibrated under the mask `streamfx edit` pastes with
    assert len(info["video_check"]["clips"]) == 3 and info["video_check"]["bar"] == 1.2, info  # check_edit_video.py


def test_the_edit_command_follows_the_banks_verdict(model, tmp_path, capsys, clean_home):
    _generators, _meta, bank = model
    checked = []
    for slider in HEADLINE:
        attribute, sign = bank.resolve(slider)
        report = bank.reports[attribute]
        refused = [value for value in (1, -1) if not report.offers(sign * value)]
        if not refused:
            continue
        checked.append(slider)
        out = tmp_path / f"{slider}.mp4"
        code = main(["-q", "edit", str(SAMPLES / "astronaut.mp4"), "-o", str(out), f"--{slider.replace('_', '-')}",
                     str(refused[0]), "--duration", "0.2"])
        err = capsys.readouterr().err.strip()
        words = ("only on real faces" if report.editable else "is not offered on real faces" if report.strength
                 else "cannot be edited with this model")
        assert code == 2 and words in err and "\n" not in err and not out.exists(), err
    one_way = [s for s in HEADLINE if len(bank.reports[bank.resolve(s)[0]].sides) == 1]
    if one_way:  # the side a one-way slider offers runs
        attribute, sign = bank.resolve(one_way[0])
        value = "1" if bank.reports[attribute].offers(sign) else "-1"
        out = tmp_path / "one_way.mp4"
        assert main(["-q", "edit", str(SAMPLES / "astronaut.mp4"), "-o", str(out),
                     f"--{one_way[0].replace('_', '-')}", value, "--duration", "0.2"]) == 0 and out.exists()
    if not checked and not one_way:
        pytest.skip("the bundled bank offers every headline slider both ways: nothing to refuse")


def test_a_refused_side_runs_with_allow_refused_and_the_output_says_so(model, tmp_path, clean_home):
    _generators, _meta, bank = model
    attribute, sign = bank.resolve("beard")  # the sample has no beard: beard +1 has a face to change
    if bank.reports[attribute].offers(sign):
        pytest.skip("this bank offers beard +1 on photos: no refused side to run")
    lossless = ["--duration", "0.4", "--crf", "0", "--preset", "ultrafast"]
    plain, beard = tmp_path / "plain.mp4", tmp_path / "beard.mp4"
    assert main(["-q", "edit", str(SAMPLES / "astronaut.mp4"), "-o", str(plain), *lossless]) == 0
    assert main(["-q", "edit", str(SAMPLES / "astronaut.mp4"), "-o", str(beard), *lossless, "--beard", "1",
                 "--allow-refused"]) == 0
    a, b = frames_of(plain), frames_of(beard)
    assert len(a) == len(b) == 10
    assert np.mean([np.abs(x.astype(int) - y).mean() for x, y in zip(a, b)]) > 0.2  # her face changed
    assert "below the measured bars: beard +1 (crosses" in probe(beard).comment


def test_the_smile_direction_raises_the_classifiers_smile_on_held_out_photos(model):
    """Through the photo path as video faces take it (the face framed as the pipeline frames it, the model's photo
    decoder, the change put onto the face, then pasted back into the photo), more of the Smiling direction gives a
    higher Smiling probability on held-out faces that do not smile; slider 0 returns them exactly."""
    from streamfx.edit.framing import put_back
    from streamfx.edit.render import photo_decoder, photo_edit, photo_encoder
    from streamfx.training.attributes import load_classifier

    generators, meta, bank = model
    encoder = photo_encoder(generators)
    names, framed = held_out_framed(60, encoder.config.size)
    classifier, _ = load_classifier(CLASSIFIER)
    k = names.index("Smiling")
    decoder = photo_decoder(generators, meta, bank.info["bridge"])
    plain = framed.subset((classifier.probabilities(framed.photos)[:, k] < 0.5).nonzero().flatten()[:24])
    means = []
    for scale in (0.0, 0.5, 1.0):
        with torch.no_grad():
            edited = photo_edit(encoder, decoder, plain.crops, (scale * bank.content[k], scale * bank.style[k]))
        if scale == 0:
            assert torch.equal(edited, plain.crops)
        photos = put_back(plain.photos, plain.crops, edited, plain.affines)
        means.append(float(classifier.probabilities(photos)[:, k].mean()))
    assert means[0] < means[1] < means[2] and means[2] - means[0] > 0.05, means


def test_edit_video_keeps_frames_timing_and_audio_and_zero_is_bit_identical(tmp_path, clean_home):
    source = SAMPLES / "astronaut.mp4"
    plain, zero = tmp_path / "plain.mp4", tmp_path / "zero.mp4"
    # Lossless encoding, so the files hold exactly the frames the pipeline made: x264's lossy output can differ in
    # the last bits between two runs on the same frames (measured here), which says nothing about the edit.
    lossless = ["--duration", "1", "--crf", "0", "--preset", "ultrafast"]
    assert main(["-q", "edit", str(source), "-o", str(plain), *lossless]) == 0
    assert main(["-q", "edit", str(source), "-o", str(zero), *lossless, "--smile", "0", "--age", "0"]) == 0
    a, b = frames_of(plain), frames_of(zero)
    assert len(a) == len(b) == 25
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    with VideoReader(source, duration=1) as reader:
        source_frames = list(reader)
    # no edit: the faces are left as they were, so the output differs from the source only by the RGB -> YUV 4:2:0
    # round trip (measured 1.25 levels on average)
    assert np.mean([np.abs(x.astype(int) - f.image).mean() for x, f in zip(a, source_frames)]) < 1.5
    info = probe(zero)
    assert info.audio and abs(info.audio[0].duration - 1.0) < 0.06
    with VideoReader(zero) as reader:
        assert [round(f.time, 3) for f in reader] == [round(f.time, 3) for f in source_frames]
    # a slider at 0 beside one that edits adds nothing either (the path above never draws an edit at all); the
    # sample face takes glasses from eyeglasses +0.1 on, where a smile, which she has, would be one-sided away
    bangs, bangs_zero = tmp_path / "bangs.mp4", tmp_path / "bangs_zero.mp4"
    assert main(["-q", "edit", str(source), "-o", str(bangs), *lossless, "--bangs", "1"]) == 0
    assert main(["-q", "edit", str(source), "-o", str(bangs_zero), *lossless, "--bangs", "1", "--eyeglasses", "0"]) == 0
    c, d = frames_of(bangs), frames_of(bangs_zero)
    assert all(np.array_equal(x, y) for x, y in zip(c, d))
    assert np.mean([np.abs(x.astype(int) - y).mean() for x, y in zip(a, c)]) > 0.5  # bangs +1 did edit (2.1)


def test_anime_edit_zero_is_the_plain_anime_run_and_one_changes_it(tmp_path, clean_home):
    source = SAMPLES / "astronaut.mp4"
    plain, zero, edited = tmp_path / "plain.mp4", tmp_path / "zero.mp4", tmp_path / "edited.mp4"
    base = ["-q", "anime", str(source), "--duration", "0.4", "--engine", "torch", "--precision", "fp32", "--crf", "0",
            "--preset", "ultrafast"]  # lossless: see the test above
    assert main([*base, "-o", str(plain)]) == 0
    assert main([*base, "-o", str(zero), "--edit", "smile=0"]) == 0
    assert main([*base, "-o", str(edited), "--edit", "smile=1,bangs=0.5"]) == 0
    assert main([*base, "-o", str(tmp_path / "aged0.mp4"), "--edit", "smile=1,bangs=0.5,age=0"]) == 0
    a, b, c = frames_of(plain), frames_of(zero), frames_of(edited)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # a slider at 0 beside sliders that edit adds nothing to their edit
    assert all(np.array_equal(x, y) for x, y in zip(c, frames_of(tmp_path / "aged0.mp4")))
    assert np.mean([np.abs(x.astype(int) - y).mean() for x, y in zip(a, c)]) > 0.2


@pytest.mark.parametrize("argv, code, words", [
    (["--smile", "1.5"], 2, "from -1 to 1"),
    (["--edit", "wings=0.5"], 2, "unknown edit"),
    (["--edit", "smile"], 2, "NAME=VALUE"),
    (["--freeze", "male"], 2, "give a slider too"),
    (["--smile", "0.5", "--edit", "smile=0.2"], 2, "given twice"),
    (["--edit", "bangs=0.5,Bangs=0.2"], 2, "bangs is given twice"),
    (["--bangs", "0.5", "--freeze", "bangs"], 2, "both edited and frozen"),
])
def test_bad_edit_requests_are_one_line_errors(argv, code, words, tmp_path, capsys, clean_home):
    out = tmp_path / "out.mp4"
    assert main(["-q", "edit", str(SAMPLES / "astronaut.mp4"), "-o", str(out), *argv]) == code
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and not out.exists()


def test_a_model_without_a_bank_is_refused_by_name(tmp_path, capsys, clean_home):
    import shutil

    weights = tmp_path / "mine.safetensors"
    shutil.copy(BUNDLED, weights)
    assert main(["-q", "edit", str(SAMPLES / "astronaut.mp4"), "-o", str(tmp_path / "o.mp4"), "--weights",
                 str(weights), "--smile", "0.5"]) == 1
    assert "has no edit bank" in capsys.readouterr().err


EDIT_CLIPS = ["LivePortrait/d20.mp4", "video-retalking/face_1.mp4", "PC-AVS/Audio_Source_00015.mp4"]


@pytest.mark.parametrize("clip", EDIT_CLIPS)
def test_an_editable_slider_changes_the_faces_of_shared_clips_and_keeps_frames_timing_and_audio(model, clip, tmp_path,
                                                                                                 clean_home):
    """Sliders may be one-sided (a face that already has bangs gets nothing from +1), but every face gets the full
    edit one way or the other, so each frame's face changes under +1 or under -1 (a side the bank does not offer
    runs with --allow-refused)."""
    _generators, _meta, bank = model
    editable = [s for s in HEADLINE if bank.reports[bank.resolve(s)[0]].sides]
    if not editable:
        pytest.skip("no headline slider of the bundled model measures as editable")
    source = require(DATA / "videos" / clip)
    lossless = ["--duration", "1", "--crf", "0", "--preset", "ultrafast"]
    with VideoReader(source, duration=1) as reader:
        times = [round(f.time, 3) for f in reader]
    images = {}
    for value in (0, 1, -1):
        out = tmp_path / f"{value}.mp4"
        edit = [] if value == 0 else ["--edit", f"{editable[0]}={value}", "--allow-refused"]
        assert main(["-q", "edit", str(source), "-o", str(out), *lossless, *edit]) == 0
        with VideoReader(out) as reader:
            frames = list(reader)
        assert [round(f.time, 3) for f in frames] == times
        assert abs(probe(out).audio[0].duration - 1.0) < 0.06
        images[value] = [f.image for f in frames]
    # the largest per-pixel change is large even where the face is small in the frame
    changes = [[np.abs(a.astype(int) - b).max() for a, b in zip(images[v], images[0])] for v in (1, -1)]
    assert min(max(up, down) for up, down in zip(*changes)) > 40, changes
