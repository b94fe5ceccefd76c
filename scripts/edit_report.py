"""How well the edit sliders work, measured on held-out CelebA-HQ faces: the tables of the editing issue.

    python scripts/edit_report.py [--weights streamfx/data/gnr_slim.safetensors] [--faces 250] [--identity-faces 100]
                                  [--no-mouth] [--markdown] [--out runs/edit_report]

On photo output, for each side (+1 and -1) of each headline slider (smile, age, male, eyeglasses, bald, beard,
mouth_open, bangs) and of every other attribute the bank offers on photos, since a slider may be offered one way
only: whether the bank offers that side on photos; monotonic share (faces whose attribute probability never moves
back as the slider goes 0, 0.5, 1, and as the whole slider goes -1 .. 1, with a 0.02 tolerance); crossing (share of
the faces starting on the other side of 0.5 that end past it; again among the faces whose CelebA label agrees with
the classifier's starting reading); the mean absolute change of the other 39 attributes over all faces (the full
matrix is written to OUT/entanglement.csv) and over the faces starting on the other side only (the stricter figure,
as the fit's calibration measures it: a one-sided edit hardly touches the rest); and the dlib identity distance
between slider 0 and the edit (share under 0.6). Then two sliders at once, and one slider with another attribute
frozen. Last, for the mouth sliders (smile, mouth_open), the mouth's shape read from dlib's 68 landmarks
(`streamfx/training/mouth.py`), which owes nothing to the classifier: the median reading before and after, the
real faces' medians without and with the attribute, and the share of faces carried past the midpoint of the two,
beside the classifier's crossing of the same faces. Faces are edited one-sided, each by its own position
(`streamfx/edit/reach.py`), as `streamfx edit` edits them; `--same-edit` gives every face the full edit instead.
Each face is found and aligned as `streamfx edit` does it in a video, and the crop's change is pasted back into the
photo, which the classifier reads (`streamfx/edit/framing.py`; `--framing photo`: the photos edited as they are, as
reports before session 22 did).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.edit.sliders import ALIASES, HEADLINE  # noqa: E402
from streamfx.edit.composite import composite  # noqa: E402
from streamfx.edit.framing import FramedPhotos, frame_photos, put_back  # noqa: E402
from streamfx.edit.load import load_bank  # noqa: E402
from streamfx.edit.render import PhotoDecoder, encode_all, photo_decoder, photo_encoder  # noqa: E402
from streamfx.pixels import to_uint8  # noqa: E402
from streamfx.training.attributes import (cached_probabilities, labels_of, load_classifier,  # noqa: E402
                                          read_attributes)
from streamfx.training.data import CELEBAHQ, list_images, load_batch, split_holdout  # noqa: E402
from streamfx.training.mouth import GAP, LIFT, READINGS, WIDTH, MouthModel  # noqa: E402
from streamfx.weights import load_generators  # noqa: E402

VALUES = (-1.0, -0.5, 0.0, 0.5, 1.0)
# two sliders at once: {slider: value}; the last two pair sides the default bank offers on photos
PAIRS = ({"smile": 1.0, "age": 1.0}, {"male": 1.0, "eyeglasses": 1.0}, {"bangs": 1.0, "black_hair": -1.0},
         {"bangs": -1.0, "brown_hair": -1.0})
FREEZES = (("age", "eyeglasses"), ("male", "young"), ("smile", "mouth_slightly_open"))
MOUTH = {"Smiling": (WIDTH, LIFT), "Mouth_Slightly_Open": (GAP,)}  # the landmark readings per mouth attribute


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=REPO / "streamfx/data/gnr_slim.safetensors")
    parser.add_argument("--classifier", type=Path, default=REPO / "streamfx/data/celeba_attributes.safetensors")
    parser.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    parser.add_argument("--faces", type=int, default=250)
    parser.add_argument("--identity-faces", type=int, default=100, help="0: skip the dlib identity measure")
    parser.add_argument("--out", type=Path, default=REPO / "runs/edit_report")
    parser.add_argument("--framing", choices=("pipeline", "photo"), default="pipeline",
                        help="find and align each photo's face as `streamfx edit` does in a video, edit that crop and "
                             "paste the change back into the photo (default), or edit the photos as they are")
    parser.add_argument("--framing-cache", type=Path, default=REPO / "runs/framing",
                        help="where the face detections of the photos and the classifier's readings of them are "
                             "kept between runs")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads, and processes reading dlib's identity (default 2)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--sliders", nargs="*", default=None,
                        help="the sliders of the first table (default: the headline eight and every other attribute "
                             "the bank offers on photos)")
    parser.add_argument("--no-mouth", action="store_true", help="skip the mouth landmark table (dlib)")
    parser.add_argument("--same-edit", action="store_true",
                        help="every face gets the full edit (one-sided sliders off, as in banks without a probe)")
    return parser.parse_args()


class Editor:
    """Held-out faces with their codes and plain decodings cached; edits them by slider dictionaries, one-sided
    (each face by its own position, as `streamfx edit` does) unless `same_edit`."""

    def __init__(self, encoder, decoder: PhotoDecoder, bank, faces: torch.Tensor | FramedPhotos, chunk: int = 50,
                 same_edit: bool = False):
        """`faces`: edited as they are, or `FramedPhotos`: their pipeline crops edited and the change pasted back
        into the photos (`streamfx/edit/framing.py`); `self.faces` are the photos read."""
        self.decoder, self.bank, self.chunk, self.same_edit = decoder, bank, chunk, same_edit
        self.framed = faces if isinstance(faces, FramedPhotos) else None
        self.faces = faces.photos if self.framed is not None else faces
        self.crops = faces.crops if self.framed is not None else faces
        with torch.no_grad():
            self.content, self.style = encode_all(encoder, self.crops)
            self.base = self._photos(self.content, self.style)

    def _photos(self, content, style):
        return torch.cat([self.decoder(content[i:i + self.chunk], style[i:i + self.chunk])
                          for i in range(0, len(content), self.chunk)])

    @torch.no_grad()
    def edit(self, sliders: dict, freeze: tuple = ()) -> torch.Tensor:
        edit = self.bank.edit(sliders, freeze, refused=True)  # measured whatever the bank's verdict
        if not edit.active:
            return self.faces.clone()
        positions = None if self.same_edit else edit.positions(self.content, self.style)
        dc, ds = edit.for_faces(len(self.faces), positions)
        drawn = self._photos(self.content + dc, self.style + ds)
        count = len(self.faces)
        edited = composite(self.crops, self.base, drawn, edit.shade(count, positions), edit.kept(count, positions))
        edited = edited.clamp(-1, 1)
        if self.framed is None:
            return edited
        return put_back(self.faces, self.crops, edited, self.framed.affines)


def monotonic(probs: dict, towards: float, k: int, values) -> float:
    """Share of faces whose probability of attribute k moves towards `towards` (+1: up) at every step along the
    slider `values`, with a 0.02 tolerance for the classifier's noise."""
    trend = torch.stack([towards * probs[v][:, k] for v in values], 1)
    return float(((trend[:, 1:] - trend[:, :-1]) >= -0.02).all(1).float().mean())


def starting(before: torch.Tensor, towards: float) -> torch.Tensor:
    """[N] bool: the faces starting on the far side of 0.5 from `towards` (+1: below, -1: above)."""
    return towards * (before - 0.5) < 0


def others_moved(change: torch.Tensor, k: int) -> float:
    """The mean of the per-attribute `change` [40] over the attributes other than k."""
    return float(torch.cat([change[:k], change[k + 1:]]).mean())


def crossing(before: torch.Tensor, after: torch.Tensor, towards: float, among: torch.Tensor | None = None) -> float:
    """Share of the faces starting on the far side of 0.5 from `towards` (+1: below, -1: above) that end past it;
    `among`: of these faces only. NaN without such faces."""
    start = starting(before, towards)
    if among is not None:
        start &= among
    return float((towards * (after - 0.5) > 0)[start].float().mean()) if start.any() else float("nan")


def main() -> int:
    opts = parse()
    torch.set_num_threads(opts.threads)
    generators, meta = load_generators(opts.weights)
    bank = load_bank(opts.weights, meta)
    classifier, _ = load_classifier(opts.classifier)
    classifier.compile_cells()  # OpenVINO's reading, where installed: most of the time goes here
    names, table = read_attributes(opts.celeba_dir)
    _train, held = split_holdout([p for p in list_images(opts.celeba_dir / "images") if p.name in table])
    held = held[:opts.faces]
    encoder = photo_encoder(generators)
    decoder = photo_decoder(generators, meta, bank.info.get("bridge", "jpface"))
    size = encoder.config.size
    if opts.framing == "pipeline":
        faces = frame_photos(held, size, size, cache=opts.framing_cache / "held_out.pt")
        held = faces.paths
    else:
        faces = load_batch(held, size)
    editor = Editor(encoder, decoder, bank, faces, same_edit=opts.same_edit)
    probability = classifier.probabilities
    before = cached_probabilities(classifier, editor.faces, [p.name for p in held],
                                  opts.framing_cache / f"held_out_readings_{opts.framing}.pt")
    labels = labels_of(table, held)
    agrees = (before >= 0.5) == (labels > 0.5)  # [N,40] the classifier reads the face as labelled
    identity = None
    if opts.identity_faces:
        from streamfx.training.identity import IdentityModel, same_person_share

        identity = IdentityModel(workers=opts.threads)
        id_count = min(opts.identity_faces, len(held))
        id_before = identity.descriptors(list(to_uint8(editor.faces[:id_count])))
    mouth = None if opts.no_mouth else MouthModel()  # first: a missing dlib stops the report before the long part
    opts.out.mkdir(parents=True, exist_ok=True)
    rows, matrix = [], []
    full = {}  # (slider, +-1) -> probabilities: the single-slider edits the freeze table compares with
    mouth_edits = {}  # (slider, +-1) -> edited faces of the mouth sliders, for the landmark table
    # the headline sliders, then every other attribute the bank offers on photos (one way or both)
    sliders = opts.sliders if opts.sliders is not None else [
        *HEADLINE, *(name.lower() for name in names if bank.reports[name].editable
                     and name not in {ALIASES[s][0] for s in HEADLINE})]
    for slider in sliders:
        attribute, sign = bank.resolve(slider)
        k = names.index(attribute)
        edited = {v: editor.edit({slider: v}) for v in (-1.0, 1.0)}  # kept for the identity measure
        probs = {v: (before if v == 0 else probability(edited[v] if v in edited else editor.edit({slider: v})))
                 for v in VALUES}
        full.update({(slider, v): probs[v] for v in edited})
        if attribute in MOUTH and mouth is not None:
            mouth_edits.update({(slider, v): edited[v] for v in edited})
        whole = monotonic(probs, sign, k, VALUES)
        for side in (1.0, -1.0):
            half = tuple(sorted((0.0, side / 2, side), key=abs))  # 0, then outwards
            change = (probs[side] - before).abs().mean(0)  # [40]
            others = others_moved(change, k)
            # the same on the faces the side must carry across: a one-sided edit leaves the others nearly alone,
            # which dilutes the mean over all faces for rare attributes (glasses off: 1 face in 20 has any)
            started = starting(before[:, k], side * sign)
            others_started = others_moved((probs[side] - before)[started].abs().mean(0), k)
            matrix.append([f"{slider} {side:+g}", *[f"{float(c):.4f}" for c in change]])
            same = float("nan")
            if identity is not None:
                read = identity.descriptors(list(to_uint8(edited[side][:id_count])))
                same = same_person_share(id_before, read)
            worst = sorted(((float(c), n) for j, (c, n) in enumerate(zip(change, names)) if j != k), reverse=True)[:2]
            rows.append((slider, f"{side:+g}", "yes" if bank.allows(attribute, True, sign * side) else "no",
                         f"{monotonic(probs, sign * side, k, half):.0%}", f"{whole:.0%}",
                         f"{crossing(before[:, k], probs[side][:, k], side * sign):.0%}",
                         f"{crossing(before[:, k], probs[side][:, k], side * sign, agrees[:, k]):.0%}",
                         f"{others:.3f}", f"{others_started:.3f}", f"{same:.0%}",
                         ", ".join(f"{n} {c:.2f}" for c, n in worst)))
        print(f"  {slider}: done", file=sys.stderr)
    with open(opts.out / "entanglement.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["slider", *names], *matrix])
    print_table(("slider", "side", "offered on photos", "monotonic 0 to side", "monotonic -1 to +1", "crosses",
                 "crosses where the label agrees", "others moved", "others moved, faces starting across",
                 "same person (dlib < 0.6)", "most moved others"),
                rows, opts.markdown)
    pair_rows = []
    for pair in PAIRS:
        after = probability(editor.edit(pair))
        cells = [" + ".join(f"{slider} {value:+g}" for slider, value in pair.items())]
        for slider, value in pair.items():
            attribute, sign = bank.resolve(slider)
            k = names.index(attribute)
            cells.append(f"{crossing(before[:, k], after[:, k], sign * value):.0%} / "
                         f"{crossing(before[:, k], after[:, k], sign * value, agrees[:, k]):.0%}")
        pair_rows.append(cells)
    print()
    print_table(("two sliders at once", "first crosses (all / where the label agrees)", "second crosses"), pair_rows,
                opts.markdown)
    freeze_rows = []
    for slider, frozen in FREEZES:
        j = names.index(bank.resolve(frozen)[0])
        free = full[slider, 1.0] if (slider, 1.0) in full else probability(editor.edit({slider: 1.0}))
        held_still = probability(editor.edit({slider: 1.0}, freeze=(frozen,)))
        attribute, sign = bank.resolve(slider)
        k = names.index(attribute)
        freeze_rows.append((f"{slider} +1, {frozen} frozen", f"{float((free[:, j] - before[:, j]).abs().mean()):.3f}",
                            f"{float((held_still[:, j] - before[:, j]).abs().mean()):.3f}",
                            f"{crossing(before[:, k], held_still[:, k], sign):.0%}"))
    print()
    print_table(("edit", "frozen attribute moves (free)", "moves (frozen)", "edited attribute still crosses"),
                freeze_rows, opts.markdown)
    if mouth_edits:
        print()
        print_table(("slider", "side", "landmark reading", "real faces without / with", "edited faces before -> after",
                     "past the midpoint", "classifier crosses, same faces"),
                    mouth_rows(mouth, bank, names, editor.faces, before, mouth_edits, full), opts.markdown)
    if identity is not None:
        identity.close()
    return 0


def mouth_rows(mouth, bank, names, faces, before, edits: dict, probabilities: dict) -> list[tuple]:
    """The landmark table's rows: per mouth slider side and reading (`MOUTH`), on the faces starting across that
    dlib finds. The line is the midpoint of the medians of the unedited faces the classifier reads without and with
    the attribute; "past the midpoint" is the share of the edited faces beyond it, in the side's direction."""
    images = list(to_uint8(faces))
    boxes = mouth.boxes(images)
    found = torch.tensor([box is not None for box in boxes])
    plain = mouth.readings(images, boxes)
    rows = []
    for (slider, side), edited in edits.items():
        attribute, sign = bank.resolve(slider)
        k = names.index(attribute)
        has = (before[:, k] >= 0.5).numpy()
        started = (starting(before[:, k], side * sign) & found).numpy()
        after = mouth.readings(list(to_uint8(edited)), boxes)
        for r in MOUTH[attribute]:
            without, with_ = np.nanmedian(plain[~has, r]), np.nanmedian(plain[has, r])
            past = side * sign * (after[started, r] - (without + with_) / 2) > 0
            rows.append((slider, f"{side:+g}", READINGS[r], f"{without:.3f} / {with_:.3f}",
                         f"{np.median(plain[started, r]):.3f} -> {np.median(after[started, r]):.3f}",
                         f"{past.mean():.0%} of {int(started.sum())}",
                         f"{crossing(before[:, k], probabilities[slider, side][:, k], side * sign, found):.0%}"))
    return rows


def print_table(header, rows, markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(map(str, row)) + " |")
        return
    widths = [max([len(str(h)), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(header)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    raise SystemExit(main())
