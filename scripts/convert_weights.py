"""Convert the official GANs N' Roses checkpoint to the streamfx safetensors format.

    python scripts/convert_weights.py GNR_checkpoint.pt                       # -> <cache>/gnr_official.safetensors
    python scripts/convert_weights.py GNR_checkpoint.pt -o gnr_fp16.safetensors --fp16 --directions A2B

The official file is read with torch.load(weights_only=True); every key and shape is checked. The output holds the
inference form (equal-lr gains folded) plus metadata (config, source file hash, tensor hash).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from streamfx.catalog import cache_dir, get_entry, record_hash, sha256_file
from streamfx.errors import StreamfxError
from streamfx.weights import load_official_generators, save_weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="official GNR_checkpoint.pt")
    parser.add_argument("-o", "--output", help="output .safetensors (default: the gnr-official-st cache entry)")
    parser.add_argument("--fp16", action="store_true", help="store tensors as float16 (half the size)")
    parser.add_argument("--directions", default="A2B,B2A", help="comma list of A2B, B2A (default both)")
    args = parser.parse_args(argv)
    entry = get_entry("gnr-official-st")
    output = Path(args.output) if args.output else cache_dir() / entry.file
    try:
        directions = tuple(d.strip() for d in args.directions.split(",") if d.strip())
        generators = load_official_generators(args.checkpoint, directions)
        source_sha = sha256_file(Path(args.checkpoint))
        metadata = {
            "source": {
                "official_checkpoint": Path(args.checkpoint).name,
                "official_checkpoint_sha256": source_sha,
                "upstream": "https://github.com/mchong6/GANsNRoses",
                "google_drive_id": get_entry("gnr-official").drive_id,
            },
            "training": {"by": "upstream authors", "data": "selfie2anime (UGATIT)", "ema": True},
            "license": get_entry("gnr-official").license,
        }
        digest = save_weights(output, generators, metadata, torch.float16 if args.fp16 else torch.float32)
    except StreamfxError as error:
        print(f"convert_weights: error: {error}", file=sys.stderr)
        return error.exit_code
    if not args.output:
        record_hash(entry.file, digest)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB, {', '.join(directions)}) sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
