"""Face identity distance, to check that a face edit keeps the person: dlib's face-recognition ResNet.

The network maps a face to a 128-d descriptor; it was trained so that one person's faces lie within a ball of
radius 0.6, so two faces are the same person when their descriptors are less than `SAME_PERSON` apart (Euclidean).

Weights: `dlib_face_recognition_resnet_model_v1.dat` and `shape_predictor_5_face_landmarks.dat` (Davis King's
dlib-models), shipped in the PyPI package `face_recognition_models` 0.3.0, whose LICENSE file is CC0 1.0; dlib
runs them from the prebuilt `dlib-bin` wheel (Boost licence). Both install offline from the package registry,
nothing is downloaded at run time. The files are found with `importlib.util.find_spec`, which does not run the
package: its `__init__` imports `pkg_resources`, which recent setuptools no longer has.

Per image: rescale (see `working_image`), take the largest face found by dlib's frontal (HOG) detector, or the
whole image when it finds none, fit the 5 landmarks in it, cut dlib's own 150 px aligned chip (padding 0.25) and
run the network on that chip. The detector matters: on FFHQ-framed crops (face about half the width) landmarks
fitted in the whole-image rectangle are off and an 8 px shift alone moves descriptors by ~0.4; from the detected
box it moves them by ~0.05.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from pathlib import Path

import numpy as np

from streamfx.errors import ModelError, UsageError

SAME_PERSON = 0.6  # the descriptor distance below which dlib calls two faces the same person
DESCRIPTOR_SIZE = 128

WHEEL = "face_recognition_models"
RECOGNITION_FILE = Path("models") / "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_FILE = Path("models") / "shape_predictor_5_face_landmarks.dat"
INSTALL_HINT = "pip install dlib-bin face_recognition_models (or: pip install '.[dev]')"

# The HOG detector misses faces under ~80 px, so small crops are enlarged first; big photos are shrunk for speed.
MIN_SIDE = 256
MAX_SIDE = 640
CHIP_SIZE = 150  # the network's input size
CHIP_PADDING = 0.25  # dlib's default chip framing, as the network was trained


def model_paths() -> tuple[Path, Path]:
    """(recognition network, 5-point landmark model) inside the installed face_recognition_models package."""
    return wheel_files(RECOGNITION_FILE, LANDMARKS_FILE, what="face identity")


def wheel_files(*files: Path, what: str) -> tuple[Path, ...]:
    """`files` (relative paths) inside the installed face_recognition_models package; `what` names the measure
    that needs them in the error when they are missing."""
    spec = importlib.util.find_spec(WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"{what} weights not installed: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    paths = tuple(folder / f for f in files)
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ModelError(f"{what} weights missing from {folder} ({', '.join(missing)}): {INSTALL_HINT}")
    return paths


def import_dlib(what: str = "the face identity measure"):
    try:
        import dlib
    except ImportError as err:
        raise ModelError(f"{what} needs dlib: {INSTALL_HINT}") from err
    return dlib


class IdentityModel:
    """128-d identity descriptors of face images (dlib ResNet, CPU). dlib holds Python's lock while it works, so
    threads do not share the work; with `workers` > 1, batches are read by that many worker processes, each with
    its own copy of the models (started on the first batch; `close` ends them). Every face's descriptor is the
    same whichever process reads it."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise UsageError(f"identity workers must be 1 or more, not {workers}")
        recognition, landmarks = model_paths()
        self._dlib = import_dlib()
        self._detector = self._dlib.get_frontal_face_detector()
        self._landmarks = self._dlib.shape_predictor(str(landmarks))
        self._network = self._dlib.face_recognition_model_v1(str(recognition))
        self.workers = workers
        self._pool = None

    def descriptors(self, images: list[np.ndarray]) -> np.ndarray:
        """[N,128] float32 descriptors of uint8 RGB [H,W,3] face crops (one main face each, e.g. aligned crops)."""
        images = [checked_image(image) for image in images]
        out = np.zeros((len(images), DESCRIPTOR_SIZE), np.float32)
        if self.workers > 1 and len(images) > 1:
            out[:] = self._workers().map(_read_in_worker, images, chunksize=-(-len(images) // (2 * self.workers)))
            return out
        for i, image in enumerate(images):
            out[i] = self._descriptor(working_image(image))
        return out

    def close(self) -> None:
        """End the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> IdentityModel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _workers(self):
        if self._pool is None:
            # spawned, not forked: a fork of a process whose torch has started its thread pool can hang
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(self.workers, initializer=_start_worker)
        return self._pool

    def _descriptor(self, image: np.ndarray) -> np.ndarray:
        shape = self._landmarks(image, self._face_rect(image))
        chip = self._dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        return np.asarray(self._network.compute_face_descriptor(chip), np.float32)

    def _face_rect(self, image: np.ndarray):
        """The largest detected face; the whole image when none is found (e.g. a face the edit made unusual)."""
        found = self._detector(image, 0)
        if len(found) == 0:
            return self._dlib.rectangle(0, 0, image.shape[1] - 1, image.shape[0] - 1)
        return max(found, key=lambda rect: rect.area())


_WORKER: IdentityModel | None = None  # a worker process's own model (`IdentityModel.workers`)


def _start_worker() -> None:
    global _WORKER
    _WORKER = IdentityModel()


def _read_in_worker(image: np.ndarray) -> np.ndarray:
    return _WORKER._descriptor(working_image(image))


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distances between descriptors [N,128] and [N,128] (or one [128] against [N,128])."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)


def same_person_share(before: np.ndarray, after: np.ndarray) -> float:
    """Share of the faces whose descriptors before [N,128] and after [N,128] (an edit, say) are the same person."""
    return float((distance(before, after) < SAME_PERSON).mean())


def checked_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = getattr(image, "shape", type(image).__name__)
        raise UsageError(f"dlib's face measures need RGB uint8 [H,W,3] images, got {got}")
    return np.ascontiguousarray(image)  # dlib reads only C-contiguous arrays (a flipped view is not)


def working_image(image: np.ndarray) -> np.ndarray:
    """Scale so that the long side is within [MIN_SIDE, MAX_SIDE]."""
    import cv2

    long_side = max(image.shape[:2])
    scale = min(max(1.0, MIN_SIDE / long_side), MAX_SIDE / long_side)
    if scale == 1.0:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
