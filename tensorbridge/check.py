"""``tb.check``: does the converted model compute what the source computes?

The source runs in its own framework (PyTorch *eager*, not the ExportedProgram; for an ONNX
source, onnxruntime is the reference), the converted graph runs on the built-in runtime and,
when installed, on onnxruntime; every output is compared with the reference.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ir.errors import TensorbridgeError
from ir.graph import Graph
from tensorbridge.sources import kind_of

# float32 defaults: the error of re-associating float32 sums in a deep network is ~1e-6
# relative; 1e-4 leaves room for that and still catches wrong formulas (a tanh-GELU in
# place of erf-GELU moves BERT outputs by ~1e-3 relative).
DEFAULT_RTOL = {"float32": 1e-4, "float64": 1e-7, "float16": 1e-2, "bfloat16": 2e-2}


@dataclass
class OutputComparison:
    output: str
    runtime: str
    shape: list[int]
    dtype: str
    max_abs: float
    max_rel: float
    ok: bool
    detail: str = ""


@dataclass
class ParityReport:
    source: str
    target: str
    reference: str
    ok: bool
    rtol: float
    atol_scale: float
    tolerance_note: str
    comparisons: list[OutputComparison] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def __str__(self) -> str:
        lines = [f"{'PASS' if self.ok else 'FAIL'}: {self.source} -> {self.target} vs {self.reference} "
                 f"(rtol {self.rtol:g}, atol {self.atol_scale:g} x max|reference|)"]
        for c in self.comparisons:
            lines.append(f"  {c.runtime:13s} {c.output:12s} max abs {c.max_abs:.3e}  max rel "
                         f"{c.max_rel:.3e}  {'ok' if c.ok else 'MISMATCH'} {c.detail}")
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def check(source: Any, example_inputs: Any = None, to: str = "onnx", *, inputs: Any = None,
          rtol: float | None = None, atol: float | None = None, dynamic_shapes: Any = None) -> ParityReport:
    """Compare the converted model with the source on ``inputs`` (default: the example inputs)."""
    from tensorbridge.api import load

    if to != "onnx":
        raise TensorbridgeError(f"check: target {to!r} is not available yet; use 'onnx'")
    kind = kind_of(source)
    graph = load(source, example_inputs, dynamic_shapes)
    feeds = inputs if inputs is not None else example_inputs
    arrays, reference, ref_name = _reference(source, kind, graph, feeds)
    runs = {"tensorbridge": lambda: _run_ir(graph, arrays)}
    if kind != "onnx" and _has_ort():
        runs["onnxruntime"] = lambda: _run_ort(graph, arrays)
    dtype = str(reference[0].dtype) if reference else "float32"
    r = rtol if rtol is not None else DEFAULT_RTOL.get(dtype, 1e-4)
    a = atol if atol is not None else r / 10
    report = ParityReport(_describe(source), to, ref_name, True, r, a,
                          "given" if rtol is not None else f"default for {dtype}")
    for name, fn in runs.items():
        try:
            outs = fn()
        except TensorbridgeError as e:
            report.errors.append(f"{name}: {e}")
            report.ok = False
            continue
        for i, (got, exp) in enumerate(zip(outs, reference)):
            c = _compare(f"output_{i}", name, np.asarray(got), exp, r, a)
            report.comparisons.append(c)
            report.ok &= c.ok
        if len(outs) != len(reference):
            report.errors.append(f"{name}: {len(outs)} outputs, reference has {len(reference)}")
            report.ok = False
    return report


def _reference(source: Any, kind: str, graph: Graph, feeds: Any) -> tuple[list[Any], list[np.ndarray], str]:
    if kind == "pytorch":
        from converters.pytorch.eager import eager_outputs

        arrays, outs = eager_outputs(source, feeds)
        return arrays, outs, "pytorch eager"
    if kind == "onnx":
        if feeds is None:
            raise TensorbridgeError("check: an ONNX source needs inputs=")
        arrays = [np.asarray(x) for x in (feeds if isinstance(feeds, list | tuple) else [feeds])]
        return arrays, _run_ort(graph, arrays), "onnxruntime"
    raise TensorbridgeError(f"check: cannot run a {type(source).__name__} as a reference")


def _compare(name: str, runtime: str, got: np.ndarray, exp: np.ndarray, rtol: float, atol_scale: float) -> OutputComparison:
    if got.shape != exp.shape:
        return OutputComparison(name, runtime, list(got.shape), str(got.dtype), float("inf"), float("inf"),
                                False, f"shape {list(got.shape)} != reference {list(exp.shape)}")
    if exp.dtype.kind in "biuO" or exp.size == 0:
        same = bool(np.array_equal(got, exp))
        return OutputComparison(name, runtime, list(got.shape), str(got.dtype), 0.0 if same else 1.0,
                                0.0 if same else 1.0, same)
    g, e = got.astype(np.float64), exp.astype(np.float64)
    diff = np.abs(g - e)
    nan_ok = np.array_equal(np.isnan(g), np.isnan(e))
    diff = np.where(np.isnan(diff), 0.0, diff)
    scale = float(np.nanmax(np.abs(e))) if np.isfinite(e).any() else 1.0
    atol = atol_scale * max(scale, 1e-12)
    max_abs = float(diff.max())
    max_rel = float((diff / np.maximum(np.abs(e), atol)).max())
    ok = nan_ok and bool(np.all(diff <= atol + rtol * np.abs(e)))
    return OutputComparison(name, runtime, list(got.shape), str(got.dtype), max_abs, max_rel, ok,
                            "" if nan_ok else "NaN positions differ")


def _run_ir(graph: Graph, arrays: list[Any]) -> list[Any]:
    from runtime.session import Session

    return Session(graph).run(arrays)


def _run_ort(graph: Graph, arrays: list[Any]) -> list[np.ndarray]:
    import onnxruntime as ort

    from converters.onnx import from_ir

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        sess = ort.InferenceSession(from_ir(graph).SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        return sess.run(None, dict(zip(names, arrays)))
    except Exception as e:  # onnxruntime raises its own exception types
        raise TensorbridgeError(f"onnxruntime failed: {e}") from e


def _has_ort() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def _describe(source: Any) -> str:
    return str(source) if isinstance(source, str) else type(source).__name__
