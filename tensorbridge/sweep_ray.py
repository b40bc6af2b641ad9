"""``tensorbridge sweep --ray [ADDRESS]``: one Ray task per model (extra ``tensorbridge[ray]``).

Each task runs :func:`tensorbridge.sweep_worker.run_model` in a fresh worker process
(``max_calls=1``) with the ``memory=`` resource reserved for it and an address-space limit
(RLIMIT_AS) set inside the worker; the driver keeps at most one task per CPU of the cluster
in flight, so that a task's deadline (``--timeout`` from its submission) is its own running
time, waits with ``ray.wait`` until the nearest deadline, and force-cancels (kills) a task
that passes it. A worker that crashes or is lost is retried once by Ray (``max_retries=1``);
a second loss is reported. Records are handed to ``on_record`` as each task completes.
See docs/sweep.md for running it on a cluster.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.sweep_checks import first_line
from tensorbridge.sweep_worker import record

RETRIES = 1
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def model_task(family: str, arch: str, cells: Sequence[str], memory_limit: float | None,
               families_from: str | None, keras_needed: bool) -> list[dict[str, Any]]:
    """The body of one Ray task: one model, every record of its cells."""
    from tensorbridge.sweep_worker import run_model, setup_process

    setup_process(memory_limit, keras_needed)
    records: list[dict[str, Any]] = []
    run_model(family, arch, cells, records.append, families_from=families_from)
    return records


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise TensorbridgeError("sweep --ray needs Ray: pip install 'tensorbridge[ray]'") from e
    return ray


def connect(address: str | None, *, num_cpus: int | None = None, runtime_env: dict[str, Any] | None = None) -> bool:
    """Connect to ``address`` (``ray://host:10001``, ``auto``) or start a local instance;
    True when this call started or joined Ray (and so should shut it down)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    env = dict(runtime_env or {})
    env["env_vars"] = {**THREAD_ENV, **env.get("env_vars", {})}
    kwargs: dict[str, Any] = {"include_dashboard": False, "runtime_env": env, "log_to_driver": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, **kwargs)
    return True


def run_ray(jobs: Sequence[Any], limits: Any, on_record: Callable[[dict[str, Any]], None], *,
            address: str | None = None, num_cpus: int | None = None,
            runtime_env: dict[str, Any] | None = None) -> None:
    """Sweep ``jobs`` (tensorbridge.sweep.Job) on Ray; see the module docstring."""
    ray = _ray()
    started = connect(address, num_cpus=num_cpus, runtime_env=runtime_env)
    try:
        _drive(ray, jobs, limits, on_record)
    finally:
        if started:
            ray.shutdown()


def _remote(ray: Any, limits: Any) -> Any:
    options: dict[str, Any] = {"num_cpus": 1, "max_calls": 1, "max_retries": RETRIES, "retry_exceptions": False}
    if limits.memory_limit:
        options["memory"] = int(limits.memory_limit * 2**20)
    return ray.remote(**options)(model_task)


def _drive(ray: Any, jobs: Sequence[Any], limits: Any, on_record: Callable[[dict[str, Any]], None]) -> None:
    from tensorbridge.sweep_families import families

    kinds = {name: fam.kind for name, fam in families(limits.families_from).items()}
    task = _remote(ray, limits)
    window = max(1, int(ray.cluster_resources().get("CPU", 1)))
    queue = deque(jobs)
    running: dict[Any, tuple[Any, float]] = {}
    while queue or running:
        while queue and len(running) < window:
            job = queue.popleft()
            keras = kinds.get(job.family) == "keras" or "tensorflow" in job.cells or "tf2onnx" in job.cells
            ref = task.remote(job.family, job.arch, list(job.cells), limits.memory_limit, limits.families_from, keras)
            running[ref] = (job, time.monotonic() + limits.timeout)
        nearest = min(deadline for _, deadline in running.values())
        ready, _ = ray.wait(list(running), num_returns=1, timeout=max(nearest - time.monotonic(), 0.0))
        for ref in ready:
            job, _ = running.pop(ref)
            for rec in _results(ray, ref, job):
                on_record(rec)
        now = time.monotonic()
        for ref, (job, deadline) in list(running.items()):
            if now >= deadline:
                ray.cancel(ref, force=True)  # kills the worker process running it
                running.pop(ref)
                for cell in job.cells:
                    on_record(record(job.family, job.arch, cell, "timeout",
                                     error=f"the model exceeded --timeout {limits.timeout:g} s (Ray task cancelled)"))


def _results(ray: Any, ref: Any, job: Any) -> list[dict[str, Any]]:
    """The task's records, or one error record per cell when its worker was lost twice."""
    try:
        return list(ray.get(ref))
    except ray.exceptions.RayError as e:
        lost = isinstance(e, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError
                          | ray.exceptions.OutOfMemoryError | ray.exceptions.ObjectLostError)
        why = (f"worker lost again after {RETRIES} retry: " if lost else "task failed: ") + \
            f"{type(e).__name__}: {first_line(e)}"
        return [record(job.family, job.arch, cell, "error", error_class="WorkerLost" if lost else type(e).__name__,
                       error=why) for cell in job.cells]
