"""The GANs N' Roses generator: encoder (content + style), mapping network, style-modulated decoder.

Same function as the official `model.py` Generator (reference/gnr-spec.md §1), with configurable widths and an
export-friendly layer form (see `streamfx.models.layers`). A video computes `w = mapping(z)` once and then runs
`decode(encode(frame)[0], w)` per frame.

New models are built in the training form (equal-lr gains applied at run time). The weight loaders return
inference-form models (`fold_equalized_lr()`: gains folded into the stored tensors). Both compute the same function.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from streamfx.errors import ModelError
from streamfx.models.config import OFFICIAL, OFFICIAL_CHANNELS, SLIM, SLIM_128, GNRConfig  # noqa: F401 (re-exported)
from streamfx.models.layers import ConvLayer, EqualLinear, Equalized, OfficialTensor, ResBlock
from streamfx.models.modulated import StyledConv, StyledResBlock, ToRGB

class GNREncoder(nn.Module):
    """[B,3,S,S] in [-1,1] -> content [B,C,S/2^num_down,...] and style [B,latent_dim]."""

    def __init__(self, cfg: GNRConfig) -> None:
        super().__init__()
        res = cfg.size
        stem = [ConvLayer(3, cfg.width(res), 1)]
        for _ in range(cfg.num_down):
            stem.append(ResBlock(cfg.width(res), cfg.width(res // 2)))
            res //= 2
        c = cfg.width(res)
        stem += [ResBlock(c, c, downsample=False) for _ in range(cfg.n_res)]
        self.stem = nn.Sequential(*stem)
        self.content = nn.Sequential(ConvLayer(c, c, 1), ConvLayer(c, c, 1))
        style = []
        while res > 4:
            style.append(ConvLayer(cfg.width(res), cfg.width(res // 2), 3, downsample=True))
            res //= 2
        self.style_convs = nn.Sequential(*style)
        self.style_fc = EqualLinear(cfg.width(4) * 16, cfg.width(4), activate=True)
        self.style_out = EqualLinear(cfg.width(4), cfg.latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.stem(x)  # [B,C,16,16]
        content = self.content(h)
        style = self.style_convs(h).flatten(1)  # [B,C4*16]
        style = self.style_out(self.style_fc(style))  # [B,latent_dim]
        return content, style

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        entries = []
        for i, layer in enumerate(self.stem):
            entries += layer.official_tensors(f"{prefix}.stem.{i}")
        for i, layer in enumerate(self.content):
            entries += layer.official_tensors(f"{prefix}.content.{i}")
        n = len(self.style_convs)
        for i, layer in enumerate(self.style_convs):
            entries += layer.official_tensors(f"{prefix}.style.{i}")
        # Official index n is the Flatten (no tensors).
        entries += self.style_fc.official_tensors(f"{prefix}.style.{n + 1}")
        return entries + self.style_out.official_tensors(f"{prefix}.style.{n + 2}")


class MappingNetwork(nn.Module):
    """z [B,latent_dim] -> w [B,style_dim]: n_mlp equal-lr linears (lr_mul 0.01), leaky ReLU on every one, no PixelNorm."""

    def __init__(self, cfg: GNRConfig) -> None:
        super().__init__()
        dims = [cfg.latent_dim] + [cfg.style_dim] * cfg.n_mlp
        self.layers = nn.Sequential(
            *(EqualLinear(a, b, lr_mul=cfg.lr_mlp, activate=True) for a, b in zip(dims[:-1], dims[1:]))
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)

    def official_tensors(self, prefix: str) -> list[OfficialTensor]:
        return [e for i, layer in enumerate(self.layers) for e in layer.official_tensors(f"{prefix}.{i}")]


class GNRDecoder(nn.Module):
    """content [B,C,16,16] and w [B,style_dim] -> image [B,3,S,S], nominally [-1,1], not clamped."""

    def __init__(self, cfg: GNRConfig) -> None:
        super().__init__()
        res = cfg.content_size
        c = cfg.width(res)  # the content map's channels: the encoder's width there, whatever the decoder's
        self.adain_bottleneck = nn.ModuleList(StyledResBlock(c, cfg.style_dim) for _ in range(cfg.n_res))
        self.conv1 = StyledConv(c, c, 3, cfg.style_dim)
        self.to_rgb1 = ToRGB(c, cfg.style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        while res < cfg.size:
            res *= 2
            out = cfg.decoder_width(res)
            self.convs.append(StyledConv(c, out, 3, cfg.style_dim, upsample=True))
            self.convs.append(StyledConv(out, out, 3, cfg.style_dim))
            self.to_rgbs.append(ToRGB(out, cfg.style_dim))
            c = out

    def forward(self, content: Tensor, w: Tensor) -> Tensor:
        x = content
        for block in self.adain_bottleneck:
            x = block(x, w)
        x = self.conv1(x, w)
        rgb = self.to_rgb1(x, w)  # [B,3,16,16]
        for i, to_rgb in enumerate(self.to_rgbs):
            x = self.convs[2 * i + 1](self.convs[2 * i](x, w), w)
            rgb = to_rgb(x, w, rgb)
        return rgb  # [B,3,S,S]

    def official_tensors(self) -> list[OfficialTensor]:
        entries = []
        for i, block in enumerate(self.adain_bottleneck):
            entries += block.official_tensors(f"adain_bottleneck.{i}")
        entries += self.conv1.official_tensors("conv1") + self.to_rgb1.official_tensors("to_rgb1")
        for i, conv in enumerate(self.convs):
            entries += conv.official_tensors(f"convs.{i}")
        for i, to_rgb in enumerate(self.to_rgbs):
            entries += to_rgb.official_tensors(f"to_rgbs.{i}")
        return entries


class Generator(nn.Module):
    """One GNR direction (A2B face->anime or B2A anime->face)."""

    def __init__(self, config: GNRConfig = OFFICIAL) -> None:
        super().__init__()
        self.config = config
        self.encoder = GNREncoder(config)
        self.mapping_net = MappingNetwork(config)
        self.decoder = GNRDecoder(config)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """[B,3,S,S] in [-1,1] -> content [B,C16,16,16], style [B,latent_dim]."""
        return self.encoder(x)

    def mapping(self, z: Tensor) -> Tensor:
        """[B,latent_dim] -> w [B,style_dim]."""
        return self.mapping_net(z)

    def decode(self, content: Tensor, w: Tensor) -> Tensor:
        """content and w (not z: map first) -> [B,3,S,S], not clamped."""
        return self.decoder(content, w)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.decode(self.encode(x)[0], self.mapping(z))

    # -- equalized learning rate: training form vs inference form -------------------------------------------------

    @property
    def folded(self) -> bool:
        return all(m.folded for m in self.modules() if isinstance(m, Equalized))

    def fold_equalized_lr(self) -> Generator:
        """Inference/export form: equal-lr gains multiplied into the stored tensors (same outputs). Returns self."""
        for m in self.modules():
            if isinstance(m, Equalized):
                m.set_folded(True)
        return self

    def unfold_equalized_lr(self) -> Generator:
        """Training form: raw parameters, gains applied at run time (as the official code trains). Returns self."""
        for m in self.modules():
            if isinstance(m, Equalized):
                m.set_folded(False)
        return self

    def folded_state_dict(self) -> dict[str, Tensor]:
        """Our own state dict in the inference form (gains folded), whichever form the model is in."""
        sd = {k: v.detach() for k, v in self.state_dict().items()}
        for prefix, module in self.named_modules():
            if isinstance(module, Equalized) and not module.folded:
                for name in module._gains:
                    key = f"{prefix}.{name}"
                    sd[key] = module.effective(name).detach()
        return sd

    # -- official checkpoint layout ----------------------------------------------------------------------------------

    def official_tensors(self) -> list[OfficialTensor]:
        return (
            self.mapping_net.official_tensors("mapping")
            + self.encoder.official_tensors("encoder")
            + self.decoder.official_tensors()
        )

    def official_state_dict(self) -> dict[str, Tensor]:
        """The official key layout and raw (un-folded) values, float32."""
        return {e.key: e.read().float().contiguous() for e in self.official_tensors()}

    def load_official_state_dict(self, sd: dict) -> None:
        """Load an official-layout state dict strictly; ModelError names the first bad key."""
        entries = {e.key: e for e in self.official_tensors()}
        missing = [k for k in entries if k not in sd]
        extra = [k for k in sd if k not in entries]
        if missing:
            raise ModelError(f"official state dict is missing key {missing[0]!r} ({len(missing)} missing)")
        if extra:
            raise ModelError(f"official state dict has unexpected key {extra[0]!r} ({len(extra)} unexpected)")
        for key, entry in entries.items():
            value = sd[key]
            if not isinstance(value, Tensor):
                raise ModelError(f"official state dict entry {key!r} is not a tensor")
            if tuple(value.shape) != entry.shape:
                raise ModelError(f"official state dict key {key!r} has shape {tuple(value.shape)}, expected {entry.shape}")
            if not value.is_floating_point() or not torch.isfinite(value).all():
                raise ModelError(f"official state dict key {key!r} is not finite floating point")
        for key, entry in entries.items():
            try:
                entry.write(sd[key].to(torch.float32))
            except ValueError as error:
                raise ModelError(f"official state dict: {error}") from None
