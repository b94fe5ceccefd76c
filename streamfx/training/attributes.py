"""The 40 CelebA attributes as a measuring stick: a classifier for photos of faces, trained on CelebA-HQ.

No offline wheel ships a CelebA-40 classifier, and 4,750 labelled training faces are too few to train a deep
network from scratch, so the classifier is a small head on frozen ImageNet features: the shift-tolerant VGG16 that
LPIPS already loads (`lpips.py`). The features are the relu4_3 maps of a 128x128 face averaged to 8x8 cells, so
where a feature fires is kept (the mouth, the eyes and the hairline sit in known cells of an aligned face; pooling
over the whole face first measured 0.69 balanced accuracy on Smiling). The head: per-channel standardization, a 1x1
convolution to 32 channels, ReLU, dropout, and one linear layer from the 32x8x8 cells to the 40 logits, trained on
cached maps in a minute. Only the head is stored (about 0.5 MB); the VGG comes from the LPIPS wheel.

A measuring stick must not move where the attributes do not. The first head, trained on its maps mirrored as
augmentation (VGG's maps of a mirrored face are not the mirrored maps), moved its 40 readings by 0.127 on average
when a held-out face was mirrored and by 0.147 under a 0.7 px blur: more than the 0.1 the editing issue allows an
edit to move the other attributes. So a face's logits are the mean of the head's on the face and on its mirror
image (the same attributes by definition: exactly invariant, at twice the VGG cost), and the head trains on the
maps of perturbed copies of each face (`perturb`: small shifts, blur, noise, JPEG, light), changes that leave every
attribute where it is.

It is for photos: its scores on anime faces mean nothing. Edits are scored on the photo-domain output.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streamfx.errors import ModelError, UsageError
from streamfx.training.keyed_cache import read_cached, write_cached

log = logging.getLogger("streamfx.training")

SIZE = 128
CHANNELS, CELLS = 512, 8  # relu4_3 maps, averaged to CELLS x CELLS
HIDDEN = 32


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


def labels_of(table: dict[str, np.ndarray], paths: list[Path]) -> Tensor:
    """[len(paths),40] the labels of these face files, from `read_attributes`' table."""
    return torch.stack([torch.from_numpy(table[Path(p).name]) for p in paths])


class AttributeClassifier(nn.Module):
    """[B,3,H,W] faces in [-1,1] (aligned, any size; resized to 128) -> [B,40] logits."""

    def __init__(self, names: list[str], vgg: nn.Module | None = None):
        super().__init__()
        from streamfx.training.lpips import load_lpips

        self.names = list(names)
        lpips = load_lpips() if vgg is None else None
        self.vgg = vgg if vgg is not None else lpips.features.to(memory_format=torch.channels_last)
        self.register_buffer("shift", lpips.shift.clone() if lpips is not None else torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", lpips.scale.clone() if lpips is not None else torch.ones(1, 3, 1, 1))
        self.register_buffer("mean", torch.zeros(1, CHANNELS, 1, 1))
        self.register_buffer("std", torch.ones(1, CHANNELS, 1, 1))
        self.head = nn.Sequential(nn.Conv2d(CHANNELS, HIDDEN, 1), nn.ReLU(), nn.Dropout(0.3), nn.Flatten(),
                                  nn.Linear(HIDDEN * CELLS * CELLS, len(names)))
        self.vgg.requires_grad_(False)
        self._compiled = None  # `cells` compiled by OpenVINO (`compile_cells`), read where no gradient is asked for
        self.eval()

    def features(self, faces: Tensor) -> Tensor:
        """[B,512,8,8] raw (unstandardized) relu4_3 cells."""
        if faces.shape[-1] != SIZE:
            faces = F.interpolate(faces, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
        if self._compiled is not None and not torch.is_grad_enabled():
            return self._compiled(faces)
        return self.cells(faces)

    def cells(self, faces: Tensor) -> Tensor:
        """`features` of faces [B,3,SIZE,SIZE], through torch."""
        # channels-last: the same readings, about 13 % faster on the CPU's convolutions (fitting edits reads ~80k faces)
        x = ((faces - self.shift) / self.scale).contiguous(memory_format=torch.channels_last)
        for block in self.vgg.slices[:4]:  # up to relu4_3; relu5_3 is not used
            x = block(x)
        return F.adaptive_avg_pool2d(x.float(), CELLS)

    def compile_cells(self, precision: str = "fp32") -> bool:
        """Read faces without gradients (`probabilities`, a fit's and a report's readings) through OpenVINO's
        compilation of `cells`, on as many threads as torch uses. In fp32 (`precision`) it is the same
        arithmetic within rounding (readings within 4e-7 of torch's), 1.47 times as fast on the 2-core dev machine
        (128 photos, each read both ways round: 8.3 s against 12.2 s), where the classifier is most of what fitting
        edits costs. In bf16 it is five times as fast again on a CPU with AMX, and moves the readings a little
        (`screen`). Tuning's gradients still go through torch. False, and torch reads, where openvino is not
        installed, or where bf16 is asked of a CPU without it (OpenVINO would quietly read in fp32 instead)."""
        from streamfx.engines.openvino_engine import PRECISION_HINTS, check_bf16, import_openvino
        from streamfx.errors import EngineError
        from streamfx.signals import thread_signal_stack_kept

        try:
            ov = import_openvino()
            core = ov.Core()
            if precision == "bf16":
                check_bf16(ov, core)
            # as the OpenVINO engine loads: a Ctrl-C in a long fit must still stop it cleanly (signals.py)
            with thread_signal_stack_kept(), torch.no_grad(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace", category=DeprecationWarning)
                graph = ov.convert_model(_Cells(self).eval(), example_input=torch.zeros(2, 3, SIZE, SIZE),
                                         input=[(-1, 3, SIZE, SIZE)])  # (by tracing, which torch deprecates)
                config = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision],
                          "INFERENCE_NUM_THREADS": torch.get_num_threads()}
                compiled = core.compile_model(graph, "CPU", config)
        except EngineError:
            return False
        except Exception as error:  # openvino raises plain errors (no CPU plugin, a failed conversion): torch reads
            log.warning("attribute classifier: openvino could not compile it (%s: %s); reading through torch",
                        type(error).__name__, str(error).split("\n")[0])
            return False
        # a copy: the result may share the infer request's buffer, which the next read overwrites
        self._compiled = lambda faces: torch.from_numpy(np.array(compiled(faces.float().contiguous().numpy())[0]))
        return True

    def screen(self) -> AttributeClassifier | None:
        """A twin of this classifier (the same VGG, head and standardization) that reads through OpenVINO in bf16:
        a quick first reading, for searching many strengths of an edit, whose verdicts the fp32 classifier then
        reads again. On the dev machine's AMX it reads the 250 held-out photos in 3.4 s against 17.2 s in fp32, its
        probabilities 0.0013 from the classifier's on average (at most 0.025), on the same side of 0.5 for 99.8 % of
        them; the VGG maps move by 0.0009 on average (up to 0.15), too much for the measuring stick itself. None
        where it cannot compile, or the CPU has no native bf16 (a twin as slow as the classifier would only add
        work)."""
        twin = AttributeClassifier(self.names, vgg=self.vgg)
        twin.load_state_dict(self.state_dict())
        return twin if twin.compile_cells("bf16") else None

    def head_logits(self, features: Tensor) -> Tensor:
        return self.head((features - self.mean) / self.std)

    def mirrored_head_logits(self, features: Tensor, mirrored: Tensor) -> Tensor:
        """The head's logits averaged over the maps of faces and of their mirror images."""
        return (self.head_logits(features) + self.head_logits(mirrored)) / 2

    def forward(self, faces: Tensor) -> Tensor:
        """Mirror-averaged logits: the face and its mirror image are read alike by construction."""
        maps = self.features(torch.cat([faces, faces.flip(-1)]))
        return self.mirrored_head_logits(maps[:len(faces)], maps[len(faces):])

    @torch.no_grad()
    def probabilities(self, faces: Tensor, chunk: int = 64) -> Tensor:
        """[B,40] probabilities, computed in chunks without a graph."""
        return torch.cat([torch.sigmoid(self(faces[i:i + chunk])) for i in range(0, len(faces), chunk)])

    def fingerprint(self) -> str:
        """sha256 of what was trained (the heads and their standardization; the VGG is the wheel's, fixed)."""
        import hashlib

        digest = hashlib.sha256()
        for name, tensor in sorted({**self.head.state_dict(), "mean": self.mean, "std": self.std}.items()):
            digest.update(name.encode())
            digest.update(tensor.detach().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def index(self, name: str) -> int:
        if name not in self.names:
            raise UsageError(f"unknown attribute {name!r} (one of: {', '.join(self.names)})")
        return self.names.index(name)


class _Cells(nn.Module):
    """A classifier's `cells` as a module of its own, for OpenVINO to convert."""

    def __init__(self, classifier: AttributeClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, faces: Tensor) -> Tensor:
        return self.classifier.cells(faces)


def perturb(faces: Tensor, generator: torch.Generator) -> Tensor:
    """[B,3,H,W] faces in [-1,1], each changed in ways that leave its attributes where they are: shifted by up to 3 px,
    blurred (sigma up to 1 px), brightness and contrast within 4 %, JPEG at quality 60-95 for half of them, and noise
    up to 3/255. The head learns from these that such changes are not attributes."""
    out = []
    for face in faces:
        u = torch.rand(7, generator=generator).tolist()
        image = ((face.permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.float32)
        h, w = image.shape[:2]
        dx, dy = round((u[0] * 2 - 1) * 3), round((u[1] * 2 - 1) * 3)
        image = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REPLICATE)
        if u[2] > 0.2:
            image = cv2.GaussianBlur(image, (0, 0), u[2])
        image = (image - 127.5) * (1 + (u[3] * 2 - 1) * 0.04) + 127.5 + (u[4] * 2 - 1) * 0.04 * 255
        image = image.clip(0, 255).round().astype(np.uint8)
        if u[5] < 0.5:
            _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 60 + round(u[5] * 70)])
            image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
        x = torch.from_numpy(image.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
        out.append(x + torch.randn(x.shape, generator=generator) * (u[6] * 3 / 127.5))
    return torch.stack(out).clamp(-1, 1)


@torch.no_grad()
def extract_features(model: AttributeClassifier, faces: Tensor, chunk: int = 64) -> Tensor:
    return torch.cat([model.features(faces[i:i + chunk]) for i in range(0, len(faces), chunk)])


def fit_heads(model: AttributeClassifier, features: Tensor, labels: Tensor, epochs: int = 40,
              weight_decay: float = 1e-3, seed: int = 0) -> None:
    """Train the head on cached maps [N,512,8,8] (of faces, their mirror images and perturbed copies; a map is not
    mirrored here: VGG's maps of a mirrored face are not the mirrored maps). Positives and negatives of each
    attribute weigh equally, so rare attributes (Bald: 2 %) are not ignored."""
    generator = torch.Generator().manual_seed(seed)
    features = features.float()
    model.mean.copy_(features.mean((0, 2, 3), keepdim=True))
    model.std.copy_(features.std((0, 2, 3), keepdim=True).clamp_min(1e-6))
    positives = labels.mean(0).clamp(0.01, 0.99)
    for layer in model.head:
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    optimizer = torch.optim.AdamW(model.head.parameters(), lr=2e-3, weight_decay=weight_decay)
    steps_per_epoch = max(1, len(features) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
    model.head.train()
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(len(features), generator=generator)
            for step in range(steps_per_epoch):
                index = order[step * 128:(step + 1) * 128]
                x, y = features[index], labels[index]
                weights = torch.where(y > 0.5, 0.5 / positives, 0.5 / (1 - positives))
                loss = F.binary_cross_entropy_with_logits(model.head_logits(x), y, weight=weights)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
    model.head.eval()


def mirrored_logits(model: AttributeClassifier, features: Tensor, mirrored: Tensor) -> Tensor:
    """[N,40] the classifier's logits from cached maps of faces and of their mirror images (as `forward`)."""
    with torch.no_grad():
        return model.mirrored_head_logits(features.float(), mirrored.float())


def report(names: list[str], logits: Tensor, labels: Tensor) -> dict[str, dict]:
    """Per attribute: accuracy, balanced accuracy (mean of the two classes' recalls) and the positive share."""
    predicted = logits > 0
    truth = labels > 0.5
    out = {}
    for k, name in enumerate(names):
        p, t = predicted[:, k], truth[:, k]
        recalls = [float((p[t == c] == c).float().mean()) for c in (True, False) if (t == c).any()]
        out[name] = {"accuracy": float((p == t).float().mean()), "balanced": float(np.mean(recalls)),
                     "positives": float(t.float().mean())}
    return out


def save_heads(path: Path, model: AttributeClassifier, metrics: dict) -> None:
    import json

    from safetensors.torch import save_file

    tensors = {f"head.{k}": v.detach().contiguous() for k, v in model.head.state_dict().items()}
    tensors.update({"mean": model.mean, "std": model.std})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"names": json.dumps(model.names), "report": json.dumps(metrics)})


def cached_probabilities(classifier: AttributeClassifier, faces: Tensor, names: list[str],
                         cache: Path | None) -> Tensor:
    """[N,40] the classifier's probabilities of the unedited photos `faces` (named `names`), kept in `cache` for the
    same classifier and photos: a fit and a report read them before any edit (a minute for the calibration faces on
    two cores), and they do not change with the model being fitted."""
    key = {"classifier": classifier.fingerprint(), "names": list(names), "shape": list(faces.shape)}
    saved = read_cached(cache, key)
    if saved is not None:
        return saved["probabilities"]
    probabilities = classifier.probabilities(faces.clamp(-1, 1))
    write_cached(cache, key, {"probabilities": probabilities})
    return probabilities


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
    model.head.load_state_dict({k[len("head."):]: v for k, v in tensors.items() if k.startswith("head.")})
    model.mean.copy_(tensors["mean"])
    model.std.copy_(tensors["std"])
    return model, json.loads(meta["report"])
