"""`streamfx ui`: the local web app (built in streamfx/ui/)."""

from __future__ import annotations

import logging

from streamfx.errors import UsageError

log = logging.getLogger("streamfx")


def register(sub) -> None:
    parser = sub.add_parser("ui", help="a local web app: upload, pick a style, run, download")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.set_defaults(run=run, preload=("numpy", "torch", "cv2", "av"), thread_budget=True)


def run(args) -> int:
    import importlib.util

    from streamfx.signals import sigterm_as_interrupt

    if importlib.util.find_spec("gradio") is None:
        raise UsageError('streamfx ui needs Gradio: pip install "streamfx[ui]"')
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, not {args.port}")
    from streamfx.ui.server import start

    with sigterm_as_interrupt():  # SIGTERM stops the server as Ctrl-C does: temporary files removed
        server = start(args.host, args.port)
        try:
            log.info("open %s in a browser; Ctrl-C stops the app", server.url)
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
    log.info("stopped; its temporary files are removed")
    return 0
