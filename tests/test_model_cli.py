"""`streamfx models` and `streamfx styles` end to end on a tiny model (no network, no default weights needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from streamfx.cli import main
from streamfx.models.gnr import Generator, GNRConfig
from streamfx.weights import save_weights

TINY = GNRConfig(channels=((4, 16), (8, 16), (16, 16), (32, 8), (64, 8), (128, 4), (256, 4)), style_dim=16)


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_weights(path, {"A2B": Generator(TINY), "B2A": Generator(TINY)}, {"training": {"run": "test"}})
    return path


def test_models_list_info_verify(tiny_weights, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "gnr-official" in out and "gnr-slim" in out and "missing" in out
    assert main(["models", "info", str(tiny_weights)]) == 0
    assert '"run": "test"' in capsys.readouterr().out
    assert main(["models", "verify", str(tiny_weights)]) == 0
    assert "OK (A2B, B2A)" in capsys.readouterr().out
    assert main(["models", "verify", "gnr-official"]) == 1  # not downloaded: a clear error, exit 1
    assert "not present" in capsys.readouterr().err


def test_styles_gallery(tiny_weights, tmp_path):
    face = np.full((300, 240, 3), 128, np.uint8)
    cv2.circle(face, (120, 150), 80, (200, 160, 140), -1)
    cv2.imwrite(str(tmp_path / "face.png"), face)
    out = tmp_path / "grid.png"
    args = ["styles", str(tmp_path / "face.png"), "--seeds", "1-5", "-o", str(out), "--weights", str(tiny_weights)]
    assert main(args + ["--no-detect"]) == 0
    grid = cv2.imread(str(out))
    assert grid.shape == (2 * 256, 3 * 256, 3)  # input + 5 styles, 3 per row
    tiles = [grid[r * 256 : (r + 1) * 256, c * 256 : (c + 1) * 256] for r in range(2) for c in range(3)]
    # Different seeds give different pictures (labels aside).
    assert np.abs(tiles[1][:200].astype(int) - tiles[2][:200].astype(int)).mean() > 1.0
    assert main(["styles", str(tmp_path / "face.png"), "--seeds", "9-1", "--weights", str(tiny_weights)]) == 2


def test_models_verify_and_download_refuse_a_file_whose_hash_does_not_match(tiny_weights, tmp_path, capsys,
                                                                             monkeypatch):
    """A catalog file replaced by other (still loadable) weights: only the SHA-256 can tell, and verify must."""
    import dataclasses
    import shutil

    from streamfx.catalog import CATALOG, cache_dir, record_hash, sha256_file

    entry = CATALOG["gnr-official-st"]  # no published hash: the one recorded at download/convert time counts
    cached = cache_dir() / entry.file
    cached.parent.mkdir(parents=True)
    shutil.copyfile(tiny_weights, cached)
    good = sha256_file(cached)
    record_hash(entry.file, good)
    assert main(["models", "verify", entry.name]) == 0
    assert f"sha256 {good} (matches" in capsys.readouterr().out

    torch.manual_seed(1)  # same layout, other numbers: loads fine, hash differs
    save_weights(cached, {"A2B": Generator(TINY), "B2A": Generator(TINY)}, {"training": {"run": "swapped"}})
    bad = sha256_file(cached)
    assert bad != good
    assert main(["models", "verify", entry.name]) == 1
    err = capsys.readouterr().err
    assert f"SHA-256 {bad} does not match the expected {good}" in err

    # A published hash is enforced too, by verify and by download's check of a file already present.
    monkeypatch.setitem(CATALOG, entry.name, dataclasses.replace(entry, sha256=good))
    record_hash(entry.file, bad)  # a recorded hash never overrides the published one
    assert main(["models", "verify", entry.name]) == 1
    assert "does not match" in capsys.readouterr().err
    assert main(["models", "download", entry.name]) == 1
    assert f"differs from the published {good}" in capsys.readouterr().err
