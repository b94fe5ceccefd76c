#!/usr/bin/env python
"""Pack what the photo decoder's GPU run (scripts/gpu_decoder.sh) needs into one folder that travels to a lent GPU
machine, which sees the repository only (no ../shared, no wheels), within its 64 MiB limit.

    python scripts/gpu_decoder_pack.py                      # -> .gpu/ (ignored through .git/info/exclude)
    python scripts/gpu_decoder_pack.py --unpack /tmp/lpips.pth   # there: the LPIPS file load_lpips reads

- The LPIPS VGG16 (59 MB in fp32) as int8 with one scale per output channel (15 MB); the run dequantizes it.
  The script prints how far the int8 network's distances are from the fp32 one's on held-out faces.
- The first N CelebA-HQ faces in name order, at the decoder's 128 px, as JPEG. A prefix of the sorted list keeps
  every face on its side of the training/held-out split (split_holdout counts positions in that order).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.training.data import CELEBAHQ, list_images, load_batch, load_image, split_holdout  # noqa: E402
from streamfx.training.lpips import load_lpips, weight_path  # noqa: E402

LIMIT = 64 * 2**20  # what the device tool carries: tracked files + the carried folder
QUANTIZED = "lpips_int8.safetensors"


def quantize(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Conv kernels as int8 + a per-output-channel fp32 scale (`KEY`, `KEY.int8_scale`); other tensors as they are."""
    packed = {}
    for key, value in tensors.items():
        if value.dim() == 4 and value.numel() > 4096:
            scale = value.abs().amax((1, 2, 3), keepdim=True).clamp_min(1e-12) / 127
            packed[key] = (value / scale).round().clamp(-127, 127).to(torch.int8)
            packed[f"{key}.int8_scale"] = scale.float()
        else:
            packed[key] = value.float().contiguous()
    return packed


def dequantize(packed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `quantize`: the LPIPS weight file's keys, fp32."""
    return {k: v.float() * packed[f"{k}.int8_scale"] if f"{k}.int8_scale" in packed else v
            for k, v in packed.items() if not k.endswith(".int8_scale")}


def tracked_bytes() -> int:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    return sum((REPO / f.decode()).stat().st_size for f in files if f and (REPO / f.decode()).is_file())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / ".gpu")
    p.add_argument("--faces", type=int, default=3000, help="CelebA-HQ files, first in name order")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--quality", type=int, default=92, help="JPEG quality of the packed faces")
    p.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    p.add_argument("--unpack", type=Path, default=None, metavar="PTH",
                   help="only write the packed LPIPS back as a weight file load_lpips reads")
    opts = p.parse_args(argv)
    from safetensors.torch import load_file, save_file

    if opts.unpack:
        torch.save(dequantize(load_file(str(opts.out / QUANTIZED))), opts.unpack)
        return 0
    packed = quantize(torch.load(weight_path(), map_location="cpu", weights_only=True))
    opts.out.mkdir(parents=True, exist_ok=True)
    save_file(packed, str(opts.out / QUANTIZED))
    torch.save(dequantize(packed), opts.out / "lpips_check.pth")
    held = load_batch(split_holdout(list_images(opts.celeba_dir / "images"))[1][:32], opts.size)
    exact, lossy = load_lpips(), load_lpips(opts.out / "lpips_check.pth")
    (opts.out / "lpips_check.pth").unlink()
    with torch.no_grad():
        a, b = exact(held, held.roll(1, 0)), lossy(held, held.roll(1, 0))
    print(f"LPIPS int8 vs fp32 on 32 held-out pairs: mean {a.mean():.4f} vs {b.mean():.4f}, "
          f"largest relative difference {((a - b).abs() / a).max():.2%}")

    images = opts.out / "celebahq128" / "images"
    images.mkdir(parents=True, exist_ok=True)
    for path in list_images(opts.celeba_dir / "images")[:opts.faces]:
        face = cv2.cvtColor(load_image(path, opts.size), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(images / f"{path.stem}.jpg"), face, [cv2.IMWRITE_JPEG_QUALITY, opts.quality])
    carried = sum(f.stat().st_size for f in opts.out.rglob("*") if f.is_file())
    total = tracked_bytes() + carried
    print(f"packed {opts.faces} faces and LPIPS into {opts.out}: {carried / 2**20:.1f} MiB; with the tracked files "
          f"{total / 2**20:.1f} MiB of the {LIMIT / 2**20:.0f} MiB the device tool carries")
    return 0 if total < LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
