"""Withdraw a side of a slider that meets the measured bars but, looked at, does not make the edit.

    python scripts/withdraw_edit.py bangs=-1 --why "paints a bright glare over the forehead"
                                    [--weights PATH] [--out BANK]

The bars are read by the attribute classifier, which a crude drawing can satisfy (a washed-out forehead reads as
"no bangs"). After `fit_edits.py` and `check_edit_video.py`, whoever looks at the calibration faces' edits may take
such a side off the offer; the reason is kept in the bank, shown by `streamfx edit --list` and given when the side
is refused. A refit forgets it: look again after every refit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamfx.edit.load import bank_path, load_bank  # noqa: E402
from streamfx.errors import UsageError  # noqa: E402
from streamfx.weights import read_metadata  # noqa: E402


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("side", help="a slider and a side, NAME=1 or NAME=-1 (as `--edit` names it)")
    parser.add_argument("--why", required=True, help="what its edits were seen to do")
    parser.add_argument("--weights", type=Path, default=REPO / "streamfx/data/gnr_slim.safetensors")
    parser.add_argument("--out", type=Path, default=None, help="where the bank goes (default: in place)")
    return parser.parse_args()


def main() -> int:
    opts = parse()
    name, _, value = opts.side.partition("=")
    if value not in ("1", "+1", "-1"):
        raise SystemExit(f"withdraw_edit.py: {opts.side!r}: give a side as NAME=1 or NAME=-1")
    bank = load_bank(opts.weights, read_metadata(opts.weights))
    try:
        attribute, sign = bank.resolve(name)
    except UsageError as error:
        raise SystemExit(f"withdraw_edit.py: {error}") from None
    sign *= float(value)
    if not bank.reports[attribute].offers(sign):
        raise SystemExit(f"withdraw_edit.py: {opts.side} is not offered: nothing to withdraw")
    bank = bank.withdrawn(attribute, sign, opts.why)
    out = opts.out or bank_path(opts.weights)
    bank.save(out)
    print(f"wrote {out}: {attribute} {sign:+.0f} withdrawn ({opts.why})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
