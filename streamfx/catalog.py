"""The model catalog: known weight files, where they live, their hashes, licenses and sources.

Weights are looked up in the user cache folder (`~/.cache/streamfx`, or `$STREAMFX_HOME`) and, for bundled entries,
in the package's `data/` folder. Hashes measured after a download are recorded in `<cache>/hashes.json` so that
`streamfx models verify` can later detect a changed file even where no hash was published.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from streamfx.errors import ModelError
from streamfx.models.config import OFFICIAL, SLIM_128, GNRConfig

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
DEFAULT_MODEL = "gnr-slim"
HASHES_FILE = "hashes.json"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str  # file name inside the cache (or the package data folder when bundled)
    config: GNRConfig
    directions: tuple[str, ...]
    license: str
    source: str
    description: str
    sha256: str | None = None  # published/known hash of the file; None where nobody published one
    bundled: bool = False  # ships inside the package (streamfx/data/)
    drive_id: str | None = None  # public Google Drive id for `streamfx models download`
    size_bytes: int | None = None  # approximate, for messages

    def to_dict(self) -> dict:
        return {
            "name": self.name, "file": self.file, "sha256": self.sha256, "config": self.config.to_dict(),
            "directions": list(self.directions), "license": self.license, "source": self.source,
            "description": self.description, "bundled": self.bundled, "drive_id": self.drive_id,
        }


CATALOG: dict[str, ModelEntry] = {
    e.name: e
    for e in (
        ModelEntry(
            name="gnr-slim",
            file="gnr_slim.safetensors",
            config=SLIM_128,
            directions=("A2B", "B2A", "A2A"),
            license="MIT code; weights for non-commercial research use: trained on selfie2anime and CelebA-HQ "
                    "(research-only data) with AnimeGANv3 teachers (non-commercial terms); see docs/model-card.md",
            source="trained by the streamfx project on a 2-core CPU (scripts/train_gnr.py, teacher-guided GNR)",
            description="default: slim GNR at 128x128 with two teacher style anchors (jpface, cute) and a photo "
                        "autoencoder (A2A) for edits, fp16",
            bundled=True,
        ),
        ModelEntry(
            name="gnr-official",
            file="GNR_checkpoint.pt",
            config=OFFICIAL,
            directions=("A2B", "B2A"),
            license="none stated upstream (mchong6/GANsNRoses has no LICENSE file): research use, ask the authors",
            source="https://github.com/mchong6/GANsNRoses (Chong & Forsyth 2021), Google Drive release",
            description="official GANs N' Roses EMA generators, face->anime (A2B) and anime->face (B2A), fp32",
            drive_id="1IMIVke4WDaGayUa7vk_xVw1uqIHikGtC",
            size_bytes=317_000_000,
        ),
        ModelEntry(
            name="gnr-official-st",
            file="gnr_official.safetensors",
            config=OFFICIAL,
            directions=("A2B", "B2A"),
            license="as gnr-official",
            source="made locally from gnr-official by scripts/convert_weights.py",
            description="gnr-official converted to the streamfx safetensors format (loads without pickle)",
        ),
    )
}


def cache_dir() -> Path:
    """The user cache folder for weights ($STREAMFX_HOME or ~/.cache/streamfx); not created here."""
    home = os.environ.get("STREAMFX_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "streamfx"


def get_entry(name: str) -> ModelEntry:
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(CATALOG)}") from None


def entry_path(entry: ModelEntry) -> Path:
    """Where the entry's file is (or would be): the cache first, then the package data for bundled entries."""
    cached = cache_dir() / entry.file
    if entry.bundled and not cached.exists():
        return PACKAGE_DATA / entry.file
    return cached


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def recorded_hashes() -> dict[str, str]:
    path = cache_dir() / HASHES_FILE
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        raise ModelError(f"cannot read recorded hashes {path}; delete it and verify again") from None


def record_hash(file_name: str, sha256: str) -> None:
    hashes = recorded_hashes()
    hashes[file_name] = sha256
    path = cache_dir() / HASHES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(hashes, indent=2, sort_keys=True))
    os.replace(tmp, path)


def expected_hash(entry: ModelEntry) -> str | None:
    """The published hash, else the one recorded when this machine downloaded or converted the file."""
    return entry.sha256 or recorded_hashes().get(entry.file)


def verify_entry(entry: ModelEntry) -> tuple[Path, str, str | None]:
    """(path, actual sha256, expected sha256 or None). ModelError when absent or when the hash differs."""
    path = entry_path(entry)
    if not path.exists():
        raise ModelError(f"model {entry.name!r} is not present (expected {path})")
    actual = sha256_file(path)
    expected = expected_hash(entry)
    if expected is not None and actual != expected:
        raise ModelError(f"{path}: SHA-256 {actual} does not match the expected {expected}")
    return path, actual, expected
