"""The evaluation's committed anime-vs-photo classifier tells held-out photos from held-out anime it never saw."""

from __future__ import annotations

import pytest

from conftest import DATA, require


@pytest.fixture(scope="module")
def classifier():
    from streamfx.training.classifier import ANIME_CLASSIFIER, load_classifier

    return load_classifier(ANIME_CLASSIFIER)


def test_saved_report_matches_its_training_split(classifier):
    _model, report = classifier
    assert report["test_faces"] == 170 and report["test_anime"] == 100
    assert report["test_accuracy"] >= 0.99


def test_held_out_photos_score_low_and_anime_high(classifier):
    from streamfx.training.data import list_images, load_batch, split_holdout

    root = require(DATA / "selfie2anime")
    _train, held_faces = split_holdout(list_images(root / "trainA"))
    model, _ = classifier
    faces = model.anime_probability(load_batch(held_faces[:64], 64))
    anime = model.anime_probability(load_batch(list_images(root / "testB")[:64], 64))
    assert float(faces.mean()) < 0.05 and float((faces >= 0.5).float().mean()) <= 0.03
    assert float(anime.mean()) > 0.85 and float((anime >= 0.5).float().mean()) >= 0.9
