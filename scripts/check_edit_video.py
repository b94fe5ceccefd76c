"""Judge an edit bank's offered sides in video: the last of the editing issue's bars, which photos cannot measure.

    python scripts/check_edit_video.py [--weights streamfx/data/gnr_slim.safetensors] [--out BANK] [--duration 4]
                                       [--again] [CLIP ...]

`fit_edits.py` offers a side of a slider on real faces when it meets the bars on calibration photos. Here each
offered side runs as `streamfx edit CLIP --edit NAME=+-1` over the first seconds of a few shared clips (default:
three talking heads, names under ../shared/data/videos) and its flicker is measured: the face's frame-to-frame
change in the output against the input's own, landmark and edit smoothing on (`streamfx/training/flicker.py`). A
side whose worst clip is past the bar (1.2) is no longer offered, with that reason. Each side's worst ratio is
written into the bank (`--out`, default: the bank beside the weights, replaced once every side is measured) and
shown by `streamfx edit --list`. A bank judged on other clips, or with the faces placed or their change averaged
otherwise (the smoothing), is judged again, as with `--again`; then the sides refused for flicker alone are measured
too, and offered again if they are now under the bar. About 5 s a side and clip on the 2-core dev machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.edit.bank import FLICKER_BAR  # noqa: E402
from streamfx.edit.load import bank_path, load_bank  # noqa: E402
from streamfx.edit.steady import KEEP, WORN_KEEP  # noqa: E402
from streamfx.face.lookahead import DEFAULT_ORDER, DEFAULT_SIGMA  # noqa: E402
from streamfx.training.flicker import clip_paths, face_boxes, measure  # noqa: E402
from streamfx.weights import read_metadata  # noqa: E402

CLIPS = ["LivePortrait/d20.mp4", "video-retalking/face_1.mp4", "PC-AVS/Audio_Source_00015.mp4"]
# how the faces of a file are placed and their change averaged, which the flicker depends on: a bank judged otherwise
# is judged again
SMOOTHING = (f"look-ahead fit, sigma {DEFAULT_SIGMA:g} s, order {DEFAULT_ORDER}; the change averaged keeping {KEEP:g}, "
             f"{WORN_KEEP:g} where worn")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--weights", type=Path, default=REPO / "streamfx/data/gnr_slim.safetensors")
    parser.add_argument("--out", type=Path, default=None, help="where the judged bank goes (default: in place)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per clip (default 4)")
    parser.add_argument("--again", action="store_true", help="measure the sides measured before too")
    return parser.parse_args()


def main() -> int:
    opts = parse()
    try:
        clips = clip_paths(opts.clips or CLIPS)
    except FileNotFoundError as error:
        raise SystemExit(f"check_edit_video.py: {error}") from None
    bank = load_bank(opts.weights, read_metadata(opts.weights))
    out = opts.out or bank_path(opts.weights)
    boxes = {clip: face_boxes(clip, opts.duration) for clip in clips}
    faceless = [clip.name for clip, found in boxes.items() if not found]
    if faceless:
        raise SystemExit(f"check_edit_video.py: no face in the first {opts.duration:g} s of {', '.join(faceless)}")
    check = {"clips": [f"{c.parent.name}/{c.name}" for c in clips], "seconds": opts.duration, "bar": FLICKER_BAR,
             "smoothing": SMOOTHING}
    again = opts.again or bank.info.get("video_check") != check
    print(f"| side | {' | '.join(check['clips'])} | verdict |")
    print("|---|" + "---|" * (len(clips) + 1))
    for attribute, report in bank.reports.items():
        for sign in (1.0, -1.0):
            measured = report.flicker(sign) is not None
            refused_for_flicker = measured and not report.offers(sign) and not report.withdrawal(sign)
            wanted = report.offers(sign) or (again and refused_for_flicker)
            if not wanted or (measured and not again):
                continue
            refused = [] if report.offers(sign) else ["--allow-refused"]
            argv = ["edit", "--edit", f"{attribute.lower()}={sign:+g}", *refused]
            ratios = [measure(clip, str(opts.weights), opts.duration, boxes[clip], True, argv).ratio for clip in clips]
            bank = bank.with_flicker(attribute, sign, max(ratios))
            verdict = "offered" if max(ratios) <= FLICKER_BAR else "refused: flickers"
            print(f"| {attribute} {sign:+.0f} | {' | '.join(f'{r:.3f}' for r in ratios)} | {verdict} |", flush=True)
    bank.info["video_check"] = check
    bank.save(out)  # replaced whole or not at all
    print(f"wrote {out}: {json.dumps(bank.info['video_check'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
