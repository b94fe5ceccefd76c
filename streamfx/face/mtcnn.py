"""The three MTCNN networks (Zhang et al. 2016): P-Net proposes, R-Net refines, O-Net adds 5 landmarks.

Parameter names match the weight files shipped in the facenet-pytorch wheel
(`facenet_pytorch/data/{pnet,rnet,onet}.pt`), which we locate without importing that package
(its `__init__` imports torchvision). Only the weights are used; the cascade is ours (`detect.py`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from streamfx.errors import ModelError

INSTALL_HINT = "pip install --no-deps facenet-pytorch==2.6.0"

# Input normalization the weights were trained with: (x - 127.5) / 128.
PIXEL_MEAN = 127.5
PIXEL_SCALE = 0.0078125


def _conv_prelu(cin: int, cout: int, k: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(cin, cout, kernel_size=k), nn.PReLU(cout)


def _face_probability(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    # Two-way softmax; index 1 is "face".
    return torch.softmax(logits, dim=dim).select(dim, 1)


def _flatten_hw_swapped(x: torch.Tensor) -> torch.Tensor:
    # The weights were converted from a column-major (MATLAB/Caffe) model: dense layers expect the
    # feature map flattened in (W, H, C) order.
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class PNet(nn.Module):
    """Proposal network: fully convolutional, one 12x12 window per output cell (stride 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv_prelu(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv_prelu(10, 16, 3)
        self.conv3, self.prelu3 = _conv_prelu(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # [B,3,H,W] normalized -> prob [B,H',W'], box offsets [B,4,H',W']
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return _face_probability(self.conv4_1(x)), self.conv4_2(x)


class RNet(nn.Module):
    """Refinement network on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv_prelu(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv_prelu(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv_prelu(48, 64, 2)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # [N,3,24,24] -> prob [N], box offsets [N,4]
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_flatten_hw_swapped(self.prelu3(self.conv3(x)))))
        return _face_probability(self.dense5_1(x)), self.dense5_2(x)


class ONet(nn.Module):
    """Output network on 48x48 crops: score, box offsets and 5 landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv_prelu(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv_prelu(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv_prelu(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _conv_prelu(64, 128, 2)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # [N,3,48,48] -> prob [N], box offsets [N,4], landmarks [N,10] (5 x then 5 y, relative to the box)
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten_hw_swapped(self.prelu4(self.conv4(x)))))
        return _face_probability(self.dense6_1(x)), self.dense6_2(x), self.dense6_3(x)


def weights_dir() -> Path:
    """Folder holding pnet.pt, rnet.pt, onet.pt inside the installed facenet-pytorch wheel."""
    spec = importlib.util.find_spec("facenet_pytorch")  # finds the package without executing it
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"MTCNN weights need the facenet-pytorch package: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [n for n in ("pnet.pt", "rnet.pt", "onet.pt") if not (folder / n).is_file()]
    if missing:
        raise ModelError(f"MTCNN weights missing from {folder} ({', '.join(missing)}): reinstall with {INSTALL_HINT}")
    return folder


def load_mtcnn(device: str | torch.device = "cpu") -> tuple[PNet, RNet, ONet]:
    """The three networks with the shipped weights, in eval mode on `device`."""
    folder = weights_dir()
    nets = (PNet(), RNet(), ONet())
    for net, name in zip(nets, ("pnet", "rnet", "onet")):
        path = folder / f"{name}.pt"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except Exception as error:  # corrupt file, wrong keys or shapes
            raise ModelError(f"cannot load MTCNN weights {path}: {str(error).splitlines()[0]}") from error
        net.to(device).eval().requires_grad_(False)
    return nets
