#!/usr/bin/env python
"""Train the face autoencoder A2A that photo edits decode with (streamfx/training/photo_decoder.py), and add it to
a weight file.

    python scripts/train_photo_decoder.py --minutes 40                      # train (resumes runs/photo_decoder)
    python scripts/train_photo_decoder.py --minutes 0 --export streamfx/data/gnr_slim.safetensors
    python scripts/train_photo_decoder.py --adversarial 0.1 --lr 5e-4 --run-dir runs/photo_decoder_gan --minutes 60
    python scripts/train_photo_decoder.py --widen 32:128,64:64,128:32 --run-dir runs/photo_decoder_wide --minutes 40
    python scripts/train_photo_decoder.py --device cuda --batch 32 --min-lr 0.1 --minutes 7   # a lent GPU
    python scripts/train_photo_decoder.py --train-encoder --framing pipeline --ema 0.999 \
        --run-dir runs/photo_autoencoder --minutes 90   # the encoder too (photo edits then read it)

Without a saved state in the run folder, training starts from the A2A the weights already hold (the default model
ships one), else from the B2A decoder. Adam's moments are not shipped: they start afresh.

Faces: the CelebA-HQ training split (the held-out split is never trained on; its first 64 faces measure the
decoder; `held_out.png` in the run folder shows the first 8 over their drawings, redrawn at each evaluation);
with `--framing pipeline`, its faces found and aligned as `streamfx edit` aligns video faces (crops cached in
runs/framing/), less every 10th, which `fit_edits.py` calibrates the bank on. The
export keeps the weight file's A2B and B2A tensors as they are and adds A2A in the file's dtype; the
tensor hash changes, so the edit bank must be refitted (scripts/fit_edits.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.errors import StreamfxError  # noqa: E402
from streamfx.training.data import CELEBAHQ, list_images, load_batch, split_holdout  # noqa: E402
from streamfx.training.photo_decoder import PhotoDecoderOptions, PhotoDecoderRun, autoencoder, widen  # noqa: E402
from streamfx.weights import load_weights, save_weights  # noqa: E402


def widths(text: str) -> dict[int, int]:
    try:
        return {int(r): int(c) for r, c in (part.split(":") for part in text.split(",") if part)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected RES:WIDTH,... (e.g. 32:128,64:64), not {text!r}") from None


def training_faces(opts, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training faces, 64 held-out faces) [N,3,S,S] in [-1,1], framed as `--framing` asks."""
    train, held = split_holdout(list_images(opts.celeba_dir / "images"))
    if opts.framing == "photo":
        train = train[:opts.faces]
        faces = torch.cat([load_batch(train[i:i + 256], size) for i in range(0, len(train), 256)])
        return faces, load_batch(held[:64], size)
    from streamfx.edit.fit import split_calibration
    from streamfx.edit.framing import frame_photos

    fitting, _calibration = split_calibration(train)  # the bank calibrates on faces the decoder never saw
    cache = REPO / "runs/framing"
    faces = frame_photos(fitting, size, size, cache=cache / "fitting.pt").crops[:opts.faces]
    return faces, frame_photos(held, size, size, cache=cache / "held_out.pt").crops[:64]


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=REPO / "streamfx/data/gnr_slim.safetensors",
                   help="the model whose A2A is trained on, then replaced (its A2B encoder starts or is the encoder)")
    p.add_argument("--from-b2a", action="store_true", help="start from the B2A decoder even if the weights hold A2A")
    p.add_argument("--run-dir", type=Path, default=REPO / "runs/photo_decoder")
    p.add_argument("--minutes", type=float, default=30.0, help="training time of this call (0: none)")
    p.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    p.add_argument("--faces", type=int, default=4750, help="CelebA-HQ training faces")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=PhotoDecoderOptions.lr,
                   help=f"Adam's step (default {PhotoDecoderOptions.lr:g}; lower it to settle a decoder trained long)")
    p.add_argument("--adversarial", type=float, default=0.0, metavar="WEIGHT",
                   help="add a patch critic's adversarial term at this weight (0.1 sharpens; default 0: L1 + LPIPS)")
    p.add_argument("--min-lr", type=float, default=1.0, metavar="FRACTION",
                   help="decay the step linearly over --minutes down to this fraction of --lr (default 1: constant)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine (bf16 autocast there)")
    p.add_argument("--lpips", type=Path, default=None,
                   help="the LPIPS weight file (default: the one in the stlpips-pytorch wheel)")
    p.add_argument("--save-every", type=int, default=PhotoDecoderOptions.save_every, metavar="STEPS")
    p.add_argument("--widen", type=widths, default={}, metavar="RES:WIDTH,...",
                   help="first widen the decoder at these resolutions, e.g. 32:128,64:64,128:32 (keeps what it draws)")
    p.add_argument("--train-encoder", action="store_true",
                   help="train the encoder with the decoder (photo edits then read it; the bank keeps anime "
                        "directions apart)")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="evaluate and export a moving average of the weights (e.g. 0.999; default 0: none)")
    p.add_argument("--framing", choices=("photo", "pipeline"), default="photo",
                   help="train on the photos as CelebA-HQ framed them (default), or on their faces aligned as video "
                        "faces are, as photo edits see them")
    p.add_argument("--export", type=Path, default=None, help="write the weights with A2A added here")
    p.add_argument("--note", default="", help="how the decoder was trained, kept in the export's metadata "
                                              "(e.g. where it ran, when the steps came from another machine)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    opts = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(opts.threads)
    try:
        from streamfx.training.lpips import load_lpips

        generators, meta = load_weights(opts.weights)
        start = None if opts.from_b2a else generators.get("A2A")
        trained = int(meta.get("photo_decoder", {}).get("step", 0)) if start is not None else 0
        if opts.widen:
            start = widen(start if start is not None else generators["B2A"], opts.widen)
        device = torch.device(opts.device)
        torch.backends.cudnn.benchmark = device.type == "cuda"
        a2a = autoencoder(generators["A2B"], generators["B2A"], start, opts.train_encoder).to(device)
        faces, held = training_faces(opts, a2a.config.size)
        run = PhotoDecoderRun(a2a, faces.to(device), held.to(device),
                              load_lpips(opts.lpips).requires_grad_(False).to(device), opts.run_dir,
                              PhotoDecoderOptions(batch=opts.batch, lr=opts.lr, adversarial_weight=opts.adversarial,
                                                  save_every=opts.save_every, min_lr_fraction=opts.min_lr,
                                                  ema_decay=opts.ema),
                              step=trained)
        scores = run.run(opts.minutes * 60)
        print(f"photo decoder: step {scores['step']}, held-out PSNR {scores['psnr']:.2f} dB, "
              f"LPIPS {scores['lpips']:.3f}; look at {run.draw_grid()} too (faces over their drawings)")
        if opts.export:
            dtype = torch.float16 if meta.get("dtype") == "float16" else torch.float32
            info = {**scores, "faces": len(faces), "held_out_faces": len(held),
                    "data": "CelebA-HQ training split (256 px, resized)" if opts.framing == "photo" else
                    "CelebA-HQ training split less the bank's calibration faces, aligned as video faces",
                    "encoder": "trained with the decoder" if opts.train_encoder else "A2B's, frozen",
                    **({"ema_decay": opts.ema} if opts.ema else {}),
                    "loss": "L1 + LPIPS (ST-LPIPS VGG16, a random half of each batch read mirrored)"
                            + (f" + {opts.adversarial:g} x patch critic" if opts.adversarial else ""),
                    "lr": opts.lr, "batch": opts.batch,
                    **({"min_lr_fraction": opts.min_lr} if opts.min_lr != 1 else {}),
                    **({"note": opts.note} if opts.note else {})}
            kept = {d: g for d, g in generators.items() if d != "A2A"}
            digest = save_weights(opts.export, {**kept, "A2A": run.model.cpu().eval()},
                                  {**meta, "photo_decoder": info}, dtype=dtype)
            print(f"wrote {opts.export} (sha256 {digest[:16]}); refit its edit bank with scripts/fit_edits.py")
        return 0
    except StreamfxError as error:
        print(f"train_photo_decoder: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
