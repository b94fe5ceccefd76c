"""`streamfx ui`: the local web app (built in streamfx/ui/)."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("ui", help="a local web app: upload, pick a style, run, download")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.set_defaults(run=run)


def run(args) -> int:
    raise NotImplementedError("streamfx ui is being built")
