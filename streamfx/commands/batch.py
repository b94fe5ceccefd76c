"""`streamfx batch`: every video in a folder through `anime`, resumable, here or on a Ray cluster."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("batch", help="every video in a folder (and below), resumable; --ray for a cluster")
    parser.set_defaults(run=run)


def run(args) -> int:
    raise NotImplementedError
