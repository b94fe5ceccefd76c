"""`streamfx batch IN_DIR -o OUT_DIR`: every video in a folder (and below) through `anime`, resumable, here or on
a Ray cluster; one failing file does not stop the others."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from streamfx.commands.anime import add_anime_options, check_anime_options
from streamfx.commands.common import PRELOAD
from streamfx.errors import UsageError

log = logging.getLogger("streamfx")

# Arguments of the batch itself or of the command line, not of each job (left out of the manifest's options).
_NOT_JOB_OPTIONS = ("command", "run", "preload", "quiet", "verbose", "input_dir", "output", "workers", "ray", "redo",
                    "preview", "stats")


def register(sub) -> None:
    parser = sub.add_parser("batch", help="every video in a folder (and below), resumable; --ray for a cluster")
    parser.add_argument("input_dir", metavar="IN_DIR", help="folder of videos (subfolders too)")
    parser.add_argument("-o", "--output", metavar="OUT_DIR", required=True,
                        help="output folder: the same relative paths, as .mp4, and the manifest streamfx-batch.json")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="files at once on this machine (default 1: one run already uses every core)")
    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help="run every file as a Ray task on a cluster (auto: the one this machine belongs to)")
    parser.add_argument("--redo", action="store_true", help="run every file again, finished ones too")
    add_anime_options(parser)
    parser.set_defaults(run=run, preload=PRELOAD, thread_budget=True)


def job_options(args) -> dict:
    """The options every job runs with, as the manifest records them."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_JOB_OPTIONS}


def _make_output_folder(out_dir: Path) -> None:
    """OUT_DIR may be new, but its parent must exist (a typo should not build a tree of folders)."""
    from streamfx.io.paths import check_output

    if not out_dir.parent.is_dir():
        raise UsageError(f"{out_dir}: the folder it would go in, {out_dir.parent}, does not exist")
    out_dir.mkdir(exist_ok=True)
    check_output(out_dir / "streamfx-batch.json", overwrite=True)  # refuses a folder it cannot write in


def run(args) -> int:
    from streamfx.batch.jobs import Manifest, find_jobs
    from streamfx.batch.runners import run_here, run_on_ray
    from streamfx.signals import sigterm_as_interrupt

    check_anime_options(args)
    if not 1 <= args.workers <= 64:
        raise UsageError(f"--workers must be 1..64, not {args.workers}")
    if args.grid > 1:
        raise UsageError("--grid makes a style sheet of one face; it is not for batches")
    out_dir = Path(args.output).expanduser().resolve()
    jobs = find_jobs(args.input_dir, out_dir)
    _make_output_folder(out_dir)
    manifest = Manifest(out_dir, job_options(args))
    todo = [job for job in jobs if args.redo or not manifest.is_done(job)]
    earlier = {job.key for job in jobs} - {job.key for job in todo}
    log.info("%d videos: %d finished earlier, %d to run%s", len(jobs), len(earlier), len(todo),
             f" on Ray ({args.ray})" if args.ray else "")

    def on_result(result) -> None:
        manifest.record(result)
        done = sum(1 for job in jobs if manifest.results.get(job.key) and job.key not in earlier)
        if result.status == "done":
            log.info("[%d/%d] %s: %d frames, %d faces, %.1f fps", done, len(todo), result.key, result.frames,
                     result.faces, result.fps)
        else:
            log.warning("[%d/%d] %s", done, len(todo), result.error)

    with sigterm_as_interrupt():
        if args.ray:
            run_on_ray(args, todo, args.ray, on_result)
        elif todo:
            run_here(args, todo, args.workers, on_result)
    print(summary_table(jobs, manifest.results, earlier))
    failed = [job.key for job in jobs if manifest.results[job.key].status != "done"]
    if failed:
        print(f"streamfx: error: {len(failed)} of {len(jobs)} files failed (see the table; rerun to retry them)",
              file=sys.stderr)
        return 1
    return 0


def summary_table(jobs, results: dict, earlier: set[str]) -> str:
    rows = [("file", "frames", "faces", "seconds", "fps", "status")]
    for job in jobs:
        r = results[job.key]
        status = "done earlier" if job.key in earlier else r.status
        if r.status == "failed":
            status = f"failed: {r.error}"
        rows.append((job.key, str(r.frames), str(r.faces), f"{r.seconds:.1f}", f"{r.fps:.1f}", status))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             + "  " + row[5] for row in rows]
    return "\n".join(lines)
