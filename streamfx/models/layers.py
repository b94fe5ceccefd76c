"""GANs N' Roses building blocks, in an export-friendly form.

Differences from the official StyleGAN2-style code (same function, see reference/gnr-spec.md §1.1, §6):
- Equalized learning rate: each parameter is stored either raw (the training form: the gain is applied at run time,
  as in the official code, so Adam's step size means the same thing for every layer) or with the gain folded in
  (the inference/export form: the stored tensor is the effective one and the graph has no multiplies on weights).
  `Equalized.set_folded` converts between the two in place.
- Modulated convolutions scale the activations by the style, run a fixed-weight convolution and multiply the output by
  the demodulation, instead of building per-sample weights for a grouped convolution.
- upfirdn2d blurs are depthwise convolutions with constant kernels; up-sampling weights are stored pre-transposed.

Every module that holds checkpoint tensors implements `official_tensors(prefix)`, which maps its tensors to and
from the official state-dict layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SQRT2 = math.sqrt(2.0)
LRELU_SLOPE = 0.2
DEMOD_EPS = 1e-8
BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)


@dataclass(frozen=True)
class OfficialTensor:
    """One tensor of the official checkpoint and how to move it into and out of our modules."""

    key: str
    shape: tuple[int, ...]
    read: Callable[[], Tensor]  # ours -> official layout (raw, equal-lr gain not applied)
    write: Callable[[Tensor], None]  # official layout -> ours


def blur_kernel(gain: float = 1.0) -> Tensor:
    """The [4,4] binomial kernel K = outer([1,3,3,1])/64 times `gain` (4 on up-sampling paths)."""
    taps = torch.tensor(BLUR_TAPS)
    return torch.outer(taps, taps) / taps.sum() ** 2 * gain


def fused_leaky_relu(x: Tensor, bias: Tensor) -> Tensor:
    """leaky_relu(x + bias, 0.2) * sqrt(2); the bias is per channel (dim 1)."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(shape), LRELU_SLOPE) * SQRT2


class Equalized(nn.Module):
    """Base for modules with equalized-learning-rate parameters (raw or folded, see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._gains: dict[str, float] = {}
        self.folded = False

    def _add_param(self, name: str, raw: Tensor, gain: float) -> None:
        self.register_parameter(name, nn.Parameter(raw))
        self._gains[name] = gain

    def effective(self, name: str, extra_gain: float = 1.0) -> Tensor:
        """The parameter as the forward pass uses it: equal-lr gain applied, times `extra_gain` (a constant the
        caller moves from the activations onto the weight, where it costs far fewer multiplies)."""
        param = getattr(self, name)
        gain = extra_gain if self.folded else extra_gain * self._gains[name]
        return param if gain == 1.0 else param * gain

    def set_folded(self, folded: bool) -> None:
        if folded == self.folded:
            return
        with torch.no_grad():
            for name, gain in self._gains.items():
                getattr(self, name).mul_(gain if folded else 1.0 / gain)
        self.folded = folded

    def read_raw(self, name: str) -> Tensor:
        param = getattr(self, name).detach()
        return param / self._gains[name] if self.folded else param.clone()

    def write_raw(self, name: str, raw: Tensor) -> None:
        param = getattr(self, name)
        with torch.no_grad():
            param.copy_(raw * self._gains[name] if self.folded else raw)

    def _entry(self, key: str, name: str, to_official=None, from_official=None) -> OfficialTensor:
        """An OfficialTensor for parameter `name`, with optional layout changes."""
        to_official = to_official or (lambda t: t)
        from_official = from_official or (lambda t: t)
        shape = tuple(to_official(getattr(self, name).detach()).shape)
        return OfficialTensor(
            key, shape, lambda: to_official(self.read_raw(name)), lambda t: self.write_raw(name, from_official(t))
        )


class Blur(nn.Module):
    """upfirdn2d(x, K*gain, pad=(p,p)) as a depthwise convolution with a constant kernel."""

    def __init__(self, channels: int, pad: int, gain: float = 1.0) -> None:
        super().__init__()
        self.pad = pad
        self.gain = gain
        kernel = blur_kernel(gain).expand(channels, 1, 4, 4).contiguous()
        self.register_buffer("weight", kernel, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, padding=self.pad, groups=x.shape[1])

    def official_kernel(self, key: str) -> OfficialTensor:
        return official_kernel_entry(key, self.gain)


class BlurUpsample(nn.Module):
    """upfirdn2d(x, K*4, up=2, pad=(2,1)) as a depthwise stride-2 transposed convolution: [B,C,H,W] -> [B,C,2H,2W]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        kernel = blur_kernel(4.0).expand(channels, 1, 4, 4).contiguous()
        self.register_buffer("weight", kernel, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(x, self.weight, stride=2, padding=1, groups=x.shape[1])


def official_kernel_entry(key: str, gain: float) -> OfficialTensor:
    """The official 4x4 `kernel` buffer: a constant of the architecture, checked on load."""
    expected = blur_kernel(gain)

    def write(tensor: Tensor) -> None:
        if not torch.allclose(tensor.float(), expected, atol=1e-6):
            raise ValueError(f"{key}: blur kernel differs from the expected binomial kernel")

    return OfficialTensor(key, (4, 4), lambda: expected.clone(), write)


class EqualLinear(Equalized):
    """x @ (W * lr_mul / sqrt(in))^T + b * lr_mul, optionally followed by the fused leaky ReLU."""

    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self._add_param("weight", torch.randn(cout, cin) / lr_mul, lr_mul / math.sqrt(cin))
        self._add_param("bias", torch.full((cout,), float(bias_init)), lr_mul)
        self.activate = activate

    def forward(self, x: Tensor) -> Tensor:
        if self.activate:
            return fused_leaky_relu(F.linear(x, self.effective("weight")), self.effective("bias"))
        return F.linear(x, self.effective("weight"), self.effective("bias"))

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        return [self._entry(f"{prefix}.weight", "weight"), self._entry(f"{prefix}.bias", "bias")]


class EqualConv2d(Equalized):
    """conv2d(x, W / sqrt(cin*k*k)), no bias (every GNR conv either has none or leaves it to the activation)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        fan_in = cin * kernel_size * kernel_size
        self._add_param("weight", torch.randn(cout, cin, kernel_size, kernel_size), 1.0 / math.sqrt(fan_in))
        self.stride = stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.effective("weight"), stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """The activation with its own per-channel bias (official key `...activate.bias` / `....N.bias`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return fused_leaky_relu(x, self.bias)

    def official_tensors(self, key: str) -> list[OfficialTensor]:
        def write(t: Tensor) -> None:
            with torch.no_grad():
                self.bias.copy_(t)

        return [OfficialTensor(key, tuple(self.bias.shape), lambda: self.bias.detach().clone(), write)]


class ConvLayer(nn.Module):
    """[Blur] -> EqualConv2d -> [FusedLeakyReLU], output times `out_gain`; stride 2 after the blur when down-sampling.

    leaky_relu is positively homogeneous, so the activation's sqrt(2) and `out_gain` are folded into the conv
    weight and bias and the bias add runs inside the convolution: one pass over the activations instead of four.
    """

    def __init__(
        self, cin: int, cout: int, kernel_size: int, downsample=False, activate=True, out_gain: float = 1.0
    ):
        super().__init__()
        self.out_gain = out_gain
        if downsample:
            # Pads (2,2) for 3x3 and (1,1) for 1x1 keep H -> H/2 exactly, as upfirdn2d did.
            self.blur = Blur(cin, pad=(4 - 2 + kernel_size - 1) // 2)
            self.conv = EqualConv2d(cin, cout, kernel_size, stride=2, padding=0)
        else:
            self.blur = None
            self.conv = EqualConv2d(cin, cout, kernel_size, padding=kernel_size // 2)
        self.act = FusedLeakyReLU(cout) if activate else None

    def forward(self, x: Tensor) -> Tensor:
        if self.blur is not None:
            x = self.blur(x)
        conv = self.conv
        if self.act is None:
            return F.conv2d(x, conv.effective("weight", self.out_gain), stride=conv.stride, padding=conv.padding)
        gain = SQRT2 * self.out_gain
        bias = self.act.bias * gain
        y = F.conv2d(x, conv.effective("weight", gain), bias, stride=conv.stride, padding=conv.padding)
        return F.leaky_relu(y, LRELU_SLOPE, inplace=True)

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        # The official layer is a Sequential: [Blur,] conv, [activation], numbered in that order.
        index = 0
        entries = []
        if self.blur is not None:
            entries.append(self.blur.official_kernel(f"{prefix}.0.kernel"))
            index = 1
        entries.append(self.conv._entry(f"{prefix}.{index}.weight", "weight"))
        if self.act is not None:
            entries += self.act.official_tensors(f"{prefix}.{index + 1}.bias")
        return entries


class ResBlock(nn.Module):
    """(conv2(conv1(x)) + skip(x)) / sqrt(2); the skip is the identity without down-sampling and cin == cout."""

    def __init__(self, cin: int, cout: int, downsample: bool = True) -> None:
        super().__init__()
        # The 1/sqrt(2) of the sum is folded into both branches' weights.
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=downsample, out_gain=1 / SQRT2)
        needs_skip = downsample or cin != cout
        self.skip = (
            ConvLayer(cin, cout, 1, downsample=downsample, activate=False, out_gain=1 / SQRT2) if needs_skip else None
        )

    def forward(self, x: Tensor) -> Tensor:
        residual = self.conv2(self.conv1(x))
        if self.skip is None:
            return torch.add(residual, x, alpha=1 / SQRT2)
        return residual + self.skip(x)

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        entries = self.conv1.official_tensors(f"{prefix}.conv1") + self.conv2.official_tensors(f"{prefix}.conv2")
        if self.skip is not None:
            entries += self.skip.official_tensors(f"{prefix}.skip")
        return entries
