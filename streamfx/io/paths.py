"""Path rules for inputs and outputs, and the atomic-write helper that keeps half-written files away.

Bad paths given by the user are UsageError (exit 2); files that exist but are not media are the
decoder's business (MediaError).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from streamfx.errors import UsageError


def check_input(path) -> Path:
    """Return the input path if it names an existing regular file, else raise UsageError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UsageError(f"{p}: input file does not exist")
    if not p.is_file():
        raise UsageError(f"{p}: input is not a regular file")
    return p


def _same_file(a: Path, b: Path) -> bool:
    """True when both names reach the same file (symlinks, '..', hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def resolve_output(input, output=None, suffix: str = "anime", overwrite: bool = False, ext: str = ".mp4") -> Path:
    """Choose and validate the output path.

    Default: `IN_<suffix><ext>` next to the input. Refuses an output that is the input (under any
    spelling), an existing output unless `overwrite`, and an output folder that does not exist.
    """
    src = check_input(input)
    out = src.with_name(f"{src.stem}_{suffix}{ext}") if output is None else output
    return check_output(out, overwrite=overwrite, source=src)


def check_output(output, overwrite: bool = False, source: Path | None = None) -> Path:
    """Validate an explicit output path (e.g. a live recording): not the `source` file, not a folder, not an
    existing file unless `overwrite`, in a folder that exists."""
    out = Path(output).expanduser()
    if source is not None and out.exists() and _same_file(out, source):
        raise UsageError(f"{out}: output is the same file as the input")
    if out.is_dir():
        raise UsageError(f"{out}: output is a folder, give a file name")
    if out.exists() and not overwrite:
        raise UsageError(f"{out}: output exists (use --overwrite to replace it)")
    if not out.parent.is_dir():
        raise UsageError(f"{out}: output folder {out.parent} does not exist")
    return out


def temp_path_for(target: Path) -> Path:
    """A hidden temporary name in the target's folder, so the final rename stays on one filesystem."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")


@contextlib.contextmanager
def atomic_output(target) -> Iterator[Path]:
    """Yield a temporary path; rename it onto `target` only if the block exits cleanly.

    Any exception, KeyboardInterrupt included, removes the temporary file and re-raises.
    """
    target = Path(target)
    tmp = temp_path_for(target)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
