"""GNR architecture settings as plain data: no torch import, so the catalog and the command line stay light.

(`streamfx.models.gnr` builds the networks from these and re-exports them.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from streamfx.errors import ModelError

OFFICIAL_CHANNELS = ((4, 512), (8, 512), (16, 512), (32, 512), (64, 256), (128, 128), (256, 64))


@dataclass(frozen=True)
class GNRConfig:
    """Architecture of one generator. The defaults are the official released model."""

    size: int = 256
    num_down: int = 4
    latent_dim: int = 8  # z, the paper's style code
    n_mlp: int = 5
    lr_mlp: float = 0.01
    n_res: int = 1
    channels: tuple[tuple[int, int], ...] = field(default=OFFICIAL_CHANNELS)  # (resolution, width)
    style_dim: int = 512  # w
    # (resolution, width) of the decoder from the content grid up, where it differs from `channels` (a photo
    # decoder may be wider than the encoder it reads); empty: `channels`
    decoder_channels: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        widths = dict(self.channels)
        log_size = self.size.bit_length() - 1
        if self.size < 16 or 1 << log_size != self.size:
            raise ModelError(f"GNR size must be a power of two >= 16, got {self.size}")
        if not 1 <= self.num_down <= log_size - 2:
            raise ModelError(f"GNR num_down must leave a content grid of at least 4x4, got {self.num_down}")
        missing = [r for r in (1 << i for i in range(2, log_size + 1)) if r not in widths]
        if missing:
            raise ModelError(f"GNR config has no channel width for resolution(s) {missing}")
        odd = [r for r, _ in self.decoder_channels if not self.content_size < r <= self.size]
        if odd:
            raise ModelError(f"GNR decoder widths only go from above the content grid to the output size, not {odd}")

    def width(self, resolution: int) -> int:
        return dict(self.channels)[resolution]

    def decoder_width(self, resolution: int) -> int:
        return dict(self.decoder_channels).get(resolution) or self.width(resolution)

    @property
    def content_size(self) -> int:
        return self.size >> self.num_down

    @property
    def content_channels(self) -> int:
        return self.width(self.content_size)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = {str(r): c for r, c in self.channels}
        if self.decoder_channels:
            d["decoder_channels"] = {str(r): c for r, c in self.decoder_channels}
        else:
            del d["decoder_channels"]  # weight files from before the field read the same
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GNRConfig:
        """Inverse of `to_dict`; also takes the official/golden form (channels as a dict with extra resolutions)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ModelError(f"unknown GNR config field(s): {', '.join(unknown)}")
        d = dict(d)
        size = int(d.get("size", cls.size))
        if "channels" in d:
            pairs = d["channels"].items() if isinstance(d["channels"], dict) else d["channels"]
            d["channels"] = tuple(sorted((int(r), int(c)) for r, c in pairs if int(r) <= size))
        if "decoder_channels" in d:
            d["decoder_channels"] = tuple(sorted((int(r), int(c)) for r, c in d["decoder_channels"].items()))
        return cls(**d)


OFFICIAL = GNRConfig()
# Proposed default for real-time CPU/GPU use: the same architecture at about 1/64 of the official compute
# (see docs/model.md for the measured table). Content stays at 16x16, I/O at 256x256.
SLIM = GNRConfig(channels=((4, 256), (8, 256), (16, 128), (32, 64), (64, 32), (128, 16), (256, 16)), style_dim=256)
# The bundled default: SLIM at 128x128 (content still 16x16), the size the CPU could train; pasted back upsampled.
SLIM_128 = GNRConfig(size=128, num_down=3, channels=SLIM.channels[:-1], style_dim=256)
