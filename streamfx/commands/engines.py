"""`streamfx engines` (placeholder until its issue lands)."""

from streamfx.errors import StreamfxError


def register(sub) -> None:
    parser = sub.add_parser("engines", help="(not built yet)")
    parser.set_defaults(run=run)


def run(args) -> int:
    raise StreamfxError("'engines' is not built yet")
