"""`streamfx edit IN [-o OUT] --smile 0.8 --age -0.5`: change face attributes in a video, real faces out.

One fixed edit for the whole video (as `anime` keeps one style), so the change holds steady from frame to frame.
`--list` prints every attribute with what fitting measured for it, and why the others cannot be edited.
"""

from __future__ import annotations

import logging

from streamfx.commands.common import (PRELOAD, add_engine_arguments, add_face_arguments, add_output_arguments,
                                      check_common, check_output_options, run_video_command)
from streamfx.errors import UsageError

log = logging.getLogger("streamfx")


def register(sub) -> None:
    from streamfx.edit.sliders import ALIASES, HEADLINE

    parser = sub.add_parser("edit", help="change face attributes (smile, age, glasses...) in a video, real faces out")
    parser.add_argument("input", metavar="IN", nargs="?", help="input video")
    parser.add_argument("-o", "--output", metavar="OUT", help="output video (default IN_edit.mp4)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--list", action="store_true", help="every attribute, its measured strength and entanglement")
    group = parser.add_argument_group("sliders, each in [-1, 1] (0: unchanged)")
    for name in HEADLINE:
        attribute, sign = ALIASES[name]
        meaning = f"{attribute}" if sign > 0 else f"less {attribute}"
        group.add_argument(f"--{name.replace('_', '-')}", type=float, default=None, metavar="V", dest=f"slider_{name}",
                           help=f"+1: more {name.replace('_', ' ')} ({meaning})")
    group.add_argument("--edit", metavar="NAME=V,...", help="any editable attribute, e.g. blond_hair=0.6,pale_skin=-0.4")
    group.add_argument("--freeze", metavar="NAME,...",
                       help="attributes the edit must not push, e.g. eyeglasses,male (its part along their directions "
                            "is removed; one the edit itself draws still moves: docs/editing.md)")
    group.add_argument("--allow-refused", action="store_true",
                       help="also run slider sides the model refuses on real faces (measured short of the bars; "
                            "each is warned about and named in the output's comment)")
    add_engine_arguments(parser, weights_help="GNR weights with an edit bank beside them (default: the installed "
                                              "default model)")
    add_face_arguments(parser)
    add_output_arguments(parser)
    parser.set_defaults(run=run, preload=PRELOAD, thread_budget=True)


def edit_request(args):
    """Sliders from the named options and --edit, merged into one request (a name given twice is refused)."""
    from streamfx.edit.sliders import HEADLINE
    from streamfx.edit.load import EditRequest, parse_names, parse_sliders

    sliders = {}
    for name in HEADLINE:
        value = getattr(args, f"slider_{name}")
        if value is not None:
            sliders[name] = value
    for name, value in parse_sliders(args.edit or "").items():
        if name in sliders:
            raise UsageError(f"{name} is given twice (as --{name.replace('_', '-')} and in --edit)")
        sliders[name] = value
    for name, value in sliders.items():
        if not -1.0 <= value <= 1.0:
            raise UsageError(f"--{name.replace('_', '-')} {value:g}: sliders go from -1 to 1")
    return EditRequest(sliders, parse_names(args.freeze), args.allow_refused)


def check_edit_options(args) -> None:
    check_common(args)
    check_output_options(args)
    if args.input is None:
        raise UsageError("give an input video (or --list)")
    request = edit_request(args)
    if args.freeze and not request.sliders:
        raise UsageError("--freeze holds attributes while others are edited: give a slider too")


def list_attributes(args) -> int:
    from streamfx.edit.bank import WORN
    from streamfx.edit.load import load_bank
    from streamfx.weights import load_generators, resolve_weights

    path = resolve_weights(args.weights)
    _generators, meta = load_generators(path)
    bank = load_bank(path, meta)
    aliases = _aliases_by_attribute()
    print(f"{path.name}: slider +-1 carries the attribute across for most faces (measured on calibration photos)")
    print(f"  {'attribute':<22} {'slider':<32} {'photos':<8} {'strength':>8} {'crossing +/-':>12} "
          f"{'others +/-':>13} {'person +/-':>11} {'video +/-':>11}  notes")
    for k, attribute in enumerate(bank.attributes):
        report = bank.reports.get(attribute)
        names = ", ".join(dict.fromkeys([attribute.lower(), *aliases.get(attribute, [])]))  # bangs is its own alias
        if report is None or not report.strength:
            print(f"  {attribute:<22} {'-':<32} {'no':<8}  {report.reason if report else 'not fitted'}")
            continue
        notes = ["localised" if report.localised else "", "one-sided" if bank.one_sided[k] else "",
                 "shade only" if report.shade_only else "",
                 "" if report.region is None else f"kept where drawn (region {report.region:g})",
                 "worn" if attribute in WORN else ""]
        if report.strength_down not in (0, report.strength):
            notes.append(f"-1 at strength {report.strength_down:.2f}")
        if not report.editable:
            notes.append(f"refused on photos: {report.reason}")
        elif report.sides != "+-":
            refused = -1 if report.offers(1) else 1
            notes.append(f"{refused:+d} not offered on photos: {report.side_reason(refused)}")
        print(f"  {attribute:<22} {names:<32} {_offered(report):<8} {report.strength:8.2f} "
              f"{_per_side(report.crossing_up, report.crossing_down, report.crossing, '.0%'):>12} "
              f"{_per_side(report.entanglement_up, report.entanglement_down, report.entanglement, '.3f'):>13} "
              f"{_per_side(report.identity_up, report.identity_down, None, '.0%'):>11} "
              f"{_per_side(report.flicker_up, report.flicker_down, None, '.2f'):>11}  "
              f"{'; '.join(filter(None, notes))}".rstrip())
    print("photos: the sides of the slider offered on real faces (anime output takes every fitted direction both "
          "ways); crossing: share of faces carried across the classifier's 0.5 line at slider +1 / -1;\nothers: mean "
          "change of the other 39 attributes' probabilities there; person: share of those faces dlib still takes for "
          "the same person (measured where the other bars are met);\nvideo: the worst flicker of an offered side in "
          "video (the face's frame-to-frame change against the input's own; a side past 1.2 is refused)\n(-): a "
          "slider that runs the other way (beard +1 is no_beard -1); one-sided: a face that already is where the "
          "slider goes is left as it is; shade only: its change is put on photos as light and shade, the face keeping "
          "its colours;\nkept where drawn: its change is kept on photos only where its direction is at least that "
          "many times its median cell, the rest of the face left as it was; worn: something worn, whose change is "
          "averaged over about ten frames in video;\na side refused on photos runs only with --allow-refused")
    return 0


def _offered(report) -> str:
    return {"+-": "+1 -1", "+": "+1 only", "-": "-1 only"}.get(report.sides, "no")


def _per_side(up: float | None, down: float | None, weaker: float | None, spec: str) -> str:
    """"up / down" ("-" for a side not measured), or the one figure older banks kept (the weaker side's crossing,
    the mean entanglement; None for a figure they did not keep)."""
    if up is None and down is None and weaker is not None:
        return format(weaker, spec)
    return " / ".join("-" if figure is None else format(figure, spec) for figure in (up, down))


def _aliases_by_attribute() -> dict[str, list[str]]:
    from streamfx.edit.sliders import ALIASES

    out: dict[str, list[str]] = {}
    for alias, (attribute, sign) in ALIASES.items():
        out.setdefault(attribute, []).append(alias if sign > 0 else f"{alias} (-)")
    return out


def build_effect(args, request=None):
    """The photo edit effect of parsed `edit` arguments (`request`: their sliders, parsed again when None).
    `--no-smooth` also leaves each frame's change to the face unaveraged (`streamfx/edit/steady.py`)."""
    from streamfx.edit.load import build_photo_edit

    return build_photo_edit(args.weights, request or edit_request(args), engine=args.engine, device=args.device,
                            precision=args.precision, max_batch=args.batch, steady=0.0 if args.no_smooth else None)


def run(args) -> int:
    from streamfx.io.image import is_image_path
    from streamfx.io.paths import check_input, resolve_output

    if args.list:
        return list_attributes(args)
    check_edit_options(args)
    request = edit_request(args)
    source = check_input(args.input)
    if is_image_path(source):
        raise UsageError(f"{source.name} is an image: `streamfx edit` takes videos")
    output = resolve_output(source, args.output, suffix="edit", overwrite=args.overwrite)
    def build():
        effect = build_effect(args, request)
        log.info("edit: %s; engine: %s", effect.label, effect.description)
        return effect

    return run_video_command(args, source, output, build, lambda effect: f"edit; {effect.label}")
