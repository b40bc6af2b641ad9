"""Runtime benchmark: tensorbridge's numpy runtime vs onnx.reference vs onnxruntime.

    make bench                      # or: .venv/bin/python bench/bench_runtime.py [--runs N]

Models (random weights, seeded, exported once with torch.onnx.export and cached in out/bench):
  resnet18  ResNet-18 (torch.nn BasicBlocks) at 1x3x224x224
  bert4     transformers BertModel, 4 layers, hidden 256, 4 heads, seq 128

Latency: all runtimes in this one process and run, single-threaded (onnxruntime with
intra_op_num_threads=1 and spinning off; numpy's BLAS limited to one thread by the
environment this script sets before numpy loads). Median of N runs after a warm-up.
Peak memory: each runtime in a fresh subprocess; peak RSS minus the RSS after imports,
i.e. weights + the runtime's working memory.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.measure import median_time, status_mib  # noqa: E402
from bench.models import MODELS  # noqa: E402


# ---------------------------------------------------------------- runtimes
def make_runner(name: str, path: Path):
    import onnx

    if name == "tensorbridge":
        from tensorbridge.converters.onnx import to_ir
        from tensorbridge.runtime.session import Session

        sess = Session(to_ir(path))
        return lambda feeds: sess.run(feeds)
    if name == "onnxruntime":
        from tensorbridge.ort import ort_session

        s = ort_session(path)
        return lambda feeds: s.run(None, feeds)
    if name == "reference":
        from onnx.reference import ReferenceEvaluator

        ref = ReferenceEvaluator(onnx.load(str(path)))
        return lambda feeds: ref.run(None, feeds)
    raise ValueError(name)


RUNTIMES = ("tensorbridge", "onnxruntime", "reference")


def feeds_for(path: Path, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    import onnx

    names = [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
    return dict(zip(names, inputs))


def peak_memory(model: str, runtime: str) -> float:
    """MiB: peak RSS of a fresh process running the model, minus its RSS after imports."""
    res = subprocess.run([sys.executable, __file__, "--memory-child", model, runtime],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"memory run of {runtime} on {model} failed:\n{res.stderr[-2000:]}")
    return float(res.stdout.strip().splitlines()[-1])


def memory_child(model: str, rt: str) -> None:
    import onnx  # noqa: F401

    import tensorbridge.converters.onnx  # noqa: F401
    import tensorbridge.runtime.session  # noqa: F401

    if rt == "onnxruntime":
        import onnxruntime  # noqa: F401
    if rt == "reference":
        import onnx.reference  # noqa: F401
    path, inputs = MODELS[model]()
    base = status_mib("VmRSS")
    fn = make_runner(rt, path)
    feeds = feeds_for(path, inputs)
    for _ in range(3):
        fn(feeds)
    print(f"{status_mib('VmHWM') - base:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runtime latency, single thread, median of {args.runs} (same process)")
    for col in ("model", "runtime", "median ms", "x onnxruntime", "peak MiB", "max |diff| vs ORT"):
        table.add_column(col, justify="right" if col != "runtime" else "left")
    results = []
    failures: list[str] = []
    runtimes = [r for r in RUNTIMES if not (args.skip_reference and r == "reference")]
    for model in args.models:
        path, inputs = MODELS[model]()
        feeds = feeds_for(path, inputs)
        measured: dict[str, tuple[float, list[np.ndarray]] | str] = {}
        for rt in runtimes:
            runs = args.runs if rt != "reference" else max(2, args.runs // 5)
            try:
                fn = make_runner(rt, path)
                measured[rt] = median_time(partial(fn, feeds), runs)
            except Exception as e:  # a peer failing on a model is a result, not a crash
                measured[rt] = f"{type(e).__name__}: {str(e)[:120]}"
        ort_t, ort_out = measured["onnxruntime"]  # type: ignore[misc]
        for rt in runtimes:
            m = measured[rt]
            if isinstance(m, str):
                results.append({"model": model, "runtime": rt, "error": m})
                table.add_row(model, rt, "failed", "-", "-", m.split(":")[0])
                failures.append(f"{rt} on {model}: {m}")
                continue
            t, out = m
            diff = max(float(np.max(np.abs(np.asarray(a, np.float64) - b))) for a, b in zip(out, ort_out))
            mem = peak_memory(model, rt)
            results.append({"model": model, "runtime": rt, "median_ms": t * 1e3, "ratio": t / ort_t,
                            "peak_mib": mem, "max_abs_diff": diff})
            table.add_row(model, rt, f"{t * 1e3:.1f}", f"{t / ort_t:.2f}", f"{mem:.0f}", f"{diff:.1e}")
    Console().print(table)
    for f in failures:
        print(f"  {f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], sys.argv[3])
    else:
        main()
