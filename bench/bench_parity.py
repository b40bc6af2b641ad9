"""Parity-check cost: localising a divergence means capturing every layer's output of both
sides. Measured on the 4-layer BERT of bench/models.py (batch 1, seq 128):

    .venv/bin/python bench/bench_parity.py

prints one plain eager run, one plain runtime run, and the cost of the all-intermediates
comparison (one hooked eager run + one capturing runtime run + the comparisons), as a ratio
to (eager + runtime); and torch.onnx.verification's intermediate comparison on the same
model for reference, when available."""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.measure import median_time  # noqa: E402
from bench.models import torch_models  # noqa: E402

RUNS = 5


def main() -> None:
    import tensorbridge as tb
    from tensorbridge.converters.pytorch.eager import eager_outputs, eager_trace
    from tensorbridge.runtime.parity.compare import default_tolerance
    from tensorbridge.runtime.parity.divergence import locate, values_to_capture
    from tensorbridge.runtime.session import Session

    torch.set_num_threads(1)
    factory, inputs = torch_models()["bert4"]
    module = factory()
    graph = tb.load(module, tuple(torch.from_numpy(x) for x in inputs))
    session, capturing = Session(graph), Session(graph, fuse=False)
    t_eager = median_time(lambda: eager_outputs(module, inputs), RUNS)[0]
    t_runtime = median_time(lambda: session.run(inputs), RUNS)[0]

    from tensorbridge.check import _localize_streaming
    from tensorbridge.runtime.parity.report import ParityReport

    def localise() -> None:  # what tb.check runs on a mismatch: eager and runtime in lockstep
        report = ParityReport("bert4", "onnx", "pytorch eager", False, default_tolerance("float32"))
        _localize_streaming(report, module, graph, inputs)

    def localise_captured() -> None:  # the same comparison, capturing everything first
        _, records = eager_trace(module, inputs)
        capturing.run(inputs, capture=values_to_capture(graph, records))
        locate(graph, records, capturing.captured, default_tolerance("float32"))

    t_all = median_time(localise, RUNS)[0]
    t_cap = median_time(localise_captured, RUNS)[0]
    _, records = eager_trace(module, inputs)
    print(f"bert4: eager {t_eager * 1e3:.1f} ms, runtime {t_runtime * 1e3:.1f} ms, "
          f"all-intermediates check {t_all * 1e3:.1f} ms streamed ({t_cap * 1e3:.1f} ms capturing "
          f"everything) over {len(records)} layers = {t_all / (t_eager + t_runtime):.2f} x (eager + runtime)")
    peer(module, inputs)


def peer(module, inputs) -> None:
    try:
        from torch.onnx.verification import verify_onnx_program
    except ImportError:
        print("torch.onnx.verification.verify_onnx_program: not available")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(module, tuple(torch.from_numpy(x) for x in inputs), dynamo=True, verbose=False)
        t0 = time.perf_counter()
        results = verify_onnx_program(prog, compare_intermediates=True)
    print(f"torch.onnx verify_onnx_program(compare_intermediates=True): {time.perf_counter() - t0:.1f} s "
          f"for {len(results)} values")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
