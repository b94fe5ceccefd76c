"""Train the CelebA-40 attribute classifier (a small head on frozen VGG16 features) and print its held-out table.

    python scripts/train_attributes.py [--out streamfx/data/celeba_attributes.safetensors] [--markdown]
    python scripts/train_attributes.py --floor streamfx/data/celeba_attributes.safetensors [--markdown]

Training faces: the CelebA-HQ faces outside the project's held-out split (every 20th by name, the faces GNR never
trained on either). The head is first trained on 90 % of them and scored on the other 10 % (printed), then trained
on all of them and scored on the held-out 250 (the table). Each training face is seen three ways: as it is,
mirrored, and perturbed (`attributes.perturb`; the mirror image perturbed for every other face); faces are scored
as the classifier reads them, the mean of the head's logits on the face and on its mirror image. The VGG maps are
cached in runs/attributes/ (fp16, about 300 MB a view), so a rerun takes a minute, not the extraction's 25 (95 ms a
face on two AVX2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.training.attributes import (AttributeClassifier, extract_features, fit_heads,  # noqa: E402
                                          labels_of, load_classifier, mirrored_logits, perturb, read_attributes,
                                          report, save_heads)
from streamfx.training.data import CELEBAHQ, list_images, load_batch, split_holdout  # noqa: E402

WEIGHT_DECAY = 1e-2
VIEWS = ("face", "mirror", "perturbed")  # how the training faces are seen; held-out faces: the first two


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    parser.add_argument("--out", type=Path, default=REPO / "streamfx/data/celeba_attributes.safetensors")
    parser.add_argument("--cache", type=Path, default=REPO / "runs/attributes/features.pt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--floor", type=Path, default=None, metavar="CLASSIFIER",
                        help="train nothing: print how far this classifier's readings move on held-out faces under "
                             "changes that keep every attribute (its floor)")
    return parser.parse_args()


def view_of(faces: torch.Tensor, view: str, first: int) -> torch.Tensor:
    """The faces (the `first`-th onwards of their list) as `view` sees them; perturbed copies are drawn from a seed
    per face, so a rerun or a longer list sees the same copy of each face."""
    if view == "face":
        return faces
    if view == "mirror":
        return faces.flip(-1)
    out = []
    for i, face in enumerate(faces, start=first):
        face = face.flip(-1) if i % 2 else face
        out.append(perturb(face[None], torch.Generator().manual_seed(i))[0])
    return torch.stack(out)


def cached_maps(model, paths, cache: Path, name: str, view: str) -> torch.Tensor:
    cache_file = cache.with_name(f"{cache.stem}_maps_{name}_{view}.pt")
    if cache_file.is_file():
        saved = torch.load(cache_file, weights_only=True)
        if saved["files"] == [p.name for p in paths]:
            return saved["features"]
    rows = []
    for start in range(0, len(paths), 256):
        faces = view_of(load_batch(paths[start:start + 256], 128), view, start)
        rows.append(extract_features(model, faces).half())
        print(f"  {name}, {view}: {start + len(rows[-1])}/{len(paths)} faces", file=sys.stderr)
    features = torch.cat(rows)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"files": [p.name for p in paths], "features": features}, cache_file)
    return features


def fit_views(model, maps: dict[str, torch.Tensor], labels: torch.Tensor, faces: slice) -> None:
    """The head trained on every view of `faces` (a slice of the training faces) as separate examples."""
    features = torch.cat([m[faces] for m in maps.values()])
    fit_heads(model, features, labels[faces].repeat(len(maps), 1), weight_decay=WEIGHT_DECAY)


def kept_attributes(faces: torch.Tensor) -> dict[str, torch.Tensor]:
    """The faces changed in ways that keep every attribute where it is (what `--floor` measures)."""
    def per_face(change):
        return torch.stack([torch.from_numpy(change(f.permute(1, 2, 0).numpy())).permute(2, 0, 1) for f in faces])

    def jpeg(image):
        image = ((image + 1) * 127.5).round().clip(0, 255).astype("uint8")
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).astype("float32") / 127.5 - 1

    noise = torch.randn(faces.shape, generator=torch.Generator().manual_seed(0)) * 2 / 127.5
    return {"mirrored": faces.flip(-1), "shifted 2 px": F.pad(faces, (2, 0, 0, 0), mode="replicate")[..., :-2],
            "JPEG q90": per_face(jpeg), "noise 2/255": (faces + noise).clamp(-1, 1),
            "blurred 0.7 px": per_face(lambda image: cv2.GaussianBlur(image, (0, 0), 0.7)),
            "brighter 3/255": (faces + 3 / 127.5).clamp(-1, 1)}


def print_floor(path: Path, names, faces: torch.Tensor, markdown: bool) -> None:
    model, _ = load_classifier(path)
    before = model.probabilities(faces)
    rows = []
    for change, changed in kept_attributes(faces).items():
        moved = (model.probabilities(changed) - before).abs().mean(0)
        worst = moved.topk(3)
        rows.append((change, f"{float(moved.mean()):.3f}",
                     ", ".join(f"{names[int(j)]} {float(v):.2f}" for v, j in zip(worst.values, worst.indices))))
    if markdown:
        print("| change | mean change of the 40 readings | most moved |\n|---|---|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |" if markdown else "  ".join(row))


def mean_balanced(names, logits, labels) -> float:
    scores = report(names, logits, labels)
    return sum(s["balanced"] for s in scores.values()) / len(scores)


def main() -> int:
    opts = parse()
    torch.set_num_threads(opts.threads)
    names, table = read_attributes(opts.celeba_dir)
    train, held = split_holdout([p for p in list_images(opts.celeba_dir / "images") if p.name in table])
    if opts.floor is not None:
        print_floor(opts.floor, names, load_batch(held, 128), opts.markdown)
        return 0
    model = AttributeClassifier(names)
    train_maps = {view: cached_maps(model, train, opts.cache, "train", view) for view in VIEWS}
    held_maps = {view: cached_maps(model, held, opts.cache, "held", view) for view in VIEWS[:2]}
    y_train, y_held = labels_of(table, train), labels_of(table, held)
    cut = len(train) * 9 // 10
    fit_views(model, train_maps, y_train, slice(0, cut))
    rest = slice(cut, None)
    validation = mean_balanced(names, mirrored_logits(model, train_maps["face"][rest], train_maps["mirror"][rest]),
                               y_train[rest])
    print(f"  validation (10 % of the training faces): mean balanced accuracy {validation:.3f}", file=sys.stderr)
    fit_views(model, train_maps, y_train, slice(None))
    scores = report(names, mirrored_logits(model, held_maps["face"], held_maps["mirror"]), y_held)
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
