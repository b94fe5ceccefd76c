"""The bundled default model: present, intact, within its size and format promises, and what a plain
`streamfx anime` uses, turning the sample's face into something else while keeping the layout of the face."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import SAMPLES
from streamfx.catalog import DEFAULT_MODEL, PACKAGE_DATA, get_entry
from streamfx.cli import main
from streamfx.io.decode import VideoReader
from streamfx.io.probe import probe
from streamfx.training.evaluate import grey_thumbnail_correlation
from streamfx.weights import load_weights, resolve_weights

BUNDLED = PACKAGE_DATA / get_entry(DEFAULT_MODEL).file


@pytest.fixture
def clean_home(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path / "home"))  # no cached model may shadow the bundled one


def test_bundled_file_is_the_default_and_keeps_its_promises(clean_home):
    assert resolve_weights(None) == BUNDLED
    assert BUNDLED.stat().st_size <= 25 * 1024 * 1024
    generators, meta = load_weights(BUNDLED)  # checks the tensor checksum
    assert set(generators) == set(get_entry(DEFAULT_MODEL).directions) == {"A2B", "B2A", "A2A"}
    # photo edits read A2A's own encoder, trained with its decoder (A2B's code holds too little of the photo); its
    # bank keeps the anime edits' directions in A2B's content space apart
    from streamfx.edit.load import load_bank
    from streamfx.edit.render import photo_encoder, same_encoder

    assert photo_encoder(generators) is generators["A2A"]
    assert meta["photo_decoder"]["encoder"] == "trained with the decoder"
    assert not same_encoder(generators["A2A"], generators["A2B"])
    bank = load_bank(BUNDLED, meta)
    assert bank.anime_content is not None and bank.anime_content.shape == bank.content.shape
    assert generators["A2B"].config == get_entry(DEFAULT_MODEL).config
    assert meta["dtype"] == "float16" and meta["steps"] > 0
    anchors = meta["style_anchors"]
    assert set(anchors) == {"jpface", "cute"} and all(len(z) == 8 for z in anchors.values())
    assert "non-commercial" in get_entry(DEFAULT_MODEL).license


def _face_crop(seconds: float, size: int) -> torch.Tensor:
    from streamfx.commands.styles import face_crop

    with VideoReader(SAMPLES / "astronaut.mp4", start=seconds, duration=0.1) as reader:
        image = next(iter(reader)).image
    crop = face_crop(image, size)
    return torch.from_numpy(crop).permute(2, 0, 1).float().unsqueeze(0) / 127.5 - 1  # [1,3,S,S]


def test_seeds_and_anchors_stylize_and_keep_the_face_layout(clean_home):
    from streamfx.styles import style_from_seed

    generators, meta = load_weights(BUNDLED)
    G = generators["A2B"]
    face = _face_crop(1.0, G.config.size)
    z = torch.cat([style_from_seed(s) for s in range(8)] + [torch.tensor([a]) for a in meta["style_anchors"].values()])
    with torch.inference_mode():
        out = G.decode(G.encode(face)[0].expand(len(z), -1, -1, -1), G.mapping(z)).clamp(-1, 1)
    changed = (out - face).abs().mean((1, 2, 3)) / 2  # on [0,1]
    assert float(changed.min()) > 0.05, "every style must change the face"
    assert float(grey_thumbnail_correlation(out, face.expand_as(out)).min()) > 0, "layout kept, never inverted"
    pairs = [(i, j) for i in range(8) for j in range(i + 1, 8)]
    diversity = np.mean([float((out[i] - out[j]).abs().mean() / 2) for i, j in pairs])
    assert diversity > 0.03, "seeds must give different looks"


def test_plain_anime_command_uses_the_bundled_model(clean_home, tmp_path):
    out = tmp_path / "out.mp4"
    assert main(["-q", "anime", str(SAMPLES / "astronaut.mp4"), "-o", str(out), "--duration", "1",
                 "--style-seed", "7"]) == 0
    info = probe(out)
    assert info.frame_count == 25 and "engine none" not in info.comment
    with VideoReader(SAMPLES / "astronaut.mp4", duration=1) as src, VideoReader(out) as dst:
        diffs = [np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).mean() for a, b in zip(src, dst)]
    assert min(diffs) > 3, "the face must be restyled in every frame"


def test_no_style_option_gives_the_models_default_look(clean_home, tmp_path):
    """With no style asked for, a run uses the model's jpface anchor (its teacher's look), says so in the file,
    and draws exactly what `--style-anchor jpface` draws; seeds and models without that anchor are unchanged."""
    from streamfx.look import DEFAULT_ANCHOR, DEFAULT_SEED, Look

    plain, anchored = tmp_path / "plain.mp4", tmp_path / "anchored.mp4"
    common = ["-q", "anime", str(SAMPLES / "astronaut.mp4"), "--duration", "0.4", "--crf", "0", "--preset", "ultrafast"]
    assert main([*common, "-o", str(plain)]) == 0
    assert main([*common, "-o", str(anchored), "--style-anchor", DEFAULT_ANCHOR]) == 0
    assert "style anchor jpface;" in probe(plain).comment
    with VideoReader(plain) as a, VideoReader(anchored) as b:
        assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    meta = {"style_anchors": {DEFAULT_ANCHOR: [0.0] * 8}}
    assert Look().for_model(meta).anchor == DEFAULT_ANCHOR
    assert Look(seed=3).for_model(meta) == Look(seed=3) and Look(grid=4).for_model(meta) == Look(grid=4)
    assert Look().for_model({"style_anchors": {"cute": [0.0] * 8}}).first_seed == DEFAULT_SEED
    assert Look().for_model({}).anchor is None
