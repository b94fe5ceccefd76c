"""Where batch jobs run: here (one after another, or a pool of worker processes) or as Ray tasks on a cluster.
Both hand every finished job's result to `on_result` in this process, which keeps the manifest."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence

from streamfx.batch.jobs import Job, JobResult
from streamfx.batch.work import run_job
from streamfx.errors import UsageError

log = logging.getLogger("streamfx")

OnResult = Callable[[JobResult], None]


def _limit_threads(cores: int) -> None:
    """Pool workers share the cores: each worker's thread budget is planned for its share instead of all of them."""
    from streamfx.threads import apply_budget, plan_budget

    apply_budget(plan_budget(cores))


def run_here(options: argparse.Namespace, jobs: Sequence[Job], workers: int, on_result: OnResult) -> None:
    if workers == 1:
        for job in jobs:
            on_result(run_job(options, job))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from streamfx.threads import usable_cores

    cores = max(1, usable_cores() // workers)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_limit_threads,
                               initargs=(cores,))
    try:
        futures = [pool.submit(run_job, options, job) for job in jobs]
        for future in as_completed(futures):
            on_result(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _connect(address: str):
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'streamfx[ray]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except ConnectionError as error:
            raise UsageError(f"--ray {address}: no Ray cluster there ({error}); start one with `ray start --head`")\
                from None
    return ray


def run_on_ray(options: argparse.Namespace, jobs: Sequence[Job], address: str, on_result: OnResult) -> None:
    """One Ray task per video. A task asks for a GPU when the run is on CUDA (or `auto` on a cluster that has
    GPUs), so GPU nodes take the GPU work; outputs are written atomically into the shared output folder."""
    ray = _connect(address)
    gpus = ray.cluster_resources().get("GPU", 0)
    on_gpu = options.device.startswith("cuda") or (options.device == "auto" and gpus > 0)
    task = ray.remote(num_cpus=1, num_gpus=1 if on_gpu else 0, max_retries=1)(run_job)
    log.info("Ray: %d tasks on %s (%s)", len(jobs), address, "GPU nodes" if on_gpu else "CPU")
    pending = {task.remote(options, job): job for job in jobs}
    while pending:
        finished, _ = ray.wait(list(pending), num_returns=1)
        for ref in finished:
            job = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as error:  # the worker died or the task could not run
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                result = JobResult(job.key, "failed", error=f"{job.key}: Ray task failed ({first})", exit_code=1)
            on_result(result)
