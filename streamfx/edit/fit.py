"""Fitting the edit bank against a trained model: directions by regression, strengths by measurement.

1. Directions. Every training face's content map c and style code s (from the photo encoder) are regressed
   on its 40 CelebA labels at once: c ~ mean + sum_j y_j * B_j (ridge least squares). B_k is the content change of
   attribute k with the other 39 held fixed, which is what keeps one slider from dragging correlated attributes
   (Male and No_Beard, Young and Gray_Hair) along; the same regression on s gives the style directions.
2. Shape and strengths. Slider +-1 must carry most faces across the classifier's 0.5 line. Each direction is
   tried as regressed and localised (kept only where it is strong on the 16x16 map, `localise`); for each, a few
   strengths are tried on calibration faces (faces on the wrong side of the line by the classifier and by their
   label alike, pushed towards the other), and each side of the slider keeps the smallest strength that carries
   `target` of its faces across, else the one that carries most (and where the bars change between two
   strengths, the ones between are tried too: `_refine`). The shape kept is the one that reaches the
   crossing bar with the least change to the other attributes (below the bar: the most crossing, less that
   change). The edit is then measured one-sided (`reach.py`, each face's share by the bank's probe) and kept so
   unless that costs crossing (`_fit_attribute`). Last, the change is kept only in the region where the
   direction draws (`region.py`), the tightest of `REGIONS` that keeps every side's verdict and crossing
   (`_fit_region`), where one does.
   With `tune`, each direction, taken at its +1 strength, is instead tuned against the classifier on other
   training faces (`tune.py`), and slider +-1 is the tuned direction itself.
3. Verdict. Each side of a slider is judged by itself: slider +1 (or -1) is offered on photos when it carries
   >= 70 % of its faces across and moves the other attributes by <= 0.1 on average, the classifier can measure
   the attribute at all (balanced accuracy >= 0.7 on held-out faces), and, with an identity model, dlib still takes
   >= 90 % of those faces for the same person. Putting glasses on may pass while taking them off does not; the
   slider is then offered from 0 to +1 only.

Cost on a 2-core CPU (session 43, 64 calibration faces a side, dlib's identity check): encoding the faces and
solving the probe take about a minute. Strengths are searched by a screen (`Calibrator.screened`: the classifier's
bf16 twin, 0.9 s for 64 photos, and no dlib), and only each attribute's pick is read by the classifier (4.4 s through
OpenVINO fp32, 8.4 s through torch) and dlib (3.4 s in two processes), whose figures the bank keeps
(`_fit_attribute`); drawing and pasting 64 faces take 0.8 s. The twelve headline and colour attributes fit from the
weakest strength in 824 s (3,782 s in session 39, the classifier searching through torch); all 40 in 1,888 s (about
two and a half hours before). A refit from a previous bank's strengths and shapes (`previous`, `_shapes_near`)
measures a few strengths a side, in the other shape only where a check says it may win: the twelve in 373 s (739 s
with the classifier searching), bit for bit the bank of their full fit.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from streamfx.edit.bank import CROSSING_BAR, ENTANGLEMENT_BAR, IDENTITY_BAR, AttributeReport, EditBank, shortfall
from streamfx.edit.composite import composite
from streamfx.edit.framing import FramedPhotos, put_back
from streamfx.face.blend import EDIT_MASK
from streamfx.edit.reach import fit_probe, reach
from streamfx.edit.region import cell_mask, region
from streamfx.edit.render import PhotoDecoder, encode_all
from streamfx.edit.tune import TuneOptions, tune_direction, tuning_faces
from streamfx.pixels import to_uint8

log = logging.getLogger("streamfx.edit")

STRENGTHS = (0.75, 1.5, 2.0, 2.5, 3.0, 4.0, 4.5, 5.0)  # tried in this order of need (see `_calibrate`)
REFINEMENTS = 2  # halvings between two strengths tried where a side's bars change (see `_refine`)
MEASURABLE_BAR = 0.7
ONE_SIDED_SLACK = 0.05  # crossing a one-sided edit may lose below the bar (see `_fit_attribute`)


# Attributes of the mouth's shape, whose change is put on photos as light and shade only: the photo decoder draws
# the teeth of a mouth it opens cyan, and in colour the cyan lands on the face (`composite.py`; editing log, session 44)
SHADE_ONLY = ("Mouth_Slightly_Open", "Smiling")
# Regions an attribute's change may be kept in (`region.py`), tightest first, in multiples of its direction's median
# cell, and the crossing a side may lose to one (see `_fit_region`)
REGIONS = (2.0, 1.5, 1.0)
REGION_SLACK = 0.05


def split_calibration(train: list, every: int = 10) -> tuple[list, list]:
    """(fitting faces, calibration faces) of the training faces: every `every`-th face calibrates, the others are
    regressed and fitted by the probe. Calibration faces must be new to the probe: on the faces it was fitted on
    it reads nearly every face firmly on its label's side, so one-sided edits reach further there than on new
    faces (black hair -1: the full edit for all calibration faces, 0.92 of it on average for held-out ones) and
    the verdicts flatter the slider."""
    return [p for i, p in enumerate(train) if i % every], train[::every]


def regress(codes: Tensor, labels: Tensor, ridge: float = 1.0) -> Tensor:
    """[K,...] per-label effects of `codes` [N,...] on `labels` [N,K] in {0,1}, the other labels held fixed."""
    y = labels - labels.mean(0)
    x = (codes - codes.mean(0)).reshape(len(codes), -1)
    gram = y.T @ y + ridge * torch.eye(y.shape[1])
    return torch.linalg.solve(gram, y.T @ x).reshape(labels.shape[1], *codes.shape[1:])


class Calibrator:
    """Measures what an edit does on fixed calibration faces (their codes and plain decodings cached). With their
    CelebA `labels` [M,40], only faces whose label agrees with the classifier are measured (`starting_faces`).
    `faces`: the faces edited and read as they are, or `FramedPhotos`: their crops, aligned as `streamfx edit` aligns
    video faces, are edited and the photos read with the change pasted back (`framing.py`). `identity`: a face
    identity model (`training/identity.py`) to tell whether an edit keeps the person (`same_person`). `before`: the
    classifier's readings of the unedited faces, where they were read already (`cached_probabilities`). `screen`:
    the classifier's quick twin (`AttributeClassifier.screen`), for searching strengths (`screened`)."""

    def __init__(self, encoder, decoder: PhotoDecoder, classifier, faces: Tensor | FramedPhotos,
                 labels: Tensor | None = None, chunk: int = 32, identity=None, before: Tensor | None = None,
                 screen=None):
        self.decoder, self.classifier, self.chunk, self.identity = decoder, classifier, chunk, identity
        self.screen, self._screened = screen, None
        self.shade = False  # every edit's change put on as light and shade only (`shaded`)
        self.region: float | None = None  # every edit's change kept only in its region (`regioned`)
        self.framed = faces if isinstance(faces, FramedPhotos) else None
        self.faces = faces.crops if self.framed is not None else faces
        self.labels = labels
        self._descriptors: dict[int, np.ndarray] = {}  # the unedited faces' identity, read when first needed
        self._drawn: dict[bytes, Tensor] = {}  # the last edits drawn, their faces (see `edited`)
        self._screen_readings: list[Tensor] = []  # the screen's readings of the unedited faces, once read (shared)
        with torch.no_grad():
            self.content, self.style = encode_all(encoder, self.faces)
            self.base = torch.cat([decoder(self.content[i:i + chunk], self.style[i:i + chunk])
                                   for i in range(0, len(self.faces), chunk)])
            self.before = before if before is not None else classifier.probabilities(self.unedited.clamp(-1, 1))
        self.reference = self.before  # what an edit's change to the readings is measured from

    def screened(self) -> Calibrator:
        """This calibrator reading through its `screen` instead of the classifier, for searching strengths: the
        same faces and the same drawings of an edit (shared, so that the classifier's second reading of the edit
        the screen picked need not draw it again). Its changes are measured from the screen's own readings of the
        unedited faces, so that the screen's rounding does not count as change; which faces start on which side
        stays the classifier's. It does not ask dlib (a third of a measure): the classifier's reading of the pick
        does. Itself where it has no screen."""
        if self.screen is None:
            return self
        if self._screened is None:
            view = copy.copy(self)
            view.classifier, view.screen, view.identity = self.screen, None, None
            if not self._screen_readings:  # read once for this calibrator and its shaded views
                self._screen_readings.append(self.screen.probabilities(self.unedited.clamp(-1, 1)))
            view.reference = self._screen_readings[0]
            self._screened = view
        return self._screened

    def shaded(self) -> Calibrator:
        """This calibrator putting every edit's change on as light and shade only (`composite.py`), for the
        attributes in `SHADE_ONLY`: the same faces, readers and kept drawings (kept apart by how they were drawn);
        its `screened` view shades too."""
        view = copy.copy(self)
        view.shade, view._screened = True, None
        return view

    def regioned(self, low: float | None) -> Calibrator:
        """This calibrator keeping every edit's change only where its content change is at least `low` times its
        median cell (`region.py`; None: everywhere): the same faces, readers and kept drawings (kept apart by how
        they were drawn), shading as this one does; its `screened` view keeps the region too."""
        view = copy.copy(self)
        view.region, view._screened = low, None
        return view

    @property
    def unedited(self) -> Tensor:
        """[M,3,S,S] the faces as the classifier reads them before any edit (the photos, when framed)."""
        return self.framed.photos if self.framed is not None else self.faces

    def pasted(self, index: Tensor, edited: Tensor) -> Tensor:
        """The faces `index` edited to `edited` as they are read: the photos with the change pasted back, when
        framed."""
        if self.framed is None:
            return edited
        f = self.framed
        return put_back(f.photos[index], f.crops[index], edited, f.affines[index])

    @torch.no_grad()
    def edited(self, index: Tensor, content_delta: Tensor, style_delta: Tensor) -> Tensor:
        """[len(index),3,S,S] the faces `index` edited by the given deltas (one for all, or one per face:
        [len(index),C,H,W] and [len(index),latent]), as they are read (`pasted`). The last two edits' faces are
        kept, by what the edits are: `same_person` asks for the very faces `probabilities` has just read, and the
        classifier reads again the two sides the screen measured last when they are its pick (`_fit_attribute`;
        drawing 64 faces takes 0.8 s on two cores)."""
        key = _digest(index, content_delta, style_delta) + repr((self.shade, self.region)).encode()
        if key in self._drawn:
            return self._drawn[key]
        out = []
        for start in range(0, len(index), self.chunk):
            i = index[start:start + self.chunk]
            part = slice(start, start + self.chunk)
            dc = content_delta[part] if content_delta.dim() == 4 else content_delta
            ds = style_delta[part] if style_delta.dim() == 2 else style_delta
            edited = self.decoder(self.content[i] + dc, self.style[i] + ds)
            shade = torch.ones(len(i), 1, 1, 1) if self.shade else None
            kept = None if self.region is None else region(dc, self.region).expand(len(i), 1, -1, -1)
            out.append(self.pasted(i, composite(self.faces[i], self.base[i], edited, shade, kept)))
        while len(self._drawn) >= 2:
            del self._drawn[next(iter(self._drawn))]  # the oldest
        self._drawn[key] = torch.cat(out)
        return self._drawn[key]

    @torch.no_grad()
    def probabilities(self, index: Tensor, content_delta: Tensor, style_delta: Tensor) -> Tensor:
        """[len(index),40] classifier probabilities of the faces `index` edited by the given deltas (`edited`)."""
        return self.classifier.probabilities(self.edited(index, content_delta, style_delta).clamp(-1, 1))

    def same_person(self, index: Tensor, content_delta: Tensor, style_delta: Tensor) -> float:
        """Share of the faces `index`, edited by the given deltas, that the identity model still takes for the same
        person."""
        from streamfx.training.identity import same_person_share

        missing = [int(i) for i in index if int(i) not in self._descriptors]
        if missing:
            read = self.identity.descriptors(list(to_uint8(self.unedited[missing])))
            self._descriptors.update(zip(missing, read))
        before = np.stack([self._descriptors[int(i)] for i in index])
        after = self.identity.descriptors(list(to_uint8(self.edited(index, content_delta, style_delta))))
        return same_person_share(before, after)


def _digest(*tensors: Tensor) -> bytes:
    """A key for an edit by what it is (its faces and deltas), not by which tensor objects carry it."""
    digest = hashlib.blake2b(digest_size=16)
    for tensor in tensors:
        digest.update(str((tensor.dtype, tuple(tensor.shape))).encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.digest()


def starting_faces(before: Tensor, labels: Tensor | None, k: int, sign: float) -> Tensor:
    """Indices of the faces slider `sign` must carry across for attribute k: those the classifier reads (`before`
    [M,40]) as without it for +1, with it for -1; with `labels` [M,40], only where the label agrees. A face the
    classifier misreads as having bangs has none to take away: a -1 edit that "crosses" it does so by painting
    their negative (a bright forehead), which is not a skill to calibrate for."""
    has = before[:, k] >= 0.5
    wrong_side = has if sign < 0 else ~has
    if labels is not None:
        wrong_side &= has == (labels[:, k] > 0.5)
    return wrong_side.nonzero().flatten()


def localise(content_dir: Tensor, low: float = 1.5, width: float = 1.5) -> Tensor:
    """`content_dir` [C,H,W] kept only where it is strong. Regression spreads a faint change over the whole 16x16
    map besides the attribute's own place (the mouth for Smiling, the brow for Bangs); that faint change is what
    moves the other attributes most. Cells whose magnitude is under `low` times the median cell are dropped, cells
    above `low + width` times it kept whole, with a ramp between (`region.cell_mask`)."""
    return content_dir * cell_mask(content_dir.norm(dim=0), low, width)


@dataclass(frozen=True)
class Side:
    """What slider +1 (or -1) does at one strength on the calibration faces of its side."""

    strength: float
    crossing: float  # share of the faces on the other side of the 0.5 line carried across
    entanglement: float  # mean |change| of the other 39 probabilities on those faces
    measured: bool = True  # False: too few faces on this side, the figures are the other side's (`Calibration.of`)
    identity: float | None = None  # share of those faces still the same person; None: not measured (`_measure`)

    @property
    def keeps_person(self) -> bool:
        return self.identity is None or self.identity >= IDENTITY_BAR

    @property
    def within_bars(self) -> bool:
        """Whether it moves the other attributes little enough and keeps the person (where that was measured)."""
        return self.entanglement <= ENTANGLEMENT_BAR and self.keeps_person

    @property
    def passes(self) -> bool:
        """Whether this side of the slider meets every bar, and so may be offered on photos by itself."""
        return self.measured and self.crossing >= CROSSING_BAR and self.within_bars

    def settles(self, target: float) -> bool:
        """Whether it carries `target` of its faces across within the bars: the strength a search stops at."""
        return self.crossing >= target and self.within_bars


def _measure(cal: Calibrator, k: int, content_dir: Tensor, style_dir: Tensor, scale: float | dict[float, float],
             per_side: int, shares: dict[float, Tensor] | None = None, signs=(1.0, -1.0)) -> dict[float, Side]:
    """{+1.0: Side, -1.0: Side} of attribute k's direction at `scale` (or {sign: scale}), of the sides `signs`; a
    side with too few faces is left out. `shares`: {sign: [M]} each calibration face's share of the edit (one-sided
    sliders). With an identity model, a side that meets the crossing and entanglement bars is also asked whether it
    keeps the person (dlib is slow, 0.2 s a face, and a side short of those bars is refused whatever it does to
    identity)."""
    sides = {}
    for sign in signs:
        index = starting_faces(cal.before, cal.labels, k, sign)[:per_side]
        if len(index) < 4:  # too few faces on that side to say anything (Bald's positives, say)
            continue
        amount = sign * (scale[sign] if isinstance(scale, dict) else scale)
        share = shares[sign][index] if shares is not None else torch.ones(len(index))
        content_delta, style_delta = (amount * share[:, None, None, None] * content_dir,
                                      amount * share[:, None] * style_dir)
        after = cal.probabilities(index, content_delta, style_delta)
        others = torch.ones(after.shape[1], dtype=torch.bool)
        others[k] = False
        side = Side(abs(amount), float(((after[:, k] >= 0.5) == (sign > 0)).float().mean()),
                    float((after - cal.reference[index])[:, others].abs().mean()))
        if cal.identity is not None and side.crossing >= CROSSING_BAR and side.within_bars:
            side = dataclasses.replace(side, identity=cal.same_person(index, content_delta, style_delta))
        sides[sign] = side
    return sides


@dataclass(frozen=True)
class Calibration:
    """The strengths of slider +1 and -1 for one direction, and what they measured."""

    up: Side
    down: Side

    @classmethod
    def of(cls, sides: dict[float, Side]) -> Calibration | None:
        """From {+1.0: Side, -1.0: Side}; a side without faces takes the other's strength and figures, marked as
        not measured (it ranks and averages as the other side, but is never offered); None without either."""
        if not sides:
            return None
        up, down = sides.get(1.0), sides.get(-1.0)
        return cls(up or dataclasses.replace(down, measured=False), down or dataclasses.replace(up, measured=False))

    @property
    def crossing(self) -> float:
        return min(self.up.crossing, self.down.crossing)

    @property
    def entanglement(self) -> float:
        return (self.up.entanglement + self.down.entanglement) / 2

    @property
    def sides(self) -> str:
        """The sides that meet every bar: "+-", "+", "-" or ""."""
        return ("+" if self.up.passes else "") + ("-" if self.down.passes else "")

    def rank(self) -> tuple:
        """Sort key, best last: the most sides meeting every bar first (a slider offered one way beats one offered
        neither), then reaching the crossing bar, then the least entanglement; below the bar, crossing with
        entanglement counted against it."""
        reaches = self.crossing >= CROSSING_BAR
        return len(self.sides), reaches, -self.entanglement if reaches else self.crossing - self.entanglement


def _calibrate(cal, k, content_dir, style_dir, target: float, per_side: int,
               grid: tuple[float, ...] = STRENGTHS) -> Calibration | None:
    """Each side's strength (`_pick`): the smallest tried that carries `target` of its faces across, else the
    one that carries most, less what it moves the other attributes (more is not always more: past some strength
    the decoder smears instead); a strength that lets the side meet every bar comes first. Strengths are tried
    upwards until both sides reach `target`. A side that reaches it within the bars is settled (`_pick` takes the
    first such strength) and not measured again, which spares work on sliders whose sides need very
    different strengths. Where no strength tried meets every bar but the bars change between two of them, the
    strengths between are measured too (`_refine`). None when neither side has faces to measure on. `grid`: the
    strengths tried, ascending."""
    tried: list[dict[float, Side]] = []
    settled: set[float] = set()
    for scale in grid:
        sides = _measure(cal, k, content_dir, style_dir, scale, per_side,
                         signs=[sign for sign in (1.0, -1.0) if sign not in settled])
        tried.append(sides)
        settled |= {sign for sign, side in sides.items() if side.settles(target)}
        if (sides or settled) and all(side.crossing >= target for side in sides.values()):
            break
    chosen = {}
    for sign in (1.0, -1.0):
        sides = [t[sign] for t in tried if sign in t]
        if sides:
            measure = functools.partial(_measure_side, cal, k, content_dir, style_dir, per_side=per_side, sign=sign)
            chosen[sign] = _pick(_refine(measure, sides), target)
    return Calibration.of(chosen)


@dataclass(frozen=True)
class Start:
    """Where a refit searches from: a previous fit's strength per side ({sign: strength}) and its shape."""

    strengths: dict[float, float]
    localised: bool = False


def _shapes_near(cal, k, variants: dict[bool, Tensor], style_dir, target: float, per_side: int,
                 start: Start, grid: tuple[float, ...] = STRENGTHS) -> dict[bool, Calibration | None]:
    """{localised: Calibration} of the shapes worth searching near `start`: the previous fit's shape always; the
    other only where, measured at the strengths just picked for the first, it ranks at least as well (a search of
    its own is four or so measurements a side; this check is one). Where the model has not changed (`start` is
    its own fit), the full fit picked the previous shape over the other's best, so the other cannot win and the
    pick is the full fit's either way; on a changed model a shape that would win only at strengths of its own is
    missed (the full search, without `previous`, finds it)."""
    first, other = start.localised, not start.localised
    picked = _calibrate_near(cal, k, variants[first], style_dir, target, per_side, start.strengths, grid)
    if picked is None:
        return {first: None}
    strengths = {sign: side.strength for sign, side in ((1.0, picked.up), (-1.0, picked.down)) if side.measured}
    there = Calibration.of(_measure(cal, k, variants[other], style_dir, strengths, per_side, signs=list(strengths)))
    if there is None or there.rank() < picked.rank():
        return {first: picked}
    searched = {first: picked, other: _calibrate_near(cal, k, variants[other], style_dir, target, per_side,
                                                      start.strengths, grid)}
    return {local: searched[local] for local in (False, True)}  # the full fit's order, which settles a tie


def _calibrate_near(cal, k, content_dir, style_dir, target: float, per_side: int,
                    start: dict[float, float], grid: tuple[float, ...] = STRENGTHS) -> Calibration | None:
    """`_calibrate`'s strengths, searched from a previous fit's (`start`: {sign: strength}) instead of from the
    weakest (`_search_side`): a refit on a model that changed a little measures two or three strengths a side
    instead of up to eight. Where the previous fit was made on the same model and faces, the pick is the same as
    `_calibrate`'s; on another model it is the best near the old one. None when neither side has faces."""
    chosen = {}
    for sign, strength in start.items():
        tried = _search_side(cal, k, content_dir, style_dir, target, per_side, sign, _nearest(grid, strength), grid)
        if tried:
            chosen[sign] = _pick(tried, target)
    return Calibration.of(chosen)


def _search_side(cal, k, content_dir, style_dir, target: float, per_side: int, sign: float,
                 start: int, grid: tuple[float, ...] = STRENGTHS) -> list[Side]:
    """Side `sign` measured from grid[start]: up until a strength carries `target` of its faces across (where
    the full search stops too), then down while a weaker one may be a better pick (`_weaker_may_win`), then between
    two of them as the full search does (`_refine`); what was tried, weakest first ([] without faces on that side)."""
    measure = functools.partial(_measure_side, cal, k, content_dir, style_dir, per_side=per_side, sign=sign)
    side = measure(grid[start])
    if side is None:
        return []
    tried, low, high = [side], start, start
    while tried[-1].crossing < target and high + 1 < len(grid):
        high += 1
        tried.append(measure(grid[high]))
    while low > 0 and _weaker_may_win(tried, target):
        low -= 1
        tried.insert(0, measure(grid[low]))
    return _refine(measure, tried)


def _measure_side(cal, k, content_dir, style_dir, strength: float, per_side: int, sign: float) -> Side | None:
    """Side `sign` of attribute k's direction at `strength` (`_measure`); None without faces on that side."""
    return _measure(cal, k, content_dir, style_dir, strength, per_side, signs=[sign]).get(sign)


def _refine(measure, tried: list[Side]) -> list[Side]:
    """`tried` (weakest first) with strengths between two neighbours measured too (`measure`: strength -> Side),
    where none meets every bar and two neighbours straddle them: the weaker within the entanglement and identity
    bars but carrying too few faces across, the stronger carrying enough but past those bars. Both move with
    strength, so such a side can meet all three only between the two, and STRENGTHS steps coarsely there (session
    36: eyeglasses +1, one-sided, carried 62 % at 1.5 and 83 % moving the others by 0.104 at 2.0, and met every
    bar at 1.75). The pair is halved up to REFINEMENTS times."""
    tried = list(tried)
    for _ in range(REFINEMENTS):
        if any(side.passes for side in tried):
            break
        straddling = [i for i in range(1, len(tried)) if tried[i - 1].within_bars
                      and tried[i - 1].crossing < CROSSING_BAR <= tried[i].crossing and not tried[i].within_bars]
        if not straddling:
            break
        i = straddling[0]
        tried.insert(i, measure((tried[i - 1].strength + tried[i].strength) / 2))
    return tried


def _weaker_may_win(tried: list[Side], target: float) -> bool:
    """Whether a strength below those `tried` (weakest first) may be `_pick`ed over them: when the pick is the
    weakest tried, or when it meets no bar set and the weakest still carries the crossing bar's share across (a
    weaker one moves the others less, and may then meet every bar)."""
    pick = _pick(tried, target)
    if pick is tried[0]:
        return True
    return not (pick.settles(target) or pick.passes) and tried[0].crossing >= CROSSING_BAR


def _nearest(grid: tuple[float, ...], strength: float) -> int:
    """The index of the tried strength nearest `strength`."""
    return min(range(len(grid)), key=lambda i: abs(grid[i] - strength))


def _pick(sides: list[Side], target: float) -> Side:
    """One side's strength among those tried (weakest first): the first that reaches `target` within the
    entanglement and identity bars, else the first that meets every bar (a side offered by itself), else the first
    that reaches `target`, else the one that carries most, less what it moves the others."""
    for fits in (lambda side: side.settles(target), lambda side: side.passes, lambda side: side.crossing >= target):
        good = [side for side in sides if fits(side)]
        if good:
            return good[0]
    return max(sides, key=lambda side: side.crossing - side.entanglement)


@dataclass(frozen=True)
class FittedAttribute:
    """One attribute's slider: its direction at slider +1, and how it was shaped and measured."""

    content: Tensor  # [C,H,W]
    style: Tensor  # [latent]
    localised: bool
    one_sided: bool
    measured: Calibration  # as the slider will run (one-sided when `one_sided`)

    @property
    def crossing(self) -> float:
        return self.measured.crossing

    @property
    def entanglement(self) -> float:
        return self.measured.entanglement


def _fit_attribute(cal: Calibrator, k: int, content_dir: Tensor, style_dir: Tensor, probe, target: float,
                   per_side: int, start: Start | None = None, screened: bool = True,
                   grid: tuple[float, ...] = STRENGTHS) -> FittedAttribute | None:
    """The direction as regressed or localised, whichever ranks better at its calibrated strengths; then the same
    one-sided (each calibration face's share by the probe's reading of it). One-sided only spares faces that
    already are where the slider goes, which the calibration faces (all on the wrong side) cannot show; so it is
    kept unless it offers fewer sides (`Calibration.sides`) or carries fewer of them across: below the bar when the
    full edit reached it, or more than ONE_SIDED_SLACK fewer when it did not (the probe misreads some faces the
    classifier reads otherwise). `start`: a previous fit's strengths and shape: the shapes are calibrated near
    those strengths (`_calibrate_near`; see `_shapes_near` for which).
    With `screened` and a calibrator with a screen, all this is read by the screen, and the classifier then reads
    the edit picked (and dlib, where it meets the other bars): its figures are the ones kept. Where the two offer
    different sides (the screen read the pick otherwise, or dlib takes its faces for others), the classifier searches
    again by itself."""
    search = cal.screened() if screened else cal
    variants = {False: content_dir, True: localise(content_dir)}
    if start is None:
        calibrations = {local: _calibrate(search, k, direction, style_dir, target, per_side, grid)
                        for local, direction in variants.items()}
    else:
        calibrations = _shapes_near(search, k, variants, style_dir, target, per_side, start, grid)
    if None in calibrations.values():
        return None
    local = max(calibrations, key=lambda v: calibrations[v].rank())
    chosen = calibrations[local]
    strengths = {1.0: chosen.up.strength, -1.0: chosen.down.strength}
    shares = _shares(cal, probe, k)
    one_sided = Calibration.of(_measure(search, k, variants[local], style_dir, strengths, per_side, shares))
    enough = CROSSING_BAR if chosen.crossing >= CROSSING_BAR else chosen.crossing - ONE_SIDED_SLACK
    keep_one_sided = len(one_sided.sides) > len(chosen.sides) or (len(one_sided.sides) == len(chosen.sides)
                                                                  and one_sided.crossing >= enough)
    if keep_one_sided:
        chosen = one_sided
    if search is not cal:
        read = Calibration.of(_measure(cal, k, variants[local], style_dir, strengths, per_side,
                                       shares if keep_one_sided else None))
        if read.sides != chosen.sides:
            log.info("attribute %d: the screen offers sides %r, the classifier %r: the classifier searches", k,
                     chosen.sides, read.sides)
            return _fit_attribute(cal, k, content_dir, style_dir, probe, target, per_side, start, False, grid)
        chosen = read
    strength = chosen.up.strength
    return FittedAttribute(strength * variants[local], strength * style_dir, local, keep_one_sided, chosen)


def _shares(cal: Calibrator, probe, k: int) -> dict[float, Tensor]:
    """{sign: [M]} each calibration face's share of a one-sided edit of attribute k towards `sign`, by the probe's
    reading of where it stands (`reach.py`)."""
    positions = probe.positions(cal.content, cal.style, torch.tensor([k]))
    return {sign: reach(positions, torch.tensor([sign]))[:, 0] for sign in (1.0, -1.0)}


def _fit_region(cal: Calibrator, k: int, fitted: FittedAttribute, probe, per_side: int
                ) -> tuple[float | None, Calibration]:
    """(the region the attribute keeps its change in, its calibration): of `REGIONS` that keep what the whole
    change does at the strengths picked (`_keeps`), the one offering most sides, the tightest of those; (None, the
    fit's own calibration) where none does. The decoder's change away from what it draws moves the other
    attributes, flickers in video and shows (the whole face a shade lighter under an opened mouth), and the
    classifier seldom needs it: mouth_open +1 crosses as many faces with its change kept where its direction is
    twice its median cell (a sixth of the face), smile +1 where it is at its median (session 45). Candidates are
    read by the screen, the one kept by the classifier (and dlib)."""
    strength = fitted.measured.up.strength
    content_dir, style_dir = fitted.content / strength, fitted.style / strength
    strengths = {1.0: strength, -1.0: fitted.measured.down.strength}
    shares = _shares(cal, probe, k) if fitted.one_sided else None

    def measure(reader: Calibrator, low: float) -> Calibration:
        return Calibration.of(_measure(reader.regioned(low), k, content_dir, style_dir, strengths, per_side, shares))

    search = cal.screened()
    screened = {low: measure(search, low) for low in REGIONS}
    candidates = [low for low in REGIONS if _keeps(screened[low], fitted.measured)]
    for low in sorted(candidates, key=lambda low: -len(screened[low].sides)):  # stable: the tightest first
        measured = screened[low] if search is cal else measure(cal, low)
        if _keeps(measured, fitted.measured):
            return low, measured
    return None, fitted.measured


def _search_in_region(cal: Calibrator, k: int, content_dir: Tensor, style_dir: Tensor, probe, target: float,
                      per_side: int, fitted: FittedAttribute, measured: Calibration, low: float,
                      grid: tuple[float, ...] = STRENGTHS) -> tuple[FittedAttribute, Calibration]:
    """(the attribute refitted with its change kept in region `low`, its calibration): the strengths searched again
    from the whole change's, in its shape (`_fit_attribute` from a `Start`), since the region is how the slider
    runs and changes what a strength does (smile +1 kept at its median cell carried 72 % of its faces across at the
    whole change's 4.25 and 77 % within the bars at 4.5; session 46). `measured`: the fit's calibration in that
    region (`_fit_region`), kept with `fitted` where the search offers fewer sides."""
    start = Start({1.0: fitted.measured.up.strength, -1.0: fitted.measured.down.strength}, fitted.localised)
    searched = _fit_attribute(cal.regioned(low), k, content_dir, style_dir, probe, target, per_side, start, grid=grid)
    if searched is None or len(searched.measured.sides) < len(measured.sides):
        return fitted, measured
    return searched, searched.measured


def _keeps(measured: Calibration, whole: Calibration) -> bool:
    """Whether `measured` keeps what `whole` does (`_fit_region`): each side `whole` offers still offered, with its
    crossing within REGION_SLACK of the whole change's; where `whole` offers neither side, both sides' crossing so.
    A side offered only in `measured` may carry fewer faces (it carries the bar's share across, moving the others
    less); a side offered by neither may too, beside one offered (smile -1 beside smile +1)."""
    sides = [(new, old) for new, old in ((measured.up, whole.up), (measured.down, whole.down)) if old.measured]
    judged = [(new, old) for new, old in sides if old.passes or new.passes] or sides
    return all(new.passes or not old.passes for new, old in sides) and all(
        new.crossing >= old.crossing - REGION_SLACK or (new.passes and not old.passes) for new, old in judged)


def _report(measured: Calibration, strength: float, strength_down: float, localised: bool) -> AttributeReport:
    """The bank's verdict on one fitted attribute: offered on photos on the sides that meet every bar; when neither
    does, the reason is the weaker side's crossing, the mean entanglement and the lowest share of faces kept the same
    person, where measured."""
    report = AttributeReport(bool(measured.sides), "", strength, measured.crossing, measured.entanglement,
                             strength_down, localised, sides=measured.sides,
                             **_side_figures(measured.up, "up"), **_side_figures(measured.down, "down"))
    if not measured.sides:
        identity = min((s.identity for s in (measured.up, measured.down) if s.identity is not None), default=None)
        report.reason = shortfall(measured.crossing, measured.entanglement, identity)
    return report


def _start(report: AttributeReport | None) -> Start | None:
    """A previous fit's strengths per side and its shape, to search from; None where it fitted no direction."""
    if report is None or report.strength <= 0:
        return None
    return Start({1.0: report.strength, -1.0: report.strength_down or report.strength}, report.localised)


def _side_figures(side: Side, name: str) -> dict:
    """A side's crossing, entanglement and identity share for the report (None when the side had no faces to
    measure on)."""
    return {f"crossing_{name}": side.crossing if side.measured else None,
            f"entanglement_{name}": side.entanglement if side.measured else None,
            f"identity_{name}": side.identity if side.measured else None}


def fit_bank(encoder, decoder: PhotoDecoder, classifier, train_faces: Tensor, train_labels: Tensor,
             calibration_faces: Tensor | FramedPhotos, calibration_labels: Tensor | None = None, *, names: list[str],
             measurable: dict[str, float], model_sha256: str = "",
             target: float = 0.8, per_side: int = 32, attributes: list[str] | None = None,
             tune: TuneOptions | None = None, tune_faces: Tensor | None = None, identity=None,
             anime_encoder=None, previous: dict[str, AttributeReport] | None = None,
             calibration_readings: Tensor | None = None, screen=None, grid: tuple[float, ...] = STRENGTHS) -> EditBank:
    """The bank for the photo `encoder` (`render.photo_encoder`) and `decoder`, fitted on `train_faces` and judged on
    `calibration_faces` (keep these two apart:
    `split_calibration`). For video faces both are aligned as `streamfx edit` aligns them (`framing.py`):
    `train_faces` the crops, `calibration_faces` the crops with their photos. `calibration_labels`: their labels.
    `measurable`: the classifier's held-out balanced accuracy per attribute;
    `attributes`: fit only these (default all 40; the others stay at zero, not editable); `tune` with
    `tune_faces` (training faces outside the calibration set): tune every fitted direction (`tune.py`);
    `identity`: a face identity model (`training/identity.py`): a side must also keep the person to be offered;
    `anime_encoder`: the face->anime generator, when it is not the photo encoder: each direction is then also
    regressed on its codes and kept at the photo direction's strength and shape for anime output;
    `previous`: a previous bank's reports (of the checkpoint before, say): each attribute fitted there has its
    strengths searched near the old ones (`_shapes_near`), a fraction of the full search;
    `calibration_readings`: the classifier's readings of the unedited calibration faces, where already read;
    `screen`: the classifier's quick twin (`AttributeClassifier.screen`): strengths are searched by its readings,
    and the classifier reads the picks (`_fit_attribute`); `grid`: the strengths searched, ascending."""
    if previous is not None and tune is not None:
        raise ValueError("tuning searches no strengths; it cannot start from a previous bank")
    started = time.perf_counter()
    content, style = encode_all(encoder, train_faces)
    content_dirs, style_dirs = regress(content, train_labels), regress(style, train_labels)
    probe = fit_probe(content, style, train_labels)
    del content
    anime_dirs = None if anime_encoder is None else regress(encode_all(anime_encoder, train_faces)[0], train_labels)
    cal = Calibrator(encoder, decoder, classifier, calibration_faces, calibration_labels, identity=identity,
                     before=calibration_readings, screen=screen)
    tuning = None
    if tune is not None and tune_faces is not None:
        classifier.requires_grad_(False)
        tuning = tuning_faces(lambda faces: encode_all(encoder, faces), decoder, classifier, tune_faces)
    scaled_content, scaled_style = torch.zeros_like(content_dirs), torch.zeros_like(style_dirs)
    anime_content = None if anime_dirs is None else torch.zeros_like(anime_dirs)
    lowering, one_sided = torch.ones(len(names)), torch.zeros(len(names), dtype=torch.bool)
    reports = {}
    for k, name in enumerate(names):
        if attributes is not None and name not in attributes:
            reports[name] = AttributeReport(False, "not fitted")
            continue
        if measurable.get(name, 0.0) < MEASURABLE_BAR:
            reports[name] = AttributeReport(False, f"the classifier cannot measure it (held-out balanced accuracy "
                                                   f"{measurable.get(name, 0.0):.2f})")
            continue
        drawn = cal.shaded() if name in SHADE_ONLY else cal
        fitted = _fit_attribute(drawn, k, content_dirs[k], style_dirs[k], probe, target, per_side,
                                _start(previous.get(name)) if previous is not None else None, grid=grid)
        if fitted is None:
            reports[name] = AttributeReport(False, "no calibration faces to measure it on")
            continue
        region_low, measured = (None, fitted.measured) if tuning is not None else _fit_region(drawn, k, fitted, probe,
                                                                                              per_side)
        if region_low is not None:
            fitted, measured = _search_in_region(drawn, k, content_dirs[k], style_dirs[k], probe, target, per_side,
                                                 fitted, measured, region_low, grid)
        strength, content_dir, style_dir = measured.up.strength, fitted.content, fitted.style
        lowering[k], one_sided[k] = measured.down.strength / strength, fitted.one_sided
        if tuning is not None:  # tuning keeps one strength for both sides and every face's full edit
            log.info("%-20s before tuning: strength %.2f crossing %.2f entanglement %.3f", name, strength,
                     measured.crossing, measured.entanglement)
            content_dir, style_dir = tune_direction(decoder, classifier, tuning, k, content_dir, style_dir, tune)
            lowering[k], one_sided[k] = 1.0, False
            measured = Calibration.of(_measure(drawn, k, content_dir, style_dir, 1.0, per_side))
        reports[name] = _report(measured, strength, strength * float(lowering[k]), fitted.localised)
        reports[name].shade_only, reports[name].region = drawn.shade, region_low
        scaled_content[k], scaled_style[k] = content_dir, style_dir
        if anime_content is not None:  # (a tuned direction has no anime twin: its regressed one stands in)
            anime_content[k] = strength * (localise(anime_dirs[k]) if fitted.localised else anime_dirs[k])
        log.info("%-20s strength %.2f/%.2f crossing %.2f/%.2f entanglement %.3f/%.3f same person %s%s%s%s%s "
                 "offered: %s",
                 name, strength, strength * float(lowering[k]), measured.up.crossing, measured.down.crossing,
                 measured.up.entanglement, measured.down.entanglement,
                 "/".join("-" if s.identity is None else f"{s.identity:.2f}" for s in (measured.up, measured.down)),
                 " localised" if fitted.localised else "", " one-sided" if one_sided[k] else "",
                 " shade only" if drawn.shade else "", "" if region_low is None else f" region {region_low:g}",
                 {"+-": "both ways", "+": "+1 only", "-": "-1 only", "": "no"}[measured.sides])
    info = {"train_faces": len(train_faces), "calibration_faces": len(calibration_faces), "per_side": per_side,
            "target": target, "photo_decoder": decoder.kind, "calibration_by_labels": calibration_labels is not None,
            "aligned": "as video faces" if cal.framed is not None else "as the photos came",
            "paste_mask": list(EDIT_MASK) if cal.framed is not None else None,
            "identity": "dlib, same person < 0.6" if identity is not None else None,
            "tuning": None if tuning is None else {"faces": len(tuning.faces), **dataclasses.asdict(tune)},
            "anime_directions": "regressed on the face->anime encoder's codes" if anime_dirs is not None
            else "the photo directions",
            "strengths": "searched near a previous bank's" if previous is not None else "searched from the weakest",
            "grid": list(grid),
            "searched_by": "the classifier's bf16 twin, the picks read by the classifier" if screen is not None
            else "the classifier",
            "seconds": round(time.perf_counter() - started, 1)}
    return EditBank(list(names), scaled_content, scaled_style, model_sha256, lowering, probe, one_sided, reports,
                    info, anime_content)

