"""Development results kept on disk for as long as what made them is unchanged (face crops of the CelebA photos,
the classifier's readings of them): each file holds its key (names, sizes, fingerprints) beside the values, and is
read back only for the same key."""

from __future__ import annotations

from pathlib import Path

import torch


def read_cached(path: Path | None, key: dict) -> dict | None:
    """The values stored at `path` under this very `key`; None where there is no such file or its key differs."""
    if path is None or not Path(path).is_file():
        return None
    saved = torch.load(path)
    return saved if all(saved.get(k) == v for k, v in key.items()) else None


def write_cached(path: Path | None, key: dict, values: dict) -> None:
    """Store `values` under `key` at `path` (nothing where `path` is None). Written beside and renamed into place,
    so a run stopped while saving leaves the old file or none, never a broken one."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save({**key, **values}, partial)
    partial.replace(path)
