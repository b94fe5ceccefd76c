"""Still-image reading: colour layouts and depths, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import DATA, require
from streamfx.errors import MediaError
from streamfx.io.image import is_image_path, read_image


def test_rgba_png_from_shared_data():
    image = read_image(require(DATA / "photos" / "face_recognition_tests" / "32bit.png"))
    assert image.shape == (1200, 626, 3) and image.dtype == np.uint8


def test_layouts_and_depths(tmp_path):
    import cv2

    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200  # red in RGB order
    cv2.imwrite(str(tmp_path / "c.png"), rgb[:, :, ::-1])
    assert read_image(tmp_path / "c.png")[0, 0].tolist() == [200, 0, 0]
    cv2.imwrite(str(tmp_path / "g.png"), np.full((20, 30), 77, np.uint8))
    grey = read_image(tmp_path / "g.png")
    assert grey.shape == (20, 30, 3) and grey[0, 0].tolist() == [77, 77, 77]
    cv2.imwrite(str(tmp_path / "d.png"), np.full((20, 30, 3), 65535, np.uint16))
    assert read_image(tmp_path / "d.png").max() == 255
    bgra = np.dstack([rgb[:, :, ::-1], np.full((20, 30), 10, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [200, 0, 0]


def test_errors(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image at all")
    with pytest.raises(MediaError, match="not a readable image"):
        read_image(tmp_path / "bad.jpg")
    assert is_image_path("x/Photo.JPG") and not is_image_path("clip.mp4")
