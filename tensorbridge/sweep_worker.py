"""One model of a sweep, in its own process: build it, then fill each of its cells (a
tensorbridge target or a peer converter) with a record.

    python -m tensorbridge.sweep_worker --family F --arch A --cells onnx,torch,torch.onnx
        --result-file out.jsonl [--memory-limit MB] [--families-from MODULE]

Each record is one JSON line appended to the result file as soon as the cell is done, so a
worker killed on its timeout or by its memory limit loses only the cell it was on.

A cell's verdict: ``ok``; ``error`` (the converter raised: for tensorbridge a clean error or
an unsupported op); ``refused`` (tensorbridge's validation raised ParityError instead of
returning the model); ``WRONG`` (a result came back whose outputs differ from the source's
eager output beyond the tolerance: for a peer a silent wrong answer, for tensorbridge a
result its own validation passed); ``timeout``; ``skipped`` (the model does not build, or the peer needs
something that failed); ``n/a`` (the cell does not apply to this source kind).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge.sweep_checks import (
    Verdict,
    eager,
    first_line,
    judged,
    noise_floors,
    numpy_of,
    redraw,
    tolerance_for,
    unsupported_ops,
)
from tensorbridge.sweep_families import Built, families
from tensorbridge.sweep_peers import PEERS, PeerSkipped

TARGETS = ("onnx", "torch", "tensorflow")
Emit = Callable[[dict[str, Any]], None]


def record(family: str, arch: str, cell: str, verdict: str, **fields: Any) -> dict[str, Any]:
    return {"model": f"{family}/{arch}", "family": family, "arch": arch, "cell": cell,
            "by": "tensorbridge" if cell in TARGETS else "peer", "verdict": verdict, **fields}


class Reference:
    """A built model and what every cell is compared with: eager outputs on the example
    inputs and on one other random draw, and on each of them the source's own float32 noise
    and the tolerance it gives (a random network can be much less stable on one draw than on
    the other, so each input's error is held to the noise measured on that input)."""

    def __init__(self, built: Built) -> None:
        self.built = built
        feeds = [numpy_of(x) for x in built.example_inputs]
        other = [redraw(f, np.random.default_rng(7)) for f in feeds]
        self.feed_sets = [feeds, other]
        self.expected = [eager(built.model, built.kind, f) for f in self.feed_sets]
        self.noises = noise_floors(built.model, built.kind, self.feed_sets, self.expected, built.wide)
        self.tolerances = [tolerance_for(n) for n in self.noises]

    @property
    def noise(self) -> float | None:
        """The example input's noise (the one tensorbridge's own validation runs on)."""
        return self.noises[0]

    @property
    def tolerance(self) -> float:
        return self.tolerances[0]

    def check(self, run: Callable[[list[np.ndarray]], Sequence[Any]]) -> Verdict:
        return judged(run, self.feed_sets, self.expected, self.tolerances)


_INPUT_SETS = ("example", "second random")


def _tensorbridge_cell(ref: Reference, target: str) -> dict[str, Any]:
    import tensorbridge as tb

    t0 = time.perf_counter()
    try:
        result = tb.convert(ref.built.model, ref.built.example_inputs, to=target)
    except tb.ParityError as e:
        return {"verdict": "refused", "error_class": "ParityError", "error": first_line(e),
                "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001 - classifying the exception is the point
        return {"verdict": "error", "error_class": type(e).__name__, "error": first_line(e),
                "clean": isinstance(e, tb.TensorbridgeError), "unsupported": unsupported_ops(e),
                "seconds": time.perf_counter() - t0}
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, **_independent(ref, _runner_of(result, target), "tensorbridge's validation passed")}


def _runner_of(result: Any, target: str) -> Callable[[list[np.ndarray]], Sequence[Any]]:
    if target == "onnx":
        from tensorbridge.ort import ort_session

        sess = ort_session(result)
        names = [i.name for i in sess.get_inputs()]
        return lambda feeds: sess.run(None, dict(zip(names, feeds)))
    from tensorbridge.migrate import run_emitted

    return lambda feeds: run_emitted(result, feeds)


def _independent(ref: Reference, run: Callable[[list[np.ndarray]], Sequence[Any]], context: str) -> dict[str, Any]:
    """The returned result run on both input sets and compared with eager."""
    try:
        v = ref.check(run)
    except Exception as e:  # noqa: BLE001 - a returned result that does not run is the finding
        return {"verdict": "error", "error_class": type(e).__name__,
                "error": f"the returned model fails to run: {first_line(e)}"}
    fields = {"err": v.err, "err_input": _INPUT_SETS[v.input_set], "err_tolerance": v.tolerance}
    if not v.ok:
        detail = v.why or f"max error {v.err:.2g} > tolerance {v.tolerance:.2g}"
        return {"verdict": "WRONG", **fields,
                "error": f"returned, differs from eager ({context}): {detail} on the {_INPUT_SETS[v.input_set]} input"}
    return {"verdict": "ok", **fields}


def _peer_cell(ref: Reference, name: str, state: dict[str, Any]) -> dict[str, Any]:
    peer = PEERS[name]
    if peer.kind != ref.built.kind:
        return {"verdict": "n/a", "error": f"{name} converts {peer.kind} sources"}
    t0 = time.perf_counter()
    try:
        run = peer.convert(ref.built.model, ref.built.example_inputs, state)
    except PeerSkipped as e:
        return {"verdict": "skipped", "error": str(e)}
    except Exception as e:  # noqa: BLE001 - the peer's failure is the finding
        return {"verdict": "error", "error_class": type(e).__name__, "error": first_line(e),
                "seconds": time.perf_counter() - t0}
    return {"seconds": time.perf_counter() - t0, **_independent(ref, run, f"{name} returned it")}


def run_model(family: str, arch: str, cells: Sequence[str], emit: Emit, *,
              families_from: str | None = None) -> None:
    """Build ``family/arch`` and emit one record per cell (peers in the order given, so that
    onnx2torch finds torch.onnx's file)."""
    t0 = time.perf_counter()
    try:
        ref = Reference(families(families_from)[family].build(arch))
    except MemoryError:  # the model is larger than --memory-limit: that is the finding
        for cell in cells:
            emit(record(family, arch, cell, "error", error_class="MemoryError",
                        error="building the model and its eager reference exceeded --memory-limit"))
        return
    except Exception as e:  # noqa: BLE001 - the builder failed: no cell can run
        why = f"builder failed: {type(e).__name__}: {first_line(e)}"
        for cell in cells:
            emit(record(family, arch, cell, "skipped", error=why, build_seconds=time.perf_counter() - t0))
        return
    common = {"note": ref.built.note, "noise": ref.noise, "tolerance": ref.tolerance,
              "noise_second": ref.noises[1], "tolerance_second": ref.tolerances[1],
              "build_seconds": time.perf_counter() - t0}
    state: dict[str, Any] = {}
    for cell in cells:
        fields = _tensorbridge_cell(ref, cell) if cell in TARGETS else _peer_cell(ref, cell, state)
        emit(record(family, arch, cell, fields.pop("verdict"), **common, **fields))


# --------------------------------------------------------------------------------------------
# process setup: one thread per framework, a memory limit, quiet logs
# --------------------------------------------------------------------------------------------

def setup_process(memory_limit_mb: float | None, keras_needed: bool) -> None:
    """One thread per framework; frameworks imported first, then the address-space limit set
    to what the process already maps plus ``memory_limit_mb`` (TensorFlow and torch reserve
    gigabytes of address space at import, which the model did not ask for)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    warnings.simplefilter("ignore")
    import torch  # noqa: TID251 - the worker runs the source frameworks

    torch.set_num_threads(1)
    if keras_needed:
        import tensorflow as tf  # noqa: TID251

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if memory_limit_mb:
        limit_address_space(memory_limit_mb)


def mapped_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def limit_address_space(memory_limit_mb: float) -> None:
    import resource

    limit = mapped_bytes() + int(memory_limit_mb * 2**20)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tensorbridge.sweep_worker")
    p.add_argument("--family", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--cells", required=True, help="comma-separated targets and peers")
    p.add_argument("--result-file", type=Path, required=True)
    p.add_argument("--memory-limit", type=float, default=None, help="MB above the frameworks' own mapping")
    p.add_argument("--families-from", default=None)
    args = p.parse_args(argv)
    cells = args.cells.split(",")
    fam = families(args.families_from)[args.family]
    setup_process(args.memory_limit, fam.kind == "keras" or "tensorflow" in cells or "tf2onnx" in cells)

    def emit(rec: dict[str, Any]) -> None:
        with args.result_file.open("a") as fh:
            fh.write(json.dumps(rec, default=float) + "\n")

    run_model(args.family, args.arch, cells, emit, families_from=args.families_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
