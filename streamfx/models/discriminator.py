"""GANs N' Roses discriminators (training only): the image discriminator and the latent discriminator D_L; and
`PatchCritic`, a narrow patch-only discriminator for the photo decoder's optional adversarial term.

The image discriminator has three heads, as in GNR:
- patch: a logit map at 1/8 of the input size (32x32 for 256), judging local texture;
- global: a logit map at 1/32 of the input size (8x8), judging the whole face;
- diversity: per-sample features whose standard deviation over the batch is scored. A real batch holds B
  different anime faces; a fake batch holds one face translated with B styles, so this head pushes the
  generator to make the styles as varied as real anime is.
D_L separates N(0, I) samples (real) from encoded style codes (fake), so random codes at test time look like
the codes of real anime images. Layers use equalized learning rate (weights scaled by 1/sqrt(fan_in) at run
time), as the StyleGAN2 family does; these modules are trained, never exported.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Official GNR widths by feature-map resolution.
OFFICIAL_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    # bias per channel (dim 1), slope 0.2, gain sqrt(2) to keep the variance
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(shape), 0.2) * math.sqrt(2.0)


class EqualConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualLinear(nn.Module):
    def __init__(self, cin: int, cout: int, activate: bool = False, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = lr_mul / math.sqrt(cin)
        self.lr_mul, self.activate = lr_mul, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    """Depthwise [1,3,3,1]x[1,3,3,1]/64 low-pass before a stride-2 conv (anti-aliased downsampling)."""

    def __init__(self, channels: int, pad: int):
        super().__init__()
        taps = torch.tensor(BLUR_TAPS)
        kernel = torch.outer(taps, taps) / taps.sum() ** 2
        self.register_buffer("kernel", kernel.expand(channels, 1, 4, 4).clone(), persistent=False)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (self.pad,) * 4), self.kernel, groups=x.shape[1])


class ConvLayer(nn.Module):
    """[Blur] -> EqualConv2d -> [fused leaky ReLU]; stride 2 when downsampling."""

    def __init__(self, cin: int, cout: int, kernel: int, downsample: bool = False, activate: bool = True,
                 bias: bool = True):
        super().__init__()
        self.blur = Blur(cin, pad=(kernel + 1) // 2) if downsample else None
        padding = 0 if downsample else kernel // 2
        self.conv = EqualConv2d(cin, cout, kernel, 2 if downsample else 1, padding, bias=bias and not activate)
        self.act_bias = nn.Parameter(torch.zeros(cout)) if activate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.blur is not None:
            x = self.blur(x)
        x = self.conv(x)
        return fused_leaky_relu(x, self.act_bias) if self.act_bias is not None else x


class ResBlock(nn.Module):
    """Downsampling residual block: (conv2(conv1(x)) + skip(x)) / sqrt(2), half the resolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True)
        self.skip = ConvLayer(cin, cout, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


def _trunk(size: int, out_size: int, channels: dict[int, int]) -> nn.Sequential:
    """1x1 RGB stem at `size`, then ResBlocks halving down to `out_size`."""
    layers: list[nn.Module] = [ConvLayer(3, channels[size], 1)]
    resolution = size
    while resolution > out_size:
        layers.append(ResBlock(channels[resolution], channels[resolution // 2]))
        resolution //= 2
    return nn.Sequential(*layers)


def _patch_branch(size: int, channels: dict[int, int]) -> nn.Sequential:
    """The trunk down to 1/8 of `size`, then a 1x1 convolution to one logit per patch."""
    return nn.Sequential(*_trunk(size, size // 8, channels), ConvLayer(channels[size // 8], 1, 1, activate=False))


class Discriminator(nn.Module):
    """Image discriminator with patch, global and diversity heads. Input [B,3,S,S] in [-1,1].

    Returns [patch [B,1,S/8,S/8], global [B,1,S/32,S/32], diversity [B,1]] logits.
    """

    def __init__(self, size: int = 256, channels: dict[int, int] | None = None, diversity_dim: int = 128):
        super().__init__()
        channels = dict(channels or OFFICIAL_CHANNELS)
        smallest = min(channels)
        for resolution in (1, 2, 4):  # small inputs reach maps below the table; reuse its last width
            channels.setdefault(resolution, channels[smallest])
        if size < 64 or size & (size - 1):
            raise ValueError(f"discriminator size must be a power of two >= 64, got {size}")
        glob = size // 32
        self.patch_branch = _patch_branch(size, channels)
        self.global_branch = _trunk(size, glob, channels)
        self.global_head = ConvLayer(channels[glob], 1, 1, activate=False)
        low = glob // 2
        self.diversity_features = nn.Sequential(
            ConvLayer(channels[glob], channels[low], 3, downsample=True),
            nn.Flatten(),
            EqualLinear(channels[low] * low * low, diversity_dim, activate=True),
        )
        self.diversity_head = EqualLinear(diversity_dim, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        patch = self.patch_branch(x)
        features = self.global_branch(x)
        glob = self.global_head(features)
        per_sample = self.diversity_features(features)  # [B,128]
        # std over the batch, the same vector for every sample: one verdict on the batch's variety
        spread = torch.sqrt(per_sample.float().var(0, keepdim=True, unbiased=False) + 1e-8).to(per_sample.dtype)
        diversity = self.diversity_head(spread.expand(x.shape[0], -1))
        return [patch, glob, diversity]


class MinibatchStdLinear(nn.Module):
    """Appends the mean over features of the batch std as one extra input, then a linear layer (for D_L)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.linear = EqualLinear(cin + 1, cout, activate=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = torch.sqrt(x.float().var(0, unbiased=False) + 1e-8).mean().to(x.dtype)
        return self.linear(torch.cat([x, spread.expand(x.shape[0], 1)], dim=1))


class LatentDiscriminator(nn.Module):
    """D_L: style code [B,latent_dim] -> logit [B,1]; real = N(0,I) samples, fake = encoded styles."""

    def __init__(self, latent_dim: int = 8, hidden: int = 256):
        super().__init__()
        layers: list[nn.Module] = [EqualLinear(latent_dim, hidden, activate=True)]
        layers += [EqualLinear(hidden, hidden, activate=True) for _ in range(3)]
        layers += [MinibatchStdLinear(hidden, hidden), EqualLinear(hidden, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        return self.net(style)


class PatchCritic(nn.Module):
    """Patch discriminator alone: [B,3,S,S] in [-1,1] -> logits [B,1,S/8,S/8], each judging one patch's texture.

    The photo decoder's adversarial term uses it: a decoder trained on L1 + LPIPS alone draws the mean of what a
    patch could be (blur); a critic of local texture is what asks for detail. Narrow widths keep it cheap on a CPU:
    a forward and backward pass of 8 faces at 128 px takes 0.2 s on 2 cores (1.6 s at GNR's widths)."""

    WIDTHS = {256: 8, 128: 16, 64: 32, 32: 64, 16: 128, 8: 128}

    def __init__(self, size: int = 128, channels: dict[int, int] | None = None):
        super().__init__()
        channels = dict(channels or self.WIDTHS)
        if size < 64 or size & (size - 1) or size not in channels:
            raise ValueError(f"critic size must be a power of two >= 64 in {sorted(channels)}, got {size}")
        self.net = _patch_branch(size, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
