"""The 40 CelebA attributes as a measuring stick: a classifier for photos of faces, trained on CelebA-HQ.

No offline wheel ships a CelebA-40 classifier, and 4,750 labelled training faces are too few to train a deep
network from scratch, so the classifier is linear heads on frozen ImageNet features: the shift-tolerant VGG16 that
LPIPS already loads (`lpips.py`). Features of a 128x128 face: relu4_3 averaged over space (512), relu5_3 averaged
over each quarter of the face (4 x 512: eyes and mouth sit in different quarters of an aligned face) and its
spatial maximum (512), 3,072 in all, standardized. One logistic regression per attribute, fitted together on the
cached features in seconds. Only the heads are stored (about 0.5 MB); the VGG comes from the LPIPS wheel.

It is for photos: its scores on anime faces mean nothing. Edits are scored on the photo-domain output.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streamfx.errors import ModelError, UsageError

log = logging.getLogger("streamfx.training")

SIZE = 128
FEATURES = 3072


def read_attributes(root: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """(the 40 names, {file name: [40] float32 of 0/1}) from CelebAMask-HQ `attributes.txt`."""
    path = Path(root) / "attributes.txt"
    if not path.is_file():
        raise UsageError(f"no attribute labels at {path}")
    lines = path.read_text().splitlines()
    names = lines[1].split()
    table = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == len(names) + 1:
            table[parts[0]] = (np.array(parts[1:]) == "1").astype(np.float32)
    return names, table


class AttributeClassifier(nn.Module):
    """[B,3,H,W] faces in [-1,1] (aligned, any size; resized to 128) -> [B,40] logits."""

    def __init__(self, names: list[str], vgg: nn.Module | None = None):
        super().__init__()
        from streamfx.training.lpips import load_lpips

        self.names = list(names)
        lpips = load_lpips() if vgg is None else None
        self.vgg = vgg if vgg is not None else lpips.features
        self.register_buffer("shift", lpips.shift.clone() if lpips is not None else torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", lpips.scale.clone() if lpips is not None else torch.ones(1, 3, 1, 1))
        self.register_buffer("mean", torch.zeros(FEATURES))
        self.register_buffer("std", torch.ones(FEATURES))
        self.head = nn.Linear(FEATURES, len(names))
        self.vgg.requires_grad_(False)
        self.eval()

    def features(self, faces: Tensor) -> Tensor:
        """[B,3072] raw (unstandardized) features."""
        if faces.shape[-1] != SIZE:
            faces = F.interpolate(faces, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
        maps = self.vgg((faces - self.shift) / self.scale)
        relu4, relu5 = maps[3].float(), maps[4].float()
        quarters = F.adaptive_avg_pool2d(relu5, 2).flatten(1)
        return torch.cat([relu4.mean((2, 3)), quarters, relu5.amax((2, 3))], dim=1)

    def head_logits(self, features: Tensor) -> Tensor:
        return self.head((features - self.mean) / self.std)

    def forward(self, faces: Tensor) -> Tensor:
        return self.head_logits(self.features(faces))

    @torch.no_grad()
    def probabilities(self, faces: Tensor, chunk: int = 64) -> Tensor:
        """[B,40] probabilities, computed in chunks without a graph."""
        return torch.cat([torch.sigmoid(self(faces[i:i + chunk])) for i in range(0, len(faces), chunk)])

    def index(self, name: str) -> int:
        if name not in self.names:
            raise UsageError(f"unknown attribute {name!r} (one of: {', '.join(self.names)})")
        return self.names.index(name)


@torch.no_grad()
def extract_features(model: AttributeClassifier, faces: Tensor, chunk: int = 64) -> Tensor:
    return torch.cat([model.features(faces[i:i + chunk]) for i in range(0, len(faces), chunk)])


def fit_heads(model: AttributeClassifier, features: Tensor, labels: Tensor, steps: int = 400,
              weight_decay: float = 3e-3) -> None:
    """Fit the 40 logistic heads on cached features (full batch, L-BFGS, L2 penalty); positives and negatives
    of each attribute weigh equally, so rare attributes (Bald: 2 %) are not ignored."""
    model.mean.copy_(features.mean(0))
    model.std.copy_(features.std(0).clamp_min(1e-6))
    x = (features - model.mean) / model.std
    positives = labels.mean(0).clamp(0.01, 0.99)
    weights = torch.where(labels > 0.5, 0.5 / positives, 0.5 / (1 - positives))
    head = model.head
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.LBFGS(head.parameters(), lr=1, max_iter=steps, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(head(x), labels, weight=weights)
        loss = loss + weight_decay * head.weight.pow(2).sum() / 2 / len(model.names)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)


def report(model: AttributeClassifier, features: Tensor, labels: Tensor) -> dict[str, dict]:
    """Per attribute: accuracy, balanced accuracy (mean of the two classes' recalls) and the positive share."""
    with torch.no_grad():
        predicted = model.head_logits(features) > 0
    truth = labels > 0.5
    out = {}
    for k, name in enumerate(model.names):
        p, t = predicted[:, k], truth[:, k]
        recalls = [float((p[t == c] == c).float().mean()) for c in (True, False) if (t == c).any()]
        out[name] = {"accuracy": float((p == t).float().mean()), "balanced": float(np.mean(recalls)),
                     "positives": float(t.float().mean())}
    return out


def save_heads(path: Path, model: AttributeClassifier, metrics: dict) -> None:
    import json

    from safetensors.torch import save_file

    tensors = {"head.weight": model.head.weight.detach().contiguous(), "head.bias": model.head.bias.detach(),
               "mean": model.mean, "std": model.std}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"names": json.dumps(model.names), "report": json.dumps(metrics)})


def load_classifier(path: Path) -> tuple[AttributeClassifier, dict]:
    """The classifier with stored heads (VGG from the LPIPS wheel) and the report saved with it."""
    import json

    from safetensors import safe_open

    if not Path(path).is_file():
        raise ModelError(f"attribute classifier not found: {path} (train it: python scripts/train_attributes.py)")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model = AttributeClassifier(json.loads(meta["names"]))
    model.head.weight.data.copy_(tensors["head.weight"])
    model.head.bias.data.copy_(tensors["head.bias"])
    model.mean.copy_(tensors["mean"])
    model.std.copy_(tensors["std"])
    return model, json.loads(meta["report"])
