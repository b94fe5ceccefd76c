"""Shared fixtures: where the shared data lives, GPU gating, and a tiny face autoencoder for effect tests."""

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


def require_model(load, what: str):
    """`load()`: a development measure's model (dlib's), or skip the calling test, with the reason, when its wheel
    is not installed (fail instead under CI, which must run `what`)."""
    from streamfx.errors import ModelError

    try:
        return load()
    except ModelError as err:
        if SHARED_REQUIRED:
            pytest.fail(f"{err} (STREAMFX_REQUIRE_SHARED=1: CI must run {what})")
        pytest.skip(str(err))


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


def tiny_photo_autoencoder():
    """(A2A, content shape [C,H,W]): a tiny random 64-px generator dressed as the engines the photo edit effect
    runs on (torch, cpu), seeded so each test gets the same one."""
    import torch

    from streamfx.models.gnr import Generator, GNRConfig

    torch.manual_seed(0)
    config = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)
    a2a = Generator(config).fold_equalized_lr().eval()
    a2a.engine, a2a.device, a2a.description = "torch", "cpu", "torch fp32"
    content, _ = a2a.encode(torch.zeros(1, 3, 64, 64))
    return a2a, tuple(content.shape[1:])
