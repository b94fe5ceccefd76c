"""The edit bank: one direction per CelebA attribute in the generator's content space, and the slider scale.

An edit adds `sum_k u_k * D_k` to the content map that the photo encoder reads from each face (and
`sum_k u_k * d_k` to the face's own style code, which the photo decoder uses), with u_k the user's slider in [-1, 1].
D_k is stored already scaled: slider +1 is the strength calibrated to move the attribute across the classifier's
0.5 line for most faces (see `streamfx/edit/fit.py`); slider -1 may need another strength, stored as its ratio to
+1's (`lowering[k]`). Linear in each half of a slider, so slider 0 adds exactly nothing, values of one sign scale
the edit in proportion, and two sliders add. A frozen attribute is held by removing from each moved direction its
component along the frozen attributes' directions. An attribute fitted with a region (`region.py`) keeps its change
on photos only where its direction draws. In video, an attribute that draws something worn (`WORN`) has its change
averaged over more frames (`steady.py`).

On photos an attribute's edit may be one-sided (`reach.py`, chosen per attribute when fitting): the bank's probe
reads where each face stands on the attribute, and a face is moved only as far as it still has to go. The other
attributes, and banks without a probe, move every face by the same edit.

Where photo edits read their own encoder (an A2A trained end to end, `render.photo_encoder`), its content space is
not the anime effect's: the bank then also keeps each direction in the face->anime encoder's space
(`anime_content`), regressed on the same faces and taken at the same multiple of the label's effect, for anime
output.

One bank belongs to one model: it stores the tensor hash of the weights it was fitted on and refuses others.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from streamfx.edit.reach import Probe, reach
from streamfx.edit.region import region
from streamfx.edit.sliders import ALIASES, slider_key
from streamfx.errors import ModelError, UsageError
from streamfx.signals import interrupt_held

FORMAT = "streamfx-edits"
PROBE_TENSORS = ("probe_mean", "probe_weights", "probe_levels")
CROSSING_BAR = 0.7  # a side of a slider is offered on photos when it carries this share of faces across
ENTANGLEMENT_BAR = 0.1  # and moves the other attributes' probabilities by no more than this on average
IDENTITY_BAR = 0.9  # and keeps this share of those faces the same person by dlib (where the fit measured it)
FLICKER_BAR = 1.2  # and in video the face changes from frame to frame at most this much more than in the input
# Attributes that draw something worn, which stays put on the aligned face: in video their change is averaged longer.
WORN = ("Eyeglasses", "Wearing_Earrings", "Wearing_Hat", "Wearing_Necklace", "Wearing_Necktie")
BARS = (f"on calibration photos >= {CROSSING_BAR:.0%} of faces cross, the others move <= {ENTANGLEMENT_BAR:g}, "
        f">= {IDENTITY_BAR:.0%} stay the same person; in video flicker <= {FLICKER_BAR:g}")


@dataclass(frozen=True)
class Edit:
    """The moved attributes of one request: their directions, with frozen attributes' components removed, and
    their slider weights (lowering applied)."""

    rows: torch.Tensor  # [A] attribute indices
    weights: torch.Tensor  # [A]
    content: torch.Tensor  # [A,C,H,W]
    style: torch.Tensor  # [A,latent_dim]
    probe: Probe | None = None
    one_sided: torch.Tensor | None = None  # [A] bool: moved by each face's reach (needs the probe)
    shade_only: torch.Tensor | None = None  # [A] bool: changes put on as light and shade only (`composite.py`)
    regions: torch.Tensor | None = None  # [A,H,W] where each attribute's change is kept (ones: everywhere)
    worn: torch.Tensor | None = None  # [A] bool: attributes that draw something worn, held steadier (`steady.py`)

    @property
    def active(self) -> bool:
        return len(self.rows) > 0

    def fixed(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(content delta [C,H,W], style delta [latent_dim]): the same full edit for every face."""
        return torch.einsum("a,a...->...", self.weights, self.content), self.weights @ self.style

    def positions(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor | None:
        """[B,A] where the faces stand on the moved attributes (`reach.py`); None when no attribute is one-sided."""
        if self.probe is None or self.one_sided is None or not self.one_sided.any():
            return None
        return self.probe.positions(content, style, self.rows)

    def for_faces(self, count: int, positions: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-face (content [B,C,H,W], style [B,latent_dim]) deltas: each face's share of the edit by its
        `positions` [B,A] (None: the full edit for all `count` faces)."""
        weights = self._face_weights(count, positions)
        return torch.einsum("ba,a...->b...", weights, self.content), weights @ self.style

    def shade(self, count: int, positions: torch.Tensor | None) -> torch.Tensor | None:
        """[B,1,H,W] each face's share of the change on each cell of the content map that belongs to attributes
        put on as light and shade only (their share of the edit's energy there); None where there are none."""
        return self._share(self.shade_only, count, positions)

    def worn_share(self, count: int = 1, positions: torch.Tensor | None = None) -> torch.Tensor | None:
        """[B,1,H,W] each face's share of the change on each cell that draws something worn (`WORN`); None where
        no attribute does."""
        return self._share(self.worn, count, positions)

    def _share(self, among: torch.Tensor | None, count: int, positions: torch.Tensor | None) -> torch.Tensor | None:
        """[B,1,H,W] the attributes `among`'s ([A] bool) share of each face's edit energy on each cell; None where
        `among` holds none."""
        if among is None or not among.any():
            return None
        energy = self._energy(count, positions)
        return energy[:, among].sum(1, keepdim=True) / energy.sum(1, keepdim=True).clamp_min(1e-12)

    def kept(self, count: int, positions: torch.Tensor | None) -> torch.Tensor | None:
        """[B,1,H,W] each face's share of the change kept on each cell of the content map: the attributes' regions
        weighted by their share of the edit's energy there; None where no attribute has a region."""
        if self.regions is None:
            return None
        energy = self._energy(count, positions)
        return ((energy * self.regions[None]).sum(1, keepdim=True) / energy.sum(1, keepdim=True).clamp_min(1e-12))

    def _energy(self, count: int, positions: torch.Tensor | None) -> torch.Tensor:
        """[B,A,H,W] each attribute's share of each face's content change, squared, per cell."""
        weights = self._face_weights(count, positions)
        return weights[:, :, None, None] ** 2 * self.content.pow(2).sum(1)[None]

    def _face_weights(self, count: int, positions: torch.Tensor | None) -> torch.Tensor:
        """[B,A] each face's slider weights, one-sided attributes scaled by its reach."""
        weights = self.weights.expand(count, -1)
        if positions is not None:
            weights = weights * torch.where(self.one_sided, reach(positions, self.weights), 1.0)
        return weights


def shortfall(crossing: float, entanglement: float, identity: float | None = None,
              flicker: float | None = None) -> str:
    """What keeps a slider's side from being offered, in the words of the bars ("" when nothing does); `identity`:
    the share of faces kept the same person, `flicker`: the worst flicker ratio in video, None where not measured."""
    reasons = []
    if crossing < CROSSING_BAR:
        reasons.append(f"only {crossing:.0%} of faces cross at full strength")
    if entanglement > ENTANGLEMENT_BAR:
        reasons.append(f"moves the other attributes by {entanglement:.2f}")
    if identity is not None and identity < IDENTITY_BAR:
        reasons.append(f"keeps the person for only {identity:.0%} of faces")
    if flicker is not None and flicker > FLICKER_BAR:
        reasons.append(f"flickers in video (ratio {flicker:.2f})")
    return "; ".join(reasons)


@dataclass
class AttributeReport:
    """What fitting measured for one attribute on the calibration faces. The sides of the slider are those of the
    CelebA attribute: "+" moves towards having it (for `beard`, whose slider is No_Beard's negative, that is
    taking a beard away)."""

    editable: bool  # offered on photos on at least one side
    reason: str = ""  # why not, when not fitted or not measurable (the sides' reasons: `side_reason`)
    strength: float = 0.0  # the scale of D_k at slider +1, in units of the attribute's regression direction
    crossing: float = 0.0  # share of faces that cross the 0.5 line at slider +-1 (the weaker direction)
    entanglement: float = 0.0  # mean |change| of the other 39 attributes' probabilities at slider +-1
    strength_down: float = 0.0  # the scale at slider -1 (0: the same as +1, in banks from before it was fitted)
    localised: bool = False  # the direction is kept only where it is strong on the 16x16 map (`fit.localise`)
    shade_only: bool = False  # its change is put on photos as light and shade only (`fit.SHADE_ONLY`)
    region: float | None = None  # its change is kept on photos only where its direction is at least this many times
    # its median cell (`region.py`, `fit.REGIONS`); None: wherever the decoder changes the face
    sides: str | None = None  # the sides offered on photos, "+-", "+", "-" or ""; None (older banks): both or none
    crossing_up: float | None = None  # each side's own crossing and entanglement (None in older banks, and for a
    # side without calibration faces)
    crossing_down: float | None = None
    entanglement_up: float | None = None
    entanglement_down: float | None = None
    identity_up: float | None = None  # each side's share of faces kept the same person (None: not measured, as for
    # a side short of the other bars, or in banks fitted without an identity model)
    identity_down: float | None = None
    flicker_up: float | None = None  # each side's worst flicker ratio in video (`scripts/check_edit_video.py`;
    # None: not measured, as for a side not offered on photos)
    flicker_down: float | None = None
    withdrawn_up: str | None = None  # why a side that met the bars was withdrawn when its edits were looked at
    withdrawn_down: str | None = None  # (`scripts/withdraw_edit.py`; None: not withdrawn)

    def __post_init__(self):
        if self.sides is None:
            self.sides = "+-" if self.editable else ""

    def offers(self, sign: float) -> bool:
        """Whether photos may be moved towards `sign` (+1: having the attribute, -1: not)."""
        return ("+" if sign > 0 else "-") in self.sides

    def figures(self, sign: float) -> tuple[float, float] | None:
        """(crossing, entanglement) of the side `sign`: its own, or in an older bank the weaker side's crossing and
        the mean entanglement; None for a side without calibration faces."""
        crossing = self.crossing_up if sign > 0 else self.crossing_down
        entanglement = self.entanglement_up if sign > 0 else self.entanglement_down
        if crossing is not None and entanglement is not None:
            return crossing, entanglement
        if self.crossing_up is not None or self.crossing_down is not None:
            return None
        return self.crossing, self.entanglement

    def side_reason(self, sign: float) -> str:
        """Why the side `sign` is not offered, in the words of the bars."""
        figures = self.figures(sign)
        if figures is None:
            return "too few calibration faces to measure it that way"
        measured = shortfall(*figures, self.identity(sign), self.flicker(sign)) if self.strength else ""
        return "; ".join(filter(None, (measured, self.withdrawal(sign)))) or self.reason

    def withdrawal(self, sign: float) -> str:
        """Why the side `sign` was withdrawn on sight ("" where it was not)."""
        reason = self.withdrawn_up if sign > 0 else self.withdrawn_down
        return f"withdrawn on sight: {reason}" if reason else ""

    def identity(self, sign: float) -> float | None:
        """The side `sign`'s share of faces kept the same person, None where it was not measured."""
        return self.identity_up if sign > 0 else self.identity_down

    def flicker(self, sign: float) -> float | None:
        """The side `sign`'s worst flicker ratio in video, None where it was not measured."""
        return self.flicker_up if sign > 0 else self.flicker_down

    def with_flicker(self, sign: float, ratio: float) -> AttributeReport:
        """This report with the side `sign`'s flicker in video; a side past FLICKER_BAR is no longer offered, and one
        refused for flicker alone is offered again once it measures under it (the pipeline got steadier)."""
        report = dataclasses.replace(self, **{"flicker_up" if sign > 0 else "flicker_down": ratio})
        return report._without(sign) if ratio > FLICKER_BAR else report._with(sign)

    def withdrawn(self, sign: float, why: str) -> AttributeReport:
        """This report with the side `sign` withdrawn for what its edits were seen to do (a bright glare the
        classifier reads as the attribute gone, say): the bars are read by a classifier, which can be fooled."""
        report = dataclasses.replace(self, **{"withdrawn_up" if sign > 0 else "withdrawn_down": why})
        return report._without(sign)

    def _with(self, sign: float) -> AttributeReport:
        """This report (changed in place) with the side `sign` offered again if nothing but flicker refused it."""
        figures = self.figures(sign)
        if self.offers(sign) or figures is None or self.withdrawal(sign) or not self.strength:
            return self
        if shortfall(*figures, self.identity(sign), self.flicker(sign)) == "":
            self.sides = "".join(side for side in "+-" if side in self.sides or side == ("+" if sign > 0 else "-"))
            self.editable, self.reason = True, ""
        return self

    def _without(self, sign: float) -> AttributeReport:
        """This report (changed in place) with the side `sign` no longer offered."""
        if self.offers(sign):
            self.sides = self.sides.replace("+" if sign > 0 else "-", "")
            self.editable = bool(self.sides)
            if not self.editable:
                self.reason = self.side_reason(sign)
        return self

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class EditBank:
    attributes: list[str]  # CelebA names, in the order of the tensors' first axis
    content: torch.Tensor  # [K,C,H,W] float32: slider +1 of attribute k adds content[k]
    style: torch.Tensor  # [K,latent_dim] float32: slider +1 adds style[k] to the face's own style code
    model_sha256: str = ""
    lowering: torch.Tensor | None = None  # [K]: slider -u adds -u * lowering[k] * (content[k], style[k]); None: ones
    probe: Probe | None = None  # where faces stand on each attribute (one-sided photo edits); None: every face alike
    one_sided: torch.Tensor | None = None  # [K] bool: the attributes whose photo edits are one-sided; None: none
    reports: dict[str, AttributeReport] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # how it was fitted (faces, classifier, timings)
    # [K,C,H,W]: slider +1's content change on anime output, where photo edits read another encoder; None: `content`
    anime_content: torch.Tensor | None = None

    def __post_init__(self):
        if self.lowering is None:
            self.lowering = torch.ones(len(self.attributes))
        if self.one_sided is None or self.probe is None:
            self.one_sided = torch.zeros(len(self.attributes), dtype=torch.bool)

    # ---- sliders -------------------------------------------------------------------------------------------------
    def resolve(self, name: str) -> tuple[str, float]:
        """A slider name (alias, lower-case or exact CelebA) -> (CelebA attribute, sign)."""
        key = slider_key(name)
        if key in ALIASES:
            return ALIASES[key]
        for attribute in self.attributes:
            if attribute.lower() == key:
                return attribute, 1.0
        raise UsageError(f"unknown edit {name!r}: see `streamfx edit --list`")

    def allows(self, attribute: str, photo: bool = True, sign: float = 0.0, refused: bool = False) -> bool:
        """Whether the CelebA `attribute` may be moved (towards `sign`, +1 having it, -1 not; 0: either way): on
        photos only where it measured as editable, unless `refused` sides were asked for (`--allow-refused`); on
        anime whenever a direction was fitted for it."""
        if attribute not in self.attributes:
            return False
        report = self.reports.get(attribute)
        if report is None:
            return True
        if not photo or refused:
            return report.editable or bool(report.strength)
        return report.offers(sign) if sign else report.editable

    def offered(self, names, photo: bool = True) -> list[str]:
        """Those of the slider `names` that may be moved one way or both (see `allows`), in the order given."""
        return [name for name in names if self.allows(self.resolve(name)[0], photo)]

    def weights(self, sliders: dict[str, float], photo: bool = True, refused: bool = False) -> torch.Tensor:
        """[K] weights of the stored directions from {slider name: value in [-1,1]}, negative ones scaled by
        `lowering`; UsageError for unknown names, and, when `photo` (real faces out), for a slider moved a way
        that did not measure as editable (unless `refused`: see `allows`). Anime output has no classifier to
        measure it by; every fitted direction is offered there, both ways."""
        weights = torch.zeros(len(self.attributes))
        moved = {}  # attribute -> the slider name moving it: two names for one attribute (age, young) would add up
        for name, value in sliders.items():
            attribute, sign = self.resolve(name)
            if not -1.0 <= value <= 1.0:
                raise UsageError(f"edit {name}={value:g}: sliders go from -1 to 1")
            if attribute not in self.attributes:
                raise UsageError(f"{name} cannot be edited with this model: it has no direction for {attribute}")
            if value != 0:
                if attribute in moved:
                    raise UsageError(f"{moved[attribute]} and {name} both move {attribute}: give one of them")
                if not self.allows(attribute, photo, sign * value, refused):
                    raise UsageError(self._refusal(name, value, attribute, sign))
                moved[attribute] = name
            weights[self.attributes.index(attribute)] += sign * float(value)
        return torch.where(weights < 0, weights * self.lowering, weights)

    def _refusal(self, name: str, value: float, attribute: str, sign: float) -> str:
        """Why slider `name` cannot go to `value` on photos, and which way it can go, if any."""
        report = self.reports[attribute]
        why = report.side_reason(sign * value)
        anyway = "; --allow-refused runs it anyway" if report.strength else ""  # a fitted direction, measured short
        if not report.editable:  # refused both ways on photos; anime output takes a fitted direction
            verdict = "is not offered on real faces by" if report.strength else "cannot be edited with"
            return f"{name} {verdict} this model: {why}{anyway}"
        offered = "0 to 1" if report.offers(sign) else "-1 to 0"
        return (f"{name}={value:g}: this model offers {name} from {offered} only on real faces (the other way "
                f"{why}){anyway}")

    def below_bars(self, sliders: dict[str, float]) -> list[str]:
        """The sliders moved a way not offered on photos, each with what calibration measured there, e.g.
        "smile +0.8 (crosses 75%, moves the others by 0.109)": what `--allow-refused` runs below the bars."""
        out = []
        for name, value in sliders.items():
            attribute, sign = self.resolve(name)
            report = self.reports.get(attribute)
            if value == 0 or report is None or report.offers(sign * value):
                continue
            figures = report.figures(sign * value)
            identity, flicker = report.identity(sign * value), report.flicker(sign * value)
            withdrawal = report.withdrawal(sign * value)
            measured = ("not measured: too few calibration faces" if figures is None
                        else f"crosses {figures[0]:.0%}, moves the others by {figures[1]:.3f}"
                        + ("" if identity is None else f", keeps the person for {identity:.0%}")
                        + ("" if flicker is None else f", flickers in video at {flicker:.2f}")
                        + (f", {withdrawal}" if withdrawal else ""))
            out.append(f"{name} {value:+g} ({measured})")
        return out

    def edit(self, sliders: dict[str, float], freeze: tuple[str, ...] = (), photo: bool = True,
             refused: bool = False) -> Edit:
        """The edit of the sliders, with frozen attributes held. `photo`: for real faces out; `refused`: sides not
        offered on photos allowed too (see `weights`)."""
        weights = self.weights(sliders, photo, refused)
        rows = weights.nonzero().flatten()
        directions = self.content if photo or self.anime_content is None else self.anime_content
        content, style = directions[rows], self.style[rows]
        frozen = [self.attributes.index(self.resolve(name)[0]) for name in freeze]
        clash = [name for name, row in zip(freeze, frozen) if row in rows]
        if clash:  # holding it would undo the very edit asked for
            raise UsageError(f"{clash[0]} is both edited and frozen: freeze the attributes to hold, not the one moved")
        if frozen and len(rows):
            content = _without_components(content, directions[frozen])
            style = _without_components(style, self.style[frozen])
        shade_only = regions = worn = None  # anime output is drawn, not pasted: its colours and reach are its own
        if photo:
            shade_only = torch.tensor([self._report(row).shade_only for row in rows.tolist()], dtype=torch.bool)
            regions = self._regions(rows)
            worn = torch.tensor([self.attributes[row] in WORN for row in rows.tolist()], dtype=torch.bool)
        return Edit(rows, weights[rows], content, style, self.probe, self.one_sided[rows], shade_only, regions, worn)

    def _report(self, row: int) -> AttributeReport:
        """What fitting measured for attribute `row` (an empty report where it did not)."""
        return self.reports.get(self.attributes[row]) or AttributeReport(False)

    def _regions(self, rows: torch.Tensor) -> torch.Tensor | None:
        """[A,H,W] where each of the attributes `rows` keeps its change on photos; None where none has a region."""
        lows = [self._report(row).region for row in rows.tolist()]
        if all(low is None for low in lows):
            return None
        return torch.stack([torch.ones(self.content.shape[-2:]) if low is None else region(self.content[row], low)
                            for row, low in zip(rows.tolist(), lows)])

    def deltas(self, sliders: dict[str, float], freeze: tuple[str, ...] = (),
               photo: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(content delta [C,H,W], style delta [latent_dim]): the full edit of the sliders, the same for every
        face (anime output, where no face has the attribute to begin with)."""
        return self.edit(sliders, freeze, photo).fixed()

    # ---- refitting -----------------------------------------------------------------------------------------------
    def with_flicker(self, attribute: str, sign: float, ratio: float) -> EditBank:
        """This bank with the side `sign` of `attribute` judged in video too (`AttributeReport.with_flicker`)."""
        reports = {**self.reports, attribute: self.reports[attribute].with_flicker(sign, ratio)}
        return dataclasses.replace(self, reports=reports)

    def withdrawn(self, attribute: str, sign: float, why: str) -> EditBank:
        """This bank with the side `sign` of `attribute` withdrawn on sight (`AttributeReport.withdrawn`)."""
        reports = {**self.reports, attribute: self.reports[attribute].withdrawn(sign, why)}
        return dataclasses.replace(self, reports=reports)

    def offer_changes(self, previous: EditBank) -> list[str]:
        """The sides offered on photos here and not in `previous` (a bank of an earlier checkpoint, say), or the
        other way round, each with why: e.g. "Bangs +1 now offered (before: withdrawn on sight: ...)". A refit is
        judged on photos only, so a side the previous bank withdrew after its video check or on sight comes back
        here when the photo bars let it through, and needs those checks again."""
        changes = []
        for name, report in self.reports.items():
            before = previous.reports.get(name)
            if before is None or report.reason == "not fitted":
                continue
            for sign, word in ((1.0, "+1"), (-1.0, "-1")):
                if report.offers(sign) and not before.offers(sign):
                    changes.append(f"{name} {word} now offered (before: {before.side_reason(sign)})")
                elif before.offers(sign) and not report.offers(sign):
                    changes.append(f"{name} {word} no longer offered: {report.side_reason(sign)}")
        return changes

    def with_refit(self, refit: EditBank, names: list[str]) -> EditBank:
        """This bank with the attributes `names` taken from `refit`, a bank fitted on the same model and the same
        training faces (`fit_edits.py --attributes ... --into`): a few sliders refitted without refitting all 40.
        The probe is this bank's; fitted on the same faces, the refit's is the same."""
        if refit.attributes != self.attributes or refit.model_sha256 != self.model_sha256:
            raise ModelError("the refitted bank belongs to another model or attribute list")
        if refit.info.get("train_faces") != self.info.get("train_faces"):
            raise ModelError("the refitted bank was fitted on other faces")
        rows = [self.attributes.index(name) for name in names]
        content, style = self.content.clone(), self.style.clone()
        lowering, one_sided = self.lowering.clone(), self.one_sided.clone()
        content[rows], style[rows], lowering[rows] = refit.content[rows], refit.style[rows], refit.lowering[rows]
        one_sided[rows] = refit.one_sided[rows]
        if (self.anime_content is None) != (refit.anime_content is None):
            raise ModelError("the refitted bank reads faces with another encoder")
        anime = None
        if self.anime_content is not None:
            anime = self.anime_content.clone()
            anime[rows] = refit.anime_content[rows]
        reports = {**self.reports, **{name: refit.reports[name] for name in names}}
        refits = [*self.info.get("refits", []), {"attributes": list(names), **refit.info}]
        return EditBank(list(self.attributes), content, style, self.model_sha256, lowering, self.probe, one_sided,
                        reports, {**self.info, "refits": refits}, anime)

    # ---- storage -------------------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        meta = {"format": FORMAT, "attributes": json.dumps(self.attributes), "model_sha256": self.model_sha256,
                "reports": json.dumps({k: r.to_dict() for k, r in self.reports.items()}), "info": json.dumps(self.info)}
        tensors = {"content": self.content.to(torch.float16).contiguous(), "style": self.style.float().contiguous(),
                   "lowering": self.lowering.float().contiguous()}
        if self.probe is not None:
            tensors.update(probe_mean=self.probe.mean.float().contiguous(),
                           probe_weights=self.probe.weights.to(torch.float16).contiguous(),
                           probe_levels=self.probe.levels.float().contiguous(),
                           one_sided=self.one_sided.to(torch.uint8).contiguous())
        if self.anime_content is not None:
            tensors["anime_content"] = self.anime_content.to(torch.float16).contiguous()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.part")
        save_file(tensors, str(temp), metadata=meta)
        temp.replace(path)

    @classmethod
    def load(cls, path: Path, model_sha256: str | None = None) -> EditBank:
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"no edit bank at {path}")
        try:
            with interrupt_held(), safe_open(str(path), "pt") as f:  # see weights.load_weights
                meta = f.metadata() or {}
                content, style = f.get_tensor("content").float(), f.get_tensor("style").float()
                lowering = f.get_tensor("lowering").float() if "lowering" in f.keys() else None
                probe, one_sided = None, None
                if {*PROBE_TENSORS, "one_sided"} <= set(f.keys()):
                    probe = Probe(*(f.get_tensor(name).float() for name in PROBE_TENSORS))
                    one_sided = f.get_tensor("one_sided").bool()
                anime = f.get_tensor("anime_content").float() if "anime_content" in f.keys() else None
        except Exception as error:  # safetensors raises its own types for damaged files
            raise ModelError(f"{path}: not a readable edit bank ({str(error)[:100]})") from None
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path}: not an edit bank")
        if model_sha256 is not None and meta.get("model_sha256") != model_sha256:
            raise ModelError(f"{path}: fitted on another model; refit it with scripts/fit_edits.py")
        reports = {k: AttributeReport(**v) for k, v in json.loads(meta.get("reports", "{}")).items()}
        return cls(json.loads(meta["attributes"]), content, style, meta.get("model_sha256", ""), lowering, probe,
                   one_sided, reports, json.loads(meta.get("info", "{}")), anime)


def _without_components(deltas: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Each of `deltas` [A,...] minus its projection onto the span of `directions` [F,...]."""
    basis, _ = torch.linalg.qr(directions.reshape(len(directions), -1).T)  # orthonormal [D,F]
    flat = deltas.reshape(len(deltas), -1)
    return (flat - (flat @ basis) @ basis.T).reshape(deltas.shape)
