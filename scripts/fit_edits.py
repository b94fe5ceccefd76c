"""Fit the edit bank of a model: directions for the 40 CelebA attributes and the strength of slider +-1.

    python scripts/fit_edits.py [--weights streamfx/data/gnr_slim.safetensors] [--out streamfx/data/gnr_slim_edits.safetensors]
                                [--attributes Smiling Young ...] [--tune-steps 150] [--threads 2]
    python scripts/fit_edits.py --attributes Smiling Eyeglasses --into streamfx/data/gnr_slim_edits.safetensors
                                --out runs/edits.safetensors   # refit a few, keep the other attributes
    python scripts/fit_edits.py --weights runs/next.safetensors --near streamfx/data/gnr_slim_edits.safetensors \
                                --out runs/next_edits.safetensors   # a new checkpoint, from the last bank's strengths

Faces: the CelebA-HQ faces outside the project's held-out split (the held-out 250 are for `edit_report.py`);
every 10th of them calibrates the strengths (on the faces whose label agrees with the classifier's reading) and
is kept out of the directions and the probe, the rest fit them. Each photo's face is found and aligned as
`streamfx edit` aligns a video face, and the calibration reads the photos with the crop's change pasted back
(`streamfx/edit/framing.py`; the crops are cached in runs/framing/, 2 minutes the first time, and so are the
classifier's readings of the unedited photos, a minute); `--framing photo` fits on the photos as CelebA-HQ aligned
them instead (banks before session 22).
A side of a slider is offered when it carries 70 % of its calibration faces across, moves the other attributes by
0.1 or less, and dlib still takes 90 % of those faces for the same person (`--no-identity` skips the last). Each
side's strength is searched to carry 80 % across where it can (`--target`); the mouth's attributes are drawn with
their change put on as light and shade only (`streamfx/edit/fit.py`: SHADE_ONLY), and the shipped smile was
refitted with `--target 0.76` (session 46: the default target's 5.0 flickers in video at 1.20, 4.5 does not). Each
attribute then keeps its change on photos only where its direction draws, where a region keeps what the whole change
does (`fit.REGIONS`, session 45), and its strengths are searched again in that region (session 46).
Needs the attribute classifier (scripts/train_attributes.py) and dlib (the dev extras). With OpenVINO (also in the
dev extras) the classifier reads 1.47 times as fast, the same readings within rounding, and strengths are searched by
its bf16 twin, the classifier and dlib reading only each attribute's pick: a refit of the twelve headline and colour
attributes in 6 minutes on two cores, against 12 (`--no-screen` searches with the classifier). Then judge the offered
sides in video: `python scripts/check_edit_video.py --weights ...` (a side that flickers is withdrawn).
Prints one line per attribute and a summary; the bank is bound to the model's tensor hash.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.edit.bank import EditBank  # noqa: E402
from streamfx.edit.fit import STRENGTHS, fit_bank, split_calibration  # noqa: E402
from streamfx.edit.framing import frame_photos  # noqa: E402
from streamfx.edit.render import photo_decoder, photo_encoder, same_encoder  # noqa: E402
from streamfx.edit.tune import TuneOptions  # noqa: E402
from streamfx.errors import ModelError  # noqa: E402
from streamfx.training.attributes import (cached_probabilities, labels_of, load_classifier,  # noqa: E402
                                          read_attributes)
from streamfx.training.data import CELEBAHQ, list_images, load_batch, split_holdout  # noqa: E402
from streamfx.weights import load_generators  # noqa: E402

CLASSIFIER = REPO / "streamfx/data/celeba_attributes.safetensors"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=REPO / "streamfx/data/gnr_slim.safetensors")
    parser.add_argument("--out", type=Path, default=REPO / "streamfx/data/gnr_slim_edits.safetensors")
    parser.add_argument("--classifier", type=Path, default=CLASSIFIER)
    parser.add_argument("--celeba-dir", type=Path, default=CELEBAHQ)
    parser.add_argument("--attributes", nargs="+", default=None, help="fit only these (default: all 40)")
    parser.add_argument("--into", type=Path, default=None,
                        help="with --attributes: write this bank with only those attributes refitted")
    parser.add_argument("--bridge", default="jpface",
                        help="style anchor of the anime rendering in between (models without an A2A decoder)")
    parser.add_argument("--tune-steps", type=int, default=0,
                        help="tune each direction against the classifier this many steps (default 0: regression only)")
    parser.add_argument("--tune-faces", type=int, default=512, help="training faces tuning draws from (default 512)")
    parser.add_argument("--tune-keep", type=float, default=TuneOptions.keep_weight,
                        help=f"weight of the other attributes' change while tuning (default {TuneOptions.keep_weight:g})")
    parser.add_argument("--target", type=float, default=0.8,
                        help="the share of faces a side's strength is searched to carry across (default 0.8; the "
                             "bar is 0.7): lower picks weaker, steadier edits")
    parser.add_argument("--strengths", type=float, nargs="+", default=list(STRENGTHS),
                        help=f"the strengths searched, ascending (default {' '.join(map(str, STRENGTHS))})")
    parser.add_argument("--per-side", type=int, default=32,
                        help="calibration faces per side of a slider (default 32; more steadies the verdicts, and "
                             "the fit's time grows with it)")
    parser.add_argument("--framing", choices=("pipeline", "photo"), default="pipeline",
                        help="edit faces aligned as `streamfx edit` aligns video faces (default), or the photos as "
                             "they are")
    parser.add_argument("--framing-cache", type=Path, default=REPO / "runs/framing",
                        help="where the aligned crops of the photos are kept between runs")
    parser.add_argument("--no-identity", action="store_true",
                        help="do not ask dlib whether a side keeps the person (faster; the verdict then rests on the "
                             "crossing and entanglement bars alone)")
    parser.add_argument("--near", type=Path, default=None,
                        help="a previous bank (of any checkpoint of this model): search each attribute's "
                             "strengths near that bank's, in its shape (and in the other where that ranks as well "
                             "there), instead of from the weakest (a fraction of the time; the same pick where the "
                             "model has not changed)")
    parser.add_argument("--no-screen", action="store_true",
                        help="search strengths with the classifier itself, not with its quick bf16 twin (whose "
                             "picks the classifier reads again; slower, for checking the twin)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads, and processes reading dlib's identity (default 2)")
    return parser.parse_args()


def main() -> int:
    opts = parse()
    if opts.into is not None and not opts.attributes:
        raise SystemExit("fit_edits.py: --into needs --attributes (the ones to refit)")
    if sorted(opts.strengths) != opts.strengths or min(opts.strengths) <= 0:
        raise SystemExit("fit_edits.py: --strengths must be positive and ascending")
    torch.set_num_threads(opts.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    generators, meta = load_generators(opts.weights)
    if opts.near is not None and opts.tune_steps:
        raise SystemExit("fit_edits.py: --near searches strengths, which tuning does not")
    try:  # the banks are read before the long fit, so that a wrong one fails at once
        base = EditBank.load(opts.into, meta["tensors_sha256"]) if opts.into is not None else None
        near = EditBank.load(opts.near) if opts.near is not None else None
    except ModelError as error:
        raise SystemExit(f"fit_edits.py: {error}") from None
    encoder = photo_encoder(generators)
    size = encoder.config.size
    classifier, classifier_report = load_classifier(opts.classifier)
    classifier.compile_cells()  # OpenVINO's reading, where installed: most of the time goes here
    screen = None if opts.no_screen else classifier.screen()
    if screen is None and not opts.no_screen:
        logging.info("no bf16 twin of the classifier here (OpenVINO and a CPU with native bf16): it searches itself")
    # An attribute without held-out positives (Blurry) has a balanced accuracy of one class only: not measured.
    measurable = {name: row["balanced"] if 0 < row["positives"] < 1 else 0.0
                  for name, row in classifier_report["held_out"].items()}
    names, table = read_attributes(opts.celeba_dir)
    unknown = sorted(set(opts.attributes or ()) - set(names))
    if unknown:
        raise SystemExit(f"fit_edits.py: not CelebA attributes: {', '.join(unknown)}")
    train, _held = split_holdout([p for p in list_images(opts.celeba_dir / "images") if p.name in table])
    fitting, calibration = split_calibration(train)
    if opts.framing == "pipeline":
        framed = frame_photos(fitting, size, size, cache=opts.framing_cache / "fitting.pt")
        fitting, faces = framed.paths, framed.crops
        calibration_faces = frame_photos(calibration, size, size, cache=opts.framing_cache / "calibration.pt")
        calibration = calibration_faces.paths
    else:
        faces, calibration_faces = load_batch(fitting, size), load_batch(calibration, size)
    labels, calibration_labels = labels_of(table, fitting), labels_of(table, calibration)
    unedited = calibration_faces.photos if opts.framing == "pipeline" else calibration_faces
    readings = cached_probabilities(classifier, unedited, [p.name for p in calibration],
                                    opts.framing_cache / f"calibration_readings_{opts.framing}.pt")
    decoder = photo_decoder(generators, meta, opts.bridge)
    identity = None
    if not opts.no_identity:
        from streamfx.training.identity import IdentityModel

        try:
            identity = IdentityModel(workers=opts.threads)  # dlib in as many processes as torch has threads
        except ModelError as error:
            raise SystemExit(f"fit_edits.py: {error}; or --no-identity") from None
    tune = TuneOptions(steps=opts.tune_steps, keep_weight=opts.tune_keep) if opts.tune_steps else None
    try:
        bank = fit_bank(encoder, decoder, classifier, faces, labels, calibration_faces, calibration_labels,
                        names=names, measurable=measurable, model_sha256=meta["tensors_sha256"],
                        attributes=opts.attributes, per_side=opts.per_side, target=opts.target,
                        tune=tune, tune_faces=faces[:opts.tune_faces] if tune else None, identity=identity,
                        anime_encoder=None if same_encoder(encoder, generators["A2B"]) else generators["A2B"],
                        previous=near.reports if near is not None else None, calibration_readings=readings,
                        screen=screen, grid=tuple(opts.strengths))
    finally:
        if identity is not None:
            identity.close()
    bank.info.update({"bridge": opts.bridge, "weights": opts.weights.name,
                      **({"near": opts.near.name} if opts.near is not None else {})})
    seconds = bank.info["seconds"]
    if base is not None:
        bank = base.with_refit(bank, opts.attributes)
    bank.save(opts.out)
    editable = [n for n, r in bank.reports.items() if r.editable]
    both = [n for n in editable if bank.reports[n].sides == "+-"]
    print(f"wrote {opts.out}: {len(editable)} of {len(names)} attributes editable on photos ({len(both)} both ways, "
          f"the rest one way), {seconds:.0f} s")
    if near is not None:
        changes = bank.offer_changes(near)
        advice = " (a new one is offered on the photo bars alone: check it in video, look at it)" if changes else ""
        print(f"against {opts.near}: {len(changes)} sides offered differently{advice}")
        for change in changes:
            print(f"  {change}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
