"""`streamfx styles` (placeholder until its issue lands)."""

from streamfx.errors import StreamfxError


def register(sub) -> None:
    parser = sub.add_parser("styles", help="(not built yet)")
    parser.set_defaults(run=run)


def run(args) -> int:
    raise StreamfxError("'styles' is not built yet")
