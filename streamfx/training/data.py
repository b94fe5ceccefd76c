"""Training and evaluation images: the two domains, the held-out split, and a resumable sampler.

Domain A is faces (selfie2anime `trainA`, optionally with CelebA-HQ mixed in), domain B is anime (`trainB`).
selfie2anime ships no `testA`, so a fixed subset of `trainA` is held out for evaluation by a rule that depends
only on the sorted file names: every `HOLDOUT_EVERY`-th file. The same rule holds out CelebA-HQ faces.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from streamfx.errors import UsageError
from streamfx.pixels import to_model

log = logging.getLogger("streamfx.training")

# Same default as tests/conftest.py: ../shared beside the checkout, or $STREAMFX_SHARED.
DEFAULT_ROOT = Path(os.environ.get("STREAMFX_SHARED", Path(__file__).resolve().parents[2].parent / "shared")) / "data"
SELFIE2ANIME = DEFAULT_ROOT / "selfie2anime"
CELEBAHQ = DEFAULT_ROOT / "celebahq256"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
HOLDOUT_EVERY = 20  # 1 in 20 files (by sorted name) never enters training


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name (the order every split rule relies on)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(f"no images in {folder}")
    return files


def split_holdout(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """(train, held_out): every HOLDOUT_EVERY-th file of the sorted list is held out."""
    ordered = sorted(files, key=lambda p: p.name)
    held = [p for i, p in enumerate(ordered) if i % HOLDOUT_EVERY == 0]
    train = [p for i, p in enumerate(ordered) if i % HOLDOUT_EVERY != 0]
    return train, held


def read_celeba_attribute(root: Path, name: str = "Male") -> dict[str, bool]:
    """{file name: attribute is +1} from CelebAMask-HQ `attributes.txt`."""
    lines = (Path(root) / "attributes.txt").read_text().splitlines()
    names = lines[1].split()
    if name not in names:
        raise UsageError(f"attribute {name!r} not in {root}/attributes.txt")
    column = names.index(name)
    table = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == len(names) + 1:
            table[parts[0]] = parts[1 + column] == "1"
    return table


def load_image(path: Path, size: int) -> np.ndarray:
    """[size,size,3] uint8 RGB; squashed to square like the official preprocessing."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UsageError(f"cannot read image: {path}")
    if image.shape[0] != size or image.shape[1] != size:
        shrink = image.shape[0] > size
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_batch(paths: list[Path], size: int) -> torch.Tensor:
    # [B,3,size,size] float32 in [-1,1]
    return to_model(np.stack([load_image(p, size) for p in paths]))


class ImageCache:
    """Decoded, resized training images kept in memory (uint8), so each file is decoded once per run.

    At 128x128 the ~21,000 distinct images of the default run (faces, anime, two teachers' outputs) take about
    1 GB; the step then spends no time on JPEG decoding.
    """

    def __init__(self, size: int):
        self.size = size
        self._images: dict[Path, np.ndarray] = {}

    def batch(self, paths: list[Path]) -> torch.Tensor:
        # [B,3,size,size] float32 in [-1,1]
        return to_model(np.stack([self._image(p) for p in paths]))

    def _image(self, path: Path) -> np.ndarray:
        image = self._images.get(path)
        if image is None:
            image = self._images[path] = load_image(path, self.size)
        return image


@dataclass
class DomainSampler:
    """Endless, seeded, resumable order over one domain's files.

    Each epoch is a permutation drawn from (seed, epoch) alone, so the state to resume is two integers.
    """

    files: list[Path]
    seed: int
    epoch: int = 0
    position: int = 0

    def __post_init__(self) -> None:
        self._order = self._permutation(self.epoch)

    def _permutation(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(len(self.files), generator=generator).tolist()

    def next_paths(self, count: int) -> list[Path]:
        paths = []
        for _ in range(count):
            if self.position >= len(self._order):
                self.epoch += 1
                self.position = 0
                self._order = self._permutation(self.epoch)
            paths.append(self.files[self._order[self.position]])
            self.position += 1
        return paths

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position, "count": len(self.files)}

    def load_state_dict(self, state: dict) -> None:
        if state["count"] != len(self.files):
            raise UsageError(f"data changed since the checkpoint: {state['count']} files then, {len(self.files)} now")
        self.seed, self.epoch, self.position = state["seed"], state["epoch"], state["position"]
        self._order = self._permutation(self.epoch)


@dataclass(frozen=True)
class DomainData:
    """The files of both domains for one training run, and where they came from."""

    train_a: list[Path]
    train_b: list[Path]
    held_a: list[Path]
    sources: dict
    pairs: list[tuple[Path, Path]] = field(default_factory=list)  # (face, teacher output) for distillation

    def describe(self) -> str:
        text = f"A: {len(self.train_a)} train / {len(self.held_a)} held out, B: {len(self.train_b)} train"
        return text + (f", {len(self.pairs)} teacher pairs" if self.pairs else "")


def build_domains(
    dir_a: Path = SELFIE2ANIME / "trainA",
    dir_b: Path = SELFIE2ANIME / "trainB",
    celeba_dir: Path | None = None,
    celeba_count: int = 0,
) -> DomainData:
    """Domain A (faces, minus the held-out split, plus up to `celeba_count` CelebA-HQ faces) and domain B (anime).

    CelebA-HQ faces are taken in sorted order from the non-held-out part, so runs with the same count agree.
    """
    train_a, held_a = split_holdout(list_images(dir_a))
    train_b = list_images(dir_b)
    sources = {"A": str(dir_a), "B": str(dir_b), "holdout_every": HOLDOUT_EVERY}
    if celeba_count > 0:
        if celeba_dir is None:
            raise UsageError("--celeba-count needs --celeba-dir")
        celeba_train, _ = split_holdout(list_images(Path(celeba_dir) / "images"))
        train_a = train_a + celeba_train[:celeba_count]
        sources["A_extra"] = f"{celeba_dir} ({min(celeba_count, len(celeba_train))} faces)"
    return DomainData(train_a=train_a, train_b=train_b, held_a=held_a, sources=sources)


def celeba_holdout_by_sex(celeba_dir: Path, per_sex: int) -> dict[str, list[Path]]:
    """{"male": [...], "female": [...]}: the first `per_sex` held-out CelebA-HQ faces of each sex."""
    _, held = split_holdout(list_images(Path(celeba_dir) / "images"))
    male = read_celeba_attribute(celeba_dir, "Male")
    return {
        "male": [p for p in held if male.get(p.name, False)][:per_sex],
        "female": [p for p in held if p.name in male and not male[p.name]][:per_sex],
    }


def teacher_pairs(celeba_dir: Path, teacher_dirs: list[Path]) -> list[tuple[Path, Path]]:
    """(face, teacher output) for every non-held-out CelebA-HQ face that a teacher folder has an output for.

    Teacher folders hold outputs under the face's own file name (`scripts/label_teacher.py`). The held-out split
    is the same rule as everywhere, so evaluation faces are never distilled.
    """
    train, _ = split_holdout(list_images(Path(celeba_dir) / "images"))
    pairs = []
    for folder in teacher_dirs:
        if not Path(folder).is_dir():
            raise UsageError(f"teacher output folder not found: {folder}")
        found = [(face, Path(folder) / face.name) for face in train if (Path(folder) / face.name).is_file()]
        if not found:
            raise UsageError(f"no teacher outputs for CelebA-HQ training faces in {folder}")
        pairs += found
    return pairs


def with_teacher_pairs(data: DomainData, celeba_dir: Path, teacher_dirs: list[Path]) -> DomainData:
    """`data` plus the distillation pairs of `teacher_dirs` (recorded in its sources)."""
    pairs = teacher_pairs(celeba_dir, teacher_dirs)
    counts = {str(folder): sum(1 for _, t in pairs if t.parent == Path(folder)) for folder in teacher_dirs}
    return replace(data, pairs=pairs, sources={**data.sources, "teacher_pairs": counts})
