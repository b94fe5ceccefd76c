"""Starting and stopping the app: on this machine only unless asked, no request to anywhere, no files left."""

from __future__ import annotations

import logging
import os
import time

from streamfx.errors import UsageError
from streamfx.ui.session import Workspace

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("streamfx")


class Server:
    """A running app. close() stops it and removes every file it wrote."""

    def __init__(self, demo, workspace: Workspace, url: str, saved_env: dict):
        self.demo, self.workspace, self.url = demo, workspace, url
        self._saved_env = saved_env

    def wait(self) -> None:
        """Serve until Ctrl-C (or SIGTERM, made one by the caller)."""
        while True:
            time.sleep(3600)

    def close(self) -> None:
        try:
            self.demo.close(verbose=False)
        finally:
            self.workspace.cleanup()
            _restore(self._saved_env)


def start(host: str = "127.0.0.1", port: int = 7860) -> Server:
    """Serve the app at http://host:port/ in background threads."""
    workspace = Workspace()
    saved = {name: os.environ.get(name) for name in ("GRADIO_ANALYTICS_ENABLED", "GRADIO_TEMP_DIR")}
    # Read by Gradio when it would report usage or check for a newer version: neither happens.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    # Gradio keeps uploads and every file it serves in its cache folder: put that in the workspace as well, so
    # closing the server removes them too. Read when the page and app are built, hence before build_app.
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.root)
    try:
        from streamfx.ui.app import CSS, build_app, theme

        demo = build_app(workspace)
        demo.queue(default_concurrency_limit=1)  # one model run at a time: they share the CPU/GPU
        try:
            _app, url, _share = demo.launch(
                server_name=host, server_port=port, prevent_thread_lock=True, share=False, inbrowser=False,
                quiet=True, show_error=False, ssr_mode=False, pwa=False, mcp_server=False, footer_links=[],
                theme=theme(), css=CSS, enable_monitoring=False)
        except OSError:
            raise UsageError(f"--port {port}: cannot listen on {host}:{port} (in use, or not an address of this "
                             "machine)") from None
    except BaseException:
        workspace.cleanup()
        _restore(saved)
        raise
    if host not in LOCAL_HOSTS:
        log.warning("listening on %s: other machines that can reach this one can use the app", host)
    return Server(demo, workspace, url, saved)


def _restore(saved: dict) -> None:
    """Put back the environment a caller had (the test suite starts servers in its own process)."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
