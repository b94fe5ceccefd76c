"""The official GNR checkpoint layout (a fact of the format): every key and shape of one generator."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import torch

from streamfx.models.layers import blur_kernel

KEYS_FILE = "gnr_official_keys.tsv"


@lru_cache(maxsize=1)
def official_key_shapes() -> dict[str, tuple[int, ...]]:
    """{key: shape} for one official-width generator, in checkpoint order (130 tensors)."""
    text = resources.files("streamfx").joinpath("data", KEYS_FILE).read_text()
    shapes = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, _kind = line.split("\t")
        shapes[key] = tuple(int(n) for n in shape.split("x"))
    return shapes


def random_official_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the official keys and shapes, random values (blur kernels set to their constants)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in official_key_shapes().items():
        if key.endswith("kernel"):
            # Up-sampling paths (decoder) store the kernel times 4; the encoder's down-sampling blurs do not.
            sd[key] = blur_kernel(1.0 if key.startswith("encoder.") else 4.0)
        else:
            sd[key] = torch.randn(shape, generator=gen)
    return sd
