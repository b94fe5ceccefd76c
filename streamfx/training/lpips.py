"""LPIPS (Zhang et al. 2018) with the shift-tolerant VGG16 of ST-LPIPS (Ghildyal & Liu 2022), our own module.

The weights ship in the PyPI wheel `stlpips-pytorch==0.0.2` (BSD-2) as `weights/vST0.0/vgg_shift_tolerant.pth`.
That package's code imports torchvision, which cannot load beside our CPU torch, so the file is located with
`importlib.util.find_spec` (which does not run the package) and its tensors are loaded into the network below.

The network, as the weight file's layer indices imply: VGG16 convolutions (3x3, padding 1, ReLU); every 2x2 max
pool is replaced by a stride-1 2x2 max pool followed by a [1,2,1]x[1,2,1]/16 blur with stride 2 on a reflect
padding of 2 (the anti-aliased downsampling that makes it shift tolerant). Features after relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3 are unit-normalized over channels, their squared differences weighted per channel by
the linear heads, averaged over space and summed over the five layers. Inputs in [-1,1] are first shifted and
scaled by the ImageNet statistics the heads were trained with (the `scaling_layer` tensors in the file).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streamfx.errors import ModelError

WHEEL = "stlpips_pytorch"
WEIGHT_FILE = Path("weights") / "vST0.0" / "vgg_shift_tolerant.pth"
INSTALL_HINT = "pip install --no-deps stlpips-pytorch==0.0.2"

# VGG16 blocks: (index of the first conv in the file, widths of the block's convs); a downsample precedes every
# block but the first (its max pool and blur take the two indices before the first conv).
VGG_BLOCKS = ((0, (64, 64)), (6, (128, 128)), (12, (256, 256, 256)), (20, (512, 512, 512)), (28, (512, 512, 512)))


def weight_path() -> Path:
    """The VGG LPIPS weight file inside the installed wheel (the package itself is never imported)."""
    spec = importlib.util.find_spec(WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"LPIPS weights not installed: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHT_FILE
    if not path.is_file():
        raise ModelError(f"LPIPS weight file missing from the {WHEEL} wheel: {path}")
    return path


class BlurDownsample(nn.Module):
    """Stride-1 2x2 max pool, then a binomial 3x3 blur with stride 2 on a reflect padding of 2."""

    def __init__(self, channels: int):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(taps, taps) / 16
        self.register_buffer("filt", kernel.expand(channels, 1, 3, 3).contiguous())

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(x, kernel_size=2, stride=1)
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt.to(x.dtype), stride=2, groups=x.shape[1])


class VGGFeatures(nn.Module):
    """The five LPIPS feature maps of the shift-tolerant VGG16."""

    def __init__(self):
        super().__init__()
        self.slices = nn.ModuleList()
        channels = 3
        for block, (first, widths) in enumerate(VGG_BLOCKS):
            layers: list[nn.Module] = [BlurDownsample(channels)] if block else []
            for width in widths:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
            self.slices.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for block in self.slices:
            x = block(x)
            features.append(x)
        return features


class LPIPS(nn.Module):
    """Perceptual distance of two [B,3,H,W] batches in [-1,1] -> [B]. Frozen: its own weights never train."""

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", torch.ones(1, 3, 1, 1))
        self.features = VGGFeatures()
        self.heads = nn.ModuleList(nn.Conv2d(widths[-1], 1, 1, bias=False) for _, widths in VGG_BLOCKS)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        """[B] distances. The target's features are computed without a graph: gradients flow through `x` only,
        which saves a third of the cost when the target is a fixed image (a teacher output, a real face)."""
        with torch.no_grad():
            target_features = self._unit_features(target)
        total = 0
        for fx, fy, head in zip(self._unit_features(x), target_features, self.heads):
            total = total + head((fx - fy).pow(2)).mean((1, 2, 3))
        return total

    def _unit_features(self, images: Tensor) -> list[Tensor]:
        scaled = (images - self.shift) / self.scale
        features = [f.float() for f in self.features(scaled)]
        return [f / (f.pow(2).sum(1, keepdim=True).sqrt() + 1e-10) for f in features]


def either_way(lpips, x: Tensor, target: Tensor, mirror: Tensor) -> Tensor:
    """[B] distances, the pairs where `mirror` [B] is set read left-right mirrored. The VGG's weights are four to seven
    times as strict on diagonal stripes running one way as on those running the other ('/' against '\\');
    a network trained on a loss read one way draws what the lenient diagonal forgives (docs/editing-log.md, session
    32). Mirroring a random half of each batch reads both diagonals alike, on average, at no extra cost."""
    flip = mirror.view(-1, 1, 1, 1)
    return lpips(torch.where(flip, x.flip(3), x), torch.where(flip, target.flip(3), target))


def _file_key_map() -> dict[str, str]:
    """Our parameter names -> the weight file's."""
    names = {"shift": "scaling_layer.shift", "scale": "scaling_layer.scale"}
    for block, (first, widths) in enumerate(VGG_BLOCKS):
        offset = 1 if block else 0  # the downsample module sits at position 0 of our block
        for i in range(len(widths)):
            ours = f"features.slices.{block}.{offset + 2 * i}"
            names[f"{ours}.weight"] = f"net.slice{block + 1}.{first + 2 * i}.weight"
            names[f"{ours}.bias"] = f"net.slice{block + 1}.{first + 2 * i}.bias"
        names[f"heads.{block}.weight"] = f"lin{block}.model.1.weight"
    return names


def load_lpips(path: Path | None = None) -> LPIPS:
    """The LPIPS network with the wheel's weights (or `path`), frozen, in eval mode."""
    source = torch.load(path or weight_path(), map_location="cpu", weights_only=True)
    model = LPIPS()
    state = model.state_dict()
    for ours, theirs in _file_key_map().items():
        if theirs not in source:
            raise ModelError(f"LPIPS weight file lacks {theirs}")
        if source[theirs].shape != state[ours].shape:
            raise ModelError(f"LPIPS weight {theirs}: shape {tuple(source[theirs].shape)}, "
                             f"expected {tuple(state[ours].shape)}")
        state[ours] = source[theirs]
    model.load_state_dict(state)
    return model
