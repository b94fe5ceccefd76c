#!/usr/bin/env python
"""Export a training run's EMA generators as the bundled default model, in fp16 when fp16 holds 40 dB.

    python scripts/export_default.py --checkpoint runs/distill128 [--out streamfx/data/gnr_slim.safetensors]

Writes fp32 and fp16 copies to a temporary folder, decodes the astronaut photo and the sample's frames with both
for 8 style seeds and every style anchor, and keeps fp16 only when its PSNR against fp32 is at least 40 dB on every
output (otherwise fp32). Refuses a file over 25 MB. The run's teacher anchors go into the metadata
(`training.export`). Prints the numbers the model card quotes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.model_card_grid import publishable_faces  # noqa: E402
from streamfx.commands.styles import face_crop  # noqa: E402
from streamfx.pixels import to_model  # noqa: E402
from streamfx.training import checkpoint as ckpt  # noqa: E402
from streamfx.training.evaluate import psnr  # noqa: E402
from streamfx.training.export import export_weights  # noqa: E402
from streamfx.weights import load_weights  # noqa: E402

MIN_PSNR_DB = 40.0
MAX_BYTES = 25 * 1024 * 1024


def outputs(path: Path, faces: torch.Tensor) -> torch.Tensor:
    """[F*K,3,S,S]: every face decoded with seeds 0..7 and every anchor of the file."""
    from streamfx.styles import style_from_seed

    generators, meta = load_weights(path)
    G = generators["A2B"]
    latent = G.config.latent_dim
    z = [style_from_seed(s, latent) for s in range(8)]
    z += [torch.tensor([a], dtype=torch.float32) for a in meta.get("style_anchors", {}).values()]
    w = G.mapping(torch.cat(z))
    with torch.inference_mode():
        content = G.encode(faces)[0]
        return torch.cat([G.decode(c[None].expand(len(w), -1, -1, -1), w) for c in content])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="run directory or checkpoint directory")
    p.add_argument("--out", type=Path, default=REPO / "streamfx" / "data" / "gnr_slim.safetensors")
    args = p.parse_args(argv)
    path = args.checkpoint
    if not (path / ckpt.INDEX).is_file():
        path = ckpt.latest_checkpoint(path / "checkpoints")
    if path is None:
        print(f"export_default: no checkpoint in {args.checkpoint}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        fp32, fp16 = Path(tmp) / "fp32.safetensors", Path(tmp) / "fp16.safetensors"
        export_weights(path, fp32, device="cpu")
        export_weights(path, fp16, device="cpu", dtype=torch.float16)
        size = load_weights(fp32)[0]["A2B"].config.size
        crops = [face_crop(image, size) for _, image in publishable_faces(REPO / "samples" / "astronaut.mp4",
                                                                           [1.0, 2.2, 3.4])]
        faces = to_model(np.stack(crops)).contiguous()  # NCHW-contiguous as before (conv results depend on the layout in the last bits)
        worst = float(psnr(outputs(fp16, faces), outputs(fp32, faces)).min())
        chosen = fp16 if worst >= MIN_PSNR_DB else fp32
        if chosen.stat().st_size > MAX_BYTES:
            print(f"export_default: {chosen.stat().st_size / 2**20:.1f} MB is over the 25 MB limit", file=sys.stderr)
            return 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chosen, args.out)
    meta = load_weights(args.out)[1]
    report = {"checkpoint": str(path), "out": str(args.out), "dtype": "fp16" if chosen == fp16 else "fp32",
              "fp16_psnr_min_db": round(worst, 2), "bytes": args.out.stat().st_size, "steps": meta["steps"],
              "wall_seconds": meta["wall_seconds"], "tensors_sha256": meta["tensors_sha256"],
              "style_anchors": sorted(meta.get("style_anchors", {}))}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
