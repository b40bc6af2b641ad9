"""``tensorbridge sweep``: every architecture of whole model libraries, converted to each
target by ``tb.convert`` (validated), beside the peer converters, as a matrix.

    tensorbridge sweep --family timm,keras --sample 50 --seed 0 --out out/sweep
    tensorbridge sweep --family torchvision --match '^resnet' --jobs 2
    tensorbridge sweep --family transformers --limit 20 --ray auto

Each model runs in its own worker process (:mod:`tensorbridge.sweep_worker`) with a timeout
and a memory limit; records stream to the terminal and to ``<out>/results.jsonl`` as they
arrive; at the end ``<out>`` holds sweep.json, sweep.md, sweep.html and sweep-<family>.md.
The local process pool is the default; ``--ray [ADDRESS]`` runs one Ray task per model
(:mod:`tensorbridge.sweep_ray`, extra ``tensorbridge[ray]``). See docs/sweep.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.sweep_peers import PEERS
from tensorbridge.sweep_report import Matrix, normalised, write_all
from tensorbridge.sweep_worker import TARGETS, record

CELL_ORDER = ("onnx", "torch.onnx", "tf2onnx", "torch", "onnx2torch", "tensorflow")
DEFAULT_TIMEOUT = 600.0
DEFAULT_MEMORY_MB = 12000.0  # address space: TensorFlow freezing a 200M-parameter Keras model needs over 6000
OnRecord = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Job:
    """One model and the cells to fill for it."""

    family: str
    arch: str
    cells: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.family}/{self.arch}"


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT  # seconds per model (all its cells)
    memory_limit: float | None = DEFAULT_MEMORY_MB  # MB per model, over the frameworks' mapping
    families_from: str | None = None


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def select(family_names: Sequence[str], *, match: str | None = None, limit: int | None = None,
           sample: int | None = None, seed: int = 0, families_from: str | None = None) -> list[tuple[str, str]]:
    """(family, architecture) pairs: per family, those matching ``match`` (a regex searched in
    ``family/arch``), then a seeded ``sample`` of them, then the first ``limit``."""
    from tensorbridge.sweep_families import families

    known = families(families_from)
    chosen: list[tuple[str, str]] = []
    for name in family_names:
        if name not in known:
            raise TensorbridgeError(f"sweep --family {name}: unknown family; choose from {', '.join(known)}")
        archs = known[name].architectures()
        if match:
            archs = [a for a in archs if re.search(match, f"{name}/{a}")]
        if sample is not None and sample < len(archs):
            archs = sorted(random.Random(seed).sample(archs, sample))
        if limit is not None:
            archs = archs[:limit]
        chosen += [(name, a) for a in archs]
    return chosen


def jobs_for(chosen: Sequence[tuple[str, str]], cells: Sequence[str], families_from: str | None = None) -> list[Job]:
    """One job per model, with the cells that apply to its family (peers convert one source kind)."""
    from tensorbridge.sweep_families import families

    known = families(families_from)
    kinds = {name: known[name].kind for name in {f for f, _ in chosen}}
    return [Job(f, a, tuple(c for c in cells if c not in PEERS or PEERS[c].kind == kinds[f])) for f, a in chosen]


# --------------------------------------------------------------------------------------------
# the local process pool: one worker process per model
# --------------------------------------------------------------------------------------------

def _worker_command(job: Job, cells: Sequence[str], result: Path, limits: Limits) -> list[str]:
    cmd = [sys.executable, "-m", "tensorbridge.sweep_worker", "--family", job.family, "--arch", job.arch,
           "--cells", ",".join(cells), "--result-file", str(result)]
    if limits.memory_limit:
        cmd += ["--memory-limit", str(limits.memory_limit)]
    if limits.families_from:
        cmd += ["--families-from", limits.families_from]
    return cmd


def worker_env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2",
                TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")


def _spawn(job: Job, cells: Sequence[str], budget: float, limits: Limits, log_dir: Path,
           on_record: OnRecord) -> str:
    """Run one worker process on ``cells``, forwarding its records as they appear; returns
    'done', 'timeout' or how the process ended."""
    safe = re.sub(r"[^0-9A-Za-z_.-]+", "_", job.name)
    result = log_dir / f"{safe}.jsonl"
    result.unlink(missing_ok=True)
    seen = 0
    with (log_dir / f"{safe}.log").open("a") as log:
        proc = subprocess.Popen(_worker_command(job, cells, result, limits), env=worker_env(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + budget
        status = ""
        while not status:
            rc = proc.poll()
            if rc is not None:
                status = "done" if rc == 0 else _how_it_ended(rc)
            elif time.monotonic() > deadline:
                os.killpg(proc.pid, 9)  # the worker's own process group only
                proc.wait()
                status = "timeout"
            seen = _forward(result, seen, on_record)
            if not status:
                time.sleep(0.25)
    return status


def _how_it_ended(rc: int) -> str:
    if rc < 0:
        return f"killed by signal {-rc}" + (" (SIGKILL: out of memory?)" if rc == -9 else "")
    return f"exited with status {rc}"


def _forward(result: Path, seen: int, on_record: OnRecord) -> int:
    if not result.exists():
        return seen
    lines = result.read_text().splitlines()
    complete = lines if result.read_text().endswith("\n") else lines[:-1]
    for line in complete[seen:]:
        on_record(json.loads(line))
    return len(complete)


def _noting(done: set[str], on_record: OnRecord) -> OnRecord:
    """``on_record`` that also notes which cells have a record in ``done``."""
    def forward(rec: dict[str, Any]) -> None:
        done.add(rec["cell"])
        on_record(rec)
    return forward


def run_job_locally(job: Job, limits: Limits, log_dir: Path, on_record: OnRecord) -> None:
    """One model: a worker process for its cells; if it dies, the cell it was on is reported
    and a new worker takes the rest, within the model's timeout."""
    deadline = time.monotonic() + limits.timeout
    remaining = list(job.cells)
    while remaining:
        done: set[str] = set()
        status = _spawn(job, remaining, max(deadline - time.monotonic(), 0.0), limits, log_dir,
                        _noting(done, on_record))
        remaining = [c for c in remaining if c not in done]
        if not remaining:
            return
        if status in ("timeout", "done") or time.monotonic() >= deadline:
            why = f"the model exceeded --timeout {limits.timeout:g} s" if status != "done" else "no record"
            for cell in remaining:
                on_record(record(job.family, job.arch, cell, "timeout" if status != "done" else "error", error=why))
            return
        on_record(record(job.family, job.arch, remaining[0], "error", error_class="WorkerLost",
                         error=f"worker process {status} (see {log_dir})"))
        remaining = remaining[1:]


def run_local(jobs: Sequence[Job], limits: Limits, on_record: OnRecord, *, n_jobs: int = 1,
              log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max(n_jobs, 1)) as pool:
        for fut in [pool.submit(run_job_locally, job, limits, log_dir, on_record) for job in jobs]:
            fut.result()


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------

class Collector:
    """Records as they arrive: printed, appended to results.jsonl, kept for the matrix."""

    def __init__(self, matrix: Matrix, stream: Path | None, echo: Callable[[str], None] = print) -> None:
        self.matrix = matrix
        self.stream = stream
        self.echo = echo
        self._lock = threading.Lock()
        if stream is not None:
            stream.parent.mkdir(parents=True, exist_ok=True)
            stream.write_text("")

    def __call__(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self.matrix.records.append(rec)
            if self.stream is not None:
                with self.stream.open("a") as fh:
                    fh.write(json.dumps(rec, default=float) + "\n")
            if rec["verdict"] != "n/a":
                secs = f"{rec['seconds']:.1f}s" if rec.get("seconds") is not None else "-"
                why = f"  {rec.get('error', '')[:150]}" if rec["verdict"] != "ok" else ""
                self.echo(f"{rec['model']:<48} {rec['cell']:<11} {secs:>7}  {rec['verdict']}{why}")


def add_parser(sub: Any) -> None:
    """Register ``tensorbridge sweep`` on the CLI's subparsers."""
    p = sub.add_parser("sweep", help="convert every architecture of model libraries (timm, torchvision, "
                       "transformers, keras) to each target beside the peer converters; a matrix out",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", default="timm,torchvision,transformers,keras",
                   help="comma-separated families (default: all four)")
    p.add_argument("--families-from", metavar="MODULE", help="also the families of this module (its FAMILIES dict)")
    p.add_argument("--match", metavar="REGEX", help="only architectures whose family/name matches")
    p.add_argument("--sample", type=int, metavar="N", help="a seeded random sample of N per family")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, metavar="N", help="at most N per family (after --match/--sample)")
    p.add_argument("--targets", default=",".join(TARGETS), help="tensorbridge targets (onnx,torch,tensorflow)")
    p.add_argument("--peers", default=",".join(PEERS), help=f"peer converters ({','.join(PEERS)}) or 'none'")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SEC", help="per model")
    p.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_MB, metavar="MB",
                   help="per model, over what the frameworks map at import (0: none)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes at once (local pool)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray: one task per model (ADDRESS: ray://host:10001, auto; none: a local instance)")
    p.add_argument("--ray-runtime-env", metavar="JSON", help="Ray runtime_env for the workers, e.g. "
                   "'{\"pip\": [\"tensorbridge[dev]==0.1.0\"]}' (docs/sweep.md)")
    p.add_argument("--out", type=Path, default=Path("out/sweep"), help="folder for the matrix")
    p.add_argument("--list", action="store_true", help="list the selected architectures and exit")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the matrix in --out from its results.jsonl (no conversions)")
    p.set_defaults(func=run_command)


def _cells(args: argparse.Namespace) -> tuple[str, ...]:
    targets = _split(args.targets)
    peers = [] if args.peers.strip().lower() == "none" else _split(args.peers)
    for t in targets:
        if t not in TARGETS:
            raise TensorbridgeError(f"sweep --targets: unknown target {t!r}; use {', '.join(TARGETS)}")
    for p in peers:
        if p not in PEERS:
            raise TensorbridgeError(f"sweep --peers: unknown peer {p!r}; use {', '.join(PEERS)} or none")
    if "onnx2torch" in peers and "torch.onnx" not in peers:
        raise TensorbridgeError("sweep --peers: onnx2torch converts torch.onnx's file; add torch.onnx")
    # exports side by side, then migrations: when a model runs out of time the cells left are
    # not all of one converter's
    return tuple(sorted(targets + peers, key=CELL_ORDER.index))


def _runtime_env(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        env = json.loads(text)
    except ValueError as e:
        raise TensorbridgeError(f"sweep --ray-runtime-env: not JSON ({e}); give a JSON object such as "
                                '\'{"env_vars": {"OMP_NUM_THREADS": "1"}}\'') from e
    if not isinstance(env, dict):
        raise TensorbridgeError("sweep --ray-runtime-env: give a JSON object (Ray's runtime_env dict)")
    return env


def run_command(args: argparse.Namespace, console: Any = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # listing keras.applications imports TensorFlow
    if args.report_only:
        return _report_only(args.out)
    cells = _cells(args)
    chosen = select(_split(args.family), match=args.match, limit=args.limit, sample=args.sample,
                    seed=args.seed, families_from=args.families_from)
    if args.list:
        for fam, arch in chosen:
            print(f"{fam}/{arch}")
        return 0
    if not chosen:
        raise TensorbridgeError("sweep: no architecture selected (check --family, --match, --limit)")
    limits = Limits(args.timeout, args.memory_limit or None, args.families_from)
    jobs = jobs_for(chosen, cells, args.families_from)
    command = "tensorbridge sweep " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["sweep"] else sys.argv[1:])
    matrix = Matrix(command.strip(), list(cells), {"timeout": limits.timeout, "memory_limit": limits.memory_limit,
                                                   "jobs": args.jobs, "ray": args.ray})
    collect = Collector(matrix, args.out / "results.jsonl", echo=lambda s: print(s, flush=True))
    (args.out / "run.json").write_text(json.dumps({"command": matrix.command, "cells": matrix.cells,
                                                   "options": matrix.options, "started": matrix.started}))
    print(f"{len(jobs)} models x {', '.join(cells)}; streaming to {args.out / 'results.jsonl'}", flush=True)
    start = time.perf_counter()
    if args.ray is not None:
        from tensorbridge.sweep_ray import run_ray

        run_ray(jobs, limits, collect, address=args.ray or None, num_cpus=args.jobs,
                runtime_env=_runtime_env(args.ray_runtime_env))
    else:
        run_local(jobs, limits, collect, n_jobs=args.jobs, log_dir=args.out / "logs")
    matrix.elapsed = time.perf_counter() - start
    _write_run(args.out, matrix)
    return 0


def _write_run(out: Path, matrix: Matrix) -> None:
    (out / "run.json").write_text(json.dumps({"command": matrix.command, "cells": matrix.cells,
                                              "options": matrix.options, "started": matrix.started,
                                              "elapsed": matrix.elapsed}))
    for path in write_all(matrix, out):
        print(f"wrote {path}")


def _report_only(out: Path) -> int:
    """The matrix rewritten from ``out``'s run.json and results.jsonl."""
    try:
        run = json.loads((out / "run.json").read_text())
        lines = (out / "results.jsonl").read_text().splitlines()
    except (OSError, ValueError) as e:
        raise TensorbridgeError(f"sweep --report-only --out {out}: no finished sweep there ({e}); "
                                "run the sweep with this --out first") from e
    matrix = Matrix(run["command"], run["cells"], run.get("options", {}), [normalised(json.loads(ln)) for ln in lines if ln],
                    run.get("started", ""), run.get("elapsed", 0.0))
    _write_run(out, matrix)
    return 0
