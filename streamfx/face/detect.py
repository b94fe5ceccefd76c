"""MTCNN face detection: our own batched cascade (P-Net -> R-Net -> O-Net) over the shipped weights."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from streamfx.errors import UsageError
from streamfx.face.boxes import box_area, crop_patches, regress_boxes, to_square
from streamfx.face.mtcnn import PIXEL_MEAN, PIXEL_SCALE, load_mtcnn
from streamfx.face.nms import nms
from streamfx.types import Face


PYRAMID_FACTOR = 0.709  # area halves every two pyramid levels
PNET_WINDOW, PNET_STRIDE = 12, 2
NMS_PER_SCALE, NMS_STAGE, NMS_FINAL = 0.5, 0.7, 0.7
CROP_BATCH = 256  # crops per R-Net/O-Net call, bounds memory on large photos
VIDEO_MAX_SIDE = 640  # video runs detect on frames shrunk to this long side: faces down to 1/50 of it are found


@dataclass
class _Detections:
    """Per-image candidates in working-image pixels."""

    boxes: np.ndarray  # [N,4]
    scores: np.ndarray  # [N]
    landmarks: np.ndarray | None = None  # [N,5,2]


def _empty() -> _Detections:
    return _Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))


class MTCNNDetector:
    """Find faces with MTCNN and return boxes, scores and 5 landmarks in frame pixels.

    min_face_size: smallest face searched for, in frame pixels. With `max_side` the frame is first shrunk so its
    long side is at most `max_side` (for speed); faces smaller than 12 pixels after shrinking are then missed.
    thresholds: face-probability cut-offs of P-Net, R-Net and O-Net.
    max_faces: keep only the largest faces (by box area).
    engine: "auto" runs the three nets on OpenVINO when it is installed (CPU only; `mtcnn_openvino.py`), "torch"
    never; `self.engine` says which kind ran.
    Faces come back largest first.
    """

    def __init__(self, device="cpu", min_face_size=20, thresholds=(0.6, 0.7, 0.7), max_faces=None, max_side=None,
                 engine="auto"):
        if min_face_size < 1:
            raise UsageError(f"min face size must be at least 1 pixel, not {min_face_size}")
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise UsageError(f"thresholds must be three values in [0,1], not {thresholds}")
        if max_side is not None and max_side < 24:
            raise UsageError(f"max side must be at least 24 pixels, not {max_side}")
        self.device = torch.device(device)
        self.min_face_size = float(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.max_faces = max_faces
        self.max_side = max_side
        self.pnet, self.rnet, self.onet = load_mtcnn(self.device)
        self.engine = "torch"
        if engine not in ("auto", "torch"):
            raise UsageError(f"face detection engine must be auto or torch, not {engine!r}")
        if engine == "auto" and self.device.type == "cpu":
            self._compile()

    def _compile(self) -> None:
        from streamfx.face.mtcnn import weights_dir
        from streamfx.face.mtcnn_openvino import compiled_nets

        nets = {"pnet": self.pnet, "rnet": self.rnet, "onet": self.onet}
        compiled = compiled_nets(nets, weights_dir(), torch.get_num_threads())
        if compiled is not None:
            self.pnet, self.rnet, self.onet = compiled["pnet"], compiled["rnet"], compiled["onet"]
            self.engine = "openvino"

    # ---- public API -------------------------------------------------------------------------------------
    @torch.inference_mode()
    def detect(self, images: list[np.ndarray], min_face_size: float | None = None) -> list[list[Face]]:
        """Faces in each RGB uint8 [H,W,3] image (images may differ in size). `min_face_size` (frame pixels) searches
        only larger faces this time, which is cheaper: most of a detection is P-Net over the finest pyramid levels."""
        for image in images:
            _check_image(image)
        smallest = self.min_face_size if min_face_size is None else max(self.min_face_size, float(min_face_size))
        shrink = [self._working_scale(image) for image in images]
        working = [_resize(image, s) for image, s in zip(images, shrink)]
        found = self._propose(working, shrink, smallest)
        found = self._refine_stage(working, found)
        found = self._output_stage(working, found)
        return [self._to_faces(det, 1.0 / s) for det, s in zip(found, shrink)]

    @torch.inference_mode()
    def refine(self, image: np.ndarray, boxes: np.ndarray) -> list[Face]:
        """O-Net on given boxes (e.g. a tracked face): one Face per box, in order, with a regressed box and fresh
        landmarks. No threshold is applied: `score` is O-Net's face probability, the caller decides."""
        _check_image(image)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        squares = to_square(boxes)
        prob, offsets, points = self._run_crops(self.onet, image, squares, 48)
        det = _Detections(regress_boxes(squares, offsets, 1.0), prob, _landmarks(squares, points))
        return [_face(det.boxes[i], det.landmarks[i], det.scores[i]) for i in range(len(boxes))]

    # ---- stages -----------------------------------------------------------------------------------------
    def _working_scale(self, image: np.ndarray) -> float:
        long_side = max(image.shape[:2])
        return 1.0 if self.max_side is None or long_side <= self.max_side else self.max_side / long_side

    def _pyramid(self, height: int, width: int, shrink: float, smallest: float) -> list[float]:
        """Scales at which P-Net's 12 px window matches faces from min_face_size upward, less the finest levels, which
        only faces under `smallest` (frame pixels) need: the levels kept are those of a full detection, so a face
        above `smallest` is found with the same box and score."""
        first = PNET_WINDOW / (self.min_face_size * shrink)
        if shrink < 1.0:
            first = min(first, 1.0)  # never enlarge an image we shrank for speed
        finest = PNET_WINDOW / (smallest * shrink * PYRAMID_FACTOR)  # a level s sees faces of 12/s to 12/(s*factor)
        scales, scale = [], first
        while min(height, width) * scale >= PNET_WINDOW:
            if scale < finest:
                scales.append(scale)
            scale *= PYRAMID_FACTOR
        return scales

    def _propose(self, working: list[np.ndarray], shrink: list[float], smallest: float) -> list[_Detections]:
        """P-Net over an image pyramid, batched across images of the same size."""
        per_image: list[list[np.ndarray]] = [[] for _ in working]
        groups: dict[tuple[int, int, float], list[int]] = {}
        for i, image in enumerate(working):
            for scale in self._pyramid(image.shape[0], image.shape[1], shrink[i], smallest):
                groups.setdefault((image.shape[0], image.shape[1], scale), []).append(i)
        for (height, width, scale), members in groups.items():
            size = (math.ceil(width * scale), math.ceil(height * scale))
            batch = np.stack([_resize_to(working[i], size) for i in members])
            prob, offsets = self.pnet(_to_input(batch, self.device))
            prob, offsets = prob.cpu().numpy(), offsets.cpu().numpy()
            for j, i in enumerate(members):
                candidates = _pnet_candidates(prob[j], offsets[j], scale, self.thresholds[0])
                keep = nms(candidates[:, :4], candidates[:, 4], NMS_PER_SCALE)
                per_image[i].append(candidates[keep])
        found = []
        for candidates in per_image:
            candidates = np.concatenate(candidates) if candidates else np.zeros((0, 9))
            keep = nms(candidates[:, :4], candidates[:, 4], NMS_STAGE)
            candidates = candidates[keep]
            boxes = to_square(regress_boxes(candidates[:, :4], candidates[:, 5:9]))
            found.append(_Detections(boxes, candidates[:, 4]))
        return found

    def _refine_stage(self, working: list[np.ndarray], found: list[_Detections]) -> list[_Detections]:
        """R-Net on 24x24 crops of the P-Net proposals."""
        out = []
        for image, det in zip(working, found):
            if len(det.boxes) == 0:
                out.append(_empty())
                continue
            prob, offsets = self._run_crops(self.rnet, image, det.boxes, 24)
            ok = prob >= self.thresholds[1]
            boxes, scores, offsets = det.boxes[ok], prob[ok], offsets[ok]
            keep = nms(boxes, scores, NMS_STAGE)
            out.append(_Detections(to_square(regress_boxes(boxes[keep], offsets[keep], 1.0)), scores[keep]))
        return out

    def _output_stage(self, working: list[np.ndarray], found: list[_Detections]) -> list[_Detections]:
        """O-Net on 48x48 crops: final score, box and landmarks."""
        out = []
        for image, det in zip(working, found):
            if len(det.boxes) == 0:
                out.append(_empty())
                continue
            prob, offsets, points = self._run_crops(self.onet, image, det.boxes, 48)
            ok = prob >= self.thresholds[2]
            squares = det.boxes[ok]
            landmarks = _landmarks(squares, points[ok])  # relative to the box O-Net saw, before regression
            boxes = regress_boxes(squares, offsets[ok], 1.0)
            keep = nms(boxes, prob[ok], NMS_FINAL, mode="min")
            out.append(_Detections(boxes[keep], prob[ok][keep], landmarks[keep]))
        return out

    def _run_crops(self, net, image: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
        outputs = []
        for start in range(0, len(boxes), CROP_BATCH):
            patches = crop_patches(image, boxes[start : start + CROP_BATCH], size)  # [n,size,size,3] uint8
            outputs.append([t.cpu().numpy().astype(np.float64) for t in net(_to_input(patches, self.device))])
        return tuple(np.concatenate(parts) for parts in zip(*outputs))

    def _to_faces(self, det: _Detections, unshrink: float) -> list[Face]:
        order = np.argsort(-box_area(det.boxes), kind="stable")
        if self.max_faces is not None:
            order = order[: self.max_faces]
        return [_face(det.boxes[i] * unshrink, det.landmarks[i] * unshrink, det.scores[i]) for i in order]


# ---- helpers --------------------------------------------------------------------------------------------
def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = getattr(image, "shape", type(image).__name__)
        raise UsageError(f"face detection needs RGB uint8 [H,W,3] images, got {got}")


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return image
    return _resize_to(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))))


def _resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if (image.shape[1], image.shape[0]) == size:
        return image
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    # [B,H,W,3] uint8 -> [B,3,H,W] float32, normalized as the weights expect
    tensor = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float()
    return (tensor - PIXEL_MEAN) * PIXEL_SCALE


def _pnet_candidates(prob: np.ndarray, offsets: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """[N,9] x1,y1,x2,y2,score,dx1,dy1,dx2,dy2 for the P-Net cells above threshold, in working pixels."""
    ys, xs = np.nonzero(prob >= threshold)
    x1 = np.floor((PNET_STRIDE * xs + 1) / scale)
    y1 = np.floor((PNET_STRIDE * ys + 1) / scale)
    x2 = np.floor((PNET_STRIDE * xs + PNET_WINDOW) / scale)
    y2 = np.floor((PNET_STRIDE * ys + PNET_WINDOW) / scale)
    return np.column_stack([x1, y1, x2, y2, prob[ys, xs], offsets[:, ys, xs].T]).astype(np.float64)


def _landmarks(boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """O-Net's [N,10] relative points (5 x then 5 y) -> [N,5,2] pixels."""
    w = (boxes[:, 2] - boxes[:, 0] + 1.0)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1.0)[:, None]
    xs = boxes[:, 0:1] + w * points[:, 0:5] - 1.0
    ys = boxes[:, 1:2] + h * points[:, 5:10] - 1.0
    return np.stack([xs, ys], axis=2)


def _face(box: np.ndarray, landmarks: np.ndarray, score: float) -> Face:
    return Face(box=np.asarray(box, np.float32), landmarks=np.asarray(landmarks, np.float32), score=float(score))
