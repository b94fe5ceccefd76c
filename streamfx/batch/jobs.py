"""Batch jobs: which files of a folder are videos, where each one's output goes, and the manifest that records
every job's state so a rerun skips finished work and redoes what was cut off."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from streamfx.errors import UsageError
from streamfx.io.paths import atomic_output

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv",
                              ".wmv", ".3gp"})
MANIFEST_NAME = "streamfx-batch.json"

log = logging.getLogger("streamfx")


@dataclass(frozen=True)
class Job:
    source: Path  # absolute
    key: str  # the source's path under the input folder, with "/": the job's name everywhere
    output: Path


@dataclass
class JobResult:
    key: str
    status: str  # "done" or "failed"
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    engine: str = ""
    error: str = ""
    exit_code: int = 0
    source_size: int = 0
    source_mtime_ns: int = 0
    finished_at: float = field(default_factory=time.time)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _output_for(out_dir: Path, relative: Path, ext: str, taken: set[Path]) -> Path:
    """The input's relative path under OUT_DIR with the output extension. When that is taken (`a.mov` came first,
    now `a.mp4`), the input keeps its extension in the name (`a.mp4.mp4`): two inputs never share an output."""
    output = out_dir / relative.with_suffix(ext)
    if output in taken:
        output = out_dir / relative.with_name(relative.name + ext)
    return output


def find_jobs(in_dir, out_dir, ext: str = ".mp4") -> list[Job]:
    """Every video under `in_dir` (subfolders too, hidden files and the output folder left out), sorted by path."""
    in_dir, out_dir = Path(in_dir).expanduser().resolve(), Path(out_dir).expanduser().resolve()
    if not in_dir.is_dir():
        raise UsageError(f"{in_dir}: input folder does not exist")
    if in_dir == out_dir:
        raise UsageError(f"{out_dir}: the output folder must differ from the input folder")
    jobs, taken = [], set()
    for path in sorted(in_dir.rglob("*")):
        relative = path.relative_to(in_dir)
        if any(part.startswith(".") for part in relative.parts) or out_dir in path.parents:
            continue
        if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file():
            output = _output_for(out_dir, relative, ext, taken)
            taken.add(output)
            jobs.append(Job(path, relative.as_posix(), output))
    if not jobs:
        raise UsageError(f"{in_dir}: no video files ({', '.join(sorted(VIDEO_EXTENSIONS))}) in it or below")
    return jobs


def source_stamp(path: Path) -> tuple[int, int]:
    """(size, mtime in ns): a source that changed since its job finished is done again."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


class Manifest:
    """OUT_DIR/streamfx-batch.json: one entry per job key, rewritten atomically after every finished job."""

    def __init__(self, out_dir: Path, options: list[str]):
        self.path = Path(out_dir) / MANIFEST_NAME
        self.options = options
        self.results: dict[str, JobResult] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            document = json.loads(self.path.read_text())
            entries = document["jobs"]
            self.results = {key: JobResult(**entry) for key, entry in entries.items()}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"{self.path}: unreadable batch manifest ({error}); move it away to start over") from None
        if document.get("options") != self.options:
            # The finished outputs were made with other options: they do not count as done for this run.
            changed = sorted(k for k in set(self.options) | set(document.get("options") or {})
                             if self.options.get(k) != (document.get("options") or {}).get(k))
            log.info("options differ from the last run's (%s): every file is done again", ", ".join(changed))
            self.results = {k: r for k, r in self.results.items() if r.status != "done"}

    def is_done(self, job: Job) -> bool:
        result = self.results.get(job.key)
        if result is None or result.status != "done" or not job.output.exists():
            return False
        return (result.source_size, result.source_mtime_ns) == source_stamp(job.source)

    def record(self, result: JobResult) -> None:
        self.results[result.key] = result
        self.save()

    def save(self) -> None:
        document = {"options": self.options, "jobs": {k: asdict(r) for k, r in sorted(self.results.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as tmp:
            tmp.write_text(json.dumps(document, indent=1) + "\n")
            os.chmod(tmp, 0o644)
