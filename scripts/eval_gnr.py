#!/usr/bin/env python
"""Evaluate a face -> anime model on held-out faces; writes eval.md (a table), eval.json and grid.png.

    python scripts/eval_gnr.py --checkpoint runs/slim128          # the run's latest checkpoint (EMA generators)
    python scripts/eval_gnr.py --weights model.safetensors --out runs/eval_model

Faces: the held-out split of selfie2anime trainA (every 20th file, never trained on) and held-out CelebA-HQ faces
of each sex (`Male` attribute). The anime-vs-photo classifier is the committed one (streamfx/data), so scores
are comparable across runs and machines; --retrain-classifier trains and saves a new one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.errors import StreamfxError, UsageError  # noqa: E402
from streamfx.training import checkpoint as ckpt  # noqa: E402
from streamfx.training.classifier import (ANIME_CLASSIFIER, load_classifier, save_classifier,  # noqa: E402
                                         train_classifier)
from streamfx.training.data import (CELEBAHQ, DEFAULT_ROOT, SELFIE2ANIME, celeba_holdout_by_sex,  # noqa: E402
                                    list_images, load_batch, split_holdout)
from streamfx.training.evaluate import (evaluate_group, evaluate_teacher, markdown_table,  # noqa: E402
                                        teacher_table)
from streamfx.training.samples import fixed_styles, tile, translation_grid, write_png  # noqa: E402

log = logging.getLogger("streamfx")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="training run directory or one checkpoint directory")
    source.add_argument("--weights", type=Path, help="streamfx weights file (A2B and B2A)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <run>/eval)")
    p.add_argument("--faces", type=int, default=48, help="held-out selfie2anime faces")
    p.add_argument("--celeba-per-sex", type=int, default=24, help="held-out CelebA-HQ faces per sex")
    p.add_argument("--seeds", type=int, default=8, help="styles per face (diversity)")
    p.add_argument("--selfie2anime", type=Path, default=SELFIE2ANIME)
    p.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    p.add_argument("--classifier", type=Path, default=ANIME_CLASSIFIER,
                   help="the anime-vs-photo classifier (default: the committed one; --retrain-classifier rewrites it)")
    p.add_argument("--retrain-classifier", action="store_true")
    p.add_argument("--live", action="store_true", help="evaluate the live generators, not the EMA copies")
    p.add_argument("--teacher", type=Path, action="append", default=None, metavar="DIR",
                   help="teacher outputs of CelebA-HQ faces, same file names (repeatable; default: those in "
                        "the model's metadata, else the JP_face folder of the shared data)")
    p.add_argument("--anchor-faces", type=int, default=256, help="training teacher outputs that define an anchor")
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def load_generators(args) -> tuple[dict, Path, str, dict]:
    """({"A2B", "B2A"} generators, default output folder, a description of the source, its metadata)."""
    if args.weights:
        from streamfx.weights import load_weights

        generators, meta = load_weights(args.weights)
        return generators, args.weights.with_suffix(""), f"{args.weights} ({meta.get('steps', '?')} steps)", meta
    from streamfx.training.export import ema_generators

    path = args.checkpoint
    if not (path / ckpt.INDEX).is_file():
        path = ckpt.latest_checkpoint(path / "checkpoints") or ckpt.latest_checkpoint(path)
        if path is None:
            raise UsageError(f"no checkpoint in {args.checkpoint}")
    generators, meta = ema_generators(path, live=args.live)
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    kind = "live" if args.live else "EMA"
    return generators, run_dir / f"eval_{kind.lower()}", f"{path} ({kind}, step {meta['step']})", meta


def classifier_for(args):
    """The cached classifier, or a freshly trained one (then cached)."""
    s2a = args.selfie2anime
    train_faces, held_faces = split_holdout(list_images(s2a / "trainA"))
    if args.classifier.is_file() and not args.retrain_classifier:
        model, report = load_classifier(args.classifier)
        if report["train_faces"] == len(train_faces):
            return model, report
    model, report = train_classifier(train_faces, list_images(s2a / "trainB"), held_faces, list_images(s2a / "testB"))
    save_classifier(args.classifier, model, report)
    return model, report


def teacher_rows(args, meta: dict, a2b, b2a, classifier, held: list[Path]) -> list:
    """Held-out CelebA-HQ faces against each teacher's outputs, with that teacher's anchor style."""
    from streamfx.training.export import teacher_anchors, teacher_name
    from streamfx.training.lpips import load_lpips

    folders = args.teacher or [Path(f) for f in meta.get("data", {}).get("teacher_pairs", {})]
    folders = folders or [DEFAULT_ROOT / "teacher_jpface" / "celebahq256"]
    folders = [f for f in folders if f.is_dir()]
    if not folders:
        return []
    size, lpips, anchors, rows = a2b.config.size, load_lpips(), dict(meta.get("style_anchors", {})), []
    for folder in folders:
        name = teacher_name(folder)
        if name not in anchors:  # a checkpoint: the anchor as export would compute it
            anchors.update(teacher_anchors(b2a, [folder], args.celeba_dir, args.anchor_faces))
        anchor = torch.tensor([anchors[name]], dtype=torch.float32)
        pairs = [(face, folder / face.name) for face in held if (folder / face.name).is_file()]
        if pairs:
            faces, targets = (load_batch([p[i] for p in pairs], size) for i in (0, 1))
            rows.append(evaluate_teacher(f"{name}, CelebA-HQ held-out", faces, targets, anchor, a2b, b2a, lpips,
                                         classifier))
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.threads:
            torch.set_num_threads(args.threads)
        started = time.monotonic()
        generators, default_out, source, meta = load_generators(args)
        a2b, b2a = generators["A2B"].eval(), generators["B2A"].eval()
        size, out = a2b.config.size, args.out or default_out
        classifier, report = classifier_for(args)
        _, held = split_holdout(list_images(args.selfie2anime / "trainA"))
        celeba = celeba_holdout_by_sex(args.celeba_dir, args.celeba_per_sex)
        groups = {"selfie2anime held-out trainA": held[: args.faces],
                  "CelebA-HQ held-out, female": celeba["female"], "CelebA-HQ held-out, male": celeba["male"]}
        scores = [evaluate_group(name, load_batch(files, size), a2b, b2a, classifier, args.seeds)
                  for name, files in groups.items()]
        reference = {"real faces (held-out trainA)": float(classifier.anime_probability(load_batch(held[: args.faces], size)).mean()),
                     "real anime (testB)": float(classifier.anime_probability(load_batch(list_images(args.selfie2anime / "testB"), size)).mean())}
        table = markdown_table(scores, reference)
        teachers = teacher_rows(args, meta, a2b, b2a, classifier, celeba["female"] + celeba["male"])
        if teachers:
            table += "\n\n" + teacher_table(teachers)
        note = (f"Model: {source}, {size}x{size}, {args.seeds} seeds per face. Anime classifier held-out accuracy "
                f"{report['test_accuracy']:.3f} ({report['test_faces']} faces + {report['test_anime']} anime).")
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.md").write_text(table + "\n\n" + note + "\n")
        (out / "eval.json").write_text(json.dumps({"source": source, "groups": [vars(s) for s in scores],
                                                  "teachers": [vars(t) for t in teachers],
                                                  "reference": reference, "classifier": report}, indent=1))
        faces = torch.cat([load_batch(files[:2], size) for files in groups.values()])  # 2 faces per group
        grid = translation_grid(a2b, b2a, faces, fixed_styles(6, a2b.config.latent_dim))
        write_png(out / "grid.png", grid)
        print(table + "\n\n" + note)
        log.info("wrote %s/eval.md and grid.png in %.0f s", out, time.monotonic() - started)
        return 0
    except StreamfxError as error:
        print(f"eval_gnr: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
