"""Still images: read any common format as upright RGB uint8."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamfx.errors import MediaError

# Extensions treated as still images by commands that accept an image or a video.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".jp2", ".exr"}
)


def is_image_path(path: str | Path) -> bool:
    """True when the file name says it is a still image (by extension)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path) -> np.ndarray:
    """Read a still image as [H,W,3] uint8 RGB.

    Grey is expanded to three channels, alpha is dropped (the pixels keep their colour), 16-bit and float
    images are scaled to 8 bits, and EXIF orientation is applied.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"image not found: {path}")
    try:
        data = np.fromfile(path, dtype=np.uint8)  # imdecode also handles non-ASCII paths
    except OSError as error:
        raise MediaError(f"cannot read {path}: {error.strerror or error}") from error
    # ANYDEPTH keeps 16-bit/float; ANYCOLOR keeps grey as one channel. Neither skips EXIF orientation.
    image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if data.size else None
    if image is None:
        raise MediaError(f"not a readable image: {path}")
    return to_rgb8(image, bgr=True)


def to_rgb8(image: np.ndarray, *, bgr: bool = False) -> np.ndarray:
    """Convert an [H,W], [H,W,1], [H,W,3] or [H,W,4] array of any depth to [H,W,3] uint8 RGB."""
    import cv2

    image = _to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise MediaError(f"unsupported image layout {image.shape}: expected grey, RGB or RGBA")
    image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1] if bgr else image)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        # 65535 / 257 = 255 exactly, so full scale maps to full scale.
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return (np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise MediaError(f"unsupported image sample type {image.dtype}")


def write_image(path: Path, image: np.ndarray) -> None:
    """Write [H,W,3] uint8 RGB in the format the extension names, atomically (temp name, then rename)."""
    import cv2

    from streamfx.io.paths import atomic_output

    ok, data = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:
        raise MediaError(f"{path}: cannot encode an image of this type")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())
