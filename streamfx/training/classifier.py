"""A small anime-vs-photo classifier, used by the evaluation to score how anime translated faces look.

Trained on selfie2anime trainB (anime, label 1) vs the training part of trainA (faces, label 0) at 64x64;
its own accuracy is measured on faces never used (the held-out trainA split) and anime never used (testB).
The trained weights are saved as safetensors with their accuracy in the metadata. The evaluation's classifier is
committed (`ANIME_CLASSIFIER`): two retrains with the same seed and thread count in different environments agreed
on real faces and real anime but scored the translated faces in between quite differently (0.046 vs 0.265 on the same
model), so scores are only comparable when measured with one classifier.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streamfx.training.data import load_batch

log = logging.getLogger("streamfx.training")

INPUT_SIZE = 64
ANIME_CLASSIFIER = Path(__file__).resolve().parents[1] / "data" / "anime_classifier.safetensors"


class AnimeClassifier(nn.Module):
    """[B,3,H,W] in [-1,1] (any H=W) -> logit [B] (positive: anime)."""

    def __init__(self, width: int = 32):
        super().__init__()
        layers, cin = [], 3
        for cout in (width, width * 2, width * 4, width * 4):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
        h = self.features(x).mean((2, 3))  # [B,C] global average
        return self.head(h).squeeze(1)

    @torch.no_grad()
    def anime_probability(self, x: Tensor, chunk: int = 64) -> Tensor:
        """[B] probability that each image is anime."""
        self.eval()
        return torch.cat([torch.sigmoid(self(x[i : i + chunk].clamp(-1, 1))) for i in range(0, len(x), chunk)])


def _labelled(faces: list[Path], anime: list[Path]) -> tuple[Tensor, Tensor]:
    images = torch.cat([load_batch(faces, INPUT_SIZE), load_batch(anime, INPUT_SIZE)])  # [N,3,64,64]
    labels = torch.cat([torch.zeros(len(faces)), torch.ones(len(anime))])
    return images, labels


def accuracy(model: AnimeClassifier, images: Tensor, labels: Tensor) -> float:
    predicted = model.anime_probability(images) > 0.5
    return float((predicted == labels.bool()).float().mean())


# Float sums depend on the thread count, and four epochs amplify that: trained on 1 thread, the classifier scored the
# same model 0.085 where the 2-thread one (every table in docs/training.md) scores 0.028. So training pins 2 threads.
TRAINING_THREADS = 2


def train_classifier(train_faces: list[Path], train_anime: list[Path], test_faces: list[Path],
                     test_anime: list[Path], epochs: int = 4, seed: int = 0) -> tuple[AnimeClassifier, dict]:
    """Train with flips, Adam, batch 64, on `TRAINING_THREADS` threads; returns (model in eval mode, report with
    held-out accuracy)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS)
    try:
        return _train(train_faces, train_anime, test_faces, test_anime, epochs, seed)
    finally:
        torch.set_num_threads(previous)


def _train(train_faces, train_anime, test_faces, test_anime, epochs: int, seed: int) -> tuple[AnimeClassifier, dict]:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    images, labels = _labelled(train_faces, train_anime)
    model = AnimeClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order), 64):
            index = order[start : start + 64]
            batch = images[index]
            flip = torch.rand(len(index), generator=generator) < 0.5
            batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
            loss = F.binary_cross_entropy_with_logits(model(batch), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        log.info("anime classifier epoch %d loss %.4f", epoch + 1, float(loss))
    test_images, test_labels = _labelled(test_faces, test_anime)
    report = {"train_faces": len(train_faces), "train_anime": len(train_anime), "test_faces": len(test_faces),
              "test_anime": len(test_anime), "epochs": epochs, "seed": seed,
              "train_accuracy": accuracy(model, images, labels), "test_accuracy": accuracy(model, test_images, test_labels)}
    return model.eval(), report


def save_classifier(path: Path, model: AnimeClassifier, report: dict) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp), metadata={"report": json.dumps(report)})
    tmp.replace(path)


def load_classifier(path: Path) -> tuple[AnimeClassifier, dict]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as handle:
        report = json.loads(handle.metadata()["report"])
    model = AnimeClassifier()
    model.load_state_dict(load_file(str(path)))
    return model.eval(), report
