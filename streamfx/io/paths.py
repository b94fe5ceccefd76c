"""Path rules for inputs and outputs, and the atomic-write helper that keeps half-written files away.

Bad paths given by the user are UsageError (exit 2); files that exist but are not media are the
decoder's business (MediaError).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from streamfx.errors import UsageError

log = logging.getLogger("streamfx.io")


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
    _check_writable(out)
    return out


def _check_writable(out: Path) -> None:
    """Create and delete a file next to `out`: the one test that also holds for root and read-only mounts."""
    trial = out.with_name(f".streamfx-write-test.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        trial.touch(exist_ok=False)
        trial.unlink()
    except OSError as error:
        raise UsageError(f"{out}: cannot write in {out.parent} ({error.strerror or error})") from None


def temp_path_for(target: Path) -> Path:
    """A hidden temporary name in the target's folder, so the final rename stays on one filesystem.

    The name carries the writing process's id, so a later run can tell a file left by a killed run (its process
    is gone) from one another run is still writing. Stale ones for the same target are removed here.
    """
    remove_stale_parts(target)
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_parts(target: Path) -> list[Path]:
    """Delete `.TARGET.<pid>.<hex>.part` files in the target's folder whose writing process no longer runs."""
    removed = []
    prefix = f".{target.name}."
    for path in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        pid, _, rest = path.name[len(prefix):].partition(".")
        if not pid.isdigit() or rest.count(".") != 1 or _process_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
            log.info("removed %s, left by an interrupted run", path)
    return removed


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
