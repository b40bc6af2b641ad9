"""Runtime benchmark: tensorbridge's numpy runtime against onnxruntime on graphs from
several exporters and on onnx's light Model Zoo.

    make bench                      # or: .venv/bin/python bench/bench_runtime.py [--runs N]
    .venv/bin/python bench/bench_runtime.py --models bert4_dynamo zoo_shufflenet --runs 20

Models (bench/models.py, bench/model_zoo.py; random seeded weights, cached in out/bench):
  resnet18, bert4           ResNet-18 (torch.nn) at 1x3x224x224 and transformers BertModel
                            (4 layers, hidden 256, 4 heads, seq 128), torch.onnx legacy, opset 17
  *_dynamo                  the same modules, torch.onnx.export(dynamo=True)
  *_tb                      the same modules, tensorbridge's converter (tb.convert, to="onnx")
  resnet18_tf2onnx          a Keras ResNet-18 (NHWC), tf2onnx.convert.from_keras, opset 17
  zoo_<name>[_random]       onnx's light Model Zoo CNNs: weights built by ConstantOfShape in the
                            graph (stored) or replaced by seeded random initializers (_random)

Latency: both runtimes in this one process, timed alternately run by run (machine noise hits
both alike), single-threaded (onnxruntime with intra_op_num_threads=1 and spinning off;
numpy's BLAS limited to one thread by the environment this script sets before numpy loads).
Median of N runs after a warm-up; the ratio is tensorbridge / onnxruntime. Every output is
compared with onnxruntime's: a relative difference (max |diff| / max |onnxruntime|) above
1e-5 prints WRONG and the script exits 1. ``tb.run`` is timed too (its second and later
calls, against the prepared Session's run) in a second interleaved pass of its own: it is a
second plan of the same model, with its own weights and buffers, and interleaved with the
peers it evicted both from the caches (squeezenet measured 8.5 ms and onnxruntime 4.1 with
all three interleaved, 5.8 and 3.5 with the peers alone). Peak memory: each runtime in a
fresh subprocess; peak RSS minus the RSS after imports, i.e. weights + the runtime's
working memory.
"""

from __future__ import annotations

import os
import sys

# numpy's OpenBLAS picks its kernels for the CPU it finds, as onnxruntime's MLAS does; an
# OPENBLAS_CORETYPE in the environment overrides that (this machine's image sets Haswell: AVX2
# kernels on an AVX-512 CPU, half the SGEMM speed of the SkylakeX ones). Timed against a
# runtime that uses the CPU's AVX-512, the benchmark drops the override unless
# --keep-blas-core; the BLAS line of the report says which kernels ran. (A --memory-child
# process inherits its parent's environment, so its decision.)
FORCED_BLAS_CORE = os.environ.get("OPENBLAS_CORETYPE")
if FORCED_BLAS_CORE is not None and not {"--keep-blas-core", "--memory-child"} & set(sys.argv):
    del os.environ["OPENBLAS_CORETYPE"]
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import status_mib  # noqa: E402
from bench.model_zoo import zoo_models  # noqa: E402
from bench.models import MODELS  # noqa: E402

ALL_MODELS = {**MODELS, **zoo_models()}
# plan steps whose time is a BLAS GEMM (or im2col + GEMM): what numpy's BLAS decides
BLAS_STEPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Fused:conv_affine", "Fused:matmul_add",
                        "Fused:matmul_add_gelu"})
TOLERANCE = 1e-5  # relative to the output's largest magnitude
Feeds = dict[str, np.ndarray]


# ---------------------------------------------------------------- runtimes
def make_runner(name: str, path: Path) -> Callable[[Feeds], list[Any]]:
    if name == "tensorbridge":
        from tensorbridge.converters.onnx import to_ir
        from tensorbridge.runtime.session import Session

        sess = Session(to_ir(path))
        return lambda feeds: sess.run(feeds)
    if name == "tb.run":
        import tensorbridge as tb
        from tensorbridge.converters.onnx import to_ir

        graph = to_ir(path)
        return lambda feeds: tb.run(graph, feeds)
    if name == "onnxruntime":
        import onnxruntime

        from tensorbridge.ort import ort_session

        onnxruntime.set_default_logger_severity(3)  # the Model Zoo files' unused-initializer warnings

        s = ort_session(path)
        return lambda feeds: s.run(None, feeds)
    if name == "reference":
        import onnx
        from onnx.reference import ReferenceEvaluator

        ref = ReferenceEvaluator(onnx.load(str(path)))
        return lambda feeds: ref.run(None, feeds)
    raise ValueError(name)


def feeds_for(path: Path, inputs: list[np.ndarray]) -> Feeds:
    """The inputs by name: only the graph's real inputs (not initializers listed as inputs)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    names = [i.name for i in graph.input if i.name not in inits]
    return dict(zip(names, inputs))


def interleaved(fns: dict[str, Callable[[], Any]], runs: int) -> dict[str, tuple[float, Any]]:
    """Median seconds of each function, called in turn run after run, after one warm-up
    call each (whose result is returned)."""
    results = {k: fn() for k, fn in fns.items()}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: (statistics.median(times[k]), results[k]) for k in fns}


def relative_diff(ours: list[Any], theirs: list[Any]) -> float:
    if len(ours) != len(theirs):
        return float("inf")
    worst = 0.0
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return float("inf")
        if a.dtype.kind not in "fc":
            worst = max(worst, 0.0 if np.array_equal(a, b) else float("inf"))
            continue
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        diff = float(np.max(np.abs(a.astype(np.float64) - b))) if b.size else 0.0
        worst = max(worst, diff / (scale or 1.0))
    return worst


# ---------------------------------------------------------------- memory
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
    path, inputs = ALL_MODELS[model]()
    base = status_mib("VmRSS")
    fn = make_runner(rt, path)
    feeds = feeds_for(path, inputs)
    for _ in range(3):
        fn(feeds)
    print(f"{status_mib('VmHWM') - base:.1f}")


# ---------------------------------------------------------------- one model
def profile_model(path: Path, feeds: Feeds, runs: int) -> dict[str, Any]:
    """Where tensorbridge's time goes: the BLAS steps' share and the top non-BLAS op types."""
    from tensorbridge.converters.onnx import to_ir
    from tensorbridge.runtime.session import Session

    sess = Session(to_ir(path), profile=True)
    sess.run(feeds)
    prof = sess.profile()
    prof.reset()
    for _ in range(max(3, runs // 2)):
        sess.run(feeds)
    ops = prof.by_op_type()
    blas = sum(r.share for r in ops if r.op_type in BLAS_STEPS)
    rest = [f"{r.op_type} {r.share:.0%}" for r in ops if r.op_type not in BLAS_STEPS][:3]
    return {"blas_share": blas, "top_other": ", ".join(rest), "steps": len(sess.steps)}


def measure_model(model: str, runtimes: list[str], runs: int, memory: bool, profile: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {"model": model}
    try:
        path, inputs = ALL_MODELS[model]()
    except Exception as e:  # an exporter failing on a model is a result, not a crash
        row["error"] = f"export: {type(e).__name__}: {str(e)[:160]}"
        return row
    feeds = feeds_for(path, inputs)
    fns: dict[str, Callable[[], Any]] = {}
    for rt in runtimes:
        try:
            run = make_runner(rt, path)
            fns[rt] = lambda run=run: run(feeds)
        except Exception as e:  # a runtime failing on a model is a result, not a crash
            row[f"{rt}_error"] = f"{type(e).__name__}: {str(e)[:160]}"
    try:
        # The peers interleaved with each other only; then tb.run against the prepared
        # Session in a pass of its own (see the module docstring).
        timed = interleaved({k: f for k, f in fns.items() if k != "tb.run"}, runs)
        own = (interleaved({k: fns[k] for k in ("tensorbridge", "tb.run")}, runs)
               if {"tensorbridge", "tb.run"} <= fns.keys() else {})
    except Exception as e:
        row["error"] = f"{type(e).__name__}: {str(e)[:160]}"
        return row
    ort_t, ort_out = timed["onnxruntime"]
    for rt, (t, out) in timed.items():
        row[f"{rt}_ms"] = t * 1e3
        row[f"{rt}_ratio"] = t / ort_t
        if rt != "onnxruntime":
            row[f"{rt}_rel_diff"] = relative_diff(out, ort_out)
    if own:
        row["tb.run_ms"], row["tb.run_session_ms"] = own["tb.run"][0] * 1e3, own["tensorbridge"][0] * 1e3
        row["tb.run_rel_diff"] = relative_diff(own["tb.run"][1], ort_out)
    if profile:
        row.update(profile_model(path, feeds, runs))
    if memory:
        for rt in ("tensorbridge", "onnxruntime"):
            row[f"{rt}_peak_mib"] = peak_memory(model, rt)
    return row


def blas_description() -> str:
    """numpy's BLAS as threadpoolctl finds it loaded: library, version, kernels, threads."""
    from threadpoolctl import threadpool_info

    libs = [f"{i['internal_api']} {i['version']}, {i.get('architecture') or 'unknown'} kernels, "
            f"{i['num_threads']} thread{'s' if i['num_threads'] != 1 else ''}"
            for i in threadpool_info() if i["user_api"] == "blas"]
    text = "; ".join(libs) or "none found"
    if FORCED_BLAS_CORE is not None:
        kept = "kept" if os.environ.get("OPENBLAS_CORETYPE") == FORCED_BLAS_CORE else "dropped (--keep-blas-core keeps it)"
        text += f"; the environment's OPENBLAS_CORETYPE={FORCED_BLAS_CORE} {kept}"
    return text


def _wrong(row: dict[str, Any]) -> list[str]:
    return [k.removesuffix("_rel_diff") for k, v in row.items() if k.endswith("_rel_diff") and not v <= TOLERANCE]


# ---------------------------------------------------------------- report
def _cached_ratio(row: dict[str, Any]) -> float:
    """tb.run's time over the prepared Session's, both from the tb.run pass."""
    return float(row["tb.run_ms"] / row["tb.run_session_ms"])


def _fmt(row: dict[str, Any], key: str, spec: str) -> str:
    return format(row[key], spec) if key in row else "-"


def print_table(rows: list[dict[str, Any]], runs: int, runtimes: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runtime latency, single thread, median of {runs} interleaved runs (same process)")
    cols = ["model", "tb ms", "ort ms", "tb/ort", "tb.run/Session", "rel diff", "tb MiB", "ort MiB"]
    if any("blas_share" in r for r in rows):
        cols += ["BLAS share", "top other ops"]
    if "reference" in runtimes:
        cols.insert(4, "ref/ort")
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in rows:
        if "error" in row:
            table.add_row(row["model"], "failed", row["error"], *["-"] * (len(cols) - 3))
            continue
        wrong = _wrong(row)
        cells = [row["model"], _fmt(row, "tensorbridge_ms", ".1f"), _fmt(row, "onnxruntime_ms", ".1f"),
                 _fmt(row, "tensorbridge_ratio", ".2f"),
                 (f"{_cached_ratio(row):.2f}" if "tb.run_ms" in row else "-"),
                 _fmt(row, "tensorbridge_rel_diff", ".1e") + (f" WRONG ({', '.join(wrong)})" if wrong else ""),
                 _fmt(row, "tensorbridge_peak_mib", ".0f"), _fmt(row, "onnxruntime_peak_mib", ".0f")]
        if "blas_share" in cols or any("blas_share" in r for r in rows):
            cells += [_fmt(row, "blas_share", ".0%"), row.get("top_other", "-")]
        if "reference" in runtimes:
            cells.insert(4, _fmt(row, "reference_ratio", ".1f"))
        table.add_row(*cells)
    Console(width=160).print(table)


def print_medians(rows: list[dict[str, Any]]) -> None:
    groups = {"exporters (torch legacy/dynamo, tensorbridge, tf2onnx)": lambda m: not m.startswith("zoo_"),
              "Model Zoo, random weights": lambda m: m.startswith("zoo_") and m.endswith("_random"),
              "Model Zoo, stored weights": lambda m: m.startswith("zoo_") and not m.endswith("_random")}
    for label, member in groups.items():
        ratios = [r["tensorbridge_ratio"] for r in rows if member(r["model"]) and "tensorbridge_ratio" in r]
        if ratios:
            worst = max((r for r in rows if member(r["model"]) and "tensorbridge_ratio" in r),
                        key=lambda r: r["tensorbridge_ratio"])
            print(f"{label}: median tb/ort {statistics.median(ratios):.2f} over {len(ratios)} models, "
                  f"max {worst['tensorbridge_ratio']:.2f} ({worst['model']})")
    cached = [_cached_ratio(r) for r in rows if "tb.run_ms" in r]
    if cached:
        print(f"tb.run (second and later calls) / Session.run: median {statistics.median(cached):.2f}, "
              f"max {max(cached):.2f}")


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """README rows: each Model Zoo model's random- and stored-weight runs side by side."""
    by_name = {r["model"]: r for r in rows if "error" not in r}
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for r in rows:
        name = r["model"]
        if name not in by_name or name.endswith("_random") and name.removesuffix("_random") in by_name:
            continue
        twin = by_name.get(f"{name}_random")
        if twin is not None:
            out.append((f"{name.removeprefix('zoo_bvlc_').removeprefix('zoo_')}_random / stored", [twin, by_name[name]]))
        else:
            out.append((name, [by_name[name]]))
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    """The README's table: one row per model (Model Zoo: random / stored weights)."""
    lines = ["| model | tb ms | ort ms | tb/ort | tb.run/Session | rel diff | tb / ort MiB | BLAS |",
             "|---|---|---|---|---|---|---|---|"]
    columns: list[tuple[Callable[[dict[str, Any]], str], str]] = [
        (lambda r: _fmt(r, "tensorbridge_ms", ".1f"), " / "),
        (lambda r: _fmt(r, "onnxruntime_ms", ".1f"), " / "),
        (lambda r: _fmt(r, "tensorbridge_ratio", ".2f"), " / "),
        (lambda r: f"{_cached_ratio(r):.2f}" if "tb.run_ms" in r else "-", " / "),
        (lambda r: _fmt(r, "tensorbridge_rel_diff", ".1e"), " / "),
        (lambda r: f"{_fmt(r, 'tensorbridge_peak_mib', '.0f')} / {_fmt(r, 'onnxruntime_peak_mib', '.0f')}", ", "),
        (lambda r: _fmt(r, "blas_share", ".0%"), " / "),
    ]
    for label, group in _pairs(rows):
        cells = [sep.join(fmt(r) for r in group) for fmt, sep in columns]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--models", nargs="*", default=list(ALL_MODELS), help=f"of {', '.join(ALL_MODELS)}")
    ap.add_argument("--reference", action="store_true", help="also time onnx.reference (slow)")
    ap.add_argument("--no-tb-run", action="store_true", help="do not time tb.run")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--profile", action="store_true",
                    help="also profile tensorbridge's plan: BLAS (GEMM/conv) share and the top other op types")
    ap.add_argument("--keep-blas-core", action="store_true",
                    help="keep an OPENBLAS_CORETYPE set in the environment (dropped by default: OpenBLAS "
                         "then picks its kernels for this CPU)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--markdown", help="also write the README's table (markdown) here")
    args = ap.parse_args()
    unknown = set(args.models) - set(ALL_MODELS)
    if unknown:
        ap.error(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(ALL_MODELS)}")
    runtimes = ["tensorbridge", "onnxruntime"] + ([] if args.no_tb_run else ["tb.run"])
    runtimes += ["reference"] if args.reference else []
    blas = blas_description()  # before the runs: a missing threadpoolctl fails here, not after them
    rows = []
    for model in args.models:
        rows.append(measure_model(model, runtimes, args.runs, not args.no_memory, args.profile))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print_table(rows, args.runs, runtimes)
    print(f"numpy's BLAS: {blas}")
    print_medians(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"blas": blas, "models": rows}, indent=2))
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows) + f"\nnumpy's BLAS: {blas}\n")
    failed = [r["model"] for r in rows if "error" in r or "tensorbridge_error" in r]
    wrong = [f"{r['model']} ({', '.join(_wrong(r))})" for r in rows if _wrong(r)]
    for r in rows:
        for k, v in r.items():
            if k.endswith("error"):
                print(f"  {r['model']}: {k}: {v}")
    if wrong:
        print(f"WRONG: outputs differ from onnxruntime by more than {TOLERANCE} relative: {', '.join(wrong)}")
    return 1 if wrong or failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
