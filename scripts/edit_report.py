"""How well the edit sliders work, measured on held-out CelebA-HQ faces: the tables of the editing issue.

    python scripts/edit_report.py [--weights streamfx/data/gnr_slim.safetensors] [--faces 250] [--identity-faces 100]
                                  [--markdown] [--out runs/edit_report]

For each headline slider (smile, age, male, eyeglasses, bald, beard, mouth_open, bangs), on photo output:
monotonic share (faces whose attribute probability never goes down as the slider goes -1, -0.5, 0, 0.5, 1, with a
0.02 tolerance), crossing at +-1 (share of the faces starting on the other side of 0.5 that end past it; again
among the faces whose CelebA label agrees with the classifier's starting reading), the mean
absolute change of the other 39 attributes (the full matrix is written to OUT/entanglement.csv), and the dlib
identity distance between slider 0 and slider +-1 (share under 0.6). Then two sliders at once, and one slider with
another attribute frozen. Faces are edited one-sided, each by its own position (`streamfx/edit/reach.py`), as
`streamfx edit` edits them; `--same-edit` gives every face the full edit instead.
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
from streamfx.edit.load import load_bank  # noqa: E402
from streamfx.edit.render import PhotoDecoder, encode_all, photo_decoder  # noqa: E402
from streamfx.pixels import to_uint8  # noqa: E402
from streamfx.training.attributes import load_classifier, read_attributes  # noqa: E402
from streamfx.training.data import CELEBAHQ, list_images, load_batch, split_holdout  # noqa: E402
from streamfx.weights import load_generators  # noqa: E402

VALUES = (-1.0, -0.5, 0.0, 0.5, 1.0)
PAIRS = (("smile", "age"), ("male", "eyeglasses"), ("bangs", "mouth_open"))
FREEZES = (("age", "eyeglasses"), ("male", "young"), ("smile", "mouth_slightly_open"))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=REPO / "streamfx/data/gnr_slim.safetensors")
    parser.add_argument("--classifier", type=Path, default=REPO / "streamfx/data/celeba_attributes.safetensors")
    parser.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    parser.add_argument("--faces", type=int, default=250)
    parser.add_argument("--identity-faces", type=int, default=100, help="0: skip the dlib identity measure")
    parser.add_argument("--out", type=Path, default=REPO / "runs/edit_report")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--same-edit", action="store_true",
                        help="every face gets the full edit (one-sided sliders off, as in banks without a probe)")
    return parser.parse_args()


class Editor:
    """Held-out faces with their codes and plain decodings cached; edits them by slider dictionaries, one-sided
    (each face by its own position, as `streamfx edit` does) unless `same_edit`."""

    def __init__(self, g_a2b, decoder: PhotoDecoder, bank, faces: torch.Tensor, chunk: int = 50,
                 same_edit: bool = False):
        self.decoder, self.bank, self.faces, self.chunk, self.same_edit = decoder, bank, faces, chunk, same_edit
        with torch.no_grad():
            self.content, self.style = encode_all(g_a2b, faces)
            self.base = self._photos(self.content, self.style)

    def _photos(self, content, style):
        return torch.cat([self.decoder(content[i:i + self.chunk], style[i:i + self.chunk])
                          for i in range(0, len(content), self.chunk)])

    @torch.no_grad()
    def edit(self, sliders: dict, freeze: tuple = ()) -> torch.Tensor:
        edit = self.bank.edit(sliders, freeze, photo=False)  # measured whatever the bank's verdict
        if not edit.active:
            return self.faces.clone()
        positions = None if self.same_edit else edit.positions(self.content, self.style)
        dc, ds = edit.for_faces(len(self.faces), positions)
        return (self.faces + self._photos(self.content + dc, self.style + ds) - self.base).clamp(-1, 1)


def crossing(before: torch.Tensor, after: torch.Tensor, towards: float, among: torch.Tensor | None = None) -> float:
    """Share of the faces starting on the far side of 0.5 from `towards` (+1: below, -1: above) that end past it;
    `among`: of these faces only. NaN without such faces."""
    start = towards * (before - 0.5) < 0
    if among is not None:
        start &= among
    return float((towards * (after - 0.5) > 0)[start].float().mean()) if start.any() else float("nan")


def main() -> int:
    opts = parse()
    torch.set_num_threads(opts.threads)
    generators, meta = load_generators(opts.weights)
    bank = load_bank(opts.weights, meta)
    classifier, _ = load_classifier(opts.classifier)
    names, table = read_attributes(opts.celeba_dir)
    _train, held = split_holdout([p for p in list_images(opts.celeba_dir / "images") if p.name in table])
    held = held[:opts.faces]
    g_a2b = generators["A2B"]
    decoder = photo_decoder(generators, meta, bank.info.get("bridge", "jpface"))
    editor = Editor(g_a2b, decoder, bank, load_batch(held, g_a2b.config.size), same_edit=opts.same_edit)
    probability = classifier.probabilities
    before = probability(editor.faces)
    labels = torch.stack([torch.from_numpy(table[p.name]) for p in held])
    agrees = (before >= 0.5) == (labels > 0.5)  # [N,40] the classifier reads the face as labelled
    identity = None
    if opts.identity_faces:
        from streamfx.training.identity import IdentityModel, distance

        identity = IdentityModel()
        id_count = min(opts.identity_faces, len(held))
        id_before = identity.descriptors(list(to_uint8(editor.faces[:id_count])))
    opts.out.mkdir(parents=True, exist_ok=True)
    rows, matrix = [], []
    for slider in HEADLINE:
        attribute, sign = ALIASES[slider]
        k = names.index(attribute)
        probs = {v: (before if v == 0 else probability(editor.edit({slider: v}))) for v in VALUES}
        trend = torch.stack([sign * probs[v][:, k] for v in VALUES], 1)  # rises with the slider when it works
        monotonic = float(((trend[:, 1:] - trend[:, :-1]) >= -0.02).all(1).float().mean())
        up, down = (crossing(before[:, k], probs[v][:, k], v * sign) for v in (1.0, -1.0))
        labelled = [crossing(before[:, k], probs[v][:, k], v * sign, agrees[:, k]) for v in (1.0, -1.0)]
        change = ((probs[1.0] - before).abs() + (probs[-1.0] - before).abs()).mean(0) / 2  # [40]
        others = float(torch.cat([change[:k], change[k + 1:]]).mean())
        matrix.append([slider, *[f"{float(c):.4f}" for c in change]])
        same = float("nan")
        if identity is not None:
            distances = [distance(id_before, identity.descriptors(list(to_uint8(editor.edit({slider: v})[:id_count]))))
                         for v in (-1.0, 1.0)]
            same = float((np.concatenate(distances) < 0.6).mean())
        worst = sorted(((float(c), n) for j, (c, n) in enumerate(zip(change, names)) if j != k), reverse=True)[:2]
        rows.append((slider, attribute, monotonic, up, down, labelled, others, same,
                     ", ".join(f"{n} {c:.2f}" for c, n in worst)))
        print(f"  {slider}: done", file=sys.stderr)
    with open(opts.out / "entanglement.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["slider", *names], *matrix])
    print_table(("slider", "attribute", "monotonic", "crosses at +1", "crosses at -1",
                 "crosses +1 / -1 where the label agrees", "others moved", "same person (dlib < 0.6)",
                 "most moved others"),
                [(r[0], r[1], f"{r[2]:.0%}", f"{r[3]:.0%}", f"{r[4]:.0%}", f"{r[5][0]:.0%} / {r[5][1]:.0%}",
                  f"{r[6]:.3f}", f"{r[7]:.0%}", r[8]) for r in rows], opts.markdown)
    pair_rows = []
    for a, b in PAIRS:
        after = probability(editor.edit({a: 1.0, b: 1.0}))
        cells = [f"{a} + {b}"]
        for slider in (a, b):
            attribute, sign = ALIASES[slider]
            k = names.index(attribute)
            cells.append(f"{crossing(before[:, k], after[:, k], sign):.0%}")
        pair_rows.append(cells)
    print()
    print_table(("two sliders at +1", "first crosses", "second crosses"), pair_rows, opts.markdown)
    freeze_rows = []
    for slider, frozen in FREEZES:
        j = names.index(bank.resolve(frozen)[0])
        free = probability(editor.edit({slider: 1.0}))
        held_still = probability(editor.edit({slider: 1.0}, freeze=(frozen,)))
        attribute, sign = ALIASES[slider]
        k = names.index(attribute)
        freeze_rows.append((f"{slider} +1, {frozen} frozen", f"{float((free[:, j] - before[:, j]).abs().mean()):.3f}",
                            f"{float((held_still[:, j] - before[:, j]).abs().mean()):.3f}",
                            f"{crossing(before[:, k], held_still[:, k], sign):.0%}"))
    print()
    print_table(("edit", "frozen attribute moves (free)", "moves (frozen)", "edited attribute still crosses"),
                freeze_rows, opts.markdown)
    return 0


def print_table(header, rows, markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(map(str, row)) + " |")
        return
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    raise SystemExit(main())
