"""Train the CelebA-40 attribute classifier (linear heads on frozen VGG16 features) and print its held-out table.

    python scripts/train_attributes.py [--out streamfx/data/celeba_attributes.safetensors] [--markdown]

Training faces: the CelebA-HQ faces outside the project's held-out split (every 20th by name, the faces GNR never
trained on either). The head is first trained on 90 % of them and scored on the other 10 % (printed), then trained
on all of them and scored on the held-out 250 (the table). The VGG maps are cached in runs/attributes/ (fp16,
about 300 MB) so a rerun takes a few minutes, not the extraction's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.training.attributes import (AttributeClassifier, extract_features, fit_heads,  # noqa: E402
                                          labels_of, read_attributes, report, save_heads)
from streamfx.training.data import CELEBAHQ, list_images, load_batch, split_holdout  # noqa: E402

WEIGHT_DECAY = 1e-2


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    parser.add_argument("--out", type=Path, default=REPO / "streamfx/data/celeba_attributes.safetensors")
    parser.add_argument("--cache", type=Path, default=REPO / "runs/attributes/features.pt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    return parser.parse_args()


def features_and_labels(model, paths, table, cache: Path, name: str):
    cache_file = cache.with_name(f"{cache.stem}_maps_{name}.pt")
    if cache_file.is_file():
        saved = torch.load(cache_file, weights_only=True)
        if saved["files"] == [p.name for p in paths]:
            return saved["features"], saved["labels"]
    rows = []
    for start in range(0, len(paths), 256):
        rows.append(extract_features(model, load_batch(paths[start:start + 256], 128)).half())
        print(f"  {name}: {start + len(rows[-1])}/{len(paths)} faces", file=sys.stderr)
    features = torch.cat(rows)
    labels = labels_of(table, paths)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"files": [p.name for p in paths], "features": features, "labels": labels}, cache_file)
    return features, labels


def mean_balanced(model, features, labels) -> float:
    scores = report(model, features, labels)
    return sum(s["balanced"] for s in scores.values()) / len(scores)


def main() -> int:
    opts = parse()
    torch.set_num_threads(opts.threads)
    names, table = read_attributes(opts.celeba_dir)
    train, held = split_holdout([p for p in list_images(opts.celeba_dir / "images") if p.name in table])
    model = AttributeClassifier(names)
    x_train, y_train = features_and_labels(model, train, table, opts.cache, "train")
    x_held, y_held = features_and_labels(model, held, table, opts.cache, "held")
    cut = len(x_train) * 9 // 10
    fit_heads(model, x_train[:cut], y_train[:cut], weight_decay=WEIGHT_DECAY)
    validation = mean_balanced(model, x_train[cut:], y_train[cut:])
    print(f"  validation (10 % of the training faces): mean balanced accuracy {validation:.3f}", file=sys.stderr)
    fit_heads(model, x_train, y_train, weight_decay=WEIGHT_DECAY)
    scores = report(model, x_held, y_held)
    save_heads(opts.out, model, {"held_out": scores, "validation_balanced": validation, "train_faces": len(train),
                                 "held_out_faces": len(held)})
    print(f"{len(train)} training faces, {len(held)} held out, validation {validation:.3f}; wrote {opts.out}")
    rows = [(n, s["positives"], s["accuracy"], s["balanced"]) for n, s in scores.items()]
    if opts.markdown:
        print("| attribute | held-out positives | accuracy | balanced accuracy |\n|---|---|---|---|")
        for n, p, a, b in rows:
            print(f"| {n} | {p:.2f} | {a:.3f} | {b:.3f} |")
    else:
        for n, p, a, b in rows:
            print(f"{n:<22} positives {p:.2f}  accuracy {a:.3f}  balanced {b:.3f}")
    means = [sum(r[i] for r in rows) / len(rows) for i in (2, 3)]
    print(f"mean accuracy {means[0]:.3f}, mean balanced accuracy {means[1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
