"""The `streamfx` command: parses arguments, runs a sub-command, maps errors to exit codes.

This is the only module that prints errors and decides exit codes. Each sub-command lives in
`streamfx/commands/<name>.py` with `register(subparsers)`, which adds its parser and sets `run`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# OpenMP worker threads that spin while idle starve the pipeline's other stages, and other programs, on small
# CPUs (face detection measured 5-10x slower next to one busy core). Set before torch loads; the user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from streamfx import __version__
from streamfx.errors import StreamfxError
from streamfx.signals import import_uninterrupted, interrupt_held

# Sub-command modules, in the order `--help` lists them.
COMMANDS = ("anime", "edit", "live", "batch", "ui", "faces", "styles", "models", "engines", "bench", "probe")

# The exit code of a run stopped by Ctrl-C or SIGTERM, as shells report a process ended by SIGINT.
EXIT_INTERRUPTED = 130

log = logging.getLogger("streamfx")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamfx",
        description="Stylize and edit faces in video files and live camera streams.",
    )
    parser.add_argument("--version", action="version", version=f"streamfx {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info messages")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"streamfx.commands.{name}")
        module.register(sub)
    return parser


def _configure_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("streamfx: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    try:
        # Ctrl-C waits while the command line is read and the command's C extensions load (see signals.py).
        with interrupt_held():
            parser = build_parser()
            args = parser.parse_args(argv)
            import_uninterrupted(getattr(args, "preload", ()))
    except KeyboardInterrupt:
        print("streamfx: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ImportError as error:  # an installed package whose system library is missing
        print(f"streamfx: error: {_import_failure(error)}", file=sys.stderr)
        return 1
    if args.command is None:
        parser.print_help()
        return 2
    _configure_logging(args.quiet, args.verbose)
    try:
        if getattr(args, "thread_budget", False):  # commands that run the pipeline share the cores by plan
            from streamfx.threads import apply_budget

            apply_budget()
        return int(args.run(args) or 0)
    except StreamfxError as error:
        print(f"streamfx: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("streamfx: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _import_failure(error: ImportError) -> str:
    text = str(error).splitlines()[0]
    if "libGL" in text or "libgthread" in text:  # opencv-python on a machine without its desktop libraries
        return (f"OpenCV cannot load ({text}): install libgl1 and libglib2.0-0 (apt), or on a server without a "
                "display replace opencv-python with opencv-python-headless")
    return f"cannot load {error.name or 'a module'} ({text})"


def entry() -> None:
    """The `streamfx` program and `python -m streamfx`: run `main` and exit with its code."""
    code = main()
    if code == EXIT_INTERRUPTED:
        # A Ctrl-C that passed through Python code run by a C extension can make CPython end the process by
        # SIGINT at exit even though it was handled. Leave with exactly 130; the command has cleaned up already
        # and the pipeline's threads are daemons.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    entry()
