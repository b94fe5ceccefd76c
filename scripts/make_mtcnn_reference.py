"""Throwaway: record facenet-pytorch's own MTCNN output on the shared photos as a JSON test fixture.

Our detector (`streamfx.face.detect`) runs the same weights with our own code; `tests/test_face_detect.py`
compares its boxes and landmarks with these numbers. facenet-pytorch imports torchvision, which cannot load on
the CPU torch wheel, so this script (and only this script) installs a tiny stand-in in `sys.modules`:
`torchvision.ops.boxes.batched_nms` in plain torch and `torchvision.transforms.functional.to_tensor`.
It also bypasses `facenet_pytorch/__init__.py` (which imports `requests` for weight downloads).

Never imported by the package or the tests. Usage:
    python scripts/make_mtcnn_reference.py [--data ../shared/data] [--out tests/fixtures/mtcnn_reference.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
PHOTOS = (
    "facenet-pytorch/multiface.jpg",
    "facenet-pytorch/test_images/angelina_jolie/1.jpg",
    "facenet-pytorch/test_images/kate_siegel/1.jpg",
    "facenet-pytorch/test_images/paul_rudd/1.jpg",
    "facenet-pytorch/test_images/shea_whigham/1.jpg",
    "face_recognition_tests/obama_partial_face.jpg",
    "face_recognition_tests/obama_partial_face2.jpg",
    "face_recognition_tests/obama3.jpg",
    "face_recognition_tests/32bit.png",
)


def _greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    keep = []
    alive = torch.ones(len(order), dtype=torch.bool)
    for rank, i in enumerate(order.tolist()):
        if not alive[rank]:
            continue
        keep.append(i)
        rest = order[rank + 1 :]
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (area[i] + area[rest] - inter)
        alive[rank + 1 :] &= iou <= iou_threshold
    return torch.tensor(keep, dtype=torch.long)


def _batched_nms(boxes, scores, idxs, iou_threshold):
    # Same trick torchvision uses: shift each group far apart so groups never overlap.
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return _greedy_nms(boxes + offsets[:, None], scores, iou_threshold)


def _to_tensor(array) -> torch.Tensor:
    array = np.asarray(array)
    tensor = torch.from_numpy(array.transpose(2, 0, 1).copy())
    return tensor.float().div(255) if array.dtype == np.uint8 else tensor


def install_shims() -> None:
    tv = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    boxes = types.ModuleType("torchvision.ops.boxes")
    boxes.batched_nms = _batched_nms
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.to_tensor = _to_tensor
    tv.ops, ops.boxes, tv.transforms, transforms.functional = ops, boxes, transforms, functional
    sys.modules.update(
        {
            "torchvision": tv,
            "torchvision.ops": ops,
            "torchvision.ops.boxes": boxes,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
        }
    )
    spec = importlib.util.find_spec("facenet_pytorch")
    package = types.ModuleType("facenet_pytorch")  # skip its __init__ (it needs requests)
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["facenet_pytorch"] = package


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "mtcnn_reference.json")
    args = parser.parse_args()
    install_shims()
    from facenet_pytorch.models.mtcnn import MTCNN

    from streamfx.io.image import read_image

    torch.set_num_threads(2)
    mtcnn = MTCNN(keep_all=True, device="cpu")
    records = {}
    for name in PHOTOS:
        image = read_image(args.data / "photos" / name)
        boxes, probs, points = mtcnn.detect(image, landmarks=True)
        faces = []
        for box, prob, pts in zip(boxes if boxes is not None else [], probs if probs is not None else [],
                                  points if points is not None else []):
            faces.append({"score": round(float(prob), 5), "box": np.round(np.asarray(box, dtype=np.float64), 2).tolist(),
                          "landmarks": np.round(np.asarray(pts, dtype=np.float64), 2).tolist()})
        records[name] = {"size": [image.shape[1], image.shape[0]], "faces": faces}
        print(f"{name}: {len(faces)} faces")
    meta = {"source": "facenet-pytorch 2.6.0 MTCNN(keep_all=True), defaults: min_face_size 20, "
                      "thresholds [0.6,0.7,0.7], factor 0.709", "photos": records}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
