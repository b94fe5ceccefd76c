"""Shared fixtures: where the shared data lives, and GPU gating."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STREAMFX_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
REFERENCE = SHARED / "reference"
SAMPLES = REPO / "samples"


# CI sets this: there a missing ../shared is a broken set-up, not a user's fresh clone, and must fail loudly.
SHARED_REQUIRED = os.environ.get("STREAMFX_REQUIRE_SHARED") == "1"


def require(path: Path) -> Path:
    """Skip the calling test, with a reason, when a shared file is absent (fail instead under CI)."""
    if not path.exists():
        if SHARED_REQUIRED:
            pytest.fail(f"shared data missing: {path} (STREAMFX_REQUIRE_SHARED=1)")
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
def data_dir() -> Path:
    return require(DATA)


@pytest.fixture
def reference_dir() -> Path:
    return require(REFERENCE)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def no_default_model(tmp_path, monkeypatch):
    """A machine where no default model is installed: empty weight cache, no bundled file (passthrough runs)."""
    import streamfx.catalog

    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(streamfx.catalog, "PACKAGE_DATA", tmp_path / "no_package_data")
