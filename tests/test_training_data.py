"""Domains, the held-out split, teacher pairs, the image cache and the resumable sampler on the shared data."""

from __future__ import annotations

from conftest import DATA, require
import pytest
import torch

from streamfx.errors import UsageError
from streamfx.training.data import (HOLDOUT_EVERY, DomainSampler, ImageCache, build_domains, celeba_holdout_by_sex,
                                    list_images, load_batch, read_celeba_attribute, split_holdout, with_teacher_pairs)


def test_holdout_is_disjoint_and_fixed():
    s2a = require(DATA / "selfie2anime")
    data = build_domains(s2a / "trainA", s2a / "trainB")
    assert not set(data.train_a) & set(data.held_a)
    assert len(data.held_a) == -(-3400 // HOLDOUT_EVERY) and len(data.train_a) + len(data.held_a) == 3400
    assert len(data.train_b) == 3400
    assert build_domains(s2a / "trainA", s2a / "trainB").held_a == data.held_a


def test_celeba_mixing_and_sex_split():
    celeba = require(DATA / "celebahq256")
    s2a = require(DATA / "selfie2anime")
    data = build_domains(s2a / "trainA", s2a / "trainB", celeba, 100)
    assert len(data.train_a) == 3400 - 170 + 100
    held = celeba_holdout_by_sex(celeba, 10)
    male = read_celeba_attribute(celeba, "Male")
    assert len(held["male"]) == len(held["female"]) == 10
    assert all(male[p.name] for p in held["male"]) and not any(male[p.name] for p in held["female"])
    assert not {p.name for p in held["male"]} & {p.name for p in data.train_a if p.parent.parent == celeba}


def test_sampler_resumes_and_covers_each_epoch():
    files = [f"f{i}" for i in range(10)]
    sampler = DomainSampler(files, seed=4)
    epoch = sampler.next_paths(10)
    assert sorted(epoch) == sorted(files)
    sampler.next_paths(3)
    state = sampler.state_dict()
    expected = sampler.next_paths(12)
    again = DomainSampler(files, seed=0)
    again.load_state_dict(state)
    assert again.next_paths(12) == expected


def test_teacher_pairs_match_by_name_and_never_hold_evaluation_faces(tmp_path):
    celeba = require(DATA / "celebahq256")
    teacher = require(DATA / "teacher_jpface" / "celebahq256")
    s2a = require(DATA / "selfie2anime")
    data = with_teacher_pairs(build_domains(s2a / "trainA", s2a / "trainB"), celeba, [teacher])
    _, held = split_holdout(list_images(celeba / "images"))
    held_names = {p.name for p in held}
    assert data.pairs and all(face.name == target.name for face, target in data.pairs)
    assert not {face.name for face, _ in data.pairs} & held_names
    assert len(data.pairs) == len([p for p in list_images(teacher) if p.name not in held_names])
    assert data.sources["teacher_pairs"] == {str(teacher): len(data.pairs)}
    with pytest.raises(UsageError):
        with_teacher_pairs(data, celeba, [tmp_path / "missing"])


def test_image_cache_gives_the_loaded_batch():
    files = list_images(require(DATA / "selfie2anime" / "trainB"))[:3]
    cache = ImageCache(64)
    assert torch.equal(cache.batch(files), load_batch(files, 64))
    assert torch.equal(cache.batch(files[::-1]), load_batch(files[::-1], 64))
