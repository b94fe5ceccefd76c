"""Style-modulated layers of the GNR decoder, in the static-weight form (reference/gnr-spec.md §6.3).

y = conv(x * s, W) * d with d = rsqrt(s^2 @ (sum_k W^2)^T + 1e-8): the same function as convolving with the
per-sample weight W * s / ||W * s||, but the convolution weight is a constant, so the graph exports with a dynamic
batch and TensorRT accepts it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streamfx.models.layers import (
    DEMOD_EPS,
    LRELU_SLOPE,
    SQRT2,
    Blur,
    BlurUpsample,
    EqualLinear,
    Equalized,
    FusedLeakyReLU,
    OfficialTensor,
    official_kernel_entry,
)


class ModulatedConv2d(Equalized):
    """Modulated (and optionally demodulated) k x k convolution; `upsample` doubles H and W."""

    def __init__(self, cin: int, cout: int, kernel_size: int, style_dim: int, demodulate=True, upsample=False):
        super().__init__()
        self.modulation = EqualLinear(style_dim, cin, bias_init=1.0)
        gain = 1.0 / math.sqrt(cin * kernel_size * kernel_size)
        # Up-sampling layers keep the weight in conv_transpose2d layout [cin,cout,k,k] so no transpose runs per call.
        shape = (cin, cout) if upsample else (cout, cin)
        self._add_param("weight", torch.randn(*shape, kernel_size, kernel_size), gain)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel_size // 2
        self.blur = Blur(cout, pad=1, gain=4.0) if upsample else None

    def demodulation(self, s: Tensor, weight: Tensor) -> Tensor:
        """[B,cin] styles -> [B,cout] factors 1/||W * s|| over (cin, kh, kw)."""
        weight_sq = weight.pow(2).sum(dim=(2, 3))  # [cout,cin] ([cin,cout] when up-sampling)
        if self.upsample:
            weight_sq = weight_sq.t()
        return torch.rsqrt(s.pow(2) @ weight_sq.t() + DEMOD_EPS)

    def modulated(self, x: Tensor, w: Tensor) -> tuple[Tensor, Tensor | None]:
        """(conv(x * s, W) [B,cout,H',W'], demodulation [B,cout] or None): callers fuse the final multiply."""
        s = self.modulation(w)  # [B,cin]
        weight = self.effective("weight")
        x = x * s[:, :, None, None]
        if self.upsample:
            x = F.conv_transpose2d(x, weight, stride=2)  # [B,cout,2H+1,2W+1]
            x = self.blur(x)  # [B,cout,2H,2W]
        else:
            x = F.conv2d(x, weight, padding=self.padding)
        return x, (self.demodulation(s, weight) if self.demodulate else None)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        y, d = self.modulated(x, w)
        return y if d is None else y * d[:, :, None, None]

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        # Official weight: [1,cout,cin,k,k]; ours [cout,cin,k,k] or, up-sampling, [cin,cout,k,k].
        if self.upsample:
            entry = self._entry(
                f"{prefix}.weight", "weight", lambda t: t.transpose(0, 1).unsqueeze(0), lambda t: t[0].transpose(0, 1)
            )
        else:
            entry = self._entry(f"{prefix}.weight", "weight", lambda t: t.unsqueeze(0), lambda t: t[0])
        entries = [entry]
        if self.blur is not None:
            entries.append(self.blur.official_kernel(f"{prefix}.blur.kernel"))
        return entries + self.modulation.official_tensors(f"{prefix}.modulation")


class StyledConv(nn.Module):
    """ModulatedConv2d (demodulated) + fused leaky ReLU, output times `out_gain`. No noise injection: GNR has none.

    Demodulation, bias, sqrt(2) and `out_gain` go into one addcmul (leaky_relu is positively homogeneous).
    """

    def __init__(self, cin, cout, kernel_size, style_dim, upsample=False, out_gain: float = 1.0) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, kernel_size, style_dim, upsample=upsample)
        self.activate = FusedLeakyReLU(cout)
        self.out_gain = out_gain

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        y, d = self.conv.modulated(x, w)
        gain = SQRT2 * self.out_gain
        bias = (self.activate.bias * gain)[None, :, None, None]
        y = torch.addcmul(bias, y, (d * gain)[:, :, None, None])
        return F.leaky_relu(y, LRELU_SLOPE, inplace=True)

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        return self.conv.official_tensors(f"{prefix}.conv") + self.activate.official_tensors(f"{prefix}.activate.bias")


class StyledResBlock(nn.Module):
    """(conv2(conv1(x, w), w) + x) / sqrt(2): the decoder's AdaIN bottleneck at content resolution."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.conv1 = StyledConv(channels, channels, 3, style_dim)
        self.conv2 = StyledConv(channels, channels, 3, style_dim, out_gain=1 / SQRT2)  # the sum's 1/sqrt(2)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return torch.add(self.conv2(self.conv1(x, w), w), x, alpha=1 / SQRT2)

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        return self.conv1.official_tensors(f"{prefix}.conv1") + self.conv2.official_tensors(f"{prefix}.conv2")


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation) + bias, plus the up-sampled RGB skip from the previous scale."""

    def __init__(self, cin: int, style_dim: int, upsample: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.upsample = BlurUpsample(3) if upsample else None

    def forward(self, x: Tensor, w: Tensor, skip: Tensor | None = None) -> Tensor:
        rgb = self.conv(x, w) + self.bias
        if skip is not None:
            rgb = rgb + self.upsample(skip)
        return rgb

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        def write(t: Tensor) -> None:
            with torch.no_grad():
                self.bias.copy_(t)

        entries = [OfficialTensor(f"{prefix}.bias", (1, 3, 1, 1), lambda: self.bias.detach().clone(), write)]
        if self.upsample is not None:
            entries.append(official_kernel_entry(f"{prefix}.upsample.kernel", 4.0))
        return entries + self.conv.official_tensors(f"{prefix}.conv")
