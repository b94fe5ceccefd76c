#!/usr/bin/env python
"""Label faces with a teacher stylizer (development only): one ONNX teacher over an image folder.

    python scripts/label_teacher.py --teacher ../shared/teachers/tiny_cute.onnx \
        --images ../shared/data/celebahq256/images --out runs/teacher_cute/celebahq256 --size 256

Writes `OUT/N.jpg` for every `N.jpg` (same names, so pairs match by name), skipping files already written, so an
interrupted run resumes. The teachers' terms are non-commercial: outputs stay under `runs/` (ignored by git) and
the project never loads a teacher at run time. Input `[1,H,W,3]` RGB in [-1,1] NHWC, in the dtype the model asks
for (`../shared/teachers/README.md`); the face is resized to `--size` (bicubic up, area down) and the output back.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.pixels import to_model, to_uint8  # noqa: E402
from streamfx.training.data import list_images  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", type=Path, required=True, help="teacher ONNX file")
    p.add_argument("--images", type=Path, required=True, help="folder of face images")
    p.add_argument("--out", type=Path, required=True, help="output folder (same file names)")
    p.add_argument("--size", type=int, default=256, help="teacher input side (multiple of 16)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of the outputs")
    return p.parse_args(argv)


def open_teacher(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    dtype = np.float16 if "float16" in spec.type else np.float32
    return session, spec.name, dtype


def stylize(session, input_name: str, dtype, bgr: np.ndarray, size: int) -> np.ndarray:
    """One BGR uint8 face -> the teacher's BGR uint8 output at the face's own size."""
    height, width = bgr.shape[:2]
    grow = size > height
    rgb = cv2.cvtColor(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA),
                       cv2.COLOR_BGR2RGB)
    x = to_model(rgb).permute(0, 2, 3, 1).numpy().astype(dtype)  # [1,S,S,3] NHWC in [-1,1], as the teacher takes it
    y = session.run(None, {input_name: x})[0][0].astype(np.float32)  # [S,S,3] NHWC
    out = to_uint8(torch.from_numpy(y).permute(2, 0, 1))
    out = cv2.resize(out, (width, height), interpolation=cv2.INTER_AREA if grow else cv2.INTER_CUBIC)
    return cv2.cvtColor(out, cv2.COLOR_RGB2BGR)


def main(argv=None) -> int:
    args = parse_args(argv)
    session, input_name, dtype = open_teacher(args.teacher, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [p for p in list_images(args.images) if not (args.out / p.name).is_file()]
    started = time.monotonic()
    for index, path in enumerate(todo):
        face = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if face is None:
            print(f"label_teacher: skipping unreadable {path}", file=sys.stderr)
            continue
        result = stylize(session, input_name, dtype, face, args.size)
        tmp = args.out / f".{path.stem}.tmp.jpg"
        cv2.imwrite(str(tmp), result, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        tmp.replace(args.out / path.name)
        if (index + 1) % 500 == 0:
            rate = (index + 1) / (time.monotonic() - started)
            print(f"{index + 1}/{len(todo)} ({rate:.1f} faces/s)", flush=True)
    print(f"labelled {len(todo)} faces into {args.out} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
