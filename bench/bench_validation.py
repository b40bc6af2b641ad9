"""What validation adds to a conversion.

    .venv/bin/python bench/bench_validation.py [--runs N] [--models resnet18 bert4 ...]

``tb.convert`` validates what it returns (onnx.checker full_check for ONNX; the converted
model run on the example inputs against the source framework's eager output, tolerances
from the graph's float32 noise floor; the trainable structure for migrations). For each
benchmark model (bench/models.py's PyTorch models and bench_migrate.py's Keras models) and
target, this times ``tb.convert(..., validate=False)`` and ``tb.convert(...)`` alternately
in one process, one thread, and prints the medians and the overhead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_migrate import keras_models  # noqa: E402
from bench.models import torch_models  # noqa: E402

TARGETS = ("onnx", "torch", "tensorflow")


def _sources() -> dict:
    """name -> (factory of the source model, example inputs as numpy, framework)."""
    out = {name: (make, inputs, "torch") for name, (make, inputs) in torch_models().items()}
    out.update({name: (make, inputs, "keras") for name, (make, inputs) in keras_models().items()})
    return out


def _time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(name: str, targets: list[str], runs: int) -> list[tuple]:
    import tensorbridge as tb

    make, inputs, framework = _sources()[name]
    model = make()
    if framework == "torch":
        import torch

        args = tuple(torch.from_numpy(x) for x in inputs)
    else:
        args = tuple(inputs)
    rows = []
    for to in targets:
        plain = partial(tb.convert, model, args, to=to, validate=False)
        checked = partial(tb.convert, model, args, to=to)
        plain(), checked()  # warm-up (imports, traces)
        pairs = [(_time(plain, 1), _time(checked, 1)) for _ in range(runs)]  # alternating
        t_plain = statistics.median(p for p, _ in pairs)
        t_checked = statistics.median(c for _, c in pairs)
        rows.append((name, to, t_plain, t_checked, t_checked / t_plain - 1))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--models", nargs="*", default=list(_sources()))
    p.add_argument("--targets", nargs="*", default=list(TARGETS))
    args = p.parse_args()
    import tensorflow as tf
    import torch

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rows = []
    print("| model | target | convert, validate=False s | convert (validated) s | validation adds |")
    print("|---|---|---|---|---|")
    for name in args.models:
        for row in measure(name, args.targets, args.runs):
            rows.append(row)
            print(f"| {row[0]} | {row[1]} | {row[2]:.2f} | {row[3]:.2f} | {row[4] * 100:+.0f}% |", flush=True)
    overheads = sorted(r[4] for r in rows)
    print(f"\nmedian overhead {statistics.median(overheads) * 100:+.0f}% "
          f"(min {overheads[0] * 100:+.0f}%, max {overheads[-1] * 100:+.0f}%) over {len(rows)} conversions")


if __name__ == "__main__":
    main()
