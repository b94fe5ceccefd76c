"""Fitting the edit bank against a trained model: directions by regression, strengths by measurement.

1. Directions. Every training face's content map c and style code s (from the face->anime encoder) are regressed
   on its 40 CelebA labels at once: c ~ mean + sum_j y_j * B_j (ridge least squares). B_k is the content change of
   attribute k with the other 39 held fixed, which is what keeps one slider from dragging correlated attributes
   (Male and No_Beard, Young and Gray_Hair) along; the same regression on s gives the style directions.
2. Strengths. Slider +-1 must carry most faces across the classifier's 0.5 line. For each attribute a few
   strengths are tried on calibration faces (faces on the wrong side of the line, pushed towards the other);
   the smallest that carries `target` of them across in both directions is kept, else the strongest tried.
   With `tune`, each direction, taken at that strength, is then tuned against the classifier on other training
   faces (`tune.py`), and slider +-1 is the tuned direction itself.
3. Verdict. An attribute is editable when slider +-1 carries >= 70 % across and moves the other attributes by
   <= 0.1 on average, and the classifier can measure it at all (balanced accuracy >= 0.7 on held-out faces).

Cost on a 2-core CPU: encoding the faces takes seconds; strengths take about 5-10 s per attribute (the
classifier's VGG dominates), so the whole bank is minutes.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import torch
from torch import Tensor

from streamfx.edit.bank import AttributeReport, EditBank
from streamfx.edit.render import PhotoDecoder, encode_all
from streamfx.edit.tune import TuneOptions, tune_direction, tuning_faces

log = logging.getLogger("streamfx.edit")

STRENGTHS = (0.75, 1.5, 2.5, 4.0)  # tried in this order of need (see `_calibrate`)
CROSSING_BAR = 0.7
ENTANGLEMENT_BAR = 0.1
MEASURABLE_BAR = 0.7


def regress(codes: Tensor, labels: Tensor, ridge: float = 1.0) -> Tensor:
    """[K,...] per-label effects of `codes` [N,...] on `labels` [N,K] in {0,1}, the other labels held fixed."""
    y = labels - labels.mean(0)
    x = (codes - codes.mean(0)).reshape(len(codes), -1)
    gram = y.T @ y + ridge * torch.eye(y.shape[1])
    return torch.linalg.solve(gram, y.T @ x).reshape(labels.shape[1], *codes.shape[1:])


class Calibrator:
    """Measures what an edit does on fixed calibration faces (their codes and plain decodings cached)."""

    def __init__(self, g_a2b, decoder: PhotoDecoder, classifier, faces: Tensor, chunk: int = 32):
        self.decoder, self.classifier, self.chunk = decoder, classifier, chunk
        self.faces = faces
        with torch.no_grad():
            self.content, self.style = encode_all(g_a2b, faces)
            self.base = torch.cat([decoder(self.content[i:i + chunk], self.style[i:i + chunk])
                                   for i in range(0, len(faces), chunk)])
            self.before = classifier.probabilities(faces.clamp(-1, 1))  # [M,40]

    @torch.no_grad()
    def probabilities(self, index: Tensor, content_delta: Tensor, style_delta: Tensor) -> Tensor:
        """[len(index),40] classifier probabilities of the faces `index` edited by the given deltas."""
        out = []
        for start in range(0, len(index), self.chunk):
            i = index[start:start + self.chunk]
            edited = self.decoder(self.content[i] + content_delta, self.style[i] + style_delta)
            out.append(self.classifier.probabilities((self.faces[i] + edited - self.base[i]).clamp(-1, 1)))
        return torch.cat(out)


def _measure(cal: Calibrator, k: int, content_dir: Tensor, style_dir: Tensor, scale: float, per_side: int):
    """(crossing in the weaker direction, entanglement) of attribute k's direction at `scale`."""
    crossings, changes = [], []
    for sign, wrong_side in ((1.0, cal.before[:, k] < 0.5), (-1.0, cal.before[:, k] >= 0.5)):
        index = wrong_side.nonzero().flatten()[:per_side]
        if len(index) < 4:  # too few faces on that side to say anything (Bald's positives, say)
            continue
        after = cal.probabilities(index, sign * scale * content_dir, sign * scale * style_dir)
        crossings.append(float(((after[:, k] >= 0.5) == (sign > 0)).float().mean()))
        others = torch.ones(after.shape[1], dtype=torch.bool)
        others[k] = False
        changes.append((after - cal.before[index])[:, others].abs().mean())
    if not crossings:
        return 0.0, 1.0
    return min(crossings), float(torch.stack(changes).mean())


def _calibrate(cal, k, content_dir, style_dir, target: float, per_side: int) -> tuple[float, float, float]:
    """(strength, crossing, entanglement): the smallest tried strength reaching `target`, else the strongest."""
    tried = {}
    position = 1  # start in the middle of STRENGTHS and move towards what is needed
    while 0 <= position < len(STRENGTHS) and STRENGTHS[position] not in tried:
        scale = STRENGTHS[position]
        tried[scale] = _measure(cal, k, content_dir, style_dir, scale, per_side)
        position += -1 if tried[scale][0] >= target else 1
    good = [s for s, (c, _) in tried.items() if c >= target]
    scale = min(good) if good else max(tried)
    return scale, *tried[scale]


def fit_bank(g_a2b, decoder: PhotoDecoder, classifier, train_faces: Tensor, train_labels: Tensor,
             calibration_faces: Tensor, *, names: list[str], measurable: dict[str, float], model_sha256: str = "",
             target: float = 0.8, per_side: int = 32, attributes: list[str] | None = None,
             tune: TuneOptions | None = None, tune_faces: Tensor | None = None) -> EditBank:
    """The bank for the generators. `measurable`: the classifier's held-out balanced accuracy per attribute;
    `attributes`: fit only these (default all 40; the others stay at zero, not editable); `tune` with
    `tune_faces` (training faces outside the calibration set): tune every fitted direction (`tune.py`)."""
    started = time.perf_counter()
    content, style = encode_all(g_a2b, train_faces)
    content_dirs, style_dirs = regress(content, train_labels), regress(style, train_labels)
    del content
    cal = Calibrator(g_a2b, decoder, classifier, calibration_faces)
    tuning = None
    if tune is not None and tune_faces is not None:
        classifier.requires_grad_(False)
        tuning = tuning_faces(lambda faces: encode_all(g_a2b, faces), decoder, classifier, tune_faces)
    scaled_content, scaled_style = torch.zeros_like(content_dirs), torch.zeros_like(style_dirs)
    reports = {}
    for k, name in enumerate(names):
        if attributes is not None and name not in attributes:
            reports[name] = AttributeReport(False, "not fitted")
            continue
        if measurable.get(name, 0.0) < MEASURABLE_BAR:
            reports[name] = AttributeReport(False, f"the classifier cannot measure it (held-out balanced accuracy "
                                                   f"{measurable.get(name, 0.0):.2f})")
            continue
        strength, crossing, entanglement = _calibrate(cal, k, content_dirs[k], style_dirs[k], target, per_side)
        content_dir, style_dir = strength * content_dirs[k], strength * style_dirs[k]
        if tuning is not None:
            log.info("%-20s before tuning: strength %.2f crossing %.2f entanglement %.3f", name, strength, crossing,
                     entanglement)
            content_dir, style_dir = tune_direction(decoder, classifier, tuning, k, content_dir, style_dir, tune)
            crossing, entanglement = _measure(cal, k, content_dir, style_dir, 1.0, per_side)
        reasons = []
        if crossing < CROSSING_BAR:
            reasons.append(f"only {crossing:.0%} of faces cross at full strength")
        if entanglement > ENTANGLEMENT_BAR:
            reasons.append(f"moves the other attributes by {entanglement:.2f}")
        reports[name] = AttributeReport(not reasons, "; ".join(reasons), strength, crossing, entanglement)
        scaled_content[k], scaled_style[k] = content_dir, style_dir
        log.info("%-20s strength %.2f crossing %.2f entanglement %.3f %s", name, strength, crossing, entanglement,
                 "" if not reasons else "(not editable)")
    info = {"train_faces": len(train_faces), "calibration_faces": len(calibration_faces), "target": target,
            "photo_decoder": decoder.kind,
            "tuning": None if tuning is None else {"faces": len(tuning.faces), **dataclasses.asdict(tune)},
            "seconds": round(time.perf_counter() - started, 1)}
    return EditBank(list(names), scaled_content, scaled_style, model_sha256, reports, info)

