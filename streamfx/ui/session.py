"""The UI's temporary files: one workspace folder per server, one session folder per upload.

Everything the app writes (Gradio's copies of uploads included, see server.py) lives under the workspace, so the
workspace's removal when the server stops leaves nothing behind. A session folder goes as soon as the next upload
replaces it, or when Gradio drops the closed browser tab's state (an hour after the tab closed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


PREFIX = "streamfx-ui-"


class Workspace:
    """A private folder (mode 0700, from mkdtemp) in the system temp dir, or in `parent`, named after this process
    so that the next server can remove one left by a server that was killed (kill -9, power cut)."""

    def __init__(self, parent: str | Path | None = None):
        remove_stale(Path(parent or tempfile.gettempdir()))
        self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
        self.sessions = self.root / "sessions"
        self.sessions.mkdir()

    def new_session(self) -> Session:
        return Session(Path(tempfile.mkdtemp(prefix="upload-", dir=self.sessions)))

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def remove_stale(parent: Path) -> None:
    """Delete workspaces in `parent` whose server process no longer runs."""
    for folder in parent.glob(f"{PREFIX}*-*"):
        pid = folder.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and folder.is_dir() and folder.stat().st_uid == os.getuid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@dataclass
class Session:
    """One upload: its copy of the file, what was read from it (media.Upload), and the outputs made from it."""

    folder: Path
    source: Path | None = None
    upload: object | None = None  # media.Upload once the file has been read
    face: object | None = None  # the aligned face the style gallery is drawn from (RGB uint8)

    def add_source(self, uploaded: str | Path) -> Path:
        """Take the uploaded file into the session under its own name (a hard link when possible: no copy)."""
        uploaded = Path(uploaded)
        self.source = self.folder / uploaded.name
        try:
            os.link(uploaded, self.source)
        except OSError:
            shutil.copyfile(uploaded, self.source)
        return self.source

    def output_path(self, kind: str) -> Path:
        """A fresh folder per output, so the browser never shows a stale copy of an earlier run under the same URL;
        the file keeps the CLI's default name (IN_anime.mp4), which is what the download is called."""
        folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self.folder))
        is_image = self.upload is not None and self.upload.is_image
        suffix = self.source.suffix if is_image else ".mp4"  # a photo gives a photo, as in the CLI
        return folder / f"{self.source.stem}_anime{suffix}"

    def display_path(self, path: str | Path) -> str:
        """A path as the user named it: the session folder is ours, not theirs (error messages quote paths)."""
        return str(path).replace(f"{self.folder}{os.sep}", "")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
